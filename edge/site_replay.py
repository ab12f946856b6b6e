"""Replay several cameras' recordings in lock step onto one floor (`hallwatch replay CAM=VIDEO ...`).

Frames of all cameras are taken in order of their frame time (not of how fast each file decodes);
each frame is detected and tracked by its camera, placed on the site's floor, and every frame of
the reference camera (the one with the most frames per second) closes a fusion step: one output line
with the same keys as a single camera's replay, `camera` set to "fused", and per person the cameras
that saw them.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TextIO

from edge.replay import ReplaySummary, VideoFrame, frame_record
from vision.detections import Detector
from vision.site_pipeline import SitePipeline
from vision.state import HallState
from vision.tracking import PersonTracker


def replay_site(
    frames: Mapping[str, Iterable[VideoFrame]],
    fps: Mapping[str, float],
    site: SitePipeline,
    detector: Detector,
    out: TextIO,
    summary: ReplaySummary,
    *,
    on_step: Callable[[HallState], None] | None = None,
) -> ReplaySummary:
    """Run every camera's frames through detection, tracking and the site's fused floor.

    Args:
        frames: per camera, its frames in order (each with its time `t_s` from the camera's start;
            the recordings are taken to start together).
        fps: per camera, its frame rate: the fastest camera's frames set the steps.
        site: the site's pipeline; its config names the cameras.
        detector: one detector for all cameras.
        out: where the JSON lines go.
        summary: what the operator reads afterwards (`camera` "fused").
    """
    trackers = {
        camera.id: PersonTracker(site.hall.tracking, confidence=camera.detector.confidence)
        for camera in site.hall.cameras
        if camera.id in frames
    }
    reference = max(frames, key=lambda cam: (fps[cam], cam))
    started = time.perf_counter()
    steps = 0
    for _, _, camera, item in _by_time(frames, reference):
        height, width = item.image.shape[:2]
        tracked = trackers[camera].update(detector.detect(item.image))
        site.observe(camera, item.index, item.t_s, tracked, (width, height))
        if camera != reference:
            continue
        state = site.step(steps)
        steps += 1
        out.write(json.dumps(frame_record(state), separators=(",", ":")))
        out.write("\n")
        summary.add(state)
        summary.video_seconds = (item.index + 1) / fps[reference]
        if on_step is not None:
            on_step(state)
    summary.wall_seconds = time.perf_counter() - started
    return summary


def _by_time(
    frames: Mapping[str, Iterable[VideoFrame]], reference: str
) -> Iterator[tuple[float, int, str, VideoFrame]]:
    """All cameras' frames by frame time; at equal times the reference camera's last, so a step sees
    the other cameras' frames of its own moment."""

    def keyed(camera: str, items: Iterable[VideoFrame]) -> Iterator[tuple[float, int, str, VideoFrame]]:
        last = int(camera == reference)
        for item in items:
            yield (item.t_s, last, camera, item)

    return heapq.merge(
        *(keyed(cam, items) for cam, items in frames.items()), key=lambda k: (k[0], k[1], k[2])
    )
