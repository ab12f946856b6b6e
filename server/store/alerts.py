"""Alerts in the database: applying the engine's actions, and what people do with alerts.

Every change is a conditional statement, so that when two replicas (or a replica and a person)
act on the same alert at once, exactly one change wins and the other finds nothing to do:

- open: ``INSERT ... ON CONFLICT (open_key) DO NOTHING``;
- reopen: the key's newest alert, only if it is resolved, no other alert holds the key, and it was
  resolved within the cooldown;
- resolve, escalate, severity, peak: ``UPDATE ... WHERE open_key = :key`` (+ status conditions).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, case, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from server.alerts.model import AlertAction, AlertKey, AlertSnapshot
from server.db.tables import Alert
from server.store.sql import insert_for, write

log = logging.getLogger(__name__)


class AlertNotFound(LookupError):
    """No alert has that id."""


class AlertConflict(ValueError):
    """The alert is not in a state that allows the change; `alert` is how it is now."""

    def __init__(self, message: str, alert: Alert) -> None:
        super().__init__(message)
        self.alert = alert


@dataclass(frozen=True, slots=True)
class AlertFilter:
    site: str | None = None
    sites: Sequence[str] | None = None  # only these sites (None: every site)
    status: Sequence[str] = ()
    rule: Sequence[str] = ()
    severity: Sequence[str] = ()
    zone: str | None = None
    node: str | None = None
    camera: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    updated_since: datetime | None = None


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class AlertStore:
    """Alerts and their lifecycle."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # ------------------------------------------------------------------------- the engine's actions
    def apply(
        self, actions: Sequence[AlertAction], cooldown_s: float
    ) -> tuple[list[Alert], list[AlertAction]]:
        """Apply the engine's actions in one transaction.

        Returns:
            The alerts that changed (to publish), and the actions that found nothing to change
            because another replica or a person got there first (the caller re-reads those keys).
        """
        changed: list[int] = []
        lost: list[AlertAction] = []
        if not actions:
            return [], []
        with write(self._engine) as conn:
            for action in actions:
                try:
                    with conn.begin_nested():
                        alert_id = self._apply_one(conn, action, cooldown_s)
                except IntegrityError:
                    alert_id = None
                if alert_id is None:
                    lost.append(action)
                elif alert_id not in changed:
                    changed.append(alert_id)
            rows = self._rows(conn, changed) if changed else []
        return rows, lost

    def _apply_one(self, conn: Connection, action: AlertAction, cooldown_s: float) -> int | None:
        key, at = action.key, _dt(action.at)
        by_key = Alert.open_key == key.open_key
        if action.kind == "open":
            stmt = insert_for(conn, Alert).values(
                open_key=key.open_key,
                site=key.site,
                rule=key.rule,
                subject=key.subject,
                zone=action.zone,
                camera=action.camera,
                node=action.node,
                severity=action.severity,
                status="open",
                message=action.message[:300],
                value=action.value,
                limit=action.limit,
                peak=action.value,
                opened_at=at,
                reopen_count=0,
                updated_at=at,
                version=1,
                floor_x=action.floor[0] if action.floor is not None else None,
                floor_y=action.floor[1] if action.floor is not None else None,
            )
            stmt = stmt.on_conflict_do_nothing(index_elements=["open_key"]).returning(Alert.id)
            return conn.execute(stmt).scalar_one_or_none()
        if action.kind == "reopen":
            newest = (
                select(Alert.id)
                .where(Alert.site == key.site, Alert.rule == key.rule, Alert.subject == key.subject)
                .order_by(Alert.id.desc())
                .limit(1)
                .scalar_subquery()
            )
            other = aliased(Alert)
            stmt_u = (
                update(Alert)
                .where(
                    Alert.id == newest,
                    Alert.status == "resolved",
                    Alert.resolved_at >= at - timedelta(seconds=cooldown_s),
                    ~exists().where(other.open_key == key.open_key),
                )
                .values(
                    open_key=key.open_key,
                    # A take is never lost: whoever took it is still on it (issue 13).
                    status=case((Alert.acknowledged_by.is_not(None), "acknowledged"), else_="open"),
                    severity=action.severity,
                    message=action.message[:300],
                    value=action.value,
                    peak=_higher_peak(action.value),
                    reopened_at=at,
                    reopen_count=Alert.reopen_count + 1,
                    escalated_at=None,
                    floor_x=action.floor[0] if action.floor is not None else Alert.floor_x,
                    floor_y=action.floor[1] if action.floor is not None else Alert.floor_y,
                    resolved_at=None,
                    resolved_by=None,
                    updated_at=at,
                    version=Alert.version + 1,
                )
                .returning(Alert.id)
            )
            alert_id = conn.execute(stmt_u).scalar_one_or_none()
            if alert_id is None:
                # Nothing to reopen (pruned, or another replica reopened it): open a new one instead.
                return self._apply_one(conn, _as_open(action), cooldown_s)
            return alert_id
        condition: ColumnElement[bool] = by_key
        values: dict[str, Any] = {"updated_at": at, "version": Alert.version + 1}
        if action.kind == "resolve":
            values |= {"status": "resolved", "open_key": None, "resolved_at": at, "resolved_by": None}
        elif action.kind == "escalate":
            condition = and_(by_key, Alert.status == "open", Alert.escalated_at.is_(None))
            values |= {"escalated_at": at}
        elif action.kind == "severity":
            condition = and_(by_key, Alert.severity != action.severity)
            values |= {"severity": action.severity, "message": action.message[:300], "value": action.value}
        elif action.kind == "peak":
            condition = and_(by_key, or_(Alert.peak.is_(None), Alert.peak < action.value))
            values |= {"peak": action.value, "value": action.value, "message": action.message[:300]}
        stmt_c = update(Alert).where(condition).values(**values).returning(Alert.id)
        return conn.execute(stmt_c).scalar_one_or_none()

    def snapshots(self, now: datetime, cooldown_s: float) -> list[AlertSnapshot]:
        """Open and acknowledged alerts, and each key's newest alert resolved within the cooldown."""
        cutoff = now - timedelta(seconds=cooldown_s)
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(Alert)
                .where(or_(Alert.open_key.is_not(None), Alert.resolved_at >= cutoff))
                .order_by(Alert.id)
            ).all()
        newest: dict[AlertKey, AlertSnapshot] = {}
        for row in rows:
            snap = to_snapshot(row)
            current = newest.get(snap.key)
            if current is None or current.status == "resolved":
                newest[snap.key] = snap
        return list(newest.values())

    def changed_since(self, since: datetime, limit: int = 1000) -> list[Alert]:
        """Alerts whose row changed at or after ``since`` (another replica's or a person's changes)."""
        with self._engine.connect() as conn:
            stmt = select(Alert).where(Alert.updated_at >= since).order_by(Alert.updated_at).limit(limit)
            return _orm(conn, stmt)

    # ------------------------------------------------------------------------- people
    def get(self, alert_id: int) -> Alert:
        with self._engine.connect() as conn:
            rows = self._rows(conn, [alert_id])
        if not rows:
            raise AlertNotFound(f"no alert {alert_id}")
        return rows[0]

    def acknowledge(self, alert_id: int, username: str, at: datetime, note: str | None = None) -> Alert:
        """Take an open alert ("I'm on it").

        Raises:
            AlertNotFound: no such alert.
            AlertConflict: it is resolved, or someone else took it already.
        """
        with write(self._engine) as conn:
            stmt = (
                update(Alert)
                .where(Alert.id == alert_id, Alert.status == "open")
                .values(
                    status="acknowledged",
                    acknowledged_at=at,
                    acknowledged_by=username,
                    note=note if note is not None else Alert.note,
                    updated_at=at,
                    version=Alert.version + 1,
                )
                .returning(Alert.id)
            )
            changed = conn.execute(stmt).scalar_one_or_none()
            rows = self._rows(conn, [alert_id])
        if not rows:
            raise AlertNotFound(f"no alert {alert_id}")
        alert = rows[0]
        if changed is None:
            if alert.status == "acknowledged" and alert.acknowledged_by == username:
                return alert  # the same person tapping twice
            who = f" by {alert.acknowledged_by}" if alert.acknowledged_by else ""
            raise AlertConflict(f"alert {alert_id} is already {alert.status}{who}", alert)
        return alert

    def resolve(self, alert_id: int, username: str, at: datetime, note: str | None = None) -> Alert:
        """Resolve an open or acknowledged alert by hand.

        Raises:
            AlertNotFound: no such alert.
            AlertConflict: it is resolved already.
        """
        with write(self._engine) as conn:
            stmt = (
                update(Alert)
                .where(Alert.id == alert_id, Alert.status != "resolved")
                .values(
                    status="resolved",
                    open_key=None,
                    resolved_at=at,
                    resolved_by=username,
                    note=note if note is not None else Alert.note,
                    updated_at=at,
                    version=Alert.version + 1,
                )
                .returning(Alert.id)
            )
            changed = conn.execute(stmt).scalar_one_or_none()
            rows = self._rows(conn, [alert_id])
        if not rows:
            raise AlertNotFound(f"no alert {alert_id}")
        if changed is None:
            raise AlertConflict(f"alert {alert_id} is already resolved", rows[0])
        return rows[0]

    def search(self, flt: AlertFilter, limit: int, offset: int) -> tuple[list[Alert], int]:
        """Alerts matching the filter, newest first, and how many match in all."""
        conditions = _conditions(flt)
        with self._engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(Alert).where(*conditions)).scalar_one()
            stmt = select(Alert).where(*conditions).order_by(Alert.opened_at.desc(), Alert.id.desc())
            rows = _orm(conn, stmt.limit(limit).offset(offset))
        return rows, total

    def open_counts(self, sites: Sequence[str]) -> dict[tuple[str, str, str], int]:
        """Open and acknowledged alerts of `sites`, counted per (site, status, severity)."""
        if not sites:
            return {}
        stmt = (
            select(Alert.site, Alert.status, Alert.severity, func.count())
            .where(Alert.site.in_(list(sites)), Alert.status.in_(["open", "acknowledged"]))
            .group_by(Alert.site, Alert.status, Alert.severity)
        )
        with self._engine.connect() as conn:
            return {(site, status, severity): n for site, status, severity, n in conn.execute(stmt)}

    def all(self, flt: AlertFilter) -> list[Alert]:
        """Every alert matching the filter, oldest first (for CSV export)."""
        with self._engine.connect() as conn:
            return _orm(conn, select(Alert).where(*_conditions(flt)).order_by(Alert.opened_at, Alert.id))

    def _rows(self, conn: Connection, ids: list[int]) -> list[Alert]:
        return _orm(conn, select(Alert).where(Alert.id.in_(ids)).order_by(Alert.id))


