"""Per-site views: live occupancy, history, heatmap, layout, and the sites themselves."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from server.api.params import MAX_SPAN, NAME_PATTERN, End, SitePath, Start, time_range
from server.db.tables import Node
from server.deps import HistoryReader, OccupancyReader, ServicesDep, ZonesReader
from server.ingest.live_state import ZoneNow
from server.ingest.occupancy import Buckets
from server.schemas.base import Out
from server.schemas.nodes import NodeLayoutOut, SiteLayoutOut, ZoneOut
from server.schemas.occupancy import (
    CameraNowOut,
    DaySummaryOut,
    HallOut,
    HeatCellOut,
    HeatmapOut,
    HistoryOut,
    OccupancyPointOut,
    Resolution,
    SiteOccupancyOut,
    SummaryOut,
    ZoneDayOut,
    ZoneOccupancyOut,
    ZoneSeriesOut,
)
from server.services import Services

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])


class SiteOut(Out):
    site: str
    nodes: int
    zones: int


def reported_sites(services: Services, nodes: list[Node]) -> list[str]:
    """Every site a node has reported from (stored nodes, and live state), sorted."""
    return sorted({n.site for n in nodes} | set(services.live.sites()))


def hall_out(hall: ZoneNow | None) -> HallOut | None:
    """The hall zone's count against its capacity (None: the site has no hall zone)."""
    if hall is None:
        return None
    ratio = round(hall.count / hall.limit, 3) if hall.count is not None and hall.limit else None
    return HallOut(zone=hall.zone, count=hall.count, capacity=hall.limit, ratio=ratio)


def _known(services: Services, site: str) -> None:
    if site not in services.live.sites() and site not in services.store.nodes.sites():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site!r} has reported yet")


@router.get("")
def list_sites(user: ZonesReader, services: ServicesDep) -> list[SiteOut]:
    """Every site a node has reported from."""
    nodes = services.store.nodes.nodes()
    zones = services.store.nodes.zones()
    names = user.visible(reported_sites(services, nodes))
    return [
        SiteOut(site=s, nodes=sum(n.site == s for n in nodes), zones=sum(z.site == s for z in zones))
        for s in names
    ]


@router.get("/{site}/occupancy", responses={404: {"description": "unknown site"}})
def occupancy(site: SitePath, user: OccupancyReader, services: ServicesDep) -> SiteOccupancyOut:
    """People per zone now, the hall against its capacity, and entries and exits today."""
    _known(services, site)
    now = services.clock()
    zones = services.live.zones(site, now)
    cameras = services.live.cameras(site)
    # A camera or floor that stopped reporting says nothing about pairs now (nor about zones).
    stale_s = services.settings.alerts.zone_stale_s
    recent = [c for c in cameras if (now - c.received_at).total_seconds() <= stale_s]
    hall = next((z for z in zones if z.kind == "hall"), None)
    day_start = Buckets(services.settings.zoneinfo).day_start(now)
    counts = services.store.history.event_counts(site, ["person_entered", "person_left"], day_start, now)
    return SiteOccupancyOut(
        site=site,
        ts=now,
        zones=[ZoneOccupancyOut.model_validate(z) for z in zones],
        hall=hall_out(hall),
        cameras=[CameraNowOut.model_validate(c) for c in cameras],
        violations_now=sum(c.violations for c in recent),
        possible_violations_now=sum(c.possible_violations for c in recent),
        entries_today=counts["person_entered"],
        exits_today=counts["person_left"],
    )


@router.get("/{site}/history", responses={404: {"description": "unknown site"}})
def history(
    site: SitePath,
    user: HistoryReader,
    services: ServicesDep,
    start: Start = None,
    end: End = None,
    resolution: Resolution = "minute",
    zone: Annotated[list[Annotated[str, Query(pattern=NAME_PATTERN)]] | None, Query()] = None,
) -> HistoryOut:
    """Occupancy per zone over time: time-weighted mean, max and samples per bucket.

    Ranges are limited per resolution: 31 days of minutes, 400 days of hours, 10 years of days.
    """
    _known(services, site)
    rng = time_range(start, end, services.clock(), max_span=MAX_SPAN[resolution])
    series = services.store.history.occupancy(site, resolution, rng.start, rng.end, zone or ())
    specs = {z.zone: z for z in services.store.nodes.zones(site)}
    return HistoryOut(
        site=site,
        resolution=resolution,
        start=rng.start,
        end=rng.end,
        series=[
            ZoneSeriesOut(
                zone=name,
                kind=specs[name].kind if name in specs else None,
                name=specs[name].name if name in specs else None,
                limit=specs[name].limit if name in specs else None,
                points=[
                    OccupancyPointOut(t=p.bucket, mean=p.mean, max=p.max, samples=p.samples) for p in points
                ],
            )
            for name, points in sorted(series.items())
        ],
    )


@router.get("/{site}/summary", responses={404: {"description": "unknown site"}})
def summary(
    site: SitePath, user: HistoryReader, services: ServicesDep, start: Start = None, end: End = None
) -> SummaryOut:
    """Per local day (default: the last 7 days): visitors, exits, peak counts, minutes over each
    limit, spacing violations, alerts and how fast they were taken (for daily and weekly reports)."""
    _known(services, site)
    rng = time_range(start, end, services.clock(), default=timedelta(days=7), max_span=MAX_SPAN["hour"])
    tz = services.settings.zoneinfo
    days = services.store.history.summary(site, rng.start, rng.end, tz)
    return SummaryOut(
        site=site,
        start=rng.start,
        end=rng.end,
        timezone=services.settings.timezone,
        days=[
            DaySummaryOut(
                date=d.day,
                entries=d.entries,
                exits=d.exits,
                violations=d.violations,
                alerts=d.alerts,
                acknowledged=d.acknowledged,
                median_ack_s=d.median_ack_s,
                zones=[
                    ZoneDayOut(zone=z, peak=d.peak.get(z), minutes_over_limit=d.minutes_over.get(z, 0))
                    for z in sorted(set(d.peak) | set(d.minutes_over))
                ],
            )
            for d in days
        ],
    )


@router.get("/{site}/heatmap", responses={404: {"description": "unknown site"}})
def heatmap(
    site: SitePath,
    user: HistoryReader,
    services: ServicesDep,
    start: Start = None,
    end: End = None,
    camera: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
) -> HeatmapOut:
    """Where people stood: position samples per floor cell (hourly buckets, so whole hours count)."""
    _known(services, site)
    rng = time_range(start, end, services.clock(), default=timedelta(days=7), max_span=MAX_SPAN["hour"])
    cells = services.store.history.heatmap(site, rng.start, rng.end, camera)
    return HeatmapOut(
        site=site,
        start=rng.start,
        end=rng.end,
        cell_m=services.settings.ingest.heatmap_cell_m,
        cells=[HeatCellOut(**c) for c in cells],
    )


@router.get("/{site}/layout", responses={404: {"description": "unknown site"}})
def layout(site: SitePath, user: ZonesReader, services: ServicesDep) -> SiteLayoutOut:
    """The site's zones (polygons in floor metres) and each node's layout message as sent."""
    _known(services, site)
    nodes = services.store.nodes.nodes(site)
    return SiteLayoutOut(
        site=site,
        zones=[ZoneOut.model_validate(z) for z in services.store.nodes.zones(site)],
        nodes=[NodeLayoutOut(node=n.node, layout_at=n.layout_at, layout=n.layout) for n in nodes],
    )
