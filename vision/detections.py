"""People found in one image: parallel numpy arrays, validated once, never mutated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

KEYPOINTS = 17  # COCO person keypoints, in COCO order
LEFT_ANKLE, RIGHT_ANKLE = 15, 16
NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR = 0, 1, 2, 3, 4
LEFT_SHOULDER, RIGHT_SHOULDER = 5, 6
LEFT_HIP, RIGHT_HIP = 11, 12
LEFT_KNEE, RIGHT_KNEE = 13, 14

UNTRACKED = -1


@dataclass(frozen=True, slots=True)
class Detections:
    """Person detections in one frame, in image pixels.

    Attributes:
        boxes_xyxy: `(n, 4)` float32 boxes, x1 y1 x2 y2 in pixels.
        scores: `(n,)` float32 person scores in [0, 1].
        keypoints_xy: `(n, 17, 2)` float32 COCO keypoints in pixels.
        keypoints_conf: `(n, 17)` float32 keypoint scores in [0, 1].
        track_ids: `(n,)` int64 track ids, `UNTRACKED` (-1) before tracking.

    Example:
        >>> d = Detections.empty()
        >>> len(d)
        0
    """

    boxes_xyxy: NDArray[np.float32]
    scores: NDArray[np.float32]
    keypoints_xy: NDArray[np.float32]
    keypoints_conf: NDArray[np.float32]
    track_ids: NDArray[np.int64]

    def __post_init__(self) -> None:
        n = len(self.boxes_xyxy)
        expected = {
            "boxes_xyxy": (n, 4),
            "scores": (n,),
            "keypoints_xy": (n, KEYPOINTS, 2),
            "keypoints_conf": (n, KEYPOINTS),
            "track_ids": (n,),
        }
        for name, shape in expected.items():
            actual = getattr(self, name).shape
            if actual != shape:
                raise ValueError(f"Detections.{name} has shape {actual}, expected {shape}")

    def __len__(self) -> int:
        return len(self.boxes_xyxy)

    @classmethod
    def empty(cls) -> Detections:
        return cls.from_boxes(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    @classmethod
    def from_boxes(
        cls,
        boxes_xyxy: NDArray[np.floating],
        scores: NDArray[np.floating],
        keypoints_xy: NDArray[np.floating] | None = None,
        keypoints_conf: NDArray[np.floating] | None = None,
        track_ids: NDArray[np.integer] | None = None,
    ) -> Detections:
        """Build detections, filling absent keypoints with zero confidence and ids with UNTRACKED."""
        n = len(boxes_xyxy)
        return cls(
            boxes_xyxy=np.asarray(boxes_xyxy, np.float32).reshape(n, 4),
            scores=np.asarray(scores, np.float32).reshape(n),
            keypoints_xy=(
                np.zeros((n, KEYPOINTS, 2), np.float32)
                if keypoints_xy is None
                else np.asarray(keypoints_xy, np.float32)
            ),
            keypoints_conf=(
                np.zeros((n, KEYPOINTS), np.float32)
                if keypoints_conf is None
                else np.asarray(keypoints_conf, np.float32)
            ),
            track_ids=(
                np.full(n, UNTRACKED, np.int64) if track_ids is None else np.asarray(track_ids, np.int64)
            ),
        )

    def take(self, index: NDArray[np.bool_] | NDArray[np.integer]) -> Detections:
        """The detections selected by a boolean mask or an index array, in that order."""
        return Detections(
            boxes_xyxy=self.boxes_xyxy[index],
            scores=self.scores[index],
            keypoints_xy=self.keypoints_xy[index],
            keypoints_conf=self.keypoints_conf[index],
            track_ids=self.track_ids[index],
        )

    def with_track_ids(self, track_ids: NDArray[np.integer]) -> Detections:
        return Detections(
            boxes_xyxy=self.boxes_xyxy,
            scores=self.scores,
            keypoints_xy=self.keypoints_xy,
            keypoints_conf=self.keypoints_conf,
            track_ids=np.asarray(track_ids, np.int64),
        )


class Detector(Protocol):
    """What finds people in frames: `vision.detector.PersonDetector` (ultralytics) or
    `vision.openvino_detector.OpenVinoPoseDetector` (OpenVINO's runtime, pipelined)."""

    imgsz: int
    confidence: float
    backend: str

    def detect(self, image_bgr: NDArray[np.uint8], min_score: float | None = None) -> Detections:
        """People in one BGR frame, scores down to `min_score` (default: a floor under `confidence`)."""
        ...

    def warm_up(self, shape: tuple[int, int] = (480, 640)) -> None: ...


class PendingPeople(Protocol):
    """One frame's detections on their way: `result` waits for them."""

    def done(self) -> bool: ...

    def result(self, timeout: float | None = None) -> Detections: ...


@runtime_checkable
class PipelinedDetector(Detector, Protocol):
    """A detector that takes a frame before the last one is done (`submit`), so that inference
    overlaps the rest of a camera's work and other cameras' frames."""

    def submit(self, image_bgr: NDArray[np.uint8], min_score: float | None = None) -> PendingPeople: ...


@dataclass(frozen=True, slots=True)
class FoundPeople:
    """Detections already found (what a detector without `submit` gives at once)."""

    detections: Detections

    def done(self) -> bool:
        return True

    def result(self, timeout: float | None = None) -> Detections:
        return self.detections
