"""CSV export of occupancy history, events and alerts (managers)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from server.api.params import MAX_SPAN, NAME_PATTERN, End, Start, time_range
from server.deps import Exporter, ServicesDep
from server.schemas.occupancy import Resolution
from server.store.alerts import AlertFilter
from server.store.history import EventFilter

router = APIRouter(prefix="/api/v1/export", tags=["export"])
SiteRequired = Annotated[str, Query(pattern=NAME_PATTERN, description="the site to export")]
_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}, "description": "a CSV file"}}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _cell(value: Any) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is prefixed with a quote.

    Spreadsheets skip leading spaces and line breaks before a formula, so `` =1+1`` and
    ``"\n=1+1"`` count too.

    >>> _cell(" =HYPERLINK(1)"), _cell("-3.5"), _cell("@SUM(1)")
    ("' =HYPERLINK(1)", '-3.5', "'@SUM(1)")
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        # Sums of floats show their binary noise (1.5999999999999996, issue 13); 6 decimals are
        # more than any count, mean or distance here carries.
        return repr(round(value, 6)) if math.isfinite(value) else ""
    text = str(value)
    stripped = text.lstrip(" \t\r\n")
    if stripped[:1] in _FORMULA_START[:4] and not _is_number(stripped):
        return "'" + text
    if text[:1] in _FORMULA_START[4:]:
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv(header: list[str], rows: Iterable[Iterable[Any]], filename: str) -> StreamingResponse:
    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(v) for v in row])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/occupancy.csv", response_class=StreamingResponse, responses=_CSV)
def export_occupancy(
    user: Exporter,
    services: ServicesDep,
    site: SiteRequired,
    start: Start = None,
    end: End = None,
    resolution: Resolution = "hour",
) -> StreamingResponse:
    """One row per zone and bucket: time-weighted mean, max and number of samples."""
    rng = time_range(start, end, services.clock(), max_span=MAX_SPAN[resolution])
    series = services.store.history.occupancy(site, resolution, rng.start, rng.end)
    rows = (
        (site, zone, p.bucket, resolution, p.mean, p.max, p.samples)
        for zone in sorted(series)
        for p in series[zone]
    )
    name = f"occupancy-{site}-{resolution}-{rng.start:%Y%m%d}-{rng.end:%Y%m%d}.csv"
    return _csv(["site", "zone", "start", "resolution", "mean", "max", "samples"], rows, name)


EVENT_COLUMNS = [
    "id",
    "site",
    "node",
    "camera",
    "type",
    "ts",
    "received_at",
    "zone",
    "count",
    "limit",
    "people",
    "distance_m",
    "floor_x",
    "floor_y",
    "duration_s",
    "reason",
]


@router.get("/events.csv", response_class=StreamingResponse, responses=_CSV)
def export_events(
    user: Exporter, services: ServicesDep, site: SiteRequired, start: Start = None, end: End = None
) -> StreamingResponse:
    """Every camera event of the site in the range, oldest first."""
    rng = time_range(start, end, services.clock(), max_span=MAX_SPAN["minute"])
    events = services.store.history.all_events(EventFilter(site=site, start=rng.start, end=rng.end))
    rows = (
        [getattr(e, c) if c != "people" else " ".join(map(str, e.people or [])) for c in EVENT_COLUMNS]
        for e in events
    )
    return _csv(EVENT_COLUMNS, rows, f"events-{site}-{rng.start:%Y%m%d}-{rng.end:%Y%m%d}.csv")


ALERT_COLUMNS = [
    "id",
    "site",
    "rule",
    "subject",
    "zone",
    "camera",
    "node",
    "severity",
    "status",
    "message",
    "value",
    "limit",
    "peak",
    "opened_at",
    "reopen_count",
    "acknowledged_at",
    "acknowledged_by",
    "escalated_at",
    "resolved_at",
    "resolved_by",
    "note",
]


@router.get("/alerts.csv", response_class=StreamingResponse, responses=_CSV)
def export_alerts(
    user: Exporter, services: ServicesDep, site: SiteRequired, start: Start = None, end: End = None
) -> StreamingResponse:
    """Alerts opened in the range, oldest first, with who took and resolved them and when."""
    rng = time_range(start, end, services.clock(), max_span=MAX_SPAN["hour"])
    alerts = services.store.alerts.all(AlertFilter(site=site, since=rng.start, until=rng.end))
    rows = ([getattr(a, c) for c in ALERT_COLUMNS] for a in alerts)
    return _csv(ALERT_COLUMNS, rows, f"alerts-{site}-{rng.start:%Y%m%d}-{rng.end:%Y%m%d}.csv")
