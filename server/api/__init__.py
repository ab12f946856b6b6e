"""The HTTP API: one router per resource, all under /api/v1 (plus /healthz and /metrics)."""
