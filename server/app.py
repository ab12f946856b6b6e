"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from server.api import (
    alerts,
    audit,
    auth,
    events,
    export,
    insights,
    nodes,
    overview,
    quarantine,
    sites,
    system,
    users,
)
from server.api import calibration as ops_calibration
from server.api import cameras as site_cameras
from server.api import live as live_stream
from server.api import snapshots as ops_snapshots
from server.auth.ratelimit import LoginLimiter, LoginRateLimiter, SharedLoginRateLimiter
from server.auth.tokens import TokenError, read_token
from server.deps import CSRF_HEADER, presented_token
from server.ingest.live_state import LiveState
from server.ingest.snapshots import SnapshotStore
from server.live.hub import LiveHub
from server.metrics import Metrics
from server.services import IngestHandle, Services
from server.settings import Settings
from server.store import Store
from server.web import ops as ops_pages
from server.web import pages as web_pages

log = logging.getLogger(__name__)
_PUBLIC_PATHS = frozenset({"/api/v1/auth/login", "/api/v1/live"})


def _version() -> str:
    try:
        return version("hallwatch")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by its text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def create_app(
    settings: Settings,
    *,
    store: Store,
    hub: LiveHub | None = None,
    live: LiveState | None = None,
    metrics: Metrics | None = None,
    ingest: IngestHandle | None = None,
    clock: Callable[[], datetime] | None = None,
    snapshots: SnapshotStore | None = None,
) -> FastAPI:
    """Build the API around the given parts; the ingest (if any) starts and stops with the app.

    Raises:
        server.settings.SettingsError: placeholder secrets outside demo mode.
    """
    settings.check_secrets()
    metrics = metrics or Metrics()
    services = Services(
        settings=settings,
        store=store,
        hub=hub or LiveHub(metrics),
        live=live or LiveState(settings.alerts),
        metrics=metrics,
        limiter=_login_limiter(settings),
        clock=clock or (lambda: datetime.now(UTC)),
        ingest=ingest,
        snapshots=snapshots if snapshots is not None else SnapshotStore(),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        services.hub.bind(asyncio.get_running_loop())
        if ingest is not None:
            await run_in_threadpool(ingest.start)
        try:
            yield
        finally:
            if ingest is not None:
                await run_in_threadpool(ingest.stop)

    app = FastAPI(
        title="hallwatch server",
        version=_version(),
        summary="Occupancy, spacing alerts and node health for service halls",
        lifespan=lifespan,
        docs_url=None,  # served below from the vendor copy: FastAPI's default loads it from a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.services = services
    if settings.http.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.http.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", CSRF_HEADER],
        )

    @app.middleware("http")
    async def login_first(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # Refuse a request without a valid token before its body is read (routes parse the body
        # before their dependencies run); the routes then check the user and the role.
        path = request.url.path
        if path.startswith("/api/v1/") and path not in _PUBLIC_PATHS and request.method != "OPTIONS":
            token, _via = presented_token(request.headers, request.cookies)
            try:
                if not token:
                    raise TokenError("log in first: send a bearer token or the session cookie")
                read_token(settings.secret_key.get_secret_value(), token, services.clock())
            except TokenError as exc:
                return JSONResponse(
                    {"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
        return await call_next(request)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input, and JSON has no NaN or Infinity: a request that
        # sent one got a 500 instead of its 422. Echo such numbers as text.
        return JSONResponse({"detail": _finite(jsonable_encoder(exc.errors()))}, status_code=422)

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        # Swagger UI from static/vendor/ (npm's swagger-ui-dist, `make web`): halls are offline.
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title=f"{app.title} · API",
            swagger_js_url="/static/vendor/swagger-ui-dist/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui-dist/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui-dist/favicon-32x32.png",
        )

    for module in (auth, alerts, sites, overview, nodes, events, export, users, live_stream, system):
        app.include_router(module.router)
    app.include_router(ops_calibration.router)  # ops: calibration, zones, node config views
    app.include_router(site_cameras.router)  # cameras on the floor: coverage, overlaps, agreement
    app.include_router(ops_snapshots.router)  # ops: snapshots from edge nodes (memory only)
    app.include_router(insights.router)
    app.include_router(audit.router)  # the accuracy audit: guides' count checks (issue 13)
    app.include_router(quarantine.router)  # ops: dead letters, nodes waiting to be accepted
    app.include_router(web_pages.router)  # HTML pages and static files, after the API
    app.include_router(ops_pages.router)  # ops pages: nodes, calibration, zone editor
    return app


def _login_limiter(settings: Settings) -> LoginLimiter:
    """Failed logins counted by every replica together where they share Redis, else in memory."""
    http = settings.http
    if settings.live.redis_url is not None:
        return SharedLoginRateLimiter(
            http.login_max_failures,
            http.login_window_s,
            settings.live.redis_url,
            prefix=f"{settings.live.channel}:login:",
        )
    return LoginRateLimiter(http.login_max_failures, http.login_window_s)
