"""One camera's worker: frames from its feed through its processor, states and events to a sink.

Each camera runs on its own thread (and its feed reads on another), so a slow or dead camera never
holds up the others. The worker also watches its feed: no frame for `timeout_s` is a lost camera
(reported once), and the first frame after that a recovered one.

With a pipelined processor (`vision.processor.PipelinedProcessor`, the real one on OpenVINO) a
camera keeps up to `frames_in_flight` frames in the detector: a frame that arrives while the oldest
is still in the detector is started at once, before the oldest is tracked and reported, so inference
never waits for the rest of the camera's work. Frames are finished in the order they were taken; a
camera whose detector keeps up (each frame done before the next arrives) still finishes each frame
before taking the next, so pipelining adds no latency there.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, cast

import numpy as np

from edge.health import CameraPeriod, CameraStats
from edge.snapshot import LatestFrame, RecentTracks
from edge.sources import CameraFeed, Frame
from vision.config import CameraConfig
from vision.detections import Detections
from vision.state import HallState

if TYPE_CHECKING:
    from vision.processor import FrameProcessor, FrameResult, PendingFrame, PipelinedProcessor

log = logging.getLogger(__name__)
_POLL_S = 0.005  # how often a camera with a frame in the detector looks for the next frame


class CameraSink(Protocol):
    """Where a camera's results go (the node's reporter)."""

    def frame_processed(self, camera: str, frame: Frame, state: HallState) -> None: ...

    def camera_lost(self, camera: str, reason: str) -> None: ...

    def camera_recovered(self, camera: str, down_s: float) -> None: ...


class CameraWorker:
    """Runs one camera: `start`, `stop`, `replace_processor` (after a config push)."""

    def __init__(
        self,
        camera: CameraConfig,
        processor: FrameProcessor,
        feed: CameraFeed,
        sink: CameraSink,
        *,
        timeout_s: float,
        frames_in_flight: int = 1,
        on_state: Callable[[str, HallState], None] | None = None,
        fps_bounds: tuple[float, float] | None = None,
    ) -> None:
        self.camera = camera
        self.feed = feed
        self.stats = CameraStats(camera.id, feed.fps, fps_bounds=fps_bounds)
        self._on_state = on_state  # told every processed frame's state (the node's adaptive rates)
        self._processor = processor
        self._sink = sink
        self._timeout_s = timeout_s
        self._depth = max(1, frames_in_flight)
        self._errors_logged = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._lost = False
        self._latest: LatestFrame | None = None
        self._recent = RecentTracks()  # for snapshots: boxes of the last seconds' tracks
        self._thread = threading.Thread(target=self._run, name=f"camera-{camera.id}", daemon=True)

    @property
    def lost(self) -> bool:
        return self._lost

    def start(self) -> None:
        self.feed.start()
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the worker and its reader to stop, without waiting (to stop many cameras at once)."""
        self._stop.set()
        self.feed.request_stop()

    def stop(self, join_timeout_s: float = 5.0) -> None:
        self.request_stop()
        self.feed.stop()
        self._thread.join(join_timeout_s)
        if self._thread.is_alive():
            log.warning("%s: its processing did not finish within %.0f s", self.camera.id, join_timeout_s)

    def latest_frame(self) -> LatestFrame | None:
        """The last frame processed, with its person boxes (kept in memory for ops snapshots only)."""
        return self._latest

    def set_fps(self, fps: float, fps_bounds: tuple[float, float] | None = None) -> None:
        """Sample the camera at `fps` from now on (its adaptive rate); health reports it as the target."""
        self.feed.set_fps(fps)
        self.stats.fps_bounds = fps_bounds
        self.stats.set_target_fps(fps)

    def replace_processor(self, processor: FrameProcessor) -> None:
        with self._lock:
            self._processor = processor

    def _latest_of(self, frame: Frame, processor: FrameProcessor, tracked: Detections | None) -> LatestFrame:
        boxes = None
        if tracked is not None:
            self._recent.update(frame.t_s, tracked.boxes_xyxy.astype(np.float64), tracked.track_ids)
            boxes = self._recent.boxes()
        # A processor with a detector (CameraProcessor) also looks for people at full resolution
        # when a snapshot is taken; a scripted one has none.
        find = getattr(processor, "find_all_people", None)
        return LatestFrame(frame.image, frame.captured_at, boxes, find if callable(find) else None)

    def take_period(self) -> CameraPeriod:
        status = self.feed.status()
        return self.stats.take_period(
            connected=status.connected and not self._lost,
            frames_dropped=status.frames_dropped,
            reconnects=status.reconnects,
        )

    def _run(self) -> None:
        last_frame_mono = time.monotonic()  # no first frame within the timeout is a lost camera too
        in_flight: deque[tuple[Frame, PipelinedProcessor, PendingFrame]] = deque()
        while not self._stop.is_set():
            frame = None
            if len(in_flight) < self._depth:
                frame = self._next_frame(in_flight[0][2] if in_flight else None)
            if frame is None and in_flight:
                done, started_by, pending = in_flight.popleft()
                self._complete(done, started_by, functools.partial(started_by.finish, pending))
                continue
            now = time.monotonic()
            if frame is None:
                if not self._lost and now - last_frame_mono >= self._timeout_s:
                    self._lost = True
                    status = self.feed.status()
                    reason = status.last_error or (
                        f"no frame from {self.feed.description} for {self._timeout_s:g} s"
                    )
                    log.warning("%s: camera lost: %s", self.camera.id, reason)
                    self._sink.camera_lost(self.camera.id, reason)
                if self._lost:
                    self.feed.check_stuck()
                continue
            if self._lost:
                down_s = frame.captured_mono - last_frame_mono
                self._lost = False
                log.info("%s: camera back after %.1f s", self.camera.id, down_s)
                self._sink.camera_recovered(self.camera.id, down_s)
            last_frame_mono = frame.captured_mono
            with self._lock:
                processor = self._processor
            pipelined = _pipelined(processor) if self._depth > 1 else None
            if pipelined is None:
                run = functools.partial(processor.process, frame.image, frame.index, frame.t_s)
                self._complete(frame, processor, run)
                continue
            try:
                in_flight.append((frame, pipelined, pipelined.start(frame.image, frame.index, frame.t_s)))
            except Exception:
                self._failed(frame)

    def _next_frame(self, oldest: PendingFrame | None) -> Frame | None:
        """The next frame; with one in flight, only one that comes before the oldest is detected."""
        if oldest is None:
            return self.feed.get(timeout=0.1)
        # Waiting in short steps: the feed and the detector signal on different conditions.
        while True:
            detected = oldest.people.done()
            frame = self.feed.get(timeout=0.0 if detected else _POLL_S)
            if frame is not None or detected or oldest.people.done() or self._stop.is_set():
                return frame

    def _complete(self, frame: Frame, processor: FrameProcessor, run: Callable[[], FrameResult]) -> None:
        """Finish one frame (`run` gives its result): count it, keep it for snapshots, report it."""
        try:
            result = run()
        except Exception:
            self._failed(frame)
            return
        self.stats.record_frame(frame.captured_mono, frame.captured_at, time.monotonic())
        self._latest = self._latest_of(frame, processor, result.tracked)
        if self._on_state is not None:
            try:
                self._on_state(self.camera.id, result.state)
            except Exception:
                log.exception("%s: the frame rate after frame %d failed", self.camera.id, frame.index)
        try:
            self._sink.frame_processed(self.camera.id, frame, result.state)
        except Exception:
            log.exception("%s: reporting frame %d failed", self.camera.id, frame.index)

    def _failed(self, frame: Frame) -> None:
        self.stats.record_error()
        if self._errors_logged < 3 or self.stats.processing_errors % 100 == 0:
            self._errors_logged += 1
            log.exception(
                "%s: processing frame %d failed (%d failures so far); going on with the next",
                self.camera.id,
                frame.index,
                self.stats.processing_errors,
            )


def _pipelined(processor: FrameProcessor) -> PipelinedProcessor | None:
    """The processor as a pipelined one when it is (duck-typed: importing vision.processor to ask
    would load the detector stack into nodes and tests that run a scripted processor)."""
    if callable(getattr(processor, "start", None)) and callable(getattr(processor, "finish", None)):
        return cast("PipelinedProcessor", processor)
    return None
