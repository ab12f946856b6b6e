"""One camera's frame pipeline: tracked detections in, one `HallState` out.

placement → steadied positions → zone counts from tracks, crossings, spacing, limits, dwell and
waits in queues → `HallState`. Every duration comes from the frame's own time `t_s`, never the wall
clock, so a replay at any speed gives the same events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

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
from vision.counting import ZoneCounter
from vision.crossings import EntranceCounter
from vision.detections import Detections
from vision.placement import FloorPlacer
from vision.smoothing import DwellClock, EndedStay, LimitMonitor, PositionFilter, zone_limits
from vision.spacing import SpacingMonitor
from vision.state import Crossing, FloorPeople, HallEvent, HallState
from vision.zones import ZoneIndex

logger = logging.getLogger(__name__)

#: The calibration's relative scale error when it is unknown (4 point pairs leave it unknown).
UNKNOWN_SCALE_ERROR = 0.03
#: A box within this share of the image's width or height from its border is at the image's edge.
EDGE_SHARE = 0.02
#: A stay in a queue shorter than this that does not end at the queue's window is someone walking
#: through the queue's lane (at 1.3 m/s, 6.5 m of it), not a wait: no `queue_left` for it. A stay
#: that ends at the window is a wait however short.
QUEUE_PASSING_S = 5.0


class CameraFloor:
    """One camera's tracked detections onto the site's floor: placement, then steadied positions.

    Args:
        hall: the site's configuration.
        camera_id: the camera (its anchor, keypoint score and calibration settings).
        calibration: the camera's floor calibration.
    """

    def __init__(self, hall: HallConfig, camera_id: str, calibration: FloorCalibration) -> None:
        camera = hall.camera(camera_id)
        self.camera_id = camera_id
        self.calibration = calibration
        self.placer = FloorPlacer(
            camera.anchor,
            calibration,
            keypoint_conf=camera.detector.keypoint_confidence,
            stature_m=hall.people.stature_m,
            stature_sd_m=hall.people.stature_sd_m,
            mounting_height_m=camera.calibration.mounting_height_m,
        )
        self.positions = PositionFilter() if hall.tracking.steady_positions else None

    def place(
        self, frame: int, t_s: float, detections: Detections, image_size: tuple[int, int] | None
    ) -> tuple[FloorPeople, NDArray[np.bool_]]:
        """The frame's people on the floor, and whether each is at the image's edge (may be leaving).

        People whose anchor maps beyond the floor's horizon are left out.

        Raises:
            vision.calibration.CalibrationError: the head or center anchor needs the camera's pose
                and it cannot be recovered (the text says what to set).
        """
        placed = self.placer.place(detections, image_size)
        on_floor = np.all(np.isfinite(placed.floor_xy), axis=1)
        if not np.all(on_floor):
            logger.debug("frame %d: %d people beyond the floor's horizon", frame, np.count_nonzero(~on_floor))
        ids = detections.track_ids[on_floor]
        floor_xy = placed.floor_xy[on_floor].copy()
        sigma_m = np.nan_to_num(placed.sigma_m[on_floor], nan=0.0)
        followed = ids >= 0
        if self.positions is not None:
            floor_xy[followed], sigma_m[followed] = self.positions.update(
                t_s, ids[followed], floor_xy[followed], sigma_m[followed]
            )
        people = FloorPeople(
            ids=ids,
            floor_xy=floor_xy,
            image_xy=placed.image_xy[on_floor],
            scores=detections.scores[on_floor],
            sigma_m=sigma_m,
        )
        return people, _at_image_edge(detections.boxes_xyxy[on_floor], image_size)


class FloorRules:
    """Zones, crossings, spacing, limits and dwell on the floor's people, frame after frame.

    The same rules serve one camera's people (`HallPipeline`) and a site's fused people
    (`vision.site_pipeline.SiteFloor`). People with id -1 (untracked) are counted as they are but
    never enter the counting, crossing, spacing or dwell state.

    Args:
        spacing: the distancing rule.
        tracking: how counts are taken from tracks.
        zones: the zones these people are counted in.
        scale_error: the calibration's relative error (None: unknown, `UNKNOWN_SCALE_ERROR`).
    """

    def __init__(
        self,
        spacing: SpacingConfig,
        tracking: TrackingConfig,
        zones: Sequence[WindowZone | QueueZone | HallZone | EntranceLine],
        scale_error: float | None,
    ) -> None:
        self.zones = ZoneIndex(zones)
        self.entrances = EntranceCounter(self.zones.entrances, self.zones.hall)
        self.spacing = SpacingMonitor(
            spacing.min_distance_m,
            spacing.min_duration_s,
            exempt_window_pairs=spacing.exempt_window_pairs,
            alert_on=spacing.alert_on,
            band_sigmas=spacing.band_sigmas,
            scale_error=UNKNOWN_SCALE_ERROR if scale_error is None else scale_error,
        )
        self.counter = ZoneCounter(
            self.zones,
            margin_m=tracking.zone_margin_m,
            settle_s=tracking.zone_settle_s,
            min_track_frames=tracking.min_track_frames,
            hidden_hold_s=tracking.hidden_hold_s,
        )
        self.limits = LimitMonitor(zone_limits(zones))
        self.dwell = DwellClock()
        self._window_of_queue = {q.id: q.window for q in self.zones.queues}

    def step(
        self, camera: str, frame: int, t_s: float, people: FloorPeople, at_edge: NDArray[np.bool_]
    ) -> HallState:
        """The state of one frame (or fusion step) from its people on the floor."""
        tracked = people.ids >= 0
        ids = people.ids[tracked]
        xy = people.floor_xy[tracked]
        counted = self.counter.update(t_s, ids, xy, at_edge[tracked])
        zone_counts = _plus(counted.counts, self.zones.counts(people.floor_xy[~tracked]))
        zone_of = [counted.zone_of.get(i) for i in ids.tolist()]
        window_of = [counted.window_of.get(i) for i in ids.tolist()]

        crossings = self.entrances.update(ids, xy)
        spacing = self.spacing.update(t_s, ids, xy, window_of, people.sigma_m[tracked])
        limit_events = self.limits.update(t_s, zone_counts)
        dwell = self.dwell.step(t_s, ids, zone_of)

        row_of = {track_id: row for row, track_id in enumerate(ids.tolist())} if crossings else {}
        events = (
            *(_crossing_event(c, t_s, xy[row_of[c.track_id]]) for c in crossings),
            *limit_events,
            *spacing.events,
            *self._waits(dwell.ended),
        )
        hidden = len(counted.hidden_ids)
        return HallState(
            camera=camera,
            frame=frame,
            t_s=t_s,
            people=people,
            zone_counts=zone_counts,
            violations=spacing.violations,
            crossings=self.entrances.totals(),
            events=events,
            zone_of=dict(counted.zone_of),
            dwell_s=dwell.dwell_s,
            hidden=FloorPeople(
                ids=counted.hidden_ids,
                floor_xy=counted.hidden_xy,
                image_xy=np.full((hidden, 2), np.nan),
                scores=np.zeros(hidden, np.float32),
            ),
            possible=spacing.possible,
            alerting_pairs=self.spacing.alerting((*spacing.violations, *spacing.possible)),
        )

    def _waits(self, ended: Sequence[EndedStay]) -> list[HallEvent]:
        """`queue_left` for each wait in a queue that is over (see `QUEUE_PASSING_S`)."""
        return [
            HallEvent(
                "queue_left",
                stay.left_t_s,
                zone=stay.zone,
                people=(stay.track_id,),
                duration_s=stay.duration_s,
            )
            for stay in ended
            if stay.zone in self._window_of_queue
            and (stay.next_zone == self._window_of_queue[stay.zone] or stay.duration_s >= QUEUE_PASSING_S)
        ]

    def finish(self, t_s: float) -> tuple[HallEvent, ...]:
        """End what is still open at the end of a stream: over-limit episodes and spacing violations.

        Returns:
            Their `_ended` events, stamped `t_s` (the last frame's time).
        """
        return (*self.limits.finish(t_s), *self.spacing.finish(t_s))


class HallPipeline:
    """Places one camera's tracked people on the floor and works out the hall's state, frame by frame.

    `CameraFloor` then `FloorRules` on the camera's own zones. Detections arrive with track ids;
    untracked ones (-1) are placed and counted as they are but never enter the counting, crossing,
    spacing or dwell state. People whose anchor point maps beyond the floor's horizon (no finite floor
    position) are left out of the frame's state.

    Args:
        hall: the site's configuration.
        camera_id: which of its cameras this pipeline serves (its zones, anchor and keypoint score).
        calibration: the camera's floor calibration.

    Example:
        >>> hall = HallConfig.model_validate({"site": "demo", "cameras": [{"id": "cam-1", "source": "v.mp4",
        ...     "calibration": {"image_points": [[0, 0], [100, 0], [100, 100], [0, 100]],
        ...                     "floor_points": [[0, 0], [1, 0], [1, 1], [0, 1]]}}],
        ...     "zones": [{"id": "w1", "kind": "window", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}],
        ...     "tracking": {"min_track_frames": 1}})
        >>> pipeline = HallPipeline.from_config(hall, "cam-1")
        >>> boxes = np.array([[40.0, 10.0, 60.0, 50.0]])  # feet at pixel (50, 50): floor (0.5, 0.5)
        >>> people = Detections.from_boxes(boxes, np.array([0.9]), track_ids=np.array([1]))
        >>> state = pipeline.step(0, 0.0, people, (100, 100))
        >>> state.zone_counts, state.zone_of
        ({'w1': 1}, {1: 'w1'})
    """

    def __init__(self, hall: HallConfig, camera_id: str, calibration: FloorCalibration) -> None:
        self.camera_id = camera_id
        self.calibration = calibration
        self.floor = CameraFloor(hall, camera_id, calibration)
        self.rules = FloorRules(
            hall.spacing, hall.tracking, hall.zones_for(camera_id), calibration.scale_error
        )
        self.placer = self.floor.placer
        self.counter = self.rules.counter
        self.spacing = self.rules.spacing

    @classmethod
    def from_config(cls, hall: HallConfig, camera_id: str) -> HallPipeline:
        """The pipeline for one camera, calibrated from its `calibration:` section.

        Raises:
            vision.calibration.CalibrationError: the camera's calibration points are degenerate.
        """
        return cls(hall, camera_id, calibration_from_config(hall.camera(camera_id).calibration))

    def step(
        self, frame: int, t_s: float, detections: Detections, image_size: tuple[int, int] | None = None
    ) -> HallState:
        """Work out the hall's state in one frame.

        Args:
            frame: the frame's index in its source (0-based).
            t_s: the frame's time in seconds (video position, or capture time for live sources).
            detections: the frame's tracked detections.
            image_size: the frame's `(width, height)` in pixels: for people cut by the image's edge,
                and the camera's pose (head and center anchors without a lens model).

        Returns:
            The frame's `HallState`: people on the floor, zone counts, close pairs, crossing totals,
            events, and each tracked person's window/queue zone and dwell time.

        Raises:
            vision.calibration.CalibrationError: the head or center anchor needs the camera's pose and
                it cannot be recovered (the text says what to set).
        """
        people, at_edge = self.floor.place(frame, t_s, detections, image_size)
        return self.rules.step(self.camera_id, frame, t_s, people, at_edge)

    def finish(self, t_s: float) -> tuple[HallEvent, ...]:
        """End what is still open at the end of a stream: over-limit episodes and spacing violations."""
        return self.rules.finish(t_s)


def _plus(counts: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    return {zone: count + more.get(zone, 0) for zone, count in counts.items()}


def _at_image_edge(boxes_xyxy: NDArray[np.floating], image_size: tuple[int, int] | None) -> NDArray[np.bool_]:
    """Whose box reaches within `EDGE_SHARE` of the image's border (they may be walking out of view)."""
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    if image_size is None:
        return np.zeros(len(boxes), bool)
    width, height = image_size
    mx, my = EDGE_SHARE * width, EDGE_SHARE * height
    at_edge: NDArray[np.bool_] = (
        (boxes[:, 0] <= mx) | (boxes[:, 1] <= my) | (boxes[:, 2] >= width - mx) | (boxes[:, 3] >= height - my)
    )
    return at_edge


def _crossing_event(crossing: Crossing, t_s: float, floor_xy: NDArray[np.float64]) -> HallEvent:
    return HallEvent(
        type="person_entered" if crossing.direction == "in" else "person_left",
        t_s=t_s,
        zone=crossing.line,
        people=(crossing.track_id,),
        floor=(float(floor_xy[0]), float(floor_xy[1])),
    )
