"""The person detector: the one place (with vision/tracking.py) that touches ultralytics."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vision.detections import KEYPOINTS, Detections

# ultralytics must never reach for the network or pip at run time (checks, telemetry, auto-install).
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("YOLO_VERBOSE", "false")

PERSON_CLASS = 0
# ByteTrack's second association uses detections between this and the configured confidence, so
# the detector reports them too: they keep existing tracks alive, but only a detection at or above
# the configured confidence starts a new track (see vision/tracking.py).
LOW_SCORE_FLOOR = 0.1


class PersonDetector:
    """YOLO pose on CPU, returning `Detections` in the frame's pixels.

    One detector can serve several cameras: `detect` is serialised with a lock, because an
    ultralytics model keeps per-call state.

    Example:
        >>> detector = PersonDetector(Path("yolo11n-pose.pt"), imgsz=640)  # doctest: +SKIP
        >>> len(detector.detect(cv2.imread("bus.jpg")))  # doctest: +SKIP
        4
    """

    def __init__(self, weights: Path, imgsz: int, confidence: float = 0.25, backend: str = "pytorch") -> None:
        from ultralytics import YOLO

        self.weights = weights
        self.imgsz = imgsz
        self.confidence = confidence
        self.backend = backend
        self._model = YOLO(str(weights), task="pose")
        self._lock = threading.Lock()

    def detect(self, image_bgr: NDArray[np.uint8], min_score: float | None = None) -> Detections:
        """People in one BGR frame, scores down to `LOW_SCORE_FLOOR` (the tracker keeps the confident).

        Args:
            min_score: report detections down to this score instead (privacy passes go lower).
        """
        floor = min(self.confidence, LOW_SCORE_FLOOR) if min_score is None else min_score
        with self._lock:
            results = self._model.predict(
                image_bgr,
                imgsz=self.imgsz,
                conf=floor,
                classes=[PERSON_CLASS],
                device="cpu",
                verbose=False,
            )
        return from_ultralytics(results[0])

    def warm_up(self, shape: tuple[int, int] = (480, 640)) -> None:
        """Run once on a blank frame so the first real frame does not pay for model set-up."""
        self.detect(np.zeros((*shape, 3), np.uint8))


def from_ultralytics(result: Any) -> Detections:
    """Convert one ultralytics pose `Results` to `Detections` (people only)."""
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return Detections.empty()
    keep = boxes.cls.cpu().numpy().astype(int) == PERSON_CLASS
    xyxy = boxes.xyxy.cpu().numpy()[keep]
    scores = boxes.conf.cpu().numpy()[keep]
    n = len(xyxy)
    if result.keypoints is not None and len(result.keypoints) == len(keep):
        data = result.keypoints.data.cpu().numpy()[keep]  # (n, 17, 3): x, y, confidence
        kp_xy, kp_conf = (
            data[..., :2],
            (data[..., 2] if data.shape[-1] == 3 else np.ones((n, KEYPOINTS), np.float32)),
        )
    else:
        kp_xy, kp_conf = None, None
    return Detections.from_boxes(xyxy, scores, kp_xy, kp_conf)
