"""The node's cameras' frame rates: each adaptive camera's rate follows its zones, within the budget.

`NodeRates` is told every processed frame's state (`observe`, from the camera's worker thread),
works out what each camera needs (`vision.frame_rate`), shares `node.fps_budget` between the
cameras when their rates add up to more, and hands each camera whose target changed to `apply`
(the node sets its feed's sampling rate and its health's target). Fixed-rate cameras keep their
`fps`; they count against the budget all the same.

Example:
    >>> rates = NodeRates(config, apply=lambda camera, fps: print(camera, fps))  # doctest: +SKIP
    >>> rates.observe("cam-1", state)  # doctest: +SKIP
    cam-1 10.0
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from edge.config import NodeConfig
from vision.config import CameraConfig
from vision.frame_rate import RatePolicy, RateWant, ZoneConfig, frame_need, share_budget
from vision.state import HallState

log = logging.getLogger(__name__)

# Rates are applied in steps of this (frames/s): smaller changes are not worth re-timing a source.
STEP_FPS = 0.25


@dataclass(slots=True)
class _Camera:
    config: CameraConfig
    zones: list[ZoneConfig]
    policy: RatePolicy | None  # None: a fixed rate
    want: RateWant
    applied: float


def start_fps(camera: CameraConfig) -> float:
    """The rate a camera starts at: its `fps`, within its adaptive bounds if it has them."""
    rate = camera.adaptive_fps
    if rate is None:
        return camera.fps
    return min(max(camera.fps, rate.min_fps), rate.max_fps)


class NodeRates:
    """Target frame rates for a node's cameras, kept from their states; thread-safe."""

    def __init__(self, config: NodeConfig, apply: Callable[[str, float], None]) -> None:
        self._apply = apply
        self._lock = threading.Lock()
        self._cameras: dict[str, _Camera] = {}
        self._budget: float | None = None
        self._min_distance_m = 1.0
        self.reset(config)

    def reset(self, config: NodeConfig) -> None:
        """Start over with a new config (after a push): cameras at their start rates."""
        with self._lock:
            self._budget = config.node.fps_budget
            self._min_distance_m = config.spacing.min_distance_m
            self._cameras = {}
            for camera in config.cameras:
                rate = camera.adaptive_fps
                fps = start_fps(camera)
                self._cameras[camera.id] = _Camera(
                    camera,
                    config.zones_for(camera.id),
                    RatePolicy(rate) if rate is not None else None,
                    RateWant(rate.min_fps if rate is not None else fps, fps),
                    fps,
                )
            floor = sum(c.want.min_fps for c in self._cameras.values())
            if self._budget is not None and floor > self._budget:
                log.warning(
                    "node.fps_budget (%g frames/s) is less than the cameras' minimum rates together (%g): "
                    "every camera keeps its minimum",
                    self._budget,
                    floor,
                )

    def target(self, camera: str) -> float:
        """The rate a camera is set to now."""
        with self._lock:
            return self._cameras[camera].applied

    def bounds(self, camera: str) -> tuple[float, float] | None:
        """An adaptive camera's (min_fps, max_fps); None for a fixed rate."""
        rate = self._cameras[camera].config.adaptive_fps
        return None if rate is None else (rate.min_fps, rate.max_fps)

    def observe(self, camera: str, state: HallState) -> None:
        """A frame of `camera` was processed: update what it needs and apply changed rates."""
        changed: list[tuple[str, float]] = []
        with self._lock:
            entry = self._cameras.get(camera)
            if entry is None or entry.policy is None:
                return
            need = frame_need(state, entry.zones, self._min_distance_m)
            target = entry.policy.update(state.t_s, need)
            entry.want = RateWant(entry.want.min_fps, target, entry.policy.need)
            ids = list(self._cameras)
            shares = share_budget([self._cameras[i].want for i in ids], self._budget)
            for camera_id, fps in zip(ids, shares, strict=True):
                other = self._cameras[camera_id]
                want = other.want
                stepped = min(
                    max(round(fps / STEP_FPS) * STEP_FPS, want.min_fps), max(want.target_fps, want.min_fps)
                )
                if other.policy is not None and abs(stepped - other.applied) >= STEP_FPS / 2:
                    other.applied = stepped
                    changed.append((camera_id, stepped))
        for camera_id, fps in changed:  # outside the lock: applying touches the feed's own lock
            self._apply(camera_id, fps)
