"""What the dashboard derives from history: queues, waits measured per person, events per hour or day.

Waits are measured, not estimated: a node follows each tracked person and, when their stay in a
queue is over, sends how long it was (a `queue_left` event: `vision.pipeline.FloorRules`).
`/sites/{site}/waits` gives per queue and per window the median of the waits that ended in a period
(by default the last ``waits.minutes``), and says there is not enough data below
``waits.min_waits`` of them.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import Field

from hallwatch.contract import EventType
from server.api.params import ApiTime, End, SitePath, Start, time_range
from server.deps import HistoryReader, ServicesDep
from server.ingest.occupancy import Buckets
from server.schemas.base import Out
from server.services import Services

router = APIRouter(prefix="/api/v1/sites", tags=["insights"])

EVENT_COUNT_SPAN = {"hour": timedelta(days=31), "day": timedelta(days=400)}
WAITS_SPAN = timedelta(days=31)


class WindowQueueOut(Out):
    window: str
    name: str | None
    limit: int | None = Field(description="max people at the window")
    count: int | None = Field(description="people at the window now (null: no fresh count)")
    queues: list[str] = Field(description="the queue zones that wait for this window")
    queue_limit: int | None = Field(description="sum of the queues' limits, if all have one")
    queue_now: int | None = Field(description="people waiting now")
    queue_mean: float | None = Field(description="mean people waiting over the period")
    window_mean: float | None = Field(description="mean people being served over the period")


class QueuesOut(Out):
    site: str
    start: datetime
    end: datetime
    windows: list[WindowQueueOut]


class WaitOut(Out):
    zone: str = Field(description="the queue, or the window whose queues these are")
    name: str | None
    queues: list[str] = Field(description="the queues whose waits are counted here")
    waits: int = Field(description="waits that ended in the period (people who left the queue)")
    median_s: float | None = Field(
        description="the median wait, seconds (null: fewer than min_waits waits, not enough data)"
    )
    p90_s: float | None = Field(
        description="nine waits in ten were at most this long (null: not enough data)"
    )


class WaitsOut(Out):
    site: str
    start: datetime
    end: datetime
    min_waits: int = Field(description="a median needs at least this many waits")
    windows: list[WaitOut] = Field(description="per window, its queues' waits together")
    queues: list[WaitOut] = Field(description="per queue")


def wait_figures(waits: Sequence[float], min_waits: int) -> tuple[float | None, float | None]:
    """The median and the 90th percentile of ``waits`` (seconds), or None for both below ``min_waits``.

    >>> wait_figures([30.0, 90.0, 60.0], 3)
    (60.0, 84.0)
    >>> wait_figures([30.0, 90.0], 3)
    (None, None)
    """
    if not waits or len(waits) < min_waits:
        return None, None
    ordered = sorted(waits)
    rank = 0.9 * (len(ordered) - 1)  # linear between the closest ranks
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    p90 = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return round(statistics.median(ordered), 1), round(p90, 1)


def _known(services: Services, site: str) -> None:
    if site not in services.live.sites() and site not in services.store.nodes.sites():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site!r} has reported yet")


def _period_mean(points: list[float]) -> float | None:
    return round(sum(points) / len(points), 3) if points else None


def _queues_of(services: Services, site: str) -> tuple[list[tuple[str, str | None]], dict[str, list[str]]]:
    """The site's windows (id, name) by name, and per window the queues that wait for it."""
    zones = services.store.nodes.zones(site)
    windows = [(z.zone, z.name) for z in zones if z.kind == "window"]
    queues_of: dict[str, list[str]] = {w: [] for w, _ in windows}
    for z in zones:
        if z.kind == "queue" and z.window in queues_of:
            queues_of[z.window].append(z.zone)
    return windows, queues_of


