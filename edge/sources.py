"""Camera frames in: video files, network streams and USB devices, sampled at the camera's rate.

A `FrameSource` is one opening of a camera: it delivers frames until it ends (a video file without
`loop`) or fails (`SourceError`). `CameraFeed` keeps one camera going on its own thread: it opens the
source, hands the newest frame to whoever processes it, and reopens the source with exponential
backoff when it fails, so a dead camera never stalls the others.

Frame times (`t_s`) come from the source: the position in the file for video files (played in real
time, skipping frames to sample `fps` per second), the capture time on the monotonic clock for live
streams and devices. They only ever increase for one camera, across loops and reopenings.

Example:
    >>> feed = CameraFeed(camera, open_source, timeout_s=5.0)  # doctest: +SKIP
    >>> feed.start(); frame = feed.get(timeout=1.0)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.config import CameraConfig

log = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


class SourceError(Exception):
    """A camera that cannot be opened or stopped delivering frames; the text says which and why."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One sampled frame.

    Attributes:
        image: `(h, w, 3)` uint8 BGR pixels; never leaves the node.
        index: the frame's index in its source (increasing across loops and reopenings).
        t_s: the frame's time in seconds: video position for files, capture time for live sources.
        captured_mono: `time.monotonic()` when the frame was read (for latency and timeouts).
        captured_at: UTC wall-clock time when the frame was read.
    """

    image: NDArray[np.uint8]
    index: int
    t_s: float
    captured_mono: float
    captured_at: datetime


class FrameSource(Protocol):
    """One opening of a camera."""

    description: str

    def read(self) -> Frame | None:
        """The next sampled frame; None when the source has ended for good (a file without loop).

        Raises:
            SourceError: the source failed; the caller closes it and may open it again.
        """
        ...

    def close(self) -> None: ...


class SourceOpener(Protocol):
    """Opens a camera's source; raises `SourceError` when it cannot."""

    def __call__(
        self, camera: CameraConfig, *, stop: threading.Event, epoch_mono: float, timeout_s: float
    ) -> FrameSource: ...


SourceKind = Literal["file", "stream", "device"]


def source_kind(source: str | int) -> SourceKind:
    """What a camera's `source` names.

    >>> source_kind("rtsp://10.0.0.5/stream1"), source_kind(0), source_kind("/data/hall.mp4")
    ('stream', 'device', 'file')
    """
    if isinstance(source, int) or source.strip().isdigit():
        return "device"
    if source.lower().startswith(STREAM_SCHEMES):
        return "stream"
    return "file"


def describe_source(source: str | int) -> str:
    """The source as an operator reads it, without any password embedded in a URL."""
    kind = source_kind(source)
    if kind == "device":
        return f"device {int(source)}"
    text = str(source)
    if kind == "stream":
        scheme, _, rest = text.partition("://")
        if "@" in rest.split("/", 1)[0]:
            rest = "***@" + rest.split("@", 1)[1]
        return f"stream {scheme}://{rest}"
    return f"video file {text}"


def open_source(
    camera: CameraConfig, *, stop: threading.Event, epoch_mono: float, timeout_s: float
) -> FrameSource:
    """Open a camera's source with OpenCV: a video file, a network stream or a device index.

    Raises:
        SourceError: the source cannot be opened; the text names it and says why.
    """
    kind = source_kind(camera.source)
    if kind == "file":
        return VideoFileSource(Path(str(camera.source)), fps=camera.fps, loop=camera.loop, stop=stop)
    return LiveSource(camera.source, fps=camera.fps, stop=stop, epoch_mono=epoch_mono, timeout_s=timeout_s)


