"""Helpers for the server tests: payload builders, a publisher, waiting, and a running server."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from edge.contract import (
    CameraEvent,
    CameraHealth,
    CameraState,
    LayoutZone,
    NodeHealth,
    NodeLayout,
    NodeStatus,
    camera_topic,
    node_topic,
)
from server.runtime import Server, build_server
from server.settings import Settings

SHARED_BROKER = ("127.0.0.1", 1883)
SECRET = "test-secret-" + "x" * 40


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def now() -> datetime:
    return datetime.now(UTC)


def wait_until(check: Callable[[], Any], timeout_s: float = 10.0, interval_s: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s (last value: {value!r})")


# ------------------------------------------------------------------------------------ payloads
class Node:
    """Builds contract payloads for one node, with increasing ``seq``."""

    def __init__(self, site: str, node: str = "edge-1") -> None:
        self.site, self.node, self.seq = site, node, 0

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def layout(self, zones: list[dict[str, Any]] | None = None) -> NodeLayout:
        zones = zones or [
            {
                "id": "w1",
                "kind": "window",
                "name": "Window 1",
                "polygon": [(0, 0), (1, 0), (1, 1)],
                "limit": 2,
            },
            {
                "id": "w2",
                "kind": "window",
                "name": "Window 2",
                "polygon": [(2, 0), (3, 0), (3, 1)],
                "limit": 2,
            },
            {"id": "q1", "kind": "queue", "polygon": [(0, 2), (1, 2), (1, 3)], "limit": 5, "window": "w1"},
            {"id": "hall", "kind": "hall", "polygon": [(0, 0), (10, 0), (10, 10)], "limit": 10},
        ]
        return NodeLayout(
            site=self.site,
            node=self.node,
            seq=self._next(),
            ts=now(),
            zones=[LayoutZone(**z) for z in zones],
            cameras=[],
            min_distance_m=1.0,
        )

    def status(self, status: str = "online") -> NodeStatus:
        return NodeStatus(
            site=self.site, node=self.node, seq=self._next(), ts=now(), status=status, version="t"
        )  # type: ignore[arg-type]

    def health(self, cameras: dict[str, bool] | None = None) -> NodeHealth:
        cams = [
            CameraHealth(camera=c, connected=ok, fps=5.0, latency_ms=40.0, frames_dropped=0, reconnects=0)
            for c, ok in (cameras or {"cam-1": True}).items()
        ]
        return NodeHealth(
            site=self.site,
            node=self.node,
            seq=self._next(),
            ts=now(),
            version="t",
            uptime_s=10.0,
            cameras=cams,
            outbox_depth=0,
            outbox_dropped=0,
            published=1,
        )

    def state(
        self, zones: dict[str, int], camera: str = "cam-1", violations: int = 0, **kw: Any
    ) -> CameraState:
        seq = self._next()
        return CameraState(
            site=self.site,
            node=self.node,
            camera=camera,
            seq=seq,
            ts=kw.pop("ts", None) or now(),
            frame=seq,
            people=sum(zones.values()),
            zones=zones,
            violations=violations,
            **kw,
        )

    def event(self, type_: str, camera: str = "cam-1", **kw: Any) -> CameraEvent:
        return CameraEvent(
            site=self.site,
            node=self.node,
            camera=camera,
            seq=self._next(),
            ts=kw.pop("ts", None) or now(),
            type=type_,
            **kw,
        )


def topic_of(msg: Any) -> str:
    if isinstance(msg, NodeLayout):
        return node_topic(msg.site, msg.node, "layout")
    if isinstance(msg, NodeStatus):
        return node_topic(msg.site, msg.node, "status")
    if isinstance(msg, NodeHealth):
        return node_topic(msg.site, msg.node, "health")
    if isinstance(msg, CameraState):
        return camera_topic(msg.site, msg.camera, "state")
    if isinstance(msg, CameraEvent):
        return camera_topic(msg.site, msg.camera, "events")
    return camera_topic(msg.site, msg.camera, "positions")


# ------------------------------------------------------------------------------------ MQTT
class Publisher:
    """A paho client that publishes and waits for delivery."""

    def __init__(self, port: int = SHARED_BROKER[1], protocol: int = mqtt.MQTTv5) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("pub"), protocol=protocol)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, msg: Any, *, qos: int | None = None, retain: bool | None = None) -> None:
        kind = getattr(msg, "kind", "")
        if qos is None:
            qos = 1 if kind in ("event", "layout", "status") else 0
        if retain is None:
            retain = kind in ("layout", "status")
        self.raw(topic_of(msg), msg.to_json(), qos=qos, retain=retain)

    def raw(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0:
            info.wait_for_publish(5)

    def clear_retained(self, topic: str) -> None:
        self.raw(topic, b"", qos=1, retain=True)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def broker_up(host: str = SHARED_BROKER[0], port: int = SHARED_BROKER[1]) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Mosquitto:
    """A mosquitto of a test's own, on a free port."""

    folder: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        conf = self.folder / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n")
        self.process = subprocess.Popen([shutil.which("mosquitto") or "mosquitto", "-c", str(conf)])
        wait_until(lambda: broker_up("127.0.0.1", self.port), 10)
        return self

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)
            self.process = None


# ------------------------------------------------------------------------------------ servers
def make_settings(db_url: str, site: str, **overrides: Any) -> Settings:
    """Settings for a server on the shared broker that only listens to ``site``."""
    mqtt_settings: dict[str, Any] = {
        "url": "mqtt://127.0.0.1:1883",
        "client_id": unique("hw-test"),
        "sites": [site],
        "shared_group": unique("grp"),
        "session_expiry_s": 0,
    }
    mqtt_settings |= overrides.pop("mqtt", {})
    ingest = {"tick_s": 0.05, "alert_sync_s": 0.3, "flush_interval_s": 0.2} | overrides.pop("ingest", {})
    alerts = {
        "window": {"trigger_s": 0.0, "clear_s": 0.0},
        "queue": {"trigger_s": 0.0, "clear_s": 0.0},
        "hall": {"trigger_s": 0.0, "clear_s": 0.0},
        "spacing": {"trigger_s": 0.0, "clear_s": 0.0},
    } | overrides.pop("alerts", {})
    return Settings(
        secret_key=SECRET,  # type: ignore[arg-type]
        database_url=db_url,
        mqtt=mqtt_settings,  # type: ignore[arg-type]
        ingest=ingest,  # type: ignore[arg-type]
        alerts=alerts,  # type: ignore[arg-type]
        **overrides,
    )


@contextlib.contextmanager
def running(settings: Settings, **kw: Any) -> Iterator[tuple[Server, TestClient]]:
    """A server with its ingest started (connected to the broker), and a client for its API."""
    server = build_server(settings, **kw)
    try:
        with TestClient(server.app) as client:
            if server.ingest is not None:
                assert server.ingest.client.wait_connected(10), "the server did not connect to the broker"
                time.sleep(0.2)  # let the subscriptions settle
            yield server, client
    finally:
        server.store.close()


def login(client: TestClient, store: Any, role: str, username: str | None = None) -> dict[str, str]:
    """Create a user with ``role`` (if needed) and return bearer headers for it."""
    from server.auth.passwords import hash_password

    username = username or unique(role)
    if store.users.by_name(username) is None:
        store.users.create(username, hash_password("password-123"), role, now())
    response = client.post("/api/v1/auth/login", json={"username": username, "password": "password-123"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


class Counter:
    """A thread-safe counter for callbacks."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.value += n


def new_id() -> uuid.UUID:
    return uuid.uuid4()
