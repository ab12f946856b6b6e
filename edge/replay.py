"""Replay a recorded video through one camera's pipeline: one JSON line per frame, and a summary.

Decoding runs in a thread ahead of the detector, so a replay costs little more than detection.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.calibration_report import CalibrationReport
from vision.config import HallConfig
from vision.processor import FrameProcessor, FrameResult
from vision.smoothing import zone_limits
from vision.state import HallEvent, HallState, Violation

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_BAD_FRAMES = 25


class VideoError(Exception):
    """A video that cannot be opened or read; the text says which and why."""


@dataclass(frozen=True, slots=True)
class VideoFrame:
    index: int
    t_s: float
    image: NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class VideoInfo:
    path: Path
    fps: float
    frame_count: int
    width: int
    height: int


def probe_video(path: Path) -> VideoInfo:
    """Open a video once to learn its size and rate.

    Raises:
        VideoError: missing, unreadable, or not a video OpenCV can decode.
    """
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if not path.is_file():
        raise VideoError(f"{path}: not a file")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise VideoError(f"{path}: cannot read it ({exc.strerror})") from None
    cap = cv2.VideoCapture(str(path))
    try:
        ok, image = cap.read() if cap.isOpened() else (False, None)
        if not ok or image is None:
            raise VideoError(f"{path}: OpenCV cannot decode it; is it a video file (avi, mp4, mkv)?")
        fps = cap.get(cv2.CAP_PROP_FPS)
        return VideoInfo(
            path=path,
            fps=fps if 0 < fps < 1000 else 25.0,
            frame_count=max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0),
            width=image.shape[1],
            height=image.shape[0],
        )
    finally:
        cap.release()


def read_frames(
    info: VideoInfo, max_frames: int | None = None, stats: ReadStats | None = None
) -> Iterator[VideoFrame]:
    """Decode frames in a background thread, in order, with each frame's index and time.

    A frame that fails to decode is skipped and counted in `stats.bad_frames`; after
    `MAX_CONSECUTIVE_BAD_FRAMES` in a row the video is treated as ended (truncated files), and
    `stats.ended_early_at` says where.

    Raises:
        VideoError: the decoder failed outright (OpenCV raised); the frames before it were yielded.
    """
    stats = stats if stats is not None else ReadStats()
    frames: queue.Queue[VideoFrame | None] = queue.Queue(maxsize=8)
    stop = threading.Event()
    failure: list[BaseException] = []
    last_index = -1
    wanted = info.frame_count if max_frames is None else min(info.frame_count, max_frames)

    def decode() -> None:
        cap = cv2.VideoCapture(str(info.path))
        try:
            index, bad_run = 0, 0
            while not stop.is_set() and (max_frames is None or index < max_frames):
                ok, image = cap.read()
                if not ok or image is None:
                    if info.frame_count and index < info.frame_count and bad_run < MAX_CONSECUTIVE_BAD_FRAMES:
                        stats.bad_frames += 1
                        bad_run += 1
                        index += 1
                        continue
                    break
                bad_run = 0
                frames.put(VideoFrame(index, index / info.fps, cast(NDArray[np.uint8], image)))
                index += 1
            if not stop.is_set() and index < wanted:
                stats.ended_early_at = index
        except Exception as exc:  # handed to the consumer: a replay must not end quietly short
            failure.append(exc)
        finally:
            cap.release()
            frames.put(None)

    reader = threading.Thread(target=decode, name=f"decode-{info.path.name}", daemon=True)
    reader.start()
    try:
        while (item := frames.get()) is not None:
            last_index = item.index
            yield item
        if failure:
            raise VideoError(f"{info.path}: decoding failed after frame {last_index} ({failure[0]})")
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue
            try:
                frames.get_nowait()
            except queue.Empty:
                reader.join(timeout=0.05)


@dataclass
class ReadStats:
    bad_frames: int = 0
    ended_early_at: int | None = None


@dataclass
class ReplaySummary:
    """What an operator wants to know after a replay."""

    camera: str
    frames: int = 0
    video_seconds: float = 0.0
    wall_seconds: float = 0.0
    people_seen: set[int] = field(default_factory=set)
    peak: dict[str, int] = field(default_factory=dict)
    over_limit_s: dict[str, float] = field(default_factory=dict)
    spacing_violations: int = 0
    crossings: dict[str, dict[str, int]] = field(default_factory=dict)
    bad_frames: int = 0
    limits: dict[str, int] = field(default_factory=dict)
    calibration: CalibrationReport | None = None
    _last_t_s: float | None = None

    @classmethod
    def for_hall(
        cls, hall: HallConfig, camera: str, calibration: CalibrationReport | None = None
    ) -> ReplaySummary:
        """An empty summary that knows the limits of the camera's zones (the pipeline's own)."""
        limits = {limit.zone: limit.limit for limit in zone_limits(hall.zones_for(camera))}
        return cls(camera=camera, limits=limits, calibration=calibration)

    def add(self, state: HallState) -> None:
        """Count one frame's state in; `video_seconds` is set by `replay`, which knows the frame rate."""
        dt = 0.0 if self._last_t_s is None else max(state.t_s - self._last_t_s, 0.0)
        self._last_t_s = state.t_s
        self.frames += 1
        self.people_seen.update(int(i) for i in state.people.ids if i >= 0)
        for zone, count in state.zone_counts.items():
            self.peak[zone] = max(self.peak.get(zone, 0), count)
            if zone in self.limits and count > self.limits[zone]:
                self.over_limit_s[zone] = self.over_limit_s.get(zone, 0.0) + dt
        self.spacing_violations += sum(e.type == "spacing_violation_started" for e in state.events)
        self.crossings = state.crossings

    def as_dict(self) -> dict[str, Any]:
        return {
            "camera": self.camera,
            "frames": self.frames,
            "bad_frames": self.bad_frames,
            "video_seconds": round(self.video_seconds, 2),
            "frames_per_second": round(self.frames / self.wall_seconds, 2) if self.wall_seconds else None,
            "people_seen": len(self.people_seen),
            "peak": self.peak,
            "limits": self.limits,
            "over_limit_s": {k: round(v, 1) for k, v in self.over_limit_s.items()},
            "spacing_violations": self.spacing_violations,
            "crossings": self.crossings,
            "calibration": None if self.calibration is None else asdict(self.calibration),
        }


