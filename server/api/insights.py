"""What the dashboard derives from history: queues with an estimated wait, and events per hour or day.

Waiting time is not measured by the edge (it counts people per zone, it does not follow a visitor
from the queue to the window), so `/sites/{site}/queues` estimates it with Little's law over the
last ``minutes``:

- the hall's arrival rate λ is the people who came in through the entrance line per hour;
- each window serves a share of them in proportion to its mean number of people being served
  (``window_mean``; windows taking about as long per visitor, by Little's law at the window);
- the wait in a window's queue is its mean length divided by that window's throughput:
  ``wait_s = queue_mean / (λ * share) * 3600``.

Without an entrance line (no entries), or with nobody served, there is no estimate (null).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import Field

from hallwatch.contract import EventType
from server.api.params import End, SitePath, Start, time_range
from server.deps import HistoryReader, ServicesDep
from server.ingest.occupancy import Buckets
from server.schemas.base import Out
from server.services import Services

router = APIRouter(prefix="/api/v1/sites", tags=["insights"])

EVENT_COUNT_SPAN = {"hour": timedelta(days=31), "day": timedelta(days=400)}


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
    served_per_hour: float | None = Field(description="estimated visitors served per hour")
    wait_s: float | None = Field(description="estimated wait in the queue, seconds (Little's law)")


class QueuesOut(Out):
    site: str
    start: datetime
    end: datetime
    arrivals: int = Field(description="people who came in through the entrance in the period")
    arrivals_per_hour: float
    windows: list[WindowQueueOut]


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


def estimate_waits(
    arrivals_per_hour: float,
    window_means: Mapping[str, float | None],
    queue_means: Mapping[str, float | None],
) -> dict[str, tuple[float | None, float | None]]:
    """Per window: ``(served_per_hour, wait_s)`` by Little's law (see the module docstring).

    >>> estimate_waits(60.0, {"w1": 1.5, "w2": 0.5}, {"w1": 3.0, "w2": None})
    {'w1': (45.0, 240.0), 'w2': (15.0, None)}
    """
    served_total = sum(m for m in window_means.values() if m)
    result: dict[str, tuple[float | None, float | None]] = {}
    for window, mean in window_means.items():
        if arrivals_per_hour <= 0 or not served_total or not mean:
            result[window] = (None, None)
            continue
        served = arrivals_per_hour * mean / served_total
        queue = queue_means.get(window)
        result[window] = (round(served, 2), round(queue / served * 3600, 1) if queue is not None else None)
    return result


def _known(services: Services, site: str) -> None:
    if site not in services.live.sites() and site not in services.store.nodes.sites():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site!r} has reported yet")


def _period_mean(points: list[float]) -> float | None:
    return round(sum(points) / len(points), 3) if points else None


@router.get("/{site}/queues", responses={404: {"description": "unknown site"}})
def queues(
    site: SitePath,
    user: HistoryReader,
    services: ServicesDep,
    minutes: Annotated[int, Query(ge=5, le=1440, description="the period the means cover")] = 60,
) -> QueuesOut:
    """Each window with its queue now, their means over the last ``minutes``, and the estimated wait."""
    _known(services, site)
    end = services.clock()
    start = end - timedelta(minutes=minutes)
    zones = services.store.nodes.zones(site)
    live = {z.zone: z for z in services.live.zones(site, end)}
    windows = [z for z in zones if z.kind == "window"]
    queues_of: dict[str, list[str]] = {w.zone: [] for w in windows}
    limits = {z.zone: z.limit for z in zones}
    for z in zones:
        if z.kind == "queue" and z.window in queues_of:
            queues_of[z.window].append(z.zone)
    wanted = [w.zone for w in windows] + [q for qs in queues_of.values() for q in qs]
    series = services.store.history.occupancy(site, "minute", start, end, wanted) if wanted else {}
    entries = services.store.history.event_counts(site, ["person_entered"], start, end)["person_entered"]
    per_hour = entries / (minutes / 60)

    def mean_of(zone_ids: list[str]) -> float | None:
        means = [_period_mean([p.mean for p in series.get(z, [])]) for z in zone_ids]
        known = [m for m in means if m is not None]
        return round(sum(known), 3) if known else None

    def now_of(zone_ids: list[str]) -> int | None:
        counts = [live[z].count for z in zone_ids if z in live and live[z].count is not None]
        return sum(c for c in counts if c is not None) if counts else None

    window_means = {w.zone: mean_of([w.zone]) for w in windows}
    queue_means = {w: mean_of(qs) if qs else None for w, qs in queues_of.items()}
    waits = estimate_waits(per_hour, window_means, queue_means)
    out = []
    for w in windows:
        qs = queues_of[w.zone]
        q_limits = [limits.get(q) for q in qs]
        now = live.get(w.zone)
        out.append(
            WindowQueueOut(
                window=w.zone,
                name=w.name,
                limit=now.limit if now is not None else w.limit,
                count=now.count if now is not None else None,
                queues=qs,
                queue_limit=sum(q for q in q_limits if q is not None)
                if qs and all(q is not None for q in q_limits)
                else None,
                queue_now=now_of(qs),
                queue_mean=queue_means[w.zone],
                window_mean=window_means[w.zone],
                served_per_hour=waits[w.zone][0],
                wait_s=waits[w.zone][1],
            )
        )
    return QueuesOut(
        site=site,
        start=start,
        end=end,
        arrivals=entries,
        arrivals_per_hour=round(per_hour, 2),
        windows=out,
    )


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
