"""The server's own health, its metrics, and the alert rules in force."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text

from server.auth.roles import Permission
from server.deps import SESSION_COOKIE, RulesReader, ServicesDep, authenticate, check_permission
from server.schemas.system import HealthOut

router = APIRouter(tags=["system"])
_metrics_bearer = HTTPBearer(auto_error=False, description="the metrics token, or an ops user's token")


@router.get("/healthz")
def health(services: ServicesDep) -> HealthOut:
    """Liveness for load balancers and systemd (no login): database reachable, broker connected,
    ingest storing what arrives (not failing, not lagging), and what was set aside."""
    problems: list[str] = []
    dead_letters = candidates = 0
    try:
        with services.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = True
        dead_letters, candidates = services.store.quarantine.counts()
    except Exception:
        database = False
        problems.append("the database cannot be reached")
    ingest = services.ingest
    connected = ingest.mqtt_connected if ingest is not None else None
    store_ok = ingest.store_healthy if ingest is not None else None
    lag = ingest.lag_s() if ingest is not None else 0.0
    if connected is False:
        problems.append("not connected to the MQTT broker")
    if store_ok is False:
        problems.append("ingest cannot write to the database; messages wait unacknowledged")
    if lag > services.settings.ingest.max_lag_s:
        problems.append(f"ingest is {lag:.0f} s behind")
    return HealthOut(
        status="degraded" if problems else "ok",
        database=database,
        mqtt_connected=connected,
        queue_depth=ingest.queue_depth if ingest is not None else 0,
        store_ok=store_ok,
        ingest_lag_s=round(lag, 3),
        dead_letters=dead_letters,
        quarantined_nodes=candidates,
        problems=problems,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(
    request: Request,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_metrics_bearer)],
) -> Response:
    """Prometheus metrics; send ``http.metrics_token`` as a bearer token, or log in as ops."""
    token = services.settings.http.metrics_token
    presented = bearer.credentials if bearer is not None else None
    # As bytes: compare_digest refuses str with non-ASCII characters (a 500 before issue 11).
    if (
        token is not None
        and presented is not None
        and hmac.compare_digest(presented.encode(), token.get_secret_value().encode())
    ):
        return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")
    user = authenticate(services, presented or request.cookies.get(SESSION_COOKIE), "bearer")
    check_permission(user, Permission.METRICS_READ)  # the metrics name every site
    return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")


@router.get("/api/v1/rules")
def rules(user: RulesReader, services: ServicesDep) -> dict[str, Any]:
    """The alert rules and thresholds in force (from the settings); of the per-zone overrides, those
    for every site and for the sites the user's role holds on."""
    data: dict[str, Any] = services.settings.alerts.model_dump(mode="json")
    data["zones"] = {
        key: value
        for key, value in data["zones"].items()
        if "/" not in key or user.sees(key.split("/", 1)[0])
    }
    return data
