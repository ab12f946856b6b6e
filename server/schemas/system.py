"""Health of the server itself."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from server.schemas.base import Out


class HealthOut(Out):
    status: Literal["ok", "degraded"]
    database: bool
    mqtt_connected: bool | None
    queue_depth: int
    store_ok: bool | None = Field(
        default=None, description="false while ingest writes fail for reasons not in the data (database down)"
    )
    ingest_lag_s: float = Field(default=0.0, description="age of the oldest received message not stored yet")
    dead_letters: int = Field(default=0, description="messages set aside (the nodes page lists them)")
    quarantined_nodes: int = Field(default=0, description="nodes waiting for ops to accept them")
    problems: list[str] = Field(default_factory=list, description="what makes it degraded, in words")
