"""Real things for the edge tests: mosquitto brokers, an MQTT capture, videos, an MJPEG server.

Nothing here fakes a protocol: brokers are real mosquitto processes, streams are real HTTP MJPEG
served to OpenCV, videos are real files written with OpenCV.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from support.processes import HALLWATCH, free_port, unique, wait_until


# --------------------------------------------------------------------------------------- capture
@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    qos: int

    def json(self) -> Any:
        return json.loads(self.payload)


class Capture:
    """A real MQTT subscriber that keeps every message it receives."""

    def __init__(
        self,
        port: int,
        topic: str,
        *,
        host: str = "127.0.0.1",
        client_id: str | None = None,
        persistent: bool = False,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.topic = topic
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.subscriptions = 0  # SUBACKs so far: grows by one on each reconnection
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or unique("capture"),
            protocol=mqtt.MQTTv311,
            clean_session=not persistent,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(min_delay=cast_int(0.1), max_delay=1)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.connect(host, port)
        self.client.loop_start()
        if not self.subscribed.wait(5):
            raise RuntimeError("capture could not subscribe")

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            client.subscribe(self.topic, qos=1)

    def _on_subscribe(self, *_args: Any) -> None:
        self.subscriptions += 1
        self.subscribed.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Message(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos))

    def mark(self) -> int:
        """A position in the messages; `since(mark)` returns what came after it."""
        with self._lock:
            return len(self.messages)

    def since(self, mark: int) -> list[Message]:
        with self._lock:
            return self.messages[mark:]

    def snapshot(self) -> list[Message]:
        with self._lock:
            return list(self.messages)

    def on(self, suffix: str) -> list[Message]:
        return [m for m in self.snapshot() if m.topic.endswith(suffix)]

    def events(self) -> list[dict[str, Any]]:
        return [m.json() for m in self.snapshot() if m.topic.endswith("/events")]

    def wait_for(
        self,
        predicate: Callable[[list[Message]], bool],
        timeout: float,
        *,
        explain: str | Callable[[], object] | None = None,
    ) -> bool:
        """Until ``predicate`` holds for the messages so far; fails the test after ``timeout`` s."""
        return wait_until(lambda: predicate(self.snapshot()), timeout, explain=explain)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def cast_int(value: float) -> int:
    """paho annotates reconnect delays as int but does float arithmetic with them."""
    return value  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------- videos
def make_video(path: Path, *, frames: int = 30, fps: float = 30.0, size: tuple[int, int] = (64, 48)) -> Path:
    """A real MJPG/AVI file whose frames differ (a moving bar over noise)."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    rng = np.random.default_rng(0)
    for i in range(frames):
        image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        x = (i * 3) % w
        image[:, x : x + 4] = 255
        writer.write(image)
    writer.release()
    return path


CALIBRATION = {
    "image_points": [[0, 0], [64, 0], [64, 48], [0, 48]],
    "floor_points": [[0.0, 0.0], [6.4, 0.0], [6.4, 4.8], [0.0, 4.8]],
}


def camera_entry(cam_id: str, source: str | int, **extra: Any) -> dict[str, Any]:
    return {"id": cam_id, "source": source, "calibration": CALIBRATION, **extra}


def node_config(
    tmp: Path,
    *,
    site: str,
    node: str,
    port: int,
    cameras: list[dict[str, Any]],
    node_settings: dict[str, Any] | None = None,
    mqtt_settings: dict[str, Any] | None = None,
    outbox: dict[str, Any] | None = None,
    zones: list[dict[str, Any]] | None = None,
    fusion: str | None = None,
) -> dict[str, Any]:
    """A node file; ``fusion`` sets `fusion.mode` (by default a node of two cameras fuses them)."""
    return ({"fusion": {"mode": fusion}} if fusion is not None else {}) | {
        "site": site,
        "cameras": cameras,
        "zones": zones
        if zones is not None
        else [
            {
                "id": "hall",
                "kind": "hall",
                "capacity": 10,
                "polygon": [[0, 0], [6.4, 0], [6.4, 4.8], [0, 4.8]],
            }
        ],
        "node": {"id": node, "health_interval_s": 1.0, "camera_timeout_s": 1.0, **(node_settings or {})},
        "mqtt": {
            "host": "127.0.0.1",
            "port": port,
            "reconnect_min_s": 0.2,
            "reconnect_max_s": 1.0,
            **(mqtt_settings or {}),
        },
        "outbox": {"path": str(tmp / f"{node}-outbox.sqlite"), **(outbox or {})},
    }


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ------------------------------------------------------------------------------------ node process
class NodeProcess:
    """`hallwatch edge run` as a real subprocess, with the scripted processor from this folder."""

    def __init__(
        self, config_path: Path, log_path: Path, *, events_every: int = 1, zone: str = "door"
    ) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(Path(__file__).parent),
            "HALLWATCH_TEST_EVENTS_EVERY": str(events_every),
            "HALLWATCH_TEST_ZONE": zone,
        }
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                str(HALLWATCH),
                "-v",
                "edge",
                "run",
                "--config",
                str(config_path),
                "--processor",
                "scripted_processor:factory",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(config_path.parent),
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._log.close()

    def terminate(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


# ----------------------------------------------------------------------------------- MJPEG stream
class MjpegServer:
    """An HTTP MJPEG camera OpenCV can open; it can go down, come back, or hang mid-stream."""

    def __init__(self, port: int | None = None, fps: float = 20.0) -> None:
        self.port = port or free_port()
        self.fps = fps
        self.hang = threading.Event()
        ok, buf = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))
        assert ok
        self._jpeg = buf.tobytes()
        self._server: socketserver.ThreadingTCPServer | None = None
        self._connections: list[socket.socket] = []

    def start(self) -> MjpegServer:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner._connections.append(self.connection)
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while owner._server is not None:
                        if not owner.hang.is_set():
                            self.wfile.write(
                                b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                % len(owner._jpeg)
                                + owner._jpeg
                                + b"\r\n"
                            )
                        time.sleep(1.0 / owner.fps)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        for conn in self._connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass
        self._connections.clear()


def iter_payloads(messages: list[Message]) -> Iterator[tuple[str, bytes]]:
    for m in messages:
        if m.payload:
            yield m.topic, m.payload
