"""A site's cameras onto one floor: each camera's people placed, the views fused, the floor's rules.

`SiteFloor` takes each camera's people already placed on the site's floor (`CameraPeople`), and
on `step` fuses the latest view of every camera whose frame is recent enough (`vision.fusion`),
then counts zones, crossings, spacing pairs (across cameras too), limits and dwell on the fused
people (`vision.pipeline.FloorRules`). It is what an edge node runs over its cameras' pipelines and
what the server runs over the nodes' floor positions; `due` says when a step's views are in
(every camera that is sending has sent, or the first has waited `max_wait_s`).

`SitePipeline` wraps it for replay: it places each camera's tracked detections first.

Zones belong to the floor, not to a camera; a zone that no camera of the step covers is reported
as uncovered, not as 0. The fused state names, for each person, the cameras that saw them, and the
cameras left out of the step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vision.calibration import FloorCalibration, calibration_from_config
from vision.config import (
    EntranceLine,
    HallConfig,
    HallZone,
    QueueZone,
    SpacingConfig,
    TrackingConfig,
    WindowZone,
)
from vision.coverage import camera_coverage, depth_in_coverage, zone_cameras
from vision.detections import Detections
from vision.fusion import CameraPeople, FloorFuser, align_step
from vision.pipeline import CameraFloor, FloorRules
from vision.state import FloorPeople, HallEvent, HallState

#: A fused person this close (metres) to the edge of all coverage may be walking out of view.
COVERAGE_EDGE_M = 0.5
#: A camera whose latest frame is this much older than the step's is left out of it (seconds).
MAX_LAG_S = 0.5
#: A step waits at most this long (arrival time) for the other cameras' frames of its moment.
MAX_WAIT_S = 0.3
#: A camera that sent nothing for this long (arrival time) is no longer waited for.
SILENT_S = 1.0
FUSED = "fused"

FloorZone = WindowZone | QueueZone | HallZone | EntranceLine


class SiteFloor:
    """Cameras' people on one floor, fused and counted step by step (no placement: they come placed).

    Args:
        zones: the site's zones (on the floor, not per camera).
        spacing: the distancing rule.
        tracking: how counts are taken from tracks.
        cameras: the site's cameras (those the step waits for and reports as left out).
        coverage: per camera, the floor it sees well (`vision.coverage`); cameras whose coverage is
            not known yet can be given it later (`set_coverage`). Until every camera's is known, no
            zone is reported uncovered.
        scale_error: the calibrations' relative error (None: unknown).
        max_lag_s: how much older than the step a camera's frame may be and still count.
        max_wait_s: how long (arrival time) a step waits for the cameras' frames of its moment.

    Example:
        >>> from vision.config import SpacingConfig, TrackingConfig, WindowZone
        >>> w1 = WindowZone(id="w1", kind="window", polygon=[(0, 0), (2, 0), (2, 2), (0, 2)])
        >>> floor = SiteFloor([w1], SpacingConfig(), TrackingConfig(min_track_frames=1), cameras=["a", "b"])
        >>> seen = lambda cam, tid, x: CameraPeople(cam, 0.0, np.array([tid]), np.array([[x, 1.0]]),
        ...                                         np.array([0.05]))
        >>> floor.add(seen("a", 4, 1.0), arrived_s=0.0)
        >>> floor.add(seen("b", 7, 1.05), arrived_s=0.05)
        >>> state = floor.step()
        >>> state.zone_counts, state.seen_by
        ({'w1': 1}, {1: ('a', 'b')})
        >>> floor.add(seen("a", 4, 1.0), arrived_s=0.2)
        >>> floor.due(now_s=0.25), floor.due(now_s=0.5)  # b's frame may still come; then not waited for
        (False, True)
    """

    def __init__(
        self,
        zones: Sequence[FloorZone],
        spacing: SpacingConfig,
        tracking: TrackingConfig,
        *,
        cameras: Iterable[str],
        coverage: Mapping[str, ArrayLike] | None = None,
        scale_error: float | None = None,
        max_lag_s: float = MAX_LAG_S,
        max_wait_s: float = MAX_WAIT_S,
    ) -> None:
        self.rules = FloorRules(spacing, tracking, zones, scale_error)
        self.fuser = FloorFuser()
        self.max_lag_s = max_lag_s
        self.max_wait_s = max_wait_s
        self.cameras = tuple(sorted(set(cameras)))
        self.coverage: dict[str, NDArray[np.float64]] = {}
        for camera, polygon in (coverage or {}).items():
            self.set_coverage(camera, polygon)
        self._latest: dict[str, CameraPeople | None] = dict.fromkeys(self.cameras)
        self._zones = {z.id: z.polygon for z in zones if isinstance(z, WindowZone | QueueZone | HallZone)}
        self._zone_cameras: dict[str, tuple[str, ...]] = {}
        self._zone_cameras_for: tuple[tuple[str, int], ...] | None = None
        self._arrived: dict[str, float] = {}  # camera -> arrival time of its latest view
        self._fresh: set[str] = set()  # cameras with a view newer than the last step
        self._pending_since: float | None = None
        self._steps = 0
        self._seen_by: dict[int, frozenset[str]] = {}  # per site id, every camera that has seen them

    def set_coverage(self, camera: str, polygon: ArrayLike) -> None:
        """The floor `camera` sees well, an outline `(k, 2)` in metres (fewer than 3 points: nothing)."""
        self.coverage[camera] = np.asarray(polygon, np.float64).reshape(-1, 2)

    def add(self, view: CameraPeople, arrived_s: float = 0.0) -> None:
        """One camera's people at one frame; `arrived_s` is when it arrived (any monotonic clock).

        A view older than the camera's latest one (out of order) is ignored.

        Raises:
            KeyError: not a camera of the site.
        """
        if view.camera not in self._latest:
            raise KeyError(f"no camera {view.camera!r} on this floor; cameras: {list(self.cameras)}")
        latest = self._latest[view.camera]
        if latest is not None and view.t_s < latest.t_s:
            return
        self._latest[view.camera] = view
        self._arrived[view.camera] = arrived_s
        self._fresh.add(view.camera)
        if self._pending_since is None:
            self._pending_since = arrived_s

    def due(self, now_s: float) -> bool:
        """Whether a step should be taken now: some camera sent a frame since the last step, and
        either every camera that is still sending (anything within `SILENT_S`) has, or the first of
        them has waited `max_wait_s`."""
        if self._pending_since is None:
            return False
        if now_s - self._pending_since >= self.max_wait_s:
            return True
        sending = {cam for cam, at in self._arrived.items() if now_s - at <= SILENT_S}
        return sending <= self._fresh

    def step(self, frame: int | None = None) -> HallState:
        """Fuse the cameras' latest views and work out the site's state (`camera` is "fused").

        Args:
            frame: the step's number in the output (default: steps taken so far).
        """
        aligned = align_step(
            {cam: v.t_s if v is not None else None for cam, v in self._latest.items()}, self.max_lag_s
        )
        views = [v for cam, v in self._latest.items() if v is not None and cam in aligned.used]
        self._fresh.clear()
        self._pending_since = None
        index = self._steps if frame is None else frame
        self._steps += 1
        fused = self.fuser.fuse(views)
        n = len(fused)
        people = FloorPeople(
            ids=fused.ids,
            floor_xy=fused.floor_xy,
            image_xy=np.full((n, 2), np.nan),
            scores=np.ones(n, np.float32),
            sigma_m=fused.sigma_m,
        )
        at_edge = self._at_edge(fused.ids, fused.floor_xy, fused.cameras)
        state = self.rules.step(FUSED, index, aligned.t_s, people, at_edge)
        uncovered = self._uncovered(aligned.used)
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

    def _at_edge(
        self, ids: NDArray[np.int64], floor_xy: NDArray[np.float64], seen_by: Sequence[tuple[str, ...]]
    ) -> NDArray[np.bool_]:
        """Per fused person, whether they stand near the edge of the coverage of every camera that has
        seen them so far: one who vanishes there has most likely walked out of those views, or was
        someone cut by an image border and placed off, not hidden behind someone, so they are not
        held. A person another camera has seen, standing well inside its coverage, may be hidden from
        it. (Measured on vtest.avi cut into two views: with the union of all coverages, a person cut by
        one view's border, whom the other view saw 1 m away, was held as a hidden ghost for 2 s.)"""
        ever = {
            int(i): self._seen_by.get(int(i), frozenset()) | frozenset(cams)
            for i, cams in zip(ids.tolist(), seen_by, strict=True)
        }
        self._seen_by = ever
        depth = {cam: depth_in_coverage(floor_xy, [c]) for cam, c in self.coverage.items()}
        return np.array(
            [
                all(cam in depth and depth[cam][row] < COVERAGE_EDGE_M for cam in ever[int(i)])
                for row, i in enumerate(ids.tolist())
            ],
            bool,
        ).reshape(-1)

    def zone_cameras(self) -> dict[str, tuple[str, ...]]:
        """Per zone, the cameras whose coverage reaches it (none: the zone is not seen)."""
        key = tuple(sorted((cam, len(c)) for cam, c in self.coverage.items()))
        if key != self._zone_cameras_for:
            self._zone_cameras = zone_cameras(self._zones, self.coverage)
            self._zone_cameras_for = key
        return self._zone_cameras

    def _uncovered(self, used: tuple[str, ...]) -> tuple[str, ...]:
        """Zones none of the step's cameras covers; nothing while a camera's coverage is unknown
        (its zones cannot be told apart from the others')."""
        if not self.cameras or any(cam not in self.coverage for cam in self.cameras):
            return ()
        return tuple(
            sorted(zone for zone, cams in self.zone_cameras().items() if not any(c in used for c in cams))
        )

    def finish(self, t_s: float) -> tuple[HallEvent, ...]:
        """End what is still open at the end of the streams."""
        return self.rules.finish(t_s)


def site_floor(
    hall: HallConfig,
    calibrations: Mapping[str, FloorCalibration],
    *,
    max_lag_s: float = MAX_LAG_S,
    max_wait_s: float = MAX_WAIT_S,
) -> SiteFloor:
    """The floor of a site's config: its zones, rules and cameras, each camera's coverage from its
    config where it has one (the others' are set once their image size is known)."""
    errors = [e for e in (cal.scale_error for cal in calibrations.values()) if e is not None]
    return SiteFloor(
        hall.zones,
        hall.spacing,
        hall.tracking,
        cameras=[c.id for c in hall.cameras],
        coverage={c.id: c.coverage for c in hall.cameras if c.coverage is not None},
        scale_error=max(errors) if errors and len(errors) == len(calibrations) else None,
        max_lag_s=max_lag_s,
        max_wait_s=max_wait_s,
    )


def camera_people(camera: str, t_s: float, people: FloorPeople) -> CameraPeople:
    """A camera's tracked people (untracked ones, id -1, left out) as a view of the site's floor."""
    tracked = people.ids >= 0
    return CameraPeople(camera, t_s, people.ids[tracked], people.floor_xy[tracked], people.sigma_m[tracked])


class SitePipeline:
    """Several cameras' tracked detections onto one floor, step by step (`CameraFloor`s then a
    `SiteFloor`).

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
        self.floor = site_floor(hall, cals, max_lag_s=max_lag_s)
        self.rules = self.floor.rules
        self.fuser = self.floor.fuser
        self.coverage = self.floor.coverage

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
            self.floor.set_coverage(camera, camera_coverage(self.calibrations[camera], image_size))
        self.floor.add(camera_people(camera, t_s, people))
        return people

    def step(self, frame: int) -> HallState:
        """Fuse the cameras' latest views and work out the site's state (`camera` is "fused")."""
        return self.floor.step(frame)

    def zone_cameras(self) -> dict[str, tuple[str, ...]]:
        """Per zone, the cameras whose coverage reaches it (none: the zone is not seen)."""
        return self.floor.zone_cameras()

    def finish(self, t_s: float) -> tuple[HallEvent, ...]:
        """End what is still open at the end of the streams."""
        return self.floor.finish(t_s)
