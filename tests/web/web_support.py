"""Helpers for the page tests: a real server process, a hall that publishes over MQTT, waiting.

Everything here is real: `ServerProcess` runs ``hallwatch server run --demo`` as a subprocess on a
free port with its own SQLite file, against the shared mosquitto on 127.0.0.1:1883; `Hall`
publishes contract payloads (`edge.contract`) for one site to that broker, as an edge node would.
Each test uses its own site, so tests (and other test folders using the broker) never mix.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.contract import (
    CameraEvent,
    CameraHealth,
    CameraPositions,
    CameraState,
    Envelope,
    FloorPosition,
    LayoutZone,
    NodeHealth,
    NodeLayout,
    NodeStatus,
    camera_topic,
    node_topic,
)

BROKER = ("127.0.0.1", 1883)
HALLWATCH = str(Path(sys.executable).parent / "hallwatch")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
DOCS_IMG = ROOT / "docs" / "img"
TIMEZONE = "Europe/Vienna"


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def utc_now() -> datetime:
    return datetime.now(UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


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


# ------------------------------------------------------------------------------------ the hall
def hall_zones(
    windows: int = 6, capacity: int = 60, window_limit: int = 2, queue_limit: int = 6
) -> list[dict[str, Any]]:
    """A service hall 20 m x 14 m: numbered windows along the back wall, a queue in front of each,
    the whole hall with its capacity, and the entrance line in the front wall."""
    zones: list[dict[str, Any]] = [
        {
            "id": "hall",
            "kind": "hall",
            "name": "Hall",
            "polygon": [(0.0, 0.0), (20.0, 0.0), (20.0, 14.0), (0.0, 14.0)],
            "limit": capacity,
        },
        {"id": "door", "kind": "entrance", "name": "Entrance", "line": ((8.5, 14.0), (11.5, 14.0))},
    ]
    for i in range(windows):
        x0 = 1.0 + i * 3.1
        zones.append(
            {
                "id": f"w{i + 1}",
                "kind": "window",
                "name": f"Window {i + 1}",
                "polygon": [(x0, 0.4), (x0 + 2.5, 0.4), (x0 + 2.5, 2.2), (x0, 2.2)],
                "limit": window_limit,
            }
        )
        zones.append(
            {
                "id": f"q{i + 1}",
                "kind": "queue",
                "name": f"Queue {i + 1}",
                "polygon": [(x0 + 0.3, 2.6), (x0 + 2.2, 2.6), (x0 + 2.2, 7.0), (x0 + 0.3, 7.0)],
                "limit": queue_limit,
                "window": f"w{i + 1}",
            }
        )
    return zones


class HallNode:
    """Builds contract payloads for one edge node and camera of a site, with increasing ``seq``."""

    def __init__(self, site: str, node: str = "edge-1", camera: str = "cam-1") -> None:
        self.site, self.node, self.camera, self.seq = site, node, camera, 0
        self.zones: list[dict[str, Any]] = hall_zones()

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def layout(self, zones: list[dict[str, Any]] | None = None) -> NodeLayout:
        if zones is not None:
            self.zones = zones
        return NodeLayout(
            site=self.site,
            node=self.node,
            seq=self._next(),
            ts=utc_now(),
            zones=[LayoutZone(**z) for z in self.zones],
            cameras=[],
            min_distance_m=1.0,
        )

    def status(self, status: str = "online") -> NodeStatus:
        return NodeStatus(
            site=self.site, node=self.node, seq=self._next(), ts=utc_now(), status=status, version="web-test"
        )  # type: ignore[arg-type]

    def health(self) -> NodeHealth:
        return NodeHealth(
            site=self.site,
            node=self.node,
            seq=self._next(),
            ts=utc_now(),
            version="web-test",
            uptime_s=100.0,
            cameras=[
                CameraHealth(
                    camera=self.camera,
                    connected=True,
                    fps=8.0,
                    latency_ms=60.0,
                    frames_dropped=0,
                    reconnects=0,
                )
            ],
            outbox_depth=0,
            outbox_dropped=0,
            published=self.seq,
        )

    def state(
        self, zones: Mapping[str, int], *, ts: datetime | None = None, violations: int = 0
    ) -> CameraState:
        seq = self._next()
        people = zones.get("hall", sum(v for k, v in zones.items() if k != "hall"))
        return CameraState(
            site=self.site,
            node=self.node,
            camera=self.camera,
            seq=seq,
            ts=ts or utc_now(),
            frame=seq,
            people=people,
            zones=dict(zones),
            violations=violations,
        )

    def event(self, type_: str, *, ts: datetime | None = None, **fields: Any) -> CameraEvent:
        return CameraEvent(
            site=self.site,
            node=self.node,
            camera=self.camera,
            seq=self._next(),
            ts=ts or utc_now(),
            type=type_,  # type: ignore[arg-type]
            **fields,
        )

    def positions(
        self, people: Iterable[tuple[float, float]], *, ts: datetime | None = None
    ) -> CameraPositions:
        return CameraPositions(
            site=self.site,
            node=self.node,
            camera=self.camera,
            seq=self._next(),
            ts=ts or utc_now(),
            people=[FloorPosition(id=i, x=x, y=y) for i, (x, y) in enumerate(people)],
        )


def topic_of(msg: Envelope) -> str:
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
    if isinstance(msg, CameraPositions):
        return camera_topic(msg.site, msg.camera, "positions")
    raise TypeError(f"no topic for {type(msg).__name__}")


class Hall:
    """One site on the shared broker: publishes what an edge node would, and cleans up after itself.

    ``publish(msg)`` sends one payload with QoS 1 and waits for the broker's PUBACK, so a test's
    clock starts when the broker has the message. Retained messages (layout, status) are cleared
    by `close`.
    """

    def __init__(self, site: str) -> None:
        self.site = site
        self.node = HallNode(site)
        self._retained: set[str] = set()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=unique("web-pub"), protocol=mqtt.MQTTv5
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect(*BROKER)
        self.client.loop_start()

    def publish(self, msg: Envelope, *, retain: bool | None = None) -> float:
        """Send ``msg``; returns the time (``time.time()``) the broker acknowledged it."""
        kind = getattr(msg, "kind", "")
        retain = kind in ("layout", "status") if retain is None else retain
        topic = topic_of(msg)
        info = self.client.publish(topic, msg.to_json(), qos=1, retain=retain)
        info.wait_for_publish(10)
        if not info.is_published():
            raise AssertionError(f"the broker did not acknowledge {topic}")
        if retain:
            self._retained.add(topic)
        return time.time()

    def publish_all(self, messages: Iterable[Envelope], *, chunk: int = 250, pause_s: float = 0.15) -> int:
        """Publish many messages with QoS 1, ``chunk`` at a time with a pause between chunks.

        The pause keeps a burst within what the broker queues for the server while the server
        acknowledges after storing (mosquitto's default ``max_queued_messages`` is 1000; beyond
        it, it drops). Returns how many were sent.
        """
        infos: list[mqtt.MQTTMessageInfo] = []
        sent = 0
        for msg in messages:
            infos.append(self.client.publish(topic_of(msg), msg.to_json(), qos=1))
            sent += 1
            if len(infos) >= chunk:
                for info in infos:
                    info.wait_for_publish(10)
                infos.clear()
                time.sleep(pause_s)
        for info in infos:
            info.wait_for_publish(10)
        return sent

    # convenience: what tests say most often
    def layout(self, zones: list[dict[str, Any]] | None = None) -> float:
        return self.publish(self.node.layout(zones))

    def counts(self, *, violations: int = 0, ts: datetime | None = None, **zones: int) -> float:
        return self.publish(self.node.state(zones, ts=ts, violations=violations))

    def event(self, type_: str, **fields: Any) -> float:
        return self.publish(self.node.event(type_, **fields))

    def close(self) -> None:
        for topic in self._retained:
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()


def hourly_states(node: HallNode, hours: Mapping[datetime, Mapping[str, int]]) -> list[CameraState]:
    """Two states ten minutes into each hour, four seconds apart, with the hour's counts, oldest first.

    The server weights each count by how long it was shown (at most 5 s), so every minute these
    fall in has a mean and a max of exactly the published count: a test can check the history to
    the decimal. End with an all-zero state an hour after the last (it closes the last minute).
    """
    states: list[CameraState] = []
    last: datetime | None = None
    for hour in sorted(hours):
        t = hour.replace(minute=10, second=0, microsecond=0)
        states.append(node.state(hours[hour], ts=t))
        states.append(node.state(hours[hour], ts=t + timedelta(seconds=4)))
        last = t
    if last is not None:
        zeros = dict.fromkeys(next(iter(hours.values())), 0)
        states.append(node.state(zeros, ts=last + timedelta(minutes=57)))
    return states


# ------------------------------------------------------------------------------------ the server
@dataclass
class ServerProcess:
    """``hallwatch server run --demo`` on a free port, its own SQLite file, the shared broker."""

    folder: Path
    sites: list[str]
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    client_id: str = field(default_factory=lambda: unique("web-server"))
    group: str = field(default_factory=lambda: unique("web-group"))
    starts: int = 0
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HALLWATCH_")}
        env |= {
            "HALLWATCH_MQTT__SITES": json.dumps(self.sites),
            "HALLWATCH_MQTT__CLIENT_ID": self.client_id,
            "HALLWATCH_MQTT__SHARED_GROUP": self.group,
            "HALLWATCH_MQTT__SESSION_EXPIRY_S": "60",
            "HALLWATCH_TIMEZONE": TIMEZONE,
            # Alerts open on the first over-limit count, so a test measures the pages, not the rules.
            "HALLWATCH_ALERTS__WINDOW__TRIGGER_S": "0",
            "HALLWATCH_ALERTS__WINDOW__CLEAR_S": "3",
            "HALLWATCH_ALERTS__QUEUE__TRIGGER_S": "0",
            "HALLWATCH_ALERTS__QUEUE__CLEAR_S": "3",
            "HALLWATCH_ALERTS__HALL__TRIGGER_S": "0",
            "HALLWATCH_ALERTS__HALL__CLEAR_S": "3",
            "HALLWATCH_ALERTS__SPACING__TRIGGER_S": "0",
            "HALLWATCH_ALERTS__SPACING__CLEAR_S": "1",
            "HALLWATCH_INGEST__FLUSH_INTERVAL_S": "0.4",
            "HALLWATCH_INGEST__ALERT_SYNC_S": "0.5",
            "HALLWATCH_INGEST__POSITIONS_INTERVAL_S": "0",
        }
        return env | self.extra_env

    def start(self, timeout_s: float = 40.0) -> ServerProcess:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [
            HALLWATCH,
            "server",
            "run",
            "--demo",
            "--port",
            str(self.port),
            "--broker-url",
            f"mqtt://{BROKER[0]}:{BROKER[1]}",
            "--database-url",
            f"sqlite:///{self.folder / 'hallwatch.sqlite3'}",
        ]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited ({self.process.returncode}):\n{self.log_tail()}")
            health = self._health()
            if health and health.get("mqtt_connected"):
                time.sleep(0.3)  # let the subscriptions settle
                return self
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the server did not come up within {timeout_s} s:\n{self.log_tail()}")

    def _health(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = httpx.get(f"{self.url}/healthz", timeout=1.0).json()
            return data
        except (httpx.HTTPError, ValueError):
            return None

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def token(self, role: str) -> str:
        """A bearer token of the demo user ``role`` (kept: logins cost an argon2 hash each)."""
        if role not in self._tokens:
            response = httpx.post(f"{self.url}/api/v1/auth/login", json={"username": role, "password": role})
            response.raise_for_status()
            self._tokens[role] = response.json()["access_token"]
        return self._tokens[role]

    def get(self, path: str, role: str = "manager", **params: Any) -> Any:
        """GET an API path as a demo user (``path`` without /api/v1)."""
        response = httpx.get(
            f"{self.url}/api/v1/{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token(role)}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()
