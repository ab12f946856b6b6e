"""The live stream: one WebSocket per page, pushing state and alert changes as JSON text messages.

Connect to ``/api/v1/live`` (optionally ``?topics=alerts,occupancy&site=hall-a``) with the session
cookie (pages) or ``Authorization: Bearer`` (scripts). Messages, each a JSON object with ``type``
(one pydantic model per type in `server.schemas.live`; `parse_live` reads them back):

- ``hello``: first, a snapshot: ``user``, ``topics``, ``sites``, ``zones`` (live occupancy per zone,
  each with ``site``) and ``alerts`` (every open or acknowledged alert);
- ``alert``: ``{site, alert}``, an alert that opened or changed (keep the highest ``version``);
- ``occupancy``: ``{site, zone}``, a zone whose count or level changed; ``layout``: ``{site, node}``,
  a node's zones changed (re-read ``/sites/{site}/layout``);
- ``positions``: ``{site, camera, ts, people: [{id, x, y}]}``, floor positions in metres;
- ``node``: ``{site, node, status, health?, at}`` and ``event``: ``{site, event}`` (manager, ops);
- ``ping``: ``{server_time}`` every 15 s; a page that hears nothing for 30 s should reconnect;
- ``bye``: ``{reason}`` just before the server closes the stream.

Close codes: 4401 not logged in (or the login expired), 4403 not allowed (role, a site the role does
not hold on, or a cookie sent from a foreign origin), 1013 the client fell too far behind
(reconnect). A user whose role holds on some sites only gets those sites' messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from server.auth.roles import Permission, allows
from server.deps import AuthUser, authenticate, presented_token
from server.live.hub import TOPICS
from server.schemas.alerts import AlertOut
from server.schemas.live import LiveBye, LiveHello, LivePing, LiveUser, LiveZone
from server.schemas.occupancy import ZoneOccupancyOut
from server.services import Services
from server.store.alerts import AlertFilter

log = logging.getLogger(__name__)
router = APIRouter(tags=["live"])

HEARTBEAT_S = 15.0
TOPIC_PERMISSION = {
    "alerts": Permission.ALERTS_READ,
    "occupancy": Permission.OCCUPANCY_READ,
    "positions": Permission.OCCUPANCY_READ,
    "nodes": Permission.LIVE_NODES,
    "events": Permission.LIVE_NODES,
}


def _origin_allowed(websocket: WebSocket, services: Services) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: it cannot have been tricked into sending the cookie
    if origin in services.settings.http.cors_origins:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host")


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.send_text(LiveBye(reason=reason).model_dump_json())
    await websocket.close(code=code, reason=reason[:120])


@router.websocket("/api/v1/live")
async def live(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    token, via = presented_token(websocket.headers, websocket.cookies)
    if via == "cookie" and token and not _origin_allowed(websocket, services):
        await _refuse(websocket, 4403, "cookie sent from a foreign origin")
        return
    try:
        user: AuthUser = await run_in_threadpool(authenticate, services, token, via)
    except HTTPException as exc:
        await _refuse(websocket, 4401, str(exc.detail))
        return
    allowed = [t for t in TOPICS if allows(user.role, TOPIC_PERMISSION[t])]
    wanted_param = websocket.query_params.get("topics")
    wanted = [t for t in wanted_param.split(",") if t] if wanted_param else allowed
    refused = [t for t in wanted if t not in allowed]
    if refused:
        await _refuse(websocket, 4403, f"the {user.role} role may not subscribe to {', '.join(refused)}")
        return
    sites = websocket.query_params.getlist("site") or user.site_list
    foreign = [s for s in sites or () if not user.sees(s)]
    if foreign:
        await _refuse(websocket, 4403, f"your role does not hold on site {', '.join(foreign)}")
        return
    await websocket.accept()
    sub = services.hub.subscribe(wanted, sites)
    try:
        hello = await run_in_threadpool(_hello, services, user, wanted, sites)
        await websocket.send_text(hello.model_dump_json())
        await _pump(websocket, services, user, token or "", sub)
    except WebSocketDisconnect:
        pass
    finally:
        services.hub.unsubscribe(sub)


async def _pump(websocket: WebSocket, services: Services, user: AuthUser, token: str, sub: Any) -> None:
    send_lock = asyncio.Lock()

    async def send(text: str) -> None:
        async with send_lock:
            await websocket.send_text(text)

    async def read() -> None:  # returns when the client goes away
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                text = await websocket.receive_text()
                if text.strip() == '{"type":"ping"}':
                    await send('{"type":"pong"}')

    reader = asyncio.create_task(read())
    try:
        while True:
            getter = asyncio.ensure_future(sub.queue.get())
            done, _ = await asyncio.wait(
                {getter, reader}, timeout=HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED
            )
            if reader in done:
                getter.cancel()
                return
            now = services.clock()
            if now >= user.claims.expires_at:
                getter.cancel()
                await send(LiveBye(reason="the login expired").model_dump_json())
                await websocket.close(code=4401, reason="the login expired")
                return
            if getter not in done:
                getter.cancel()
                try:  # still a valid login? (password changed, user disabled or deleted)
                    await run_in_threadpool(authenticate, services, token, user.via)
                except HTTPException as exc:
                    await send(LiveBye(reason=str(exc.detail)).model_dump_json())
                    await websocket.close(code=4401, reason="log in again")
                    return
                await send(LivePing(server_time=now).model_dump_json())
                continue
            msg = getter.result()
            if msg is None:  # cut off: fell behind
                await send(LiveBye(reason="fell behind; reconnect").model_dump_json())
                await websocket.close(code=1013, reason="fell behind; reconnect")
                return
            await send(msg.text)
    finally:
        reader.cancel()


def _hello(services: Services, user: AuthUser, topics: list[str], sites: list[str] | None) -> LiveHello:
    now = services.clock()
    names = sites if sites is not None else services.live.sites()
    zones: list[LiveZone] = []
    alerts: list[AlertOut] = []
    if "occupancy" in topics:
        zones = [
            LiveZone.model_validate(ZoneOccupancyOut.model_validate(z).model_dump() | {"site": site})
            for site in names
            for z in services.live.zones(site, now)
        ]
    if "alerts" in topics:
        rows, _ = services.store.alerts.search(
            AlertFilter(sites=sites, status=("open", "acknowledged")), 1000, 0
        )
        alerts = [AlertOut.model_validate(r) for r in rows if sites is None or r.site in sites]
    return LiveHello(
        server_time=now,
        user=LiveUser(username=user.username, role=user.role),
        topics=topics,
        sites=sites,
        zones=zones,
        alerts=alerts,
    )
