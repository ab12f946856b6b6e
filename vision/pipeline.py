"""One camera's frame pipeline: tracked detections in, one `HallState` out.

anchors → floor → zones, crossings, spacing, smoothing → `HallState`. Every duration comes from the
frame's own time `t_s`, never the wall clock, so a replay at any speed gives the same events.
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray

from vision.anchors import anchor_points
from vision.calibration import FloorCalibration, calibration_from_config
from vision.config import HallConfig
from vision.crossings import EntranceCounter
from vision.detections import Detections
from vision.smoothing import CountSmoother, DwellClock, LimitMonitor, zone_limits
from vision.spacing import SpacingMonitor
from vision.state import Crossing, FloorPeople, HallEvent, HallState
from vision.zones import ZoneIndex

logger = logging.getLogger(__name__)


class HallPipeline:
    """Places one camera's tracked people on the floor and works out the hall's state, frame by frame.

    Detections arrive with track ids; untracked ones (-1) are placed and counted but never enter the
    crossing, spacing or dwell state. People whose anchor point maps beyond the floor's horizon (no
    finite floor position) are left out of the frame's state.

    Args:
        hall: the site's configuration.
        camera_id: which of its cameras this pipeline serves (its zones, anchor and keypoint score).
        calibration: the camera's floor calibration.

    Example:
        >>> hall = HallConfig.model_validate({"site": "demo", "cameras": [{"id": "cam-1", "source": "v.mp4",
        ...     "calibration": {"image_points": [[0, 0], [100, 0], [100, 100], [0, 100]],
        ...                     "floor_points": [[0, 0], [1, 0], [1, 1], [0, 1]]}}],
        ...     "zones": [{"id": "w1", "kind": "window", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}]})
        >>> pipeline = HallPipeline.from_config(hall, "cam-1")
        >>> boxes = np.array([[40.0, 10.0, 60.0, 50.0]])  # feet at pixel (50, 50): floor (0.5, 0.5)
        >>> people = Detections.from_boxes(boxes, np.array([0.9]), track_ids=np.array([1]))
        >>> state = pipeline.step(0, 0.0, people)
        >>> state.zone_counts, state.zone_of
        ({'w1': 1}, {1: 'w1'})
    """

    def __init__(self, hall: HallConfig, camera_id: str, calibration: FloorCalibration) -> None:
        camera = hall.camera(camera_id)
        zones = hall.zones_for(camera_id)
        self.camera_id = camera_id
        self.calibration = calibration
        self.anchor = camera.anchor
        self.min_keypoint_conf = camera.detector.keypoint_confidence
        self.zones = ZoneIndex(zones)
        self.entrances = EntranceCounter(self.zones.entrances, self.zones.hall)
        self.spacing = SpacingMonitor(
            hall.spacing.min_distance_m,
            hall.spacing.min_duration_s,
            exempt_window_pairs=hall.spacing.exempt_window_pairs,
        )
        self.smoother = CountSmoother(hall.tracking.count_hold_s)
        self.limits = LimitMonitor(zone_limits(zones))
        self.dwell = DwellClock()

    @classmethod
    def from_config(cls, hall: HallConfig, camera_id: str) -> HallPipeline:
        """The pipeline for one camera, calibrated from its `calibration:` section.

        Raises:
            vision.calibration.CalibrationError: the camera's calibration points are degenerate.
        """
        return cls(hall, camera_id, calibration_from_config(hall.camera(camera_id).calibration))

    def step(self, frame: int, t_s: float, detections: Detections) -> HallState:
        """Work out the hall's state in one frame.

        Args:
            frame: the frame's index in its source (0-based).
            t_s: the frame's time in seconds (video position, or capture time for live sources).
            detections: the frame's tracked detections.

        Returns:
            The frame's `HallState`: people on the floor, smoothed zone counts, close pairs, crossing
            totals, events, and each tracked person's window/queue zone and dwell time.
        """
        image_xy = anchor_points(detections, self.anchor, self.min_keypoint_conf)
        floor_xy = self.calibration.floor_from_image(image_xy)
        on_floor = np.all(np.isfinite(floor_xy), axis=1)
        if not np.all(on_floor):
            logger.debug("frame %d: %d people beyond the floor's horizon", frame, np.count_nonzero(~on_floor))
        people = FloorPeople(
            ids=detections.track_ids[on_floor],
            floor_xy=floor_xy[on_floor],
            image_xy=image_xy[on_floor],
            scores=detections.scores[on_floor],
        )
        hits = self.zones.locate(people.floor_xy)

        tracked = people.ids >= 0
        ids = people.ids[tracked]
        xy = people.floor_xy[tracked]
        tracked_index = np.flatnonzero(tracked).tolist()
        zone_of = [hits.zone_of[i] for i in tracked_index]
        window_of = [hits.window_of[i] for i in tracked_index]

        crossings = self.entrances.update(ids, xy)
        spacing = self.spacing.update(t_s, ids, xy, window_of)
        zone_counts = self.smoother.update(t_s, hits.counts)
        limit_events = self.limits.update(t_s, zone_counts)
        dwell_s = self.dwell.update(t_s, ids, zone_of)

        row_of = {track_id: row for row, track_id in enumerate(ids.tolist())} if crossings else {}
        events = (
            *(_crossing_event(c, t_s, xy[row_of[c.track_id]]) for c in crossings),
            *limit_events,
            *spacing.events,
        )
        return HallState(
            camera=self.camera_id,
            frame=frame,
            t_s=t_s,
            people=people,
            zone_counts=zone_counts,
            violations=spacing.violations,
            crossings=self.entrances.totals(),
            events=events,
            zone_of={int(i): z for i, z in zip(ids, zone_of, strict=True) if z is not None},
            dwell_s=dwell_s,
        )

    def finish(self, t_s: float) -> tuple[HallEvent, ...]:
        """End what is still open at the end of a stream: over-limit episodes and spacing violations.

        Returns:
            Their `_ended` events, stamped `t_s` (the last frame's time).
        """
        return (*self.limits.finish(t_s), *self.spacing.finish(t_s))


def _crossing_event(crossing: Crossing, t_s: float, floor_xy: NDArray[np.float64]) -> HallEvent:
    return HallEvent(
        type="person_entered" if crossing.direction == "in" else "person_left",
        t_s=t_s,
        zone=crossing.line,
        people=(crossing.track_id,),
        floor=(float(floor_xy[0]), float(floor_xy[1])),
    )
