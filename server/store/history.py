"""Reading history back: occupancy series, events, entry counts, waits in queues, daily summaries
and the heatmap."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, func, select
from sqlalchemy.orm import Session

from server.db.tables import OCCUPANCY_TABLES, Alert, Event, HeatmapHour, OccupancyDay, OccupancyMinute, Zone


@dataclass(frozen=True, slots=True)
class OccupancyPoint:
    """One bucket of one zone: the time-weighted mean count, the highest count, the sample count."""

    bucket: datetime
    mean: float
    max: int
    samples: int


@dataclass(slots=True)
class _Cameras:
    means: list[float] = field(default_factory=list)
    max: int = 0
    samples: int = 0


@dataclass(frozen=True, slots=True)
class EventFilter:
    site: str | None = None
    sites: Sequence[str] | None = None  # only these sites (None: every site)
    types: Sequence[str] = ()
    camera: str | None = None
    zone: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(slots=True)
class DaySummary:
    """One local day of a site, for the daily and weekly reports."""

    day: date
    entries: int = 0
    exits: int = 0
    violations: int = 0
    alerts: int = 0
    acknowledged: int = 0
    ack_delays_s: list[float] = field(default_factory=list)
    peak: dict[str, int] = field(default_factory=dict)
    minutes_over: dict[str, int] = field(default_factory=dict)

    @property
    def median_ack_s(self) -> float | None:
        return round(statistics.median(self.ack_delays_s), 1) if self.ack_delays_s else None


class HistoryStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def occupancy(
        self,
        site: str,
        resolution: str,
        start: datetime,
        end: datetime,
        zones: Sequence[str] = (),
    ) -> dict[str, list[OccupancyPoint]]:
        """Occupancy per zone in ``[start, end)``, oldest first.

        Where several cameras count one zone, each bucket takes the camera with the highest mean
        (cameras that overlap see the same people; the one that sees the most misses the fewest).
        """
        table = OCCUPANCY_TABLES[resolution]
        stmt = (
            select(
                table.zone,
                table.bucket,
                table.samples,
                table.sum_count,
                table.max_count,
                table.weighted_sum,
                table.seconds,
            )
            .where(table.site == site, table.bucket >= start, table.bucket < end)
            .order_by(table.zone, table.bucket)
        )
        if zones:
            stmt = stmt.where(table.zone.in_(list(zones)))
        merged: dict[str, dict[datetime, _Cameras]] = {}
        with self._engine.connect() as conn:
            for zone, bucket, samples, sum_count, max_count, weighted, seconds in conn.execute(stmt):
                cams = merged.setdefault(zone, {}).setdefault(bucket, _Cameras())
                mean = weighted / seconds if seconds > 0 else (sum_count / samples if samples else 0.0)
                cams.means.append(mean)
                cams.max = max(cams.max, max_count)
                cams.samples += samples
        return {
            zone: [
                OccupancyPoint(b, round(max(c.means), 3), c.max, c.samples)
                for b, c in sorted(buckets.items())
            ]
            for zone, buckets in merged.items()
        }

    def events(self, flt: EventFilter, limit: int, offset: int) -> tuple[list[Event], int]:
        """Events matching the filter, newest first, and how many match in all."""
        conditions = _event_conditions(flt)
        with Session(self._engine, expire_on_commit=False) as session:
            total = session.execute(select(func.count()).select_from(Event).where(*conditions)).scalar_one()
            stmt = (
                select(Event)
                .where(*conditions)
                .order_by(Event.ts.desc(), Event.id)
                .limit(limit)
                .offset(offset)
            )
            return list(session.execute(stmt).scalars()), total

    def all_events(self, flt: EventFilter) -> list[Event]:
        """Every matching event, oldest first (for CSV export)."""
        with Session(self._engine, expire_on_commit=False) as session:
            stmt = select(Event).where(*_event_conditions(flt)).order_by(Event.ts, Event.id)
            return list(session.execute(stmt).scalars())

    def event_counts(self, site: str, types: Sequence[str], start: datetime, end: datetime) -> dict[str, int]:
        """How many events of each type happened in ``[start, end)``."""
        stmt = (
            select(Event.type, func.count())
            .where(Event.site == site, Event.type.in_(list(types)), Event.ts >= start, Event.ts < end)
            .group_by(Event.type)
        )
        with self._engine.connect() as conn:
            counts = {t: int(n) for t, n in conn.execute(stmt)}
        return {t: counts.get(t, 0) for t in types}

    def event_times(
        self, site: str, types: Sequence[str], start: datetime, end: datetime
    ) -> list[tuple[str, datetime]]:
        """``(type, ts)`` of every event of these types in ``[start, end)``, oldest first."""
        stmt = (
            select(Event.type, Event.ts)
            .where(Event.site == site, Event.type.in_(list(types)), Event.ts >= start, Event.ts < end)
            .order_by(Event.ts)
        )
        with self._engine.connect() as conn:
            return [(t, ts) for t, ts in conn.execute(stmt)]

    def waits(
        self, site: str, queues: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[float]]:
        """Per queue, the seconds each person stood in it, for the waits that ended in ``[start, end)``
        (the nodes' `queue_left` events), oldest first; a queue without any is left out."""
        stmt = (
            select(Event.zone, Event.duration_s)
            .where(
                Event.site == site,
                Event.type == "queue_left",
                Event.zone.in_(list(queues)),
                Event.ts >= start,
                Event.ts < end,
                Event.duration_s.is_not(None),
            )
            .order_by(Event.ts)
        )
        out: dict[str, list[float]] = {}
        with self._engine.connect() as conn:
            for zone, duration_s in conn.execute(stmt):
                if zone is not None and duration_s is not None:
                    out.setdefault(zone, []).append(float(duration_s))
        return out

    def summary(self, site: str, start: datetime, end: datetime, tz: ZoneInfo) -> list[DaySummary]:
        """Per local day in ``[start, end)``: entries, exits, spacing violations, alerts and how
        fast they were taken, each zone's peak count and its minutes over its (layout) limit."""
        days: dict[date, DaySummary] = {}

        def day_of(ts: datetime) -> DaySummary:
            key = ts.astimezone(tz).date()
            found = days.get(key)
            if found is None:
                found = days[key] = DaySummary(key)
            return found

        kinds = {
            "person_entered": "entries",
            "person_left": "exits",
            "spacing_violation_started": "violations",
        }
        events = select(Event.type, Event.ts).where(
            Event.site == site, Event.type.in_(list(kinds)), Event.ts >= start, Event.ts < end
        )
        peaks = (
            select(OccupancyDay.zone, OccupancyDay.bucket, func.max(OccupancyDay.max_count))
            .where(OccupancyDay.site == site, OccupancyDay.bucket >= start, OccupancyDay.bucket < end)
            .group_by(OccupancyDay.zone, OccupancyDay.bucket)
        )
        over = (
            select(OccupancyMinute.zone, OccupancyMinute.bucket)
            .join(Zone, (Zone.site == OccupancyMinute.site) & (Zone.zone == OccupancyMinute.zone))
            .where(
                OccupancyMinute.site == site,
                OccupancyMinute.bucket >= start,
                OccupancyMinute.bucket < end,
                Zone.limit.is_not(None),
                OccupancyMinute.max_count > Zone.limit,
            )
            .distinct()
        )
        alerts = select(Alert.opened_at, Alert.acknowledged_at).where(
            Alert.site == site, Alert.opened_at >= start, Alert.opened_at < end
        )
        with self._engine.connect() as conn:
            for kind, ts in conn.execute(events):
                summary = day_of(ts)
                setattr(summary, kinds[kind], getattr(summary, kinds[kind]) + 1)
            for zone, bucket, peak in conn.execute(peaks):
                day_of(bucket).peak[zone] = int(peak)
            for zone, bucket in conn.execute(over):
                minutes = day_of(bucket).minutes_over
                minutes[zone] = minutes.get(zone, 0) + 1
            for opened_at, acknowledged_at in conn.execute(alerts):
                summary = day_of(opened_at)
                summary.alerts += 1
                if acknowledged_at is not None:
                    summary.acknowledged += 1
                    summary.ack_delays_s.append((acknowledged_at - opened_at).total_seconds())
        return [days[d] for d in sorted(days)]

    def heatmap(
        self, site: str, start: datetime, end: datetime, camera: str | None = None
    ) -> list[dict[str, Any]]:
        """Position samples per floor cell and camera in ``[start, end)``."""
        stmt = (
            select(HeatmapHour.camera, HeatmapHour.cell_x, HeatmapHour.cell_y, func.sum(HeatmapHour.samples))
            .where(HeatmapHour.site == site, HeatmapHour.bucket >= start, HeatmapHour.bucket < end)
            .group_by(HeatmapHour.camera, HeatmapHour.cell_x, HeatmapHour.cell_y)
            .order_by(HeatmapHour.camera, HeatmapHour.cell_x, HeatmapHour.cell_y)
        )
        if camera is not None:
            stmt = stmt.where(HeatmapHour.camera == camera)
        with self._engine.connect() as conn:
            return [
                {"camera": c, "cell_x": x, "cell_y": y, "samples": int(n)}
                for c, x, y, n in conn.execute(stmt)
            ]


def _event_conditions(flt: EventFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if flt.site is not None:
        conditions.append(Event.site == flt.site)
    if flt.sites is not None:
        conditions.append(Event.site.in_(list(flt.sites)))
    if flt.types:
        conditions.append(Event.type.in_(list(flt.types)))
    if flt.camera is not None:
        conditions.append(Event.camera == flt.camera)
    if flt.zone is not None:
        conditions.append(Event.zone == flt.zone)
    if flt.start is not None:
        conditions.append(Event.ts >= flt.start)
    if flt.end is not None:
        conditions.append(Event.ts < flt.end)
    return conditions