def _conditions(flt: AlertFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if flt.site is not None:
        conditions.append(Alert.site == flt.site)
    if flt.sites is not None:
        conditions.append(Alert.site.in_(list(flt.sites)))
    if flt.status:
        conditions.append(Alert.status.in_(list(flt.status)))
    if flt.rule:
        conditions.append(Alert.rule.in_(list(flt.rule)))
    if flt.severity:
        conditions.append(Alert.severity.in_(list(flt.severity)))
    if flt.zone is not None:
        conditions.append(Alert.zone == flt.zone)
    if flt.node is not None:
        conditions.append(Alert.node == flt.node)
    if flt.camera is not None:
        conditions.append(Alert.camera == flt.camera)
    if flt.since is not None:
        conditions.append(Alert.opened_at >= flt.since)
    if flt.until is not None:
        conditions.append(Alert.opened_at < flt.until)
    if flt.updated_since is not None:
        conditions.append(Alert.updated_at >= flt.updated_since)
    return conditions


def _orm(conn: Connection, stmt: Any) -> list[Alert]:
    with Session(bind=conn, expire_on_commit=False) as session:
        rows = list(session.execute(stmt).scalars().all())
        session.expunge_all()
    return rows


def _higher_peak(value: int | None) -> Any:
    """The stored peak, raised to ``value`` when that is higher (the crowd that came back was bigger)."""
    if value is None:
        return Alert.peak
    return case((or_(Alert.peak.is_(None), Alert.peak < value), value), else_=Alert.peak)


def _as_open(action: AlertAction) -> AlertAction:
    return replace(action, kind="open")


def to_snapshot(row: Any) -> AlertSnapshot:
    """The engine's view of a stored alert."""
    opened = row.reopened_at or row.opened_at
    return AlertSnapshot(
        key=AlertKey(row.site, row.rule, row.subject),
        status=row.status,
        severity=row.severity,
        opened_at=opened.timestamp(),
        resolved_at=row.resolved_at.timestamp() if row.resolved_at else None,
        acknowledged=row.acknowledged_at is not None,
        escalated=row.escalated_at is not None,
        peak=row.peak,
    )
