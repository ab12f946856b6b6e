"""A site's cameras onto one floor: each camera's people placed, the views fused, the floor's rules.

`SitePipeline` takes each camera's tracked detections as they come (`observe`), and on `step`
fuses the latest view of every camera whose frame is recent enough (`vision.fusion`), then counts
zones, crossings, spacing pairs (across cameras too), limits and dwell on the fused people
(`vision.pipeline.FloorRules`) on the site's floor. Zones belong to the floor, not to a camera; a
zone no camera's coverage reaches is reported as uncovered, not as 0. The fused state names, for
each person, the cameras that saw them, and the cameras left out of the step.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from vision.calibration import FloorCalibration, calibration_from_config
from vision.config import HallConfig, HallZone, QueueZone, WindowZone
from vision.coverage import camera_coverage, depth_in_coverage, zone_cameras
from vision.detections import Detections
from vision.fusion import CameraPeople, FloorFuser, align_step
from vision.pipeline import CameraFloor, FloorRules
from vision.state import FloorPeople, HallEvent, HallState

#: A fused person this close (metres) to the edge of all coverage may be walking out of view.
COVERAGE_EDGE_M = 0.5
#: A camera whose latest frame is this much older than the step's is left out of it (seconds).
MAX_LAG_S = 0.5
FUSED = "fused"


class SitePipeline:
    """Several cameras' people on one floor, step by step.

    Args:
        hall: the site's configuration: its cameras, zones and rules.
        calibrations: each camera's floor calibration (default: from the config).
        max_lag_s: how much older than the step a camera's frame may be and still count.

    Example:
        >>> site = SitePipeline(hall)  # doctest: +SKIP
        >>> site.observe("cam-1", 0, 0.0, detections_1, (1280, 720))  # doctest: +SKIP
        >>> site.observe("cam-2", 0, 0.0, detections_2, (1280, 720))  # doctest: +SKIP
        >>> site.step(0).zone_counts  # doctest: +SKIP
        {'hall': 12, 'window-1': 2}
    """

    def __init__(
        self,
        hall: HallConfig,
        calibrations: Mapping[str, FloorCalibration] | None = None,
        *,
        max_lag_s: float = MAX_LAG_S,
    ) -> None:
        self.hall = hall
        cals = dict(calibrations or {})
        for camera in hall.cameras:
            cals.setdefault(camera.id, calibration_from_config(camera.calibration))
        self.calibrations = cals
        self.floors = {camera.id: CameraFloor(hall, camera.id, cals[camera.id]) for camera in hall.cameras}
        errors = [e for e in (cal.scale_error for cal in cals.values()) if e is not None]
        self.rules = FloorRules(hall, hall.zones, max(errors) if len(errors) == len(cals) else None)
        self.fuser = FloorFuser()
        self.max_lag_s = max_lag_s
        self.coverage: dict[str, NDArray[np.float64]] = {
            c.id: np.asarray(c.coverage, np.float64) for c in hall.cameras if c.coverage is not None
        }
        self._latest: dict[str, CameraPeople | None] = {camera.id: None for camera in hall.cameras}
        self._zones = {
            z.id: z.polygon for z in hall.zones if isinstance(z, WindowZone | QueueZone | HallZone)
        }
        self._zone_cameras: dict[str, tuple[str, ...]] = {}
        self._zone_cameras_for: tuple[tuple[str, int], ...] | None = None

    def observe(
        self, camera: str, frame: int, t_s: float, detections: Detections, image_size: tuple[int, int] | None
    ) -> FloorPeople:
        """Place one camera's tracked detections on the floor; they join the next step.

        Raises:
            KeyError: not a camera of the site.
            vision.calibration.CalibrationError: the anchor needs the camera's pose and it cannot be
                recovered.
        """
        people, _ = self.floors[camera].place(frame, t_s, detections, image_size)
        if camera not in self.coverage and image_size is not None:
            self.coverage[camera] = camera_coverage(self.calibrations[camera], image_size)
        tracked = people.ids >= 0
        self._latest[camera] = CameraPeople(
            camera, t_s, people.ids[tracked], people.floor_xy[tracked], people.sigma_m[tracked]
        )
        return people

    def step(self, frame: int) -> HallState:
        """Fuse the cameras' latest views and work out the site's state (`camera` is "fused")."""
        aligned = align_step({cam: v.t_s if v else None for cam, v in self._latest.items()}, self.max_lag_s)
        views = [v for cam, v in self._latest.items() if v is not None and cam in aligned.used]
        fused = self.fuser.fuse(views)
        n = len(fused)
        people = FloorPeople(
            ids=fused.ids,
            floor_xy=fused.floor_xy,
            image_xy=np.full((n, 2), np.nan),
            scores=np.ones(n, np.float32),
            sigma_m=fused.sigma_m,
        )
        coverages = list(self.coverage.values())
        at_edge = (
            depth_in_coverage(fused.floor_xy, coverages) < COVERAGE_EDGE_M if coverages else np.zeros(n, bool)
        )
        state = self.rules.step(FUSED, frame, aligned.t_s, people, at_edge)
        uncovered = self._uncovered()
        return HallState(
            camera=state.camera,
            frame=state.frame,
            t_s=state.t_s,
            people=state.people,
            zone_counts={z: c for z, c in state.zone_counts.items() if z not in uncovered},
            violations=state.violations,
            crossings=state.crossings,
            events=tuple(e for e in state.events if e.zone not in uncovered),
            zone_of=state.zone_of,
            dwell_s=state.dwell_s,
            hidden=state.hidden,
            possible=state.possible,
            alerting_pairs=state.alerting_pairs,
            seen_by={int(i): cams for i, cams in zip(fused.ids.tolist(), fused.cameras, strict=True)},
            uncovered=uncovered,
            left_out=aligned.left_out,
        )

    def zone_cameras(self) -> dict[str, tuple[str, ...]]:
        """Per zone, the cameras whose coverage reaches it (none: the zone is not seen)."""
        key = tuple(sorted((cam, len(c)) for cam, c in self.coverage.items()))
        if key != self._zone_cameras_for:
            self._zone_cameras = zone_cameras(self._zones, self.coverage)
            self._zone_cameras_for = key
        return self._zone_cameras

    def _uncovered(self) -> tuple[str, ...]:
        if not self.coverage:
            return ()
        return tuple(sorted(zone for zone, cams in self.zone_cameras().items() if not cams))

    def finish(self, t_s: float) -> tuple[HallEvent, ...]:
        """End what is still open at the end of the streams."""
        return self.rules.finish(t_s)
