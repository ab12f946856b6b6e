"""What the edge benchmarks share: a mosquitto of their own, and a node config around the demo hall."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from edge.config import NodeConfig, parse_config

DEMO = Path(__file__).resolve().parents[1] / "edge" / "demo" / "vtest-hall.yaml"


class Broker:
    """A mosquitto on a free port, in a temporary folder; `stop` removes both."""

    def __init__(self) -> None:
        if shutil.which("mosquitto") is None:
            raise SystemExit("these benchmarks start their own broker: install mosquitto")
        self.dir = Path(tempfile.mkdtemp(prefix="hallwatch-bench-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
            "max_inflight_messages 0\nmax_queued_messages 1000000\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = conf

    def start(self) -> Broker:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise SystemExit("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def node_config(
    video: Path,
    port: int,
    workdir: Path,
    *,
    cameras: int,
    imgsz: int,
    backend: str,
    fps: float = 5.0,
    node_id: str = "bench-node",
    frames_in_flight: int | None = None,
) -> NodeConfig:
    """The demo hall with `cameras` copies of its camera, all reading `video` (looped)."""
    data: dict[str, Any] = yaml.safe_load(DEMO.read_text())
    template = data["cameras"][0]
    data["cameras"] = [
        {
            **template,
            "id": f"cam-{i + 1}",
            "source": str(video),
            "imgsz": imgsz,
            "fps": fps,
            "loop": True,
            "detector": {"backend": backend},
        }
        for i in range(cameras)
    ]
    data["node"] = {"id": node_id, "health_interval_s": 3600.0, "camera_timeout_s": 30.0}
    if frames_in_flight is not None:
        data["node"]["frames_in_flight"] = frames_in_flight
    data["mqtt"] = {"host": "127.0.0.1", "port": port}
    data["outbox"] = {"path": str(workdir / f"outbox-{time.monotonic_ns()}.sqlite"), "max_events": 1_000_000}
    return parse_config(data)