def quiet_opencv() -> None:
    """Leave OpenCV's and FFmpeg's own stderr chatter out: our log lines say why a source failed.

    `OPENCV_LOG_LEVEL` and `OPENCV_FFMPEG_LOGLEVEL` (e.g. 32 for FFmpeg's info) bring it back.
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def _now() -> tuple[float, datetime]:
    return time.monotonic(), datetime.now(UTC)


class VideoFileSource:
    """A video file played in real time, sampled at `fps` (frames in between are only grabbed).

    `t_s` is the position in the video; with `loop` the file starts again at its end and `t_s` and
    the frame index keep increasing. `realtime=False` reads as fast as the consumer takes frames.
    """

    def __init__(
        self, path: Path, *, fps: float, loop: bool, stop: threading.Event, realtime: bool = True
    ) -> None:
        self.description = describe_source(str(path))
        self._path = path
        self._period_s = 1.0 / fps
        self._loop = loop
        self._stop = stop
        self._realtime = realtime
        if not path.exists():
            raise SourceError(f"{self.description}: no such file")
        if path.is_dir():
            raise SourceError(f"{self.description}: is a directory, not a video")
        self._cap = self._open()
        native = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not math.isfinite(native) or native <= 0.0 or native > 1000.0:
            log.warning("%s does not say its frame rate; assuming 25 frames/s", self.description)
            native = 25.0
        self.native_fps = native
        self._pass_index = 0  # index of the next frame to grab in the current pass over the file
        self._offset_frames = 0  # frames in earlier passes (loop)
        self._offset_s = 0.0
        self._next_sample_s = 0.0
        self._origin_mono: float | None = None  # monotonic time at which t_s == 0 (real-time play)

    def set_fps(self, fps: float) -> None:
        """Sample `fps` frames a second from the next sample on (an adaptive rate's change)."""
        self._period_s = 1.0 / fps

    def _open(self) -> Any:
        cap = cv2.VideoCapture(str(self._path))
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{self.description}: OpenCV cannot read it (not a video, or an unknown codec)")
        return cap

    def read(self) -> Frame | None:
        while not self._stop.is_set():
            if not self._cap.grab():
                if self._pass_index == 0:
                    raise SourceError(f"{self.description}: no frame could be read from it")
                if not self._loop:
                    return None
                self._offset_frames += self._pass_index
                self._offset_s += self._pass_index / self.native_fps
                self._pass_index = 0
                self._cap.release()
                self._cap = self._open()
                continue
            index = self._offset_frames + self._pass_index
            t_s = self._offset_s + self._pass_index / self.native_fps
            self._pass_index += 1
            if t_s + 1e-6 < self._next_sample_s:
                continue  # between samples: grabbed, never converted to an image
            ok, image = self._cap.retrieve()
            if not ok or image is None:
                log.debug("%s: frame %d could not be decoded; skipped", self.description, index)
                continue
            self._next_sample_s += self._period_s
            if self._next_sample_s <= t_s:
                self._next_sample_s = t_s + self._period_s
            if self._realtime:
                self._wait_until(t_s)
            mono, wall = _now()
            return Frame(np.ascontiguousarray(image, np.uint8), index, t_s, mono, wall)
        return None

    def _wait_until(self, t_s: float) -> None:
        now = time.monotonic()
        if self._origin_mono is None or now - (self._origin_mono + t_s) > 2.0:
            # First frame, or we fell far behind (a stall): play on from here instead of racing.
            self._origin_mono = now - t_s
        delay = self._origin_mono + t_s - now
        if delay > 0:
            self._stop.wait(delay)

    def close(self) -> None:
        self._cap.release()


class LiveSource:
    """An rtsp/http stream or a local device, read continuously and sampled at `fps`.

    Every frame is grabbed so the stream's buffer never goes stale; only sampled ones are retrieved
    (converted to a BGR image).
    `t_s` is the capture time on the monotonic clock, relative to `epoch_mono`.
    """

    def __init__(
        self,
        source: str | int,
        *,
        fps: float,
        stop: threading.Event,
        epoch_mono: float,
        timeout_s: float,
    ) -> None:
        self.description = describe_source(source)
        self._period_s = 1.0 / fps
        self._stop = stop
        self._epoch = epoch_mono
        self._index = 0
        self._next_sample_mono = 0.0
        timeout_ms = int(timeout_s * 1000)
        if source_kind(source) == "device":
            cap = cv2.VideoCapture(int(source))
        else:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
            cap = cv2.VideoCapture(str(source), cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open {self.description} (unreachable, refused, or not a video stream)")
        self._cap = cap

    def set_fps(self, fps: float) -> None:
        """Sample `fps` frames a second from the next sample on (an adaptive rate's change)."""
        self._period_s = 1.0 / fps

    def read(self) -> Frame | None:
        while not self._stop.is_set():
            if not self._cap.grab():
                raise SourceError(f"{self.description} stopped delivering frames")
            mono = time.monotonic()
            index = self._index
            self._index += 1
            if mono + 1e-3 < self._next_sample_mono:
                continue
            ok, image = self._cap.retrieve()
            if not ok or image is None:
                raise SourceError(f"{self.description}: a frame could not be decoded")
            # The next sample one period on; after a stall, at least half a period from now.
            self._next_sample_mono = max(
                self._next_sample_mono + self._period_s if self._next_sample_mono else mono + self._period_s,
                mono + 0.5 * self._period_s,
            )
            return Frame(
                np.ascontiguousarray(image, np.uint8), index, mono - self._epoch, mono, datetime.now(UTC)
            )
        return None

    def close(self) -> None:
        self._cap.release()


class Backoff:
    """Exponential backoff: `first_s`, doubling up to `max_s`; `reset` after a success.

    >>> b = Backoff(0.5, 4.0); [b.next() for _ in range(5)]
    [0.5, 1.0, 2.0, 4.0, 4.0]
    """

    def __init__(self, first_s: float, max_s: float) -> None:
        self.first_s = first_s
        self.max_s = max(max_s, first_s)
        self._next = first_s

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2.0, self.max_s)
        return delay

    def reset(self) -> None:
        self._next = self.first_s


@dataclass(frozen=True, slots=True)
class FeedStatus:
    connected: bool
    ended: bool
    last_error: str | None
    reconnects: int
    frames_dropped: int


class CameraFeed:
    """One camera on its own reader thread: open, read, hand over the newest frame, reopen on failure.

    `get` returns the newest frame not yet taken; a frame replaced before it was taken counts as
    dropped (processing fell behind). When the source fails or cannot be opened, it is reopened after
    `retry_first_s`, doubling up to `retry_max_s`. A read that blocks for longer than `stuck_after_s`
    (default: 3 × `timeout_s`, at least 10 s; a stream that hangs without closing) makes `check_stuck`
    abandon that reader thread and start a fresh one; the stuck one exits on its own when its read
    returns, without touching the feed.
    """

    def __init__(
        self,
        camera: CameraConfig,
        opener: SourceOpener,
        *,
        timeout_s: float,
        retry_first_s: float = 0.5,
        retry_max_s: float = 30.0,
        stuck_after_s: float | None = None,
    ) -> None:
        self.camera = camera
        self._opener = opener
        self._timeout_s = timeout_s
        self._backoff = Backoff(retry_first_s, retry_max_s)
        self._stuck_after_s = max(3.0 * timeout_s, 10.0) if stuck_after_s is None else stuck_after_s
        self._stop = threading.Event()
        self._epoch = time.monotonic()
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._blocked_since: float | None = None
        self._opened_once = False
        self._connected = False
        self._ended = False
        self._last_error: str | None = None
        self._reconnects = 0
        self._dropped = 0
        self._last_index = -1
        self._last_t_s = -math.inf
        self._fps = camera.fps
        self._source: FrameSource | None = None

    @property
    def description(self) -> str:
        return describe_source(self.camera.source)

    def start(self) -> None:
        self._start_reader()

    def request_stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def stop(self, join_timeout_s: float = 2.0) -> None:
        self.request_stop()
        thread = self._thread
        if thread is not None:
            thread.join(join_timeout_s)
            if thread.is_alive():
                log.warning("%s: its reader is blocked in OpenCV; leaving it behind", self.camera.id)

    @property
    def fps(self) -> float:
        """The rate the source samples at now."""
        return self._fps

    def set_fps(self, fps: float) -> None:
        """Sample at `fps` from now on, this opening and the next ones (an adaptive rate)."""
        with self._cond:
            self._fps = fps
            source = self._source
        if source is not None:
            _apply_fps(source, fps)

    def get(self, timeout: float) -> Frame | None:
        """The newest frame not taken yet, waiting up to `timeout` seconds; None if none came."""
        with self._cond:
            if self._slot is None:
                self._cond.wait(timeout)
            frame, self._slot = self._slot, None
            return frame

    def status(self) -> FeedStatus:
        with self._cond:
            return FeedStatus(self._connected, self._ended, self._last_error, self._reconnects, self._dropped)

    def check_stuck(self) -> bool:
        """Abandon a reader blocked in one read for too long; True when it did."""
        with self._cond:
            started = self._blocked_since
        if started is None or self._stop.is_set() or time.monotonic() - started < self._stuck_after_s:
            return False
        log.warning(
            "%s: %s has blocked in one read for %.0f s; starting a fresh reader",
            self.camera.id,
            self.description,
            time.monotonic() - started,
        )
        with self._cond:
            self._generation += 1
            self._connected = False
            self._last_error = f"{self.description} hung while reading"
        self._start_reader()
        return True

    # ----------------------------------------------------------------------------- reader thread
    def _start_reader(self) -> None:
        with self._cond:
            generation = self._generation
            self._blocked_since = None
        self._thread = threading.Thread(
            target=self._run, args=(generation,), name=f"feed-{self.camera.id}", daemon=True
        )
        self._thread.start()

    def _current(self, generation: int) -> bool:
        return generation == self._generation and not self._stop.is_set()

    def _mark_blocked(self, generation: int, since: float | None) -> None:
        """Note when the current reader entered a blocking call (None: it left it).

        An abandoned reader whose read finally returns must not touch the mark: it belongs to the
        reader that replaced it, which may be stuck too.
        """
        with self._cond:
            if generation == self._generation:
                self._blocked_since = since

    def _run(self, generation: int) -> None:
        while self._current(generation):
            self._mark_blocked(generation, time.monotonic())
            try:
                source = self._opener(
                    self.camera, stop=self._stop, epoch_mono=self._epoch, timeout_s=self._timeout_s
                )
            except SourceError as exc:
                self._retry_later(generation, str(exc))
                continue
            except Exception as exc:  # OpenCV can raise cv2.error on odd inputs
                self._retry_later(generation, f"cannot open {self.description}: {exc}")
                continue
            finally:
                self._mark_blocked(generation, None)
            if not self._current(generation):  # abandoned (or stopped) while opening
                _close_quietly(source, self.camera.id)
                return
            if self._opened_once:
                with self._cond:
                    self._reconnects += 1
                log.info("%s: reopened %s", self.camera.id, self.description)
            self._opened_once = True
            with self._cond:
                self._source, fps = source, self._fps
            if fps != self.camera.fps:
                _apply_fps(source, fps)
            try:
                outcome, reason = self._read_all(generation, source)
            finally:
                with self._cond:
                    if self._source is source:
                        self._source = None
            if outcome == "ended":
                with self._cond:
                    self._ended = True
                    self._connected = False
                    self._last_error = f"{self.description} ended (loop is off)"
                log.info(
                    "%s: %s ended; the camera stops here (loop is off)", self.camera.id, self.description
                )
                return
            if outcome == "failed":
                self._retry_later(generation, reason)

    def _read_all(
        self, generation: int, source: FrameSource
    ) -> tuple[Literal["ended", "failed", "stopped"], str]:
        """Read frames until the source ends, fails or the feed stops; always closes the source."""
        shift_t: float | None = None
        shift_i = 0
        try:
            while self._current(generation):
                self._mark_blocked(generation, time.monotonic())
                frame = source.read()
                self._mark_blocked(generation, None)
                if frame is None:
                    return ("ended" if self._current(generation) else "stopped"), ""
                if shift_t is None:
                    # Keep t_s and the index increasing across reopenings (a file starts at 0 again).
                    shift_t = max(0.0, self._last_t_s + 1.0 / self._fps - frame.t_s)
                    shift_i = max(0, self._last_index + 1 - frame.index)
                if shift_t or shift_i:
                    frame = dataclasses.replace(frame, t_s=frame.t_s + shift_t, index=frame.index + shift_i)
                self._put(generation, frame)
            return "stopped", ""
        except SourceError as exc:
            return "failed", str(exc)
        except Exception as exc:  # a decoder error must not kill the reader thread
            return "failed", f"{self.description}: {exc}"
        finally:
            self._mark_blocked(generation, None)
            _close_quietly(source, self.camera.id)

    def _put(self, generation: int, frame: Frame) -> None:
        with self._cond:
            if generation != self._generation:
                return
            if self._slot is not None:
                self._dropped += 1
            self._slot = frame
            self._last_index = frame.index
            self._last_t_s = frame.t_s
            if not self._connected:
                self._connected = True
                self._last_error = None
                self._backoff.reset()
            self._cond.notify_all()

    def _retry_later(self, generation: int, reason: str) -> None:
        with self._cond:
            if generation != self._generation:
                return
            first = self._last_error != reason
            self._connected = False
            self._last_error = reason
            delay = self._backoff.next()
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "%s: %s; trying again in %.1f s",
            self.camera.id,
            reason,
            delay,
        )
        self._stop.wait(delay)


def _apply_fps(source: FrameSource, fps: float) -> None:
    # Our sources sample at a settable rate; a source that cannot (a test's) keeps its own.
    set_fps = getattr(source, "set_fps", None)
    if callable(set_fps):
        set_fps(fps)


def _close_quietly(source: FrameSource, camera_id: str) -> None:
    try:
        source.close()
    except Exception:
        log.debug("%s: error while closing %s", camera_id, source.description, exc_info=True)
