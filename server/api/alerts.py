"""Alerts: list, filter, read, acknowledge, resolve."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, Query, status

from server.alerts.model import RuleName, Severity
from server.api.params import ApiTime, Limit, NameQuery, Offset, SiteQuery
from server.db.tables import Alert
from server.deps import AlertsActor, AlertsReader, AuthUser, ServicesDep
from server.ingest.processor import alert_messages
from server.schemas.alerts import AlertActionIn, AlertOut, AlertPage, AlertStatus
from server.services import Services
from server.store.alerts import AlertConflict, AlertFilter, AlertNotFound

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=2**62)]
# acknowledge or resolve: (alert id, user name, when, note) -> the alert after it
AlertAction = Callable[[int, str, datetime, str | None], Alert]


@router.get("")
def list_alerts(
    user: AlertsReader,
    services: ServicesDep,
    site: SiteQuery = None,
    status_: Annotated[list[AlertStatus] | None, Query(alias="status")] = None,
    rule: Annotated[list[RuleName] | None, Query()] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    zone: NameQuery = None,
    node: NameQuery = None,
    camera: NameQuery = None,
    since: Annotated[ApiTime | None, Query(description="opened at or after")] = None,
    until: Annotated[ApiTime | None, Query(description="opened before")] = None,
    updated_since: Annotated[ApiTime | None, Query(description="changed at or after (to catch up)")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> AlertPage:
    """Alerts, newest first. Repeat ``status``, ``rule`` or ``severity`` to match any of several."""
    flt = AlertFilter(
        site=site,
        sites=user.site_list,
        status=status_ or (),
        rule=rule or (),
        severity=severity or (),
        zone=zone,
        node=node,
        camera=camera,
        since=since,
        until=until,
        updated_since=updated_since,
    )
    rows, total = services.store.alerts.search(flt, limit, offset)
    return AlertPage(
        items=[AlertOut.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get("/{alert_id}", responses={404: {"description": "no such alert"}})
def get_alert(alert_id: AlertId, user: AlertsReader, services: ServicesDep) -> AlertOut:
    return AlertOut.model_validate(_visible_alert(services, user, alert_id))


def _visible_alert(services: Services, user: AuthUser, alert_id: int) -> Alert:
    """The alert, if the user's role holds on its site (else 404, as if there were none: a guide of
    one hall learns nothing of another's alerts)."""
    try:
        row = services.store.alerts.get(alert_id)
    except AlertNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    if not user.sees(row.site):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    return row


_ACT_RESPONSES: dict[int | str, dict[str, str]] = {
    404: {"description": "no such alert"},
    409: {"description": "the alert is resolved, or someone else took it"},
}


@router.post("/{alert_id}/acknowledge", responses=_ACT_RESPONSES)
def acknowledge_alert(
    alert_id: AlertId,
    user: AlertsActor,
    services: ServicesDep,
    body: Annotated[AlertActionIn | None, Body()] = None,
) -> AlertOut:
    """Take an open alert ("I'm on it"); everyone's pages show who took it."""
    _visible_alert(services, user, alert_id)
    return _act(services, services.store.alerts.acknowledge, alert_id, user.username, body)


@router.post("/{alert_id}/resolve", responses=_ACT_RESPONSES)
def resolve_alert(
    alert_id: AlertId,
    user: AlertsActor,
    services: ServicesDep,
    body: Annotated[AlertActionIn | None, Body()] = None,
) -> AlertOut:
    """Resolve an alert by hand. It stays resolved until its condition clears and comes back."""
    _visible_alert(services, user, alert_id)
    return _act(services, services.store.alerts.resolve, alert_id, user.username, body)


def _act(
    services: Services, action: AlertAction, alert_id: int, username: str, body: AlertActionIn | None
) -> AlertOut:
    """Apply a guide's action, tell every page, and answer with the alert as it is now."""
    try:
        row = action(alert_id, username, services.clock(), body.note if body else None)
    except AlertNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except AlertConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    _changed(services, row)
    return AlertOut.model_validate(row)


def _changed(services: Services, row: object) -> None:
    services.hub.publish(alert_messages([row]))
    if services.ingest is not None:
        services.ingest.request_alert_sync()
