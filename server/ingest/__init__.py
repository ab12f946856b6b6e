"""MQTT ingest: the broker client, the processing loop, and the pure aggregation and dedupe parts."""
