"""How the node is doing: per camera frame rate, latency, drops and reconnects; outbox; uptime.

`CameraStats` is written by one camera's worker and read by the health timer; `node_health` turns a
period's worth of them into a `NodeHealth` payload (sent every `node.health_interval_s`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata

from edge.events import Origin
from hallwatch.contract import SCHEMA_VERSION, SCHEMA_VERSION_RATES, CameraHealth, NodeHealth, clean_text


def software_version() -> str:
    """The installed hallwatch version ("unknown" when run from a bare checkout)."""
    try:
        return metadata.version("hallwatch")[:40]
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class CameraPeriod:
    """One camera over one health period."""

    camera: str
    connected: bool
    fps: float
    latency_ms: float
    frames_dropped: int
    reconnects: int
    last_frame_ts: datetime | None
    target_fps: float | None = None
    fps_bounds: tuple[float, float] | None = None


class CameraStats:
    """Counters for one camera; `record_frame` from its worker, `take_period` from the health timer."""

    def __init__(
        self,
        camera: str,
        target_fps: float | None = None,
        *,
        fps_bounds: tuple[float, float] | None = None,
        now_mono: float | None = None,
    ) -> None:
        self.camera = camera
        self.target_fps = target_fps
        self.fps_bounds = fps_bounds  # an adaptive rate's (min, max); None: a fixed rate
        self._lock = threading.Lock()
        self._period_start = time.monotonic() if now_mono is None else now_mono
        self._target_since = self._period_start
        self._target_sum = 0.0  # target frames/s times seconds, this period
        self._frames = 0
        self._latency_sum_s = 0.0
        self._last_frame_ts: datetime | None = None
        self.processing_errors = 0

    def record_frame(self, captured_mono: float, captured_at: datetime, done_mono: float) -> None:
        """One frame processed: from its capture (`captured_mono`) to its state (`done_mono`)."""
        with self._lock:
            self._frames += 1
            self._latency_sum_s += max(0.0, done_mono - captured_mono)
            self._last_frame_ts = captured_at

    def set_target_fps(self, fps: float, now_mono: float | None = None) -> None:
        """The rate the camera aims at from now (an adaptive rate changed); the period reports the
        time-weighted mean of its targets, to hold its frames per second against."""
        now = time.monotonic() if now_mono is None else now_mono
        with self._lock:
            if self.target_fps is not None:
                self._target_sum += self.target_fps * max(0.0, now - self._target_since)
            self.target_fps, self._target_since = fps, now

    def record_error(self) -> None:
        with self._lock:
            self.processing_errors += 1

    def take_period(
        self, *, connected: bool, frames_dropped: int, reconnects: int, now_mono: float | None = None
    ) -> CameraPeriod:
        """The numbers since the last call; starts a new period."""
        now = time.monotonic() if now_mono is None else now_mono
        with self._lock:
            elapsed = max(now - self._period_start, 1e-6)
            fps = self._frames / elapsed
            latency_ms = 1000.0 * self._latency_sum_s / self._frames if self._frames else 0.0
            last = self._last_frame_ts
            target = None
            if self.target_fps is not None:
                self._target_sum += self.target_fps * max(0.0, now - self._target_since)
                target = self._target_sum / elapsed
            self._period_start = self._target_since = now
            self._frames = 0
            self._latency_sum_s = 0.0
            self._target_sum = 0.0
        return CameraPeriod(
            self.camera, connected, fps, latency_ms, frames_dropped, reconnects, last, target, self.fps_bounds
        )


def node_health(
    origin: Origin,
    cameras: list[CameraPeriod],
    *,
    seq: int,
    ts: datetime,
    uptime_s: float,
    outbox_depth: int,
    outbox_dropped: int,
    published: int,
    refused: int,
    rejected_config: int,
    last_config_error: str | None = None,
    version: str | None = None,
) -> NodeHealth:
    adaptive = any(c.fps_bounds is not None for c in cameras)
    return NodeHealth(
        # Version 4 only when a camera's rate is adaptive: a node without one stays readable to
        # servers that know only the earlier versions.
        schema_version=SCHEMA_VERSION_RATES if adaptive else SCHEMA_VERSION,
        site=origin.site,
        node=origin.node,
        seq=seq,
        ts=ts,
        version=version or software_version(),
        uptime_s=max(0.0, uptime_s),
        cameras=[
            CameraHealth(
                camera=c.camera,
                connected=c.connected,
                fps=round(min(c.fps, 1000.0), 3),
                latency_ms=round(min(c.latency_ms, 600_000.0), 3),
                frames_dropped=c.frames_dropped,
                reconnects=c.reconnects,
                last_frame_ts=c.last_frame_ts,
                target_fps=None if c.target_fps is None else round(min(c.target_fps, 1000.0), 3),
                min_fps=c.fps_bounds[0] if c.fps_bounds else None,
                max_fps=c.fps_bounds[1] if c.fps_bounds else None,
            )
            for c in cameras
        ],
        outbox_depth=min(outbox_depth, 1_000_000),
        outbox_dropped=outbox_dropped,
        published=published,
        refused=refused,
        rejected_config=rejected_config,
        last_config_error=clean_text(last_config_error, 500) if last_config_error else None,
    )