def frame_record(state: HallState) -> dict[str, Any]:
    """The JSON object written for one frame (see README: replay output).

    `people` holds the people seen (with their floor uncertainty `sigma_m`), then the people still
    counted though hidden behind others in this frame (`"hidden": true`, at their predicted
    position). `violations` holds every pair whose estimated distance is under the minimum, each
    `certain` or not; `possible` the pairs at or over it whose uncertainty band reaches under it.
    A site's fused state (several cameras) adds, per person, the `cameras` that saw them; zones no
    camera covers are `null`, and cameras left out of the step (lagging) are listed in `left_out`.
    """
    people, hidden = state.people, state.hidden
    fused = bool(state.seen_by) or state.camera == "fused"
    seen = [
        {
            "id": int(people.ids[i]),
            "floor": _xy(people.floor_xy[i], 3),
            "image": None if fused else _xy(people.image_xy[i], 1),
            "conf": round(float(people.scores[i]), 3),
            "sigma_m": round(float(people.sigma_m[i]), 3),
            "zone": state.zone_of.get(int(people.ids[i])),
            "dwell_s": _rounded(state.dwell_s.get(int(people.ids[i]))),
        }
        | ({"cameras": list(state.seen_by.get(int(people.ids[i]), ()))} if fused else {})
        for i in range(len(people))
    ]
    record = {
        "frame": state.frame,
        "camera": state.camera,
        "t_s": round(state.t_s, 3),
        "people": seen
        + [
            {"id": int(hidden.ids[i]), "floor": _xy(hidden.floor_xy[i], 3), "hidden": True}
            for i in range(len(hidden))
        ],
        "zones": {**state.zone_counts, **dict.fromkeys(state.uncovered)},
        "violations": [_pair(v) for v in state.violations],
        "possible": [_pair(v) for v in state.possible],
        "crossings": state.crossings,
        "events": [{k: v for k, v in _event_dict(e).items() if v not in (None, ())} for e in state.events],
    }
    if state.left_out:
        record["left_out"] = list(state.left_out)
    return record


def _xy(point: NDArray[np.float64], digits: int) -> list[float]:
    return [round(float(point[0]), digits), round(float(point[1]), digits)]


def _pair(pair: Violation) -> dict[str, Any]:
    return {
        "a": pair.a,
        "b": pair.b,
        "distance_m": round(pair.distance_m, 3),
        "uncertainty_m": round(pair.uncertainty_m, 3),
        "certain": pair.certain,
    }


def _event_dict(event: HallEvent) -> dict[str, Any]:
    return {
        "type": event.type,
        "t_s": round(event.t_s, 3),
        "zone": event.zone,
        "count": event.count,
        "limit": event.limit,
        "people": list(event.people) or None,
        "distance_m": _rounded(event.distance_m),
        "floor": [round(event.floor[0], 3), round(event.floor[1], 3)] if event.floor else None,
        "duration_s": _rounded(event.duration_s),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def replay(
    info: VideoInfo,
    processor: FrameProcessor,
    out: TextIO,
    summary: ReplaySummary,
    *,
    max_frames: int | None = None,
    on_frame: Callable[[VideoFrame, FrameResult], None] | None = None,
) -> ReplaySummary:
    """Run every frame of a video through `processor`, writing one JSON line per frame to `out`.

    Raises:
        VideoError: the decoder failed part-way (the frames before it are written).
    """
    stats = ReadStats()
    started = time.perf_counter()
    for item in read_frames(info, max_frames, stats):
        result = processor.process(item.image, item.index, item.t_s)
        state = result.state
        out.write(json.dumps(frame_record(state), separators=(",", ":")))
        out.write("\n")
        summary.add(state)
        # Up to the end of this frame: N frames at 5 frames/s are N / 5 seconds of video.
        summary.video_seconds = (item.index + 1) / info.fps
        if on_frame is not None:
            on_frame(item, result)
    summary.wall_seconds = time.perf_counter() - started
    summary.bad_frames = stats.bad_frames
    if stats.bad_frames:
        log.warning("%s: %d frames could not be decoded and were skipped", info.path, stats.bad_frames)
    if stats.ended_early_at is not None:
        log.warning(
            "%s: the video ended at frame %d of %d it announces (truncated or corrupt)",
            info.path,
            stats.ended_early_at,
            info.frame_count,
        )
    return summary
