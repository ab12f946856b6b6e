"""What ingest set aside: dead letters and nodes waiting to be accepted (ops)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from server.schemas.base import Out


class DeadLetterOut(Out):
    id: int
    received_at: datetime
    topic: str
    site: str | None
    node: str | None = Field(description="the topic's node, or the node its camera belongs to")
    event_id: str | None
    reason: str = Field(
        description="invalid, mismatch, stale, future, foreign_camera, unsolicited, store, ..."
    )
    detail: str = Field(description="why, in words")
    size: int = Field(description="the payload's size in bytes")
    payload_preview: str = Field(
        description="the payload's first bytes as text, control and non-ASCII characters escaped"
    )


class DeadLetterPage(Out):
    items: list[DeadLetterOut]
    total: int
    limit: int
    offset: int


class DeadLettersDeleted(Out):
    deleted: int


class CandidateOut(Out):
    site: str
    node: str
    first_seen_at: datetime
    last_seen_at: datetime
    messages: int = Field(description="status, health and layout messages held since it was first seen")
    version: str | None
    zones: list[str] = Field(description="the zones of the layout it sent")
    cameras: list[str] = Field(description="the cameras of the layout it sent")
