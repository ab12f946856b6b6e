"""Deleting what is older than the retention settings allow."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete

from server.db.tables import Alert, Event, HeatmapHour, OccupancyDay, OccupancyHour, OccupancyMinute
from server.settings import RetentionSettings
from server.store.sql import write

log = logging.getLogger(__name__)


def prune(engine: Engine, retention: RetentionSettings, now: datetime) -> dict[str, int]:
    """Delete old aggregates, events and resolved alerts; returns rows deleted per table."""
    day = timedelta(days=1)
    plan = [
        (
            "occupancy_minute",
            delete(OccupancyMinute).where(OccupancyMinute.bucket < now - retention.minute_days * day),
        ),
        (
            "occupancy_hour",
            delete(OccupancyHour).where(OccupancyHour.bucket < now - retention.hour_days * day),
        ),
        ("heatmap_hour", delete(HeatmapHour).where(HeatmapHour.bucket < now - retention.hour_days * day)),
        ("occupancy_day", delete(OccupancyDay).where(OccupancyDay.bucket < now - retention.day_days * day)),
        ("events", delete(Event).where(Event.ts < now - retention.event_days * day)),
        (
            "alerts",
            delete(Alert).where(
                Alert.status == "resolved", Alert.resolved_at < now - retention.alert_days * day
            ),
        ),
    ]
    deleted: dict[str, int] = {}
    with write(engine) as conn:
        for name, stmt in plan:
            deleted[name] = conn.execute(stmt).rowcount
    if any(deleted.values()):
        log.info("retention: deleted %s", ", ".join(f"{n} {t}" for t, n in deleted.items() if n))
    return deleted
