"""A camera keeps its next frame in the detector while it finishes the last (issue 14).

The worker runs a real feed over a real video file read as fast as it is taken. The processor is
the scripted one behind a pipelined front: `start` records the frame and hands it to a detection
that finishes on a timer thread (as OpenVINO finishes a request on its own thread); `finish`
waits for it and asks the scripted processor for the frame's state. A second test runs the real
pipeline (OpenVINO detector, ByteTrack, floor) both ways over the same frames.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from edge_support import make_video
from numpy.typing import NDArray
from scripted_processor import ScriptedProcessor
from support.paths import VTEST

from edge.camera import CameraWorker
from edge.sources import CameraFeed, Frame, VideoFileSource
from vision.config import CameraConfig
from vision.detections import Detections
from vision.processor import CameraProcessor, FrameResult, PendingFrame
from vision.state import HallState

DEMO_HALL = Path(__file__).resolve().parents[2] / "edge" / "demo" / "vtest-hall.yaml"


class TimedPeople:
    """Detections that become ready after `delay_s`, on a thread of their own."""

    def __init__(self, delay_s: float) -> None:
        self._ready = threading.Event()
        threading.Timer(delay_s, self._ready.set).start()

    def done(self) -> bool:
        return self._ready.is_set()

    def result(self, timeout: float | None = None) -> Detections:
        assert self._ready.wait(timeout if timeout is not None else 10.0)
        return Detections.empty()


class PipelinedScript:
    """The scripted processor behind `start`/`finish`, with a log of both and of what overlapped."""

    def __init__(self, camera_id: str, delay_s: float = 0.03, fail_starts: tuple[int, ...] = ()) -> None:
        self.camera_id = camera_id
        self.script = ScriptedProcessor(camera_id, events_every=1000)
        self.delay_s = delay_s
        self.fail_starts = fail_starts  # which calls of `start` fail (0-based)
        self.starts = 0
        self.failed: list[int] = []
        self.log: list[tuple[str, int]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def start(self, image_bgr: NDArray[np.uint8], frame: int, t_s: float) -> PendingFrame:
        self.starts += 1
        if self.starts - 1 in self.fail_starts:
            self.failed.append(frame)
            raise RuntimeError(f"frame {frame} cannot be started")
        with self._lock:
            self.log.append(("start", frame))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        height, width = image_bgr.shape[:2]
        return PendingFrame(TimedPeople(self.delay_s), frame, t_s, (width, height))

    def finish(self, pending: PendingFrame) -> FrameResult:
        pending.people.result()
        with self._lock:
            self.log.append(("finish", pending.frame))
            self.in_flight -= 1
        time.sleep(self.delay_s)  # tracking, the floor, publishing: the camera's own work
        image = np.zeros((pending.size_wh[1], pending.size_wh[0], 3), np.uint8)
        return self.script.process(image, pending.frame, pending.t_s)

    def process(self, image_bgr: NDArray[np.uint8], frame: int, t_s: float) -> FrameResult:
        self.log.append(("process", frame))
        return self.script.process(image_bgr, frame, t_s)


class Sink:
    def __init__(self) -> None:
        self.frames: list[int] = []

    def frame_processed(self, camera: str, frame: Frame, state: HallState) -> None:
        assert state.frame == frame.index  # the state reported is the frame's own
        self.frames.append(frame.index)

    def camera_lost(self, camera: str, reason: str) -> None:
        pass

    def camera_recovered(self, camera: str, down_s: float) -> None:
        pass


def _fast_opener(camera: CameraConfig, *, stop: threading.Event, epoch_mono: float, timeout_s: float) -> Any:
    return VideoFileSource(Path(str(camera.source)), fps=1000.0, loop=True, stop=stop, realtime=False)


def _run_worker(tmp_path: Path, processor: Any, depth: int, frames: int) -> tuple[CameraWorker, Sink]:
    video = make_video(tmp_path / "cam.mp4", frames=40)
    camera = CameraConfig.model_validate(
        {
            "id": "cam-1",
            "source": str(video),
            "loop": True,
            "calibration": {
                "image_points": [[0, 0], [64, 0], [64, 48], [0, 48]],
                "floor_points": [[0, 0], [4, 0], [4, 3], [0, 3]],
            },
        }
    )
    sink = Sink()
    feed = CameraFeed(camera, _fast_opener, timeout_s=5.0)
    worker = CameraWorker(camera, processor, feed, sink, timeout_s=5.0, frames_in_flight=depth)
    worker.start()
    deadline = time.monotonic() + 30.0
    while len(sink.frames) < frames and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    return worker, sink


def test_with_frames_waiting_the_next_frame_is_started_before_the_last_is_finished(tmp_path: Path) -> None:
    processor = PipelinedScript("cam-1")
    worker, sink = _run_worker(tmp_path, processor, depth=2, frames=20)
    assert len(sink.frames) >= 20
    assert processor.most_in_flight == 2
    starts = [f for kind, f in processor.log if kind == "start"]
    finishes = [f for kind, f in processor.log if kind == "finish"]
    assert finishes == starts[: len(finishes)]  # finished in the order they were started
    assert sink.frames == finishes  # and reported in that order
    overlapped = [
        f
        for f in finishes[:-1]
        if processor.log.index(("start", starts[starts.index(f) + 1])) < processor.log.index(("finish", f))
    ]
    assert len(overlapped) >= len(finishes) // 2  # most frames overlapped their successor
    assert not any(kind == "process" for kind, _ in processor.log)
    assert worker.stats.processing_errors == 0


def test_one_frame_at_a_time_without_pipelining(tmp_path: Path) -> None:
    processor = PipelinedScript("cam-1")
    _worker, sink = _run_worker(tmp_path, processor, depth=1, frames=10)
    assert len(sink.frames) >= 10
    assert {kind for kind, _ in processor.log} == {"process"}


def test_a_frame_that_fails_to_start_is_counted_and_the_camera_goes_on(tmp_path: Path) -> None:
    processor = PipelinedScript("cam-1", fail_starts=(3, 4, 5))
    worker, sink = _run_worker(tmp_path, processor, depth=3, frames=15)
    assert worker.stats.processing_errors == 3
    assert len(processor.failed) == 3 and not set(processor.failed) & set(sink.frames)
    assert len(sink.frames) >= 15
    assert processor.most_in_flight <= 3


def _vtest(frames: int) -> list[NDArray[np.uint8]]:
    capture = cv2.VideoCapture(str(VTEST))
    images = [capture.read()[1] for _ in range(frames)]
    capture.release()
    return images


@pytest.mark.slow
def test_the_real_pipeline_gives_the_same_people_pipelined_as_one_at_a_time() -> None:
    from edge.config import load_config
    from models.loader import load_detector

    hall = load_config(DEMO_HALL)
    camera = hall.cameras[0]
    detector = load_detector(camera.detector, 960)
    frames = _vtest(24)
    sequential = CameraProcessor.from_config(hall, camera.id, detector)
    expected = [sequential.process(image, i, i / 5) for i, image in enumerate(frames)]
    pipelined = CameraProcessor.from_config(hall, camera.id, detector)
    pending = [pipelined.start(frames[0], 0, 0.0)]
    got = []
    for i in range(1, len(frames)):
        pending.append(pipelined.start(frames[i], i, i / 5))  # the next is in before the last is done
        got.append(pipelined.finish(pending.pop(0)))
    got.append(pipelined.finish(pending.pop(0)))
    assert sum(len(r.state.people) for r in expected) > 24  # people walk through these frames
    for want, have in zip(expected, got, strict=True):
        assert have.tracked is not None and want.tracked is not None
        np.testing.assert_array_equal(have.tracked.track_ids, want.tracked.track_ids)
        np.testing.assert_allclose(have.tracked.boxes_xyxy, want.tracked.boxes_xyxy)
        assert have.state.zone_counts == want.state.zone_counts
