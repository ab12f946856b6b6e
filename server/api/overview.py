"""A district at a glance: per hall the user's role holds on, the hall's count against its capacity,
the zones over their limits, the open alerts and the nodes online."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import Field

from server.alerts.model import Severity
from server.api.nodes import node_out
from server.api.sites import hall_out, reported_sites
from server.deps import OccupancyReader, ServicesDep
from server.schemas.base import Out
from server.schemas.occupancy import HallOut

router = APIRouter(prefix="/api/v1", tags=["sites"])
_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


class HallSummaryOut(Out):
    site: str
    hall: HallOut | None = Field(
        description="the hall zone's count against its capacity (none: no hall zone)"
    )
    zones_over: list[str] = Field(description="windows and queues over their limits now (names, else ids)")
    zones_unknown: int = Field(description="zones no camera reported recently")
    alerts_open: int = Field(description="alerts nobody has taken yet")
    alerts_taken: int = Field(description="alerts a guide has taken and not resolved")
    worst_severity: Severity | None = Field(description="the highest severity of those alerts")
    nodes: int
    nodes_online: int
    updated_at: datetime | None = Field(description="the latest camera state of the hall")


@router.get("/overview")
def overview(user: OccupancyReader, services: ServicesDep) -> list[HallSummaryOut]:
    """Every hall the user's role holds on, one summary each (the district overview page)."""
    now = services.clock()
    nodes = services.store.nodes.nodes()
    sites = user.visible(reported_sites(services, nodes))
    alerts = services.store.alerts.open_counts(sites)
    out = []
    for site in sites:
        zones = services.live.zones(site, now)
        hall = next((z for z in zones if z.kind == "hall"), None)
        mine = {(status, severity): n for (s, status, severity), n in alerts.items() if s == site}
        severities = [severity for (_, severity), n in mine.items() if n]
        online = [node_out(n, [], services, now).online for n in nodes if n.site == site]
        cameras = services.live.cameras(site)
        out.append(
            HallSummaryOut(
                site=site,
                hall=hall_out(hall),
                zones_over=[
                    z.name or z.zone
                    for z in zones
                    if z.kind in ("window", "queue") and z.level in ("over", "critical")
                ],
                zones_unknown=sum(z.level == "unknown" for z in zones),
                alerts_open=sum(n for (status, _), n in mine.items() if status == "open"),
                alerts_taken=sum(n for (status, _), n in mine.items() if status == "acknowledged"),
                worst_severity=max(severities, key=_RANK.__getitem__) if severities else None,
                nodes=len(online),
                nodes_online=sum(online),
                updated_at=max((c.ts for c in cameras), default=None),
            )
        )
    return out
