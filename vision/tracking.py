"""Stable person ids across frames, with ultralytics' ByteTrack (one tracker per camera)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from numpy.typing import NDArray

from vision.config import TrackingConfig
from vision.detections import Detections
from vision.detector import LOW_SCORE_FLOOR


class _TrackerInput:
    """The few attributes ByteTrack reads from ultralytics' `Boxes`, built from our arrays."""

    def __init__(self, xywh: NDArray[np.float32], conf: NDArray[np.float32]) -> None:
        self.xywh = xywh
        self.conf = conf
        self.cls = np.zeros(len(conf), np.float32)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index: NDArray[np.bool_]) -> _TrackerInput:
        return _TrackerInput(self.xywh[index], self.conf[index])


class PersonTracker:
    """Give detections track ids; only people with a confirmed track come out.

    Detections below `confidence` only help keep existing tracks alive (ByteTrack's second
    association); a new person needs a confident detection to get an id.

    Example:
        >>> tracker = PersonTracker(TrackingConfig(), confidence=0.25)
        >>> len(tracker.update(Detections.empty()))
        0
    """

    def __init__(self, config: TrackingConfig, confidence: float) -> None:
        from ultralytics.trackers.byte_tracker import BYTETracker

        args = SimpleNamespace(
            tracker_type="bytetrack",
            track_high_thresh=confidence,
            track_low_thresh=min(LOW_SCORE_FLOOR, confidence),
            new_track_thresh=confidence,
            track_buffer=config.track_buffer_frames,
            match_thresh=config.match_threshold,
            fuse_score=True,
        )
        self._tracker = BYTETracker(args)

    def update(self, detections: Detections) -> Detections:
        """The tracked subset of `detections`, with their track ids, in the detector's boxes."""
        boxes = detections.boxes_xyxy
        xywh = np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], axis=1)
        tracks = self._tracker.update(_TrackerInput(xywh.astype(np.float32), detections.scores))
        if len(tracks) == 0:
            return Detections.empty()
        index = tracks[:, 7].astype(np.int64)
        return detections.take(index).with_track_ids(tracks[:, 4].astype(np.int64))
