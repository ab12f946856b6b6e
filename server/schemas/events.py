"""Camera events."""

from __future__ import annotations

import uuid
from datetime import datetime

from server.schemas.base import Out


class EventOut(Out):
    id: uuid.UUID
    site: str
    node: str
    camera: str
    seq: int
    type: str
    ts: datetime
    received_at: datetime
    zone: str | None
    count: int | None
    limit: int | None
    people: list[int] | None
    distance_m: float | None
    floor_x: float | None
    floor_y: float | None
    duration_s: float | None
    reason: str | None


class EventPage(Out):
    items: list[EventOut]
    total: int
    limit: int
    offset: int
