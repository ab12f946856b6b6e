"""One camera's frames in, one `FrameResult` (the `HallState` and the tracked people) per frame out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from vision.calibration import FloorCalibration, calibration_from_config
from vision.config import HallConfig
from vision.detections import Detections, Detector, FoundPeople, PendingPeople, PipelinedDetector
from vision.pipeline import HallPipeline
from vision.privacy import find_people
from vision.state import HallState
from vision.tracking import PersonTracker


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What one frame gave: the state to publish, and the boxes to draw or blur.

    Attributes:
        state: the camera's `HallState` for this frame.
        tracked: the tracked people's `Detections` (pixels, with track ids); None from a processor
            that does not know where people are in the image (a scripted one), so that a snapshot
            blurs the whole frame rather than nothing.
    """

    state: HallState
    tracked: Detections | None


class FrameProcessor(Protocol):
    """What replay and the edge node need from the vision pipeline for one camera."""

    camera_id: str

    def process(self, image_bgr: NDArray[np.uint8], frame: int, t_s: float) -> FrameResult:
        """Detect, track and place the people in one frame.

        Args:
            image_bgr: the frame, `(h, w, 3)` uint8 BGR as OpenCV decodes it.
            frame: the frame's index in its source (0-based).
            t_s: the frame's time in seconds (video position, or capture time for live sources).
        """
        ...


@dataclass(frozen=True, slots=True)
class PendingFrame:
    """A frame whose people are being detected: what `PipelinedProcessor.finish` completes."""

    people: PendingPeople
    frame: int
    t_s: float
    size_wh: tuple[int, int]


@runtime_checkable
class PipelinedProcessor(FrameProcessor, Protocol):
    """A processor that takes a camera's next frame before the last one is finished.

    `start` hands the frame to the detector and returns at once (unless the detector is full);
    `finish` waits for its people and tracks and places them. A camera calls `finish` in the order
    it called `start`: tracking needs its frames in order, detection does not.
    """

    def start(self, image_bgr: NDArray[np.uint8], frame: int, t_s: float) -> PendingFrame: ...

    def finish(self, pending: PendingFrame) -> FrameResult: ...


class CameraProcessor:
    """Detector → tracker → floor pipeline for one camera; the detector may be shared.

    Example:
        >>> processor = CameraProcessor.from_config(hall, "cam-1", detector)  # doctest: +SKIP
        >>> processor.process(frame, 0, 0.0).state.zone_counts  # doctest: +SKIP
        {'hall': 3, 'window-1': 1}
    """

    def __init__(self, camera_id: str, detector: Detector, tracker: PersonTracker, pipeline: HallPipeline):
        self.camera_id = camera_id
        self.detector = detector
        self.tracker = tracker
        self.pipeline = pipeline

    @classmethod
    def from_config(
        cls,
        hall: HallConfig,
        camera_id: str,
        detector: Detector,
        calibration: FloorCalibration | None = None,
    ) -> CameraProcessor:
        """Build the tracker and pipeline for one camera of `hall` around a loaded detector.

        Args:
            calibration: the camera's calibration when the caller already made it; by default it is
                made from the camera's `calibration:` section.

        Raises:
            vision.calibration.CalibrationError: the camera's calibration points are degenerate.
        """
        camera = hall.camera(camera_id)
        if calibration is None:
            calibration = calibration_from_config(camera.calibration)
        tracker = PersonTracker(hall.tracking, confidence=camera.detector.confidence)
        return cls(camera_id, detector, tracker, HallPipeline(hall, camera_id, calibration))

    def find_all_people(self, image_bgr: NDArray[np.uint8]) -> NDArray[np.float64]:
        """Every person the camera's detector finds in a frame, for a snapshot's blur: the whole frame
        and full-resolution tiles, a low score floor (`vision.privacy.find_people`); `(n, 4)` pixels."""
        return find_people(self.detector.detect, image_bgr, tile_px=self.detector.imgsz)

    def process(self, image_bgr: NDArray[np.uint8], frame: int, t_s: float) -> FrameResult:
        return self.finish(self.start(image_bgr, frame, t_s))

    def start(self, image_bgr: NDArray[np.uint8], frame: int, t_s: float) -> PendingFrame:
        """Hand the frame to the detector (at once with a pipelined one; `finish` completes it)."""
        height, width = image_bgr.shape[:2]
        detector = self.detector
        if isinstance(detector, PipelinedDetector):
            people: PendingPeople = detector.submit(image_bgr)
        else:
            people = FoundPeople(detector.detect(image_bgr))
        return PendingFrame(people, frame, t_s, (width, height))

    def finish(self, pending: PendingFrame) -> FrameResult:
        """Wait for a started frame's people, then track and place them (frames in `start` order)."""
        tracked = self.tracker.update(pending.people.result())
        return FrameResult(self.pipeline.step(pending.frame, pending.t_s, tracked, pending.size_wh), tracked)
