"""Writing what the ingest collected: one transaction per batch, upserts that merge by addition.

Rows are written in key order so that two replicas upserting the same buckets never deadlock, and
events are inserted with ON CONFLICT DO NOTHING on their event id, so each is stored once.

A batch the database refuses because of what is in it (not because it is down) is written again
part by part (`IngestBatch.parts`), so that one bad row is set aside alone (`server.ingest.writer`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, case, delete, func, select, update

from hallwatch.contract import CameraEvent, NodeHealth, NodeLayout, NodeStatus, camera_topic, node_topic
from server.db.tables import (
    OCCUPANCY_TABLES,
    Camera,
    DeadLetter,
    Event,
    HeatmapHour,
    Node,
    NodeCandidate,
    Zone,
)
from server.store.sql import greatest, insert_for, write

#: Dead letters kept at most; older ones are deleted as new ones come (a flood stays bounded).
MAX_DEAD_LETTERS = 10_000
DEAD_LETTER_PAYLOAD_BYTES = 2048

Resolution = Literal["minute", "hour", "day"]


@dataclass(slots=True)
class OccupancyDelta:
    """What one batch adds to one occupancy bucket."""

    samples: int = 0
    sum_count: float = 0.0
    max_count: int = 0
    weighted_sum: float = 0.0
    seconds: float = 0.0


OccupancyKey = tuple[str, str, str, datetime]  # site, zone, camera, bucket start
HeatmapKey = tuple[str, str, datetime, int, int]  # site, camera, hour, cell x, cell y


@dataclass(slots=True)
class CameraFlag:
    node: str
    lost: bool
    at: datetime
    reason: str | None


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    """A message set aside: refused by the contract or the server's checks, or refused by the database."""

    received_at: datetime
    topic: str
    site: str | None
    node: str | None
    event_id: str | None
    reason: str
    detail: str
    payload: bytes

    def row(self) -> dict[str, Any]:
        return {
            "received_at": self.received_at,
            "topic": self.topic[:300],
            "site": self.site,
            "node": self.node,
            "event_id": self.event_id,
            "reason": self.reason[:32],
            # The detail quotes what was refused; NUL is the one character PostgreSQL text refuses.
            "detail": self.detail.replace("\x00", "\\x00")[:500],
            "size": len(self.payload),
            "payload": self.payload[:DEAD_LETTER_PAYLOAD_BYTES],
        }


@dataclass(slots=True)
class CandidateSeen:
    """What a quarantined node sent in one batch."""

    first_seen_at: datetime
    last_seen_at: datetime
    messages: int = 1
    version: str | None = None
    layout: dict[str, Any] | None = None

    def merge(self, other: CandidateSeen) -> None:
        self.first_seen_at = min(self.first_seen_at, other.first_seen_at)
        self.last_seen_at = max(self.last_seen_at, other.last_seen_at)
        self.messages += other.messages
        self.version = other.version or self.version
        self.layout = other.layout if other.layout is not None else self.layout


@dataclass(frozen=True, slots=True)
class BatchPart:
    """One piece of a batch, written in its own transaction when the whole batch was refused."""

    batch: IngestBatch
    topic: str
    site: str | None
    node: str | None
    event_id: str | None
    payload: bytes


