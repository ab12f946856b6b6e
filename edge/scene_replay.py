"""Replay an exact-geometry scene (`vision.synthetic`) through the real tracker and pipeline.

What `hallwatch replay` does with a video, minus the detector: each frame's people are turned into
the detections a good detector would report, tracked by ByteTrack, placed and counted by the
pipeline, and written as replay records, next to the floor truth. Tests and benchmarks score the
two with `vision.accuracy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.replay import frame_record
from vision.accuracy import FramePrediction, FrameTruth
from vision.calibration import FloorCalibration
from vision.camera import CameraPose
from vision.config import HallConfig
from vision.pipeline import HallPipeline
from vision.synthetic import WalkingScene, detect
from vision.tracking import PersonTracker


@dataclass(frozen=True)
class SceneRun:
    """A scene's replay records and its truth, frame by frame."""

    records: list[dict[str, Any]]
    truth: list[FrameTruth]

    def predictions(self, *, include_hidden: bool = True) -> list[FramePrediction]:
        return [FramePrediction.from_record(r, include_hidden=include_hidden) for r in self.records]


def replay_scene(
    scene: WalkingScene,
    hall: HallConfig,
    camera_id: str,
    pose: CameraPose,
    calibration: FloorCalibration,
    image_size: tuple[int, int],
    *,
    noise_share: float = 0.0,
    seed: int = 0,
) -> SceneRun:
    """Run every frame of `scene`, seen by `pose`, through tracking and the pipeline.

    Args:
        noise_share: detector noise on box edges and keypoints, as a share of the box's height.
    """
    tracker = PersonTracker(hall.tracking, confidence=hall.camera(camera_id).detector.confidence)
    pipeline = HallPipeline(hall, camera_id, calibration)
    records, truth = [], []
    for frame, t_s, people in scene.frames():
        detections, _ = detect(pose, people, image_size, noise_share=noise_share, seed=seed * 100_003 + frame)
        state = pipeline.step(frame, t_s, tracker.update(detections), image_size)
        records.append(frame_record(state))
        truth.append(
            FrameTruth(
                frame,
                np.array([p.id for p in people], np.int64),
                np.array([(p.x_m, p.y_m) for p in people], np.float64).reshape(-1, 2),
            )
        )
    return SceneRun(records, truth)
