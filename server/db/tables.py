"""The database tables (SQLAlchemy 2). The API's schemas live in `server.schemas`, never here.

Occupancy is kept as aggregates, not raw samples: per zone, camera and bucket (minute, hour, day)
the number of samples, their sum and maximum, and the time-weighted sum (count x seconds). Writers
add to a bucket with an upsert, so batches, replicas and rollups merge by addition.

An alert's ``open_key`` holds ``site/rule/subject`` while it is open or acknowledged and NULL once
resolved; its unique constraint is what keeps one open alert per key, across restarts and replicas.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, LargeBinary, MetaData, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.db.types import UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
Id = String(64)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # The sites the role holds on (null: every site, the district's own staff).
    sites: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class Node(Base):
    __tablename__ = "nodes"

    site: Mapped[str] = mapped_column(Id, primary_key=True)
    node: Mapped[str] = mapped_column(Id, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    status_at: Mapped[datetime | None]
    version: Mapped[str | None] = mapped_column(String(40))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    health_at: Mapped[datetime | None] = mapped_column(doc="when the last health arrived (server time)")
    uptime_s: Mapped[float | None] = mapped_column(Float)
    outbox_depth: Mapped[int | None] = mapped_column(BigInteger)
    outbox_dropped: Mapped[int | None] = mapped_column(BigInteger)
    published: Mapped[int | None] = mapped_column(BigInteger)
    rejected_config: Mapped[int | None] = mapped_column(BigInteger)
    refused: Mapped[int | None] = mapped_column(BigInteger)
    last_config_error: Mapped[str | None] = mapped_column(String(500))
    layout: Mapped[dict[str, Any] | None]
    layout_at: Mapped[datetime | None]


class Camera(Base):
    __tablename__ = "cameras"

    site: Mapped[str] = mapped_column(Id, primary_key=True)
    camera: Mapped[str] = mapped_column(Id, primary_key=True)
    node: Mapped[str] = mapped_column(Id)
    connected: Mapped[bool | None] = mapped_column(Boolean)
    fps: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    frames_dropped: Mapped[int | None] = mapped_column(BigInteger)
    reconnects: Mapped[int | None] = mapped_column(BigInteger)
    last_frame_ts: Mapped[datetime | None]
    health_at: Mapped[datetime | None]
    lost_since: Mapped[datetime | None]
    lost_reason: Mapped[str | None] = mapped_column(String(300))
    target_fps: Mapped[float | None] = mapped_column(
        Float, doc="the rate the camera is meant to give: configured, or an adaptive one's mean target"
    )
    frames_dropped_recent: Mapped[int | None] = mapped_column(
        BigInteger, doc="frames dropped between the last two health messages"
    )
    min_fps: Mapped[float | None] = mapped_column(Float, doc="an adaptive camera's lowest rate (issue 14)")
    max_fps: Mapped[float | None] = mapped_column(Float, doc="an adaptive camera's highest rate")


class Zone(Base):
    __tablename__ = "zones"

    site: Mapped[str] = mapped_column(Id, primary_key=True)
    zone: Mapped[str] = mapped_column(Id, primary_key=True)
    node: Mapped[str] = mapped_column(Id)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(120))
    limit: Mapped[int | None] = mapped_column(Integer)
    window: Mapped[str | None] = mapped_column(Id)
    polygon: Mapped[list[Any]]
    line: Mapped[list[Any] | None]
    cameras: Mapped[list[Any] | None]
    updated_at: Mapped[datetime]


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_site_ts", "site", "ts"),
        Index("ix_events_site_type_ts", "site", "type", "ts"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, doc="the payload's event_id")
    site: Mapped[str] = mapped_column(Id)
    node: Mapped[str] = mapped_column(Id)
    camera: Mapped[str] = mapped_column(Id)
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    ts: Mapped[datetime]
    received_at: Mapped[datetime]
    zone: Mapped[str | None] = mapped_column(Id)
    count: Mapped[int | None] = mapped_column(Integer)
    limit: Mapped[int | None] = mapped_column(Integer)
    people: Mapped[list[Any] | None]
    distance_m: Mapped[float | None] = mapped_column(Float)
    floor_x: Mapped[float | None] = mapped_column(Float)
    floor_y: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(String(300))


class _OccupancyColumns:
    site: Mapped[str] = mapped_column(Id, primary_key=True)
    zone: Mapped[str] = mapped_column(Id, primary_key=True)
    camera: Mapped[str] = mapped_column(Id, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True, doc="start of the minute, hour or day (UTC)")
    samples: Mapped[int] = mapped_column(BigInteger)
    sum_count: Mapped[float] = mapped_column(Float)
    max_count: Mapped[int] = mapped_column(Integer)
    weighted_sum: Mapped[float] = mapped_column(Float, doc="sum of count x seconds it was shown")
    seconds: Mapped[float] = mapped_column(Float)


class OccupancyMinute(_OccupancyColumns, Base):
    __tablename__ = "occupancy_minute"


class OccupancyHour(_OccupancyColumns, Base):
    __tablename__ = "occupancy_hour"


class OccupancyDay(_OccupancyColumns, Base):
    __tablename__ = "occupancy_day"


OCCUPANCY_TABLES: dict[str, type[OccupancyMinute | OccupancyHour | OccupancyDay]] = {
    "minute": OccupancyMinute,
    "hour": OccupancyHour,
    "day": OccupancyDay,
}


class HeatmapHour(Base):
    """How many position samples fell in each floor cell per hour (cell = floor(x / cell_m))."""

    __tablename__ = "heatmap_hour"

    site: Mapped[str] = mapped_column(Id, primary_key=True)
    camera: Mapped[str] = mapped_column(Id, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(primary_key=True)
    cell_x: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_y: Mapped[int] = mapped_column(Integer, primary_key=True)
    samples: Mapped[int] = mapped_column(BigInteger)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_site_status", "site", "status"),
        Index("ix_alerts_updated_at", "updated_at"),
        Index("ix_alerts_key_resolved", "site", "rule", "subject", "resolved_at"),
        Index("ix_alerts_opened_at", "opened_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    open_key: Mapped[str | None] = mapped_column(String(220), unique=True)
    site: Mapped[str] = mapped_column(Id)
    rule: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(Id)
    zone: Mapped[str | None] = mapped_column(Id)
    camera: Mapped[str | None] = mapped_column(Id)
    node: Mapped[str | None] = mapped_column(Id)
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(300))
    value: Mapped[int | None] = mapped_column(Integer)
    limit: Mapped[int | None] = mapped_column(Integer)
    peak: Mapped[int | None] = mapped_column(Integer)
    opened_at: Mapped[datetime]
    reopened_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    escalated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64), doc="NULL when it cleared by itself")
    note: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)
    floor_x: Mapped[float | None] = mapped_column(Float, doc="where on the floor (metres), when known")
    floor_y: Mapped[float | None] = mapped_column(Float)


class CountCheck(Base):
    """A guide's count of the people at a zone next to what hallwatch measured then (issue 13).

    The accuracy audit: per zone, the running error of the live counts against people's own counts.
    """

    __tablename__ = "count_checks"
    __table_args__ = (Index("ix_count_checks_site_checked_at", "site", "checked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(Id)
    zone: Mapped[str] = mapped_column(Id)
    true_count: Mapped[int] = mapped_column(Integer, doc="the people the guide counted there")
    measured_count: Mapped[int | None] = mapped_column(Integer, doc="the live count then (None: not known)")
    checked_at: Mapped[datetime]
    checked_by: Mapped[str] = mapped_column(String(64))


class DeadLetter(Base):
    """A message ingest refused or could not store: kept for ops to read, then delete (issue 11).

    Only an excerpt of the payload is kept, as bytes (it may hold anything, NUL included).
    """

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_site_node", "site", "node"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime]
    topic: Mapped[str] = mapped_column(String(300))
    site: Mapped[str | None] = mapped_column(Id, doc="from the topic, when it is a hallwatch topic")
    node: Mapped[str | None] = mapped_column(Id, doc="the topic's node, or the owner of its camera")
    event_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary, doc="the first bytes of the payload")


class NodeCandidate(Base):
    """A node the server heard from but ops have not accepted yet: quarantined (issue 11).

    Its messages are not stored and raise no alerts; its last layout waits here, so that accepting
    the node shows its zones at once.
    """

    __tablename__ = "node_candidates"

    site: Mapped[str] = mapped_column(Id, primary_key=True)
    node: Mapped[str] = mapped_column(Id, primary_key=True)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    messages: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[str | None] = mapped_column(String(40))
    layout: Mapped[dict[str, Any] | None]


class RevokedToken(Base):
    """A login ended by logging out, until it would have expired anyway."""

    __tablename__ = "revoked_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