@dataclass(slots=True)
class IngestBatch:
    """Everything one round of the ingest loop wants stored, already merged per key."""

    events: list[tuple[CameraEvent, datetime]] = field(default_factory=list)
    occupancy: dict[Resolution, dict[OccupancyKey, OccupancyDelta]] = field(default_factory=dict)
    heatmap: dict[HeatmapKey, int] = field(default_factory=dict)
    seen: dict[tuple[str, str], datetime] = field(default_factory=dict)
    statuses: dict[tuple[str, str], tuple[NodeStatus, datetime]] = field(default_factory=dict)
    healths: dict[tuple[str, str], tuple[NodeHealth, datetime]] = field(default_factory=dict)
    layouts: dict[tuple[str, str], tuple[NodeLayout, datetime]] = field(default_factory=dict)
    camera_flags: dict[tuple[str, str], CameraFlag] = field(default_factory=dict)
    dead_letters: list[DeadLetterRow] = field(default_factory=list)
    candidates: dict[tuple[str, str], CandidateSeen] = field(default_factory=dict)
    # Per node, the seqs of its events this batch stores (or found stored before): once the batch
    # is written, the server confirms them to the node (`nodes/{node}/stored`). Written nowhere.
    confirms: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (
            self.events
            or any(self.occupancy.values())
            or self.heatmap
            or self.seen
            or self.statuses
            or self.healths
            or self.layouts
            or self.camera_flags
            or self.dead_letters
            or self.candidates
        )

    def parts(self) -> Iterator[BatchPart]:
        """The batch cut into pieces that each come from one message where that is known (events,
        statuses, health, layouts, camera flags, dead letters, candidates), and one piece for the
        aggregates and last-seen times, which many messages add to."""
        for event, at in self.events:
            topic = camera_topic(event.site, event.camera, "events")
            yield BatchPart(
                IngestBatch(events=[(event, at)]),
                topic,
                event.site,
                event.node,
                str(event.event_id),
                event.to_json(),
            )
        for key, (status, at) in self.statuses.items():
            yield _node_part(IngestBatch(statuses={key: (status, at)}), status)
        for key, (health, at) in self.healths.items():
            yield _node_part(IngestBatch(healths={key: (health, at)}), health)
        for key, (layout, at) in self.layouts.items():
            yield _node_part(IngestBatch(layouts={key: (layout, at)}), layout)
        for ckey, flag in self.camera_flags.items():
            topic = camera_topic(ckey[0], ckey[1], "events")
            yield BatchPart(IngestBatch(camera_flags={ckey: flag}), topic, ckey[0], flag.node, None, b"")
        for letter in self.dead_letters:
            yield BatchPart(
                IngestBatch(dead_letters=[letter]), letter.topic, letter.site, letter.node, None, b""
            )
        for nkey, seen in self.candidates.items():
            topic = node_topic(nkey[0], nkey[1], "status")
            yield BatchPart(IngestBatch(candidates={nkey: seen}), topic, nkey[0], nkey[1], None, b"")
        rest = IngestBatch(occupancy=self.occupancy, heatmap=self.heatmap, seen=self.seen)
        if not rest.is_empty():
            yield BatchPart(rest, "(occupancy aggregates)", None, None, None, b"")

    def merge(self, other: IngestBatch) -> None:
        """Fold a later batch into this one (used when a write failed and is retried)."""
        self.events.extend(other.events)
        for node, seqs in other.confirms.items():
            self.confirms.setdefault(node, []).extend(seqs)
        for resolution, rows in other.occupancy.items():
            mine = self.occupancy.setdefault(resolution, {})
            for key, delta in rows.items():
                add_delta(mine.setdefault(key, OccupancyDelta()), delta)
        for hkey, n in other.heatmap.items():
            self.heatmap[hkey] = self.heatmap.get(hkey, 0) + n
        for nkey, at in other.seen.items():
            self.seen[nkey] = max(at, self.seen.get(nkey, at))
        self.statuses.update(other.statuses)
        self.healths.update(other.healths)
        self.layouts.update(other.layouts)
        self.camera_flags.update(other.camera_flags)
        self.dead_letters.extend(other.dead_letters)
        for ckey, seen in other.candidates.items():
            mine_seen = self.candidates.get(ckey)
            if mine_seen is None:
                self.candidates[ckey] = seen
            else:
                mine_seen.merge(seen)


def _node_part(batch: IngestBatch, msg: NodeStatus | NodeHealth | NodeLayout) -> BatchPart:
    topic = node_topic(msg.site, msg.node, msg.kind)
    return BatchPart(batch, topic, msg.site, msg.node, str(msg.event_id), msg.to_json())


def add_delta(into: OccupancyDelta, other: OccupancyDelta) -> None:
    into.samples += other.samples
    into.sum_count += other.sum_count
    into.max_count = max(into.max_count, other.max_count)
    into.weighted_sum += other.weighted_sum
    into.seconds += other.seconds


