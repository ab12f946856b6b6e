"""The live accuracy audit (issue 13): guides check a zone's count; managers see the running error.

- ``POST /api/v1/sites/{site}/count-checks`` (anyone who takes alerts): ``{zone, true_count}``; the
  server stores it with the zone's live count at that moment (the number the pages show), the time
  and who checked.
- ``GET /api/v1/sites/{site}/accuracy`` (managers): per zone over the last ``audit.days`` days, the
  number of checks, the mean absolute error and the bias in people, and "needs recalibration" when
  the error is above ``audit.recalibrate_mae`` over at least ``audit.min_checks`` checks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException, status
from pydantic import Field

from server.api.params import End, SitePath, Start, time_range
from server.deps import AlertsActor, HistoryReader, ServicesDep
from server.schemas.base import In, Out
from server.services import Services
from server.store.audit import zone_accuracy

router = APIRouter(prefix="/api/v1/sites", tags=["audit"])


class CountCheckIn(In):
    zone: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    true_count: int = Field(ge=0, le=1000, description="the people the guide counted in the zone")


class CountCheckOut(Out):
    id: int
    site: str
    zone: str
    true_count: int
    measured_count: int | None = Field(description="the zone's live count at that moment (null: none known)")
    checked_at: datetime
    checked_by: str


class ZoneAccuracyOut(Out):
    zone: str
    name: str | None
    kind: str | None
    checks: int
    mae: float | None = Field(
        description="mean absolute error, people (null: no check had a count to compare)"
    )
    bias: float | None = Field(description="mean of measured - true, people: negative is an undercount")
    needs_recalibration: bool
    last_checked_at: datetime | None


class AccuracyOut(Out):
    site: str
    since: datetime
    days: int
    recalibrate_mae: float
    min_checks: int
    zones: list[ZoneAccuracyOut]


def _zones(services: Services, site: str) -> dict[str, tuple[str | None, str]]:
    known = {z.zone: (z.name, z.kind) for z in services.store.nodes.zones(site)}
    if not known and site not in services.live.sites():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site!r} has reported yet")
    return known


@router.post(
    "/{site}/count-checks",
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "unknown site or zone"}},
)
def add_count_check(
    site: SitePath, body: CountCheckIn, user: AlertsActor, services: ServicesDep
) -> CountCheckOut:
    """A guide's count of the people in a zone, stored with the live count the pages showed then."""
    zones = _zones(services, site)
    if body.zone not in zones:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"site {site!r} has no zone {body.zone!r}")
    now = services.clock()
    measured = next((z.count for z in services.live.zones(site, now) if z.zone == body.zone), None)
    check = services.store.audit.add(site, body.zone, body.true_count, measured, now, user.username)
    return CountCheckOut(
        id=check.id,
        site=site,
        zone=check.zone,
        true_count=check.true_count,
        measured_count=check.measured_count,
        checked_at=check.checked_at,
        checked_by=check.checked_by,
    )


@router.get("/{site}/accuracy", responses={404: {"description": "unknown site"}})
def accuracy(
    site: SitePath, user: HistoryReader, services: ServicesDep, start: Start = None, end: End = None
) -> AccuracyOut:
    """Per zone, the running error of the live counts against guides' checks (default: the last
    ``audit.days`` days; a report asks for its own period)."""
    zones = _zones(services, site)
    rules = services.settings.audit
    rng = time_range(
        start, end, services.clock(), default=timedelta(days=rules.days), max_span=timedelta(days=400)
    )
    since = rng.start
    rows = zone_accuracy(
        services.store.audit.checks(site, rng.start, rng.end),
        recalibrate_mae=rules.recalibrate_mae,
        min_checks=rules.min_checks,
    )
    return AccuracyOut(
        site=site,
        since=since,
        days=rules.days,
        recalibrate_mae=rules.recalibrate_mae,
        min_checks=rules.min_checks,
        zones=[
            ZoneAccuracyOut(
                zone=r.zone,
                name=zones.get(r.zone, (None, None))[0],
                kind=zones.get(r.zone, (None, None))[1],
                checks=r.checks,
                mae=r.mae,
                bias=r.bias,
                needs_recalibration=r.needs_recalibration,
                last_checked_at=r.last_checked_at,
            )
            for r in rows
        ],
    )
