"""Prometheus metrics, one registry per server instance (so tests can run several side by side)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Every counter an operator needs to see whether messages arrive, are refused or dropped."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "hallwatch_ingest_messages_total", "MQTT messages accepted, by payload kind", ["kind"], registry=r
        )
        self.rejected = Counter(
            "hallwatch_ingest_rejected_total",
            "MQTT messages refused (the contract, the server's identity checks, or the database), by reason",
            ["reason"],
            registry=r,
        )
        self.dropped = Counter(
            "hallwatch_ingest_dropped_total",
            "MQTT messages dropped by the server, by reason (queue_full: the writer fell behind)",
            ["reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "hallwatch_ingest_duplicates_total",
            "messages ignored because their event_id was seen",
            registry=r,
        )
        self.confirmations_unsent = Counter(
            "hallwatch_ingest_confirmations_unsent_total",
            "storage confirmations to nodes not sent (not connected): the nodes send those events again",
            registry=r,
        )
        self.queue_depth = Gauge("hallwatch_ingest_queue_depth", "messages waiting to be handled", registry=r)
        self.batch_seconds = Histogram(
            "hallwatch_store_batch_seconds",
            "time to store one ingest batch",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.store_errors = Counter(
            "hallwatch_store_errors_total", "failed database writes (retried)", ["what"], registry=r
        )
        self.alert_actions = Counter(
            "hallwatch_alert_actions_total", "alert changes stored, by action", ["action"], registry=r
        )
        self.mqtt_connected = Gauge("hallwatch_mqtt_connected", "1 while connected to the broker", registry=r)
        self.live_clients = Gauge("hallwatch_live_clients", "open live-stream connections", registry=r)
        self.relay = Counter(
            "hallwatch_live_relay_total",
            "live-relay batches between replicas through Redis, by outcome (sent, unsent, received, refused)",
            ["outcome"],
            registry=r,
        )
        self.other_replica = Counter(
            "hallwatch_ingest_other_replica_total",
            "camera states and positions left to the replica that owns their site (mqtt.split: site)",
            registry=r,
        )
        self.live_dropped = Counter(
            "hallwatch_live_dropped_total",
            "live-stream clients cut off because they could not keep up",
            registry=r,
        )
        self.dead_letters = Counter(
            "hallwatch_ingest_dead_letters_total",
            "messages set aside in the dead-letter table (ops list them on the nodes page), by reason",
            ["reason"],
            registry=r,
        )
        self.store_healthy = Gauge(
            "hallwatch_store_healthy",
            "0 while the database fails ingest writes (not because of data)",
            registry=r,
        )
        self.store_healthy.set(1)
        self.ingest_lag = Gauge(
            "hallwatch_ingest_lag_seconds",
            "age of the oldest received message not yet stored (0 when all are)",
            registry=r,
        )
        self.quarantined = Counter(
            "hallwatch_ingest_quarantined_total",
            "messages from nodes ops have not accepted yet (held, not stored)",
            registry=r,
        )
        self.logins = Counter("hallwatch_logins_total", "login attempts, by outcome", ["outcome"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