class IngestWriter:
    """Stores `IngestBatch`es."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def write(self, batch: IngestBatch) -> None:
        """Store one batch in one transaction (all or nothing)."""
        if batch.is_empty():
            return
        with write(self._engine) as conn:
            self._nodes(conn, batch)
            self._layouts(conn, batch)
            self._camera_flags(conn, batch)
            self._events(conn, batch)
            for resolution in ("minute", "hour", "day"):
                self._occupancy(conn, resolution, batch.occupancy.get(resolution, {}))
            self._heatmap(conn, batch)
            self._candidates(conn, batch)
            self._dead_letters(conn, batch)

    # ---------------------------------------------------------------------------- set aside
    def _dead_letters(self, conn: Connection, batch: IngestBatch) -> None:
        if not batch.dead_letters:
            return
        conn.execute(insert_for(conn, DeadLetter), [d.row() for d in batch.dead_letters])
        newest = conn.execute(select(func.max(DeadLetter.id))).scalar_one()
        conn.execute(delete(DeadLetter).where(DeadLetter.id <= newest - MAX_DEAD_LETTERS))

    def _candidates(self, conn: Connection, batch: IngestBatch) -> None:
        for (site, node), seen in sorted(batch.candidates.items()):
            stmt = insert_for(conn, NodeCandidate).values(
                site=site,
                node=node,
                first_seen_at=seen.first_seen_at,
                last_seen_at=seen.last_seen_at,
                messages=seen.messages,
                version=seen.version,
                layout=seen.layout,
            )
            values: dict[str, Any] = {
                "last_seen_at": greatest(conn, NodeCandidate.last_seen_at, stmt.excluded.last_seen_at),
                "messages": NodeCandidate.messages + stmt.excluded.messages,
            }
            if seen.version is not None:
                values["version"] = stmt.excluded.version
            if seen.layout is not None:
                values["layout"] = stmt.excluded.layout
            conn.execute(stmt.on_conflict_do_update(index_elements=["site", "node"], set_=values))

    # ---------------------------------------------------------------------------- nodes, cameras
    def _nodes(self, conn: Connection, batch: IngestBatch) -> None:
        seen = dict(batch.seen)
        for source in (batch.statuses, batch.healths, batch.layouts):
            for key, (_msg, at) in source.items():
                seen[key] = max(at, seen.get(key, at))
        if not seen:
            return
        rows = [
            {"site": s, "node": n, "status": "unknown", "first_seen_at": at, "last_seen_at": at}
            for (s, n), at in sorted(seen.items())
        ]
        stmt = insert_for(conn, Node)
        stmt = stmt.on_conflict_do_update(
            index_elements=["site", "node"],
            set_={"last_seen_at": greatest(conn, Node.last_seen_at, stmt.excluded.last_seen_at)},
        )
        conn.execute(stmt, rows)
        for (site, node), (status, _at) in sorted(batch.statuses.items()):
            conn.execute(
                update(Node)
                .where(Node.site == site, Node.node == node)
                .values(status=status.status, status_at=status.ts, version=status.version)
            )
        for (site, node), (health, at) in sorted(batch.healths.items()):
            conn.execute(
                update(Node)
                .where(Node.site == site, Node.node == node)
                .values(
                    health_at=at,
                    version=health.version,
                    uptime_s=health.uptime_s,
                    outbox_depth=health.outbox_depth,
                    outbox_dropped=health.outbox_dropped,
                    published=health.published,
                    rejected_config=health.rejected_config,
                    refused=health.refused,
                    last_config_error=health.last_config_error,
                )
            )
            self._camera_health(conn, health, at)

    def _camera_health(self, conn: Connection, health: NodeHealth, at: datetime) -> None:
        if not health.cameras:
            return
        rows = [
            {
                "site": health.site,
                "camera": cam.camera,
                "node": health.node,
                "connected": cam.connected,
                "fps": cam.fps,
                "latency_ms": cam.latency_ms,
                "frames_dropped": cam.frames_dropped,
                "reconnects": cam.reconnects,
                "last_frame_ts": cam.last_frame_ts,
                "health_at": at,
                "target_fps": cam.target_fps,
                "min_fps": cam.min_fps,
                "max_fps": cam.max_fps,
                "frames_dropped_recent": None,
            }
            for cam in sorted(health.cameras, key=lambda c: c.camera)
        ]
        stmt = insert_for(conn, Camera)
        columns = ("node", "connected", "fps", "latency_ms", "frames_dropped", "reconnects", "last_frame_ts")
        # Drops since the previous health message: the running total's growth (a restarted node
        # starts its total again, and then the total is the growth).
        recent = case(
            (Camera.frames_dropped.is_(None), None),
            (
                stmt.excluded.frames_dropped >= Camera.frames_dropped,
                stmt.excluded.frames_dropped - Camera.frames_dropped,
            ),
            else_=stmt.excluded.frames_dropped,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["site", "camera"],
            set_={
                name: getattr(stmt.excluded, name)
                for name in (*columns, "health_at", "target_fps", "min_fps", "max_fps")
            }
            | {"frames_dropped_recent": recent},
        )
        conn.execute(stmt, rows)

    def _camera_flags(self, conn: Connection, batch: IngestBatch) -> None:
        for (site, camera), flag in sorted(batch.camera_flags.items()):
            stmt = insert_for(conn, Camera).values(
                site=site,
                camera=camera,
                node=flag.node,
                lost_since=flag.at if flag.lost else None,
                lost_reason=flag.reason if flag.lost else None,
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["site", "camera"],
                set_={"lost_since": stmt.excluded.lost_since, "lost_reason": stmt.excluded.lost_reason},
            )
            conn.execute(stmt)

    def _layouts(self, conn: Connection, batch: IngestBatch) -> None:
        for (site, node), (layout, at) in sorted(batch.layouts.items()):
            conn.execute(
                update(Node)
                .where(Node.site == site, Node.node == node)
                .values(layout=layout.model_dump(mode="json"), layout_at=at)
            )
            write_layout_zones(conn, layout, at)

    # ---------------------------------------------------------------------------- events, aggregates
    def _events(self, conn: Connection, batch: IngestBatch) -> None:
        if not batch.events:
            return
        rows = [_event_row(event, received_at) for event, received_at in batch.events]
        conn.execute(insert_for(conn, Event).on_conflict_do_nothing(index_elements=["id"]), rows)

    def _occupancy(
        self, conn: Connection, resolution: str, deltas: dict[OccupancyKey, OccupancyDelta]
    ) -> None:
        if not deltas:
            return
        table = OCCUPANCY_TABLES[resolution]
        rows = [
            {
                "site": site,
                "zone": zone,
                "camera": camera,
                "bucket": bucket,
                "samples": d.samples,
                "sum_count": d.sum_count,
                "max_count": d.max_count,
                "weighted_sum": d.weighted_sum,
                "seconds": d.seconds,
            }
            for (site, zone, camera, bucket), d in sorted(deltas.items())
        ]
        stmt = insert_for(conn, table)
        ex = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["site", "zone", "camera", "bucket"],
            set_={
                "samples": table.samples + ex.samples,
                "sum_count": table.sum_count + ex.sum_count,
                "max_count": greatest(conn, table.max_count, ex.max_count),
                "weighted_sum": table.weighted_sum + ex.weighted_sum,
                "seconds": table.seconds + ex.seconds,
            },
        )
        conn.execute(stmt, rows)

    def _heatmap(self, conn: Connection, batch: IngestBatch) -> None:
        if not batch.heatmap:
            return
        rows = [
            {"site": s, "camera": c, "bucket": b, "cell_x": x, "cell_y": y, "samples": n}
            for (s, c, b, x, y), n in sorted(batch.heatmap.items())
        ]
        stmt = insert_for(conn, HeatmapHour)
        stmt = stmt.on_conflict_do_update(
            index_elements=["site", "camera", "bucket", "cell_x", "cell_y"],
            set_={"samples": HeatmapHour.samples + stmt.excluded.samples},
        )
        conn.execute(stmt, rows)


def write_layout_zones(conn: Connection, layout: NodeLayout, at: datetime) -> None:
    """A node's zones (and the cameras its layout names, bound to it) as its layout says."""
    site, node = layout.site, layout.node
    if layout.cameras:
        stmt = insert_for(conn, Camera)
        stmt = stmt.on_conflict_do_update(
            index_elements=["site", "camera"], set_={"node": stmt.excluded.node}
        )
        conn.execute(
            stmt,
            [
                {"site": site, "camera": c.id, "node": node}
                for c in sorted(layout.cameras, key=lambda c: c.id)
            ],
        )
    ids = [z.id for z in layout.zones]
    conn.execute(delete(Zone).where(Zone.site == site, Zone.node == node, Zone.zone.not_in(ids)))
    if layout.zones:
        rows = [
            {
                "site": site,
                "zone": z.id,
                "node": node,
                "kind": z.kind,
                "name": z.name,
                "limit": z.limit,
                "window": z.window,
                "polygon": [list(p) for p in z.polygon],
                "line": [list(p) for p in z.line] if z.line else None,
                "cameras": z.cameras,
                "updated_at": at,
            }
            for z in sorted(layout.zones, key=lambda z: z.id)
        ]
        stmt = insert_for(conn, Zone)
        stmt = stmt.on_conflict_do_update(
            index_elements=["site", "zone"],
            set_={
                name: getattr(stmt.excluded, name)
                for name in (
                    "node",
                    "kind",
                    "name",
                    "limit",
                    "window",
                    "polygon",
                    "line",
                    "cameras",
                    "updated_at",
                )
            },
        )
        conn.execute(stmt, rows)


def _event_row(event: CameraEvent, received_at: datetime) -> dict[str, Any]:
    return {
        "id": event.event_id,
        "site": event.site,
        "node": event.node,
        "camera": event.camera,
        "seq": event.seq,
        "type": event.type,
        "ts": event.ts,
        "received_at": received_at,
        "zone": event.zone,
        "count": event.count,
        "limit": event.limit,
        "people": list(event.people) or None,
        "distance_m": event.distance_m,
        "floor_x": event.floor[0] if event.floor else None,
        "floor_y": event.floor[1] if event.floor else None,
        "duration_s": event.duration_s,
        "reason": event.reason,
    }
