"""The live accuracy audit (issue 13): guides' counts of a zone next to what hallwatch measured.

A guide at a window taps "Check count" and types how many people are there; the server stores that
number with the live count it showed at that moment. Per zone, `zone_accuracy` gives the running
error over the last days: the mean absolute error and the bias (measured minus true: negative is
an undercount), and whether the zone needs recalibration.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select

from server.db.tables import CountCheck
from server.store.sql import write


@dataclass(frozen=True, slots=True)
class Check:
    """One count check as stored."""

    id: int
    site: str
    zone: str
    true_count: int
    measured_count: int | None
    checked_at: datetime
    checked_by: str


@dataclass(frozen=True, slots=True)
class ZoneAccuracy:
    """A zone's running error over its checks with a measured count."""

    zone: str
    checks: int
    mae: float | None
    bias: float | None
    needs_recalibration: bool
    last_checked_at: datetime | None


def zone_accuracy(checks: Iterable[Check], *, recalibrate_mae: float, min_checks: int) -> list[ZoneAccuracy]:
    """Per zone: checks, mean absolute error and bias (measured - true), and the recalibration flag.

    Checks made while no count was known (``measured_count`` None) are counted but not scored.

    Example:
        >>> from datetime import UTC
        >>> at = datetime(2026, 11, 29, tzinfo=UTC)
        >>> rows = [Check(i, "s", "w1", t, m, at, "ann") for i, (t, m) in enumerate([(3, 2), (2, 2), (4, 2)])]
        >>> zone_accuracy(rows, recalibrate_mae=0.5, min_checks=3)[0]  # doctest: +ELLIPSIS
        ZoneAccuracy(zone='w1', checks=3, mae=1.0, bias=-1.0, needs_recalibration=True, last_checked_at=...)
    """
    by_zone: dict[str, list[Check]] = {}
    for check in checks:
        by_zone.setdefault(check.zone, []).append(check)
    out = []
    for zone, rows in sorted(by_zone.items()):
        scored = [r.measured_count - r.true_count for r in rows if r.measured_count is not None]
        mae = round(sum(abs(e) for e in scored) / len(scored), 3) if scored else None
        bias = round(sum(scored) / len(scored), 3) if scored else None
        flagged = mae is not None and len(scored) >= min_checks and mae > recalibrate_mae
        out.append(ZoneAccuracy(zone, len(rows), mae, bias, flagged, max(r.checked_at for r in rows)))
    return out


class AuditStore:
    """Count checks in the database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self, site: str, zone: str, true_count: int, measured_count: int | None, at: datetime, by: str
    ) -> Check:
        with write(self._engine) as conn:
            row_id = conn.execute(
                insert(CountCheck)
                .values(
                    site=site,
                    zone=zone,
                    true_count=true_count,
                    measured_count=measured_count,
                    checked_at=at,
                    checked_by=by,
                )
                .returning(CountCheck.id)
            ).scalar_one()
        return Check(row_id, site, zone, true_count, measured_count, at, by)

    def checks(self, site: str, since: datetime, until: datetime | None = None) -> Sequence[Check]:
        """The site's checks from ``since`` (to ``until``), oldest first."""
        stmt = select(CountCheck).where(CountCheck.site == site, CountCheck.checked_at >= since)
        if until is not None:
            stmt = stmt.where(CountCheck.checked_at < until)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt.order_by(CountCheck.checked_at, CountCheck.id)).all()
        return [
            Check(r.id, r.site, r.zone, r.true_count, r.measured_count, r.checked_at, r.checked_by)
            for r in rows
        ]
