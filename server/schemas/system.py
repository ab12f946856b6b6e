"""Health of the server itself."""

from __future__ import annotations

from typing import Literal

from server.schemas.base import Out


class HealthOut(Out):
    status: Literal["ok", "degraded"]
    database: bool
    mqtt_connected: bool | None
    queue_depth: int
