"""A node's cameras on one floor: where each camera sees well, and (fusion mode `node`) their people
fused into one floor step by step.

Each camera's pipeline has already placed its people on the floor (`HallState.people`, with each
position's uncertainty); `NodeFloor` hands them to the core's `SiteFloor` as they come from the
camera threads, on one clock shared by the cameras (each frame's capture time), and takes a step
when the step's frames are in (`SiteFloor.due`). Coverage is known from a camera's config, or
worked out from its calibration once its first frame gives the image's size.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from edge.config import NodeConfig
from vision.calibration import CalibrationError, calibration_from_config
from vision.coverage import camera_coverage
from vision.site_pipeline import SiteFloor, camera_people, site_floor
from vision.state import HallState


class CameraCoverage:
    """Each camera's coverage (floor outline in metres): from its config, or from its calibration
    and the size of its first frame. Thread-safe; `on_new` is called (from a camera's thread) when
    a camera's coverage becomes known, so that the node republishes its layout."""

    def __init__(self, config: NodeConfig, on_new: Callable[[str], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._on_new = on_new
        self._config = config
        self._known: dict[str, NDArray[np.float64]] = {
            c.id: np.asarray(c.coverage, np.float64) for c in config.cameras if c.coverage is not None
        }

    def reset(self, config: NodeConfig, cameras: set[str]) -> None:
        """A config push changed `cameras`' calibration or coverage: work theirs out again."""
        with self._lock:
            self._config = config
            for cam in config.cameras:
                if cam.id in cameras or cam.coverage is not None:
                    self._known.pop(cam.id, None)
                if cam.coverage is not None:
                    self._known[cam.id] = np.asarray(cam.coverage, np.float64)
            for gone in set(self._known) - {c.id for c in config.cameras}:
                del self._known[gone]

    def known(self) -> dict[str, NDArray[np.float64]]:
        with self._lock:
            return dict(self._known)

    def learn(self, camera: str, image_size: tuple[int, int]) -> NDArray[np.float64] | None:
        """The camera's coverage, worked out from `image_size` the first time (None: it cannot be)."""
        with self._lock:
            if camera in self._known:
                return self._known[camera]
            try:
                calibration = calibration_from_config(self._config.camera(camera).calibration)
            except (KeyError, CalibrationError):
                return None
        polygon = camera_coverage(calibration, image_size)  # some milliseconds, outside the lock
        with self._lock:
            if camera in self._known:
                return self._known[camera]
            self._known[camera] = polygon
        if self._on_new is not None:
            self._on_new(camera)
        return polygon


class NodeFloor:
    """The node's cameras fused into one floor (fusion mode `node`); thread-safe.

    Args:
        config: the node's config: its cameras, zones and rules (`fusion.max_lag_s`, `max_wait_s`).
        coverage: where each camera sees well, as far as known.
        clock: monotonic seconds, for the step's bounded wait.
    """

    def __init__(
        self, config: NodeConfig, coverage: CameraCoverage, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        calibrations = {}
        for cam in config.cameras:
            try:
                calibrations[cam.id] = calibration_from_config(cam.calibration)
            except CalibrationError:
                continue  # the camera's processor refuses it, with the reason
        self.cameras = tuple(c.id for c in config.cameras)
        self._floor: SiteFloor = site_floor(
            config, calibrations, max_lag_s=config.fusion.max_lag_s, max_wait_s=config.fusion.max_wait_s
        )
        self._coverage = coverage
        self._clock = clock
        self._lock = threading.Lock()

    def add(self, camera: str, t_s: float, state: HallState) -> HallState | None:
        """One camera's frame (its people as its pipeline placed them, at capture time `t_s`, seconds
        since the epoch); returns the fused floor's state when this frame completes a step."""
        if camera not in self.cameras:
            return None  # a camera a config push just added: the floor is rebuilt with it
        with self._lock:
            for cam, polygon in self._coverage.known().items():
                if cam not in self._floor.coverage and cam in self.cameras:
                    self._floor.set_coverage(cam, polygon)
            now = self._clock()
            self._floor.add(camera_people(camera, t_s, state.people), arrived_s=now)
            if not self._floor.due(now):
                return None
            return self._floor.step()