@router.get("/{site}/queues", responses={404: {"description": "unknown site"}})
def queues(
    site: SitePath,
    user: HistoryReader,
    services: ServicesDep,
    minutes: Annotated[int, Query(ge=5, le=1440, description="the period the means cover")] = 60,
) -> QueuesOut:
    """Each window with its queue now, and their mean lengths over the last ``minutes``."""
    _known(services, site)
    end = services.clock()
    start = end - timedelta(minutes=minutes)
    zones = services.store.nodes.zones(site)
    live = {z.zone: z for z in services.live.zones(site, end)}
    limits = {z.zone: z.limit for z in zones}
    windows, queues_of = _queues_of(services, site)
    layout_limits = {z.zone: z.limit for z in zones if z.kind == "window"}
    wanted = [w for w, _ in windows] + [q for qs in queues_of.values() for q in qs]
    series = services.store.history.occupancy(site, "minute", start, end, wanted) if wanted else {}

    def mean_of(zone_ids: list[str]) -> float | None:
        means = [_period_mean([p.mean for p in series.get(z, [])]) for z in zone_ids]
        known = [m for m in means if m is not None]
        return round(sum(known), 3) if known else None

    def now_of(zone_ids: list[str]) -> int | None:
        counts = [live[z].count for z in zone_ids if z in live and live[z].count is not None]
        return sum(c for c in counts if c is not None) if counts else None

    out = []
    for window, name in windows:
        qs = queues_of[window]
        q_limits = [limits.get(q) for q in qs]
        now = live.get(window)
        out.append(
            WindowQueueOut(
                window=window,
                name=name,
                limit=now.limit if now is not None else layout_limits.get(window),
                count=now.count if now is not None else None,
                queues=qs,
                queue_limit=sum(q for q in q_limits if q is not None)
                if qs and all(q is not None for q in q_limits)
                else None,
                queue_now=now_of(qs),
                queue_mean=mean_of(qs) if qs else None,
                window_mean=mean_of([window]),
            )
        )
    return QueuesOut(site=site, start=start, end=end, windows=out)


@router.get("/{site}/waits", responses={404: {"description": "unknown site"}})
def waits(
    site: SitePath,
    user: HistoryReader,
    services: ServicesDep,
    start: Annotated[
        ApiTime | None, Query(description="from (inclusive), with a time zone; default: end - waits.minutes")
    ] = None,
    end: End = None,
) -> WaitsOut:
    """How long people waited in each queue, measured person by person: the median (and the 90th
    percentile) of the waits that ended in the period, per queue and per window; null where fewer
    than ``min_waits`` waits ended (not enough data). The range is at most 31 days."""
    _known(services, site)
    settings = services.settings.waits
    rng = time_range(
        start, end, services.clock(), default=timedelta(minutes=settings.minutes), max_span=WAITS_SPAN
    )
    windows, queues_of = _queues_of(services, site)
    names = {z.zone: z.name for z in services.store.nodes.zones(site)}
    all_queues = [q for qs in queues_of.values() for q in qs]
    measured = services.store.history.waits(site, all_queues, rng.start, rng.end) if all_queues else {}

    def figures(zone: str, queue_ids: list[str]) -> WaitOut:
        together = [w for q in queue_ids for w in measured.get(q, [])]
        median_s, p90_s = wait_figures(together, settings.min_waits)
        return WaitOut(
            zone=zone,
            name=names.get(zone),
            queues=queue_ids,
            waits=len(together),
            median_s=median_s,
            p90_s=p90_s,
        )

    return WaitsOut(
        site=site,
        start=rng.start,
        end=rng.end,
        min_waits=settings.min_waits,
        windows=[figures(w, queues_of[w]) for w, _ in windows],
        queues=[figures(q, [q]) for q in all_queues],
    )


class EventCountOut(Out):
    t: datetime = Field(description="start of the hour or day (the hall's local time)")
    count: int


class EventCountsOut(Out):
    site: str
    types: list[str]
    resolution: Literal["hour", "day"]
    start: datetime
    end: datetime
    total: int
    buckets: list[EventCountOut]


@router.get("/{site}/event-counts", responses={404: {"description": "unknown site"}})
def event_counts(
    site: SitePath,
    user: HistoryReader,
    services: ServicesDep,
    type_: Annotated[list[EventType], Query(alias="type", min_length=1, description="event types to count")],
    resolution: Literal["hour", "day"] = "hour",
    start: Start = None,
    end: End = None,
) -> EventCountsOut:
    """How many events of the given types happened per hour or day (every bucket, zeros too).

    Buckets follow the hall's time zone; ranges are limited to 31 days of hours, 400 of days.
    """
    _known(services, site)
    rng = time_range(start, end, services.clock(), max_span=EVENT_COUNT_SPAN[resolution])
    buckets = Buckets(services.settings.zoneinfo)
    index = 1 if resolution == "hour" else 2

    def bucket_of(ts: datetime) -> datetime:
        return buckets.of(ts)[index]

    counts: dict[datetime, int] = {}
    step = timedelta(hours=1) if resolution == "hour" else timedelta(hours=26)
    t = bucket_of(rng.start)
    while t < rng.end:
        counts[t] = 0
        t = bucket_of(t + step)
    times = services.store.history.event_times(site, sorted(set(type_)), rng.start, rng.end)
    for _type, ts in times:
        key = bucket_of(ts)
        counts[key] = counts.get(key, 0) + 1
    return EventCountsOut(
        site=site,
        types=sorted(set(type_)),
        resolution=resolution,
        start=rng.start,
        end=rng.end,
        total=len(times),
        buckets=[EventCountOut(t=t, count=n) for t, n in sorted(counts.items())],
    )
