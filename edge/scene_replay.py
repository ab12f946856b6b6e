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
from vision.calibration import FloorCalibration, calibrate
from vision.camera import CameraPose
from vision.config import HallConfig
from vision.pipeline import HallPipeline
from vision.synthetic import (
    WalkingScene,
    calibrate_camera,
    detect,
    fisheye_camera,
    grid_marks,
    pinhole_camera,
)
from vision.tracking import PersonTracker

ZONES = [
    {"id": "hall", "kind": "hall", "capacity": 30, "polygon": [[0, 0], [12, 0], [12, 10], [0, 10]]},
    {"id": "window-1", "kind": "window", "max_people": 2, "polygon": [[2, 8], [4, 8], [4, 10], [2, 10]]},
    {"id": "window-2", "kind": "window", "max_people": 2, "polygon": [[8, 8], [10, 8], [10, 10], [8, 10]]},
    {"id": "queue-1", "kind": "queue", "window": "window-1", "polygon": [[2, 4], [4, 4], [4, 8], [2, 8]]},
]


def scene_camera(kind: str) -> tuple[CameraPose, tuple[int, int], FloorCalibration, HallConfig]:
    """One of the harness's cameras over a 12 x 10 m hall with two windows and a queue.

    Args:
        kind: "oblique" (5 m up, tilted 55 degrees, feet anchor), "ceiling pinhole" (6 m up, looking
            down, head anchor) or "ceiling fisheye" (3.5 m up, head anchor).

    Returns:
        The camera, its image size, its calibration (from floor marks, 0.5 px click noise), and the hall.
    """
    if kind == "oblique":
        size = (1280, 720)
        pose = pinhole_camera(height_m=5.0, tilt_deg=55, image_size=size, hfov_deg=70, over_xy=(6, -4))
        anchor = "feet"
        extra: dict[str, Any] = {}
    elif kind == "ceiling pinhole":
        size = (1280, 1080)
        pose = pinhole_camera(height_m=6.0, tilt_deg=0, image_size=size, hfov_deg=110, over_xy=(6, 5))
        anchor, extra = "head", {"mounting_height_m": 6.0}
    else:
        size = (1536, 1536)
        pose = fisheye_camera(height_m=3.5, image_size=size, over_xy=(6, 5))
        anchor = "head"
    marks = calibrate_camera(pose, grid_marks(5.0, 1.25, (6, 5)), size, noise_px=0.5)
    calibration = calibrate(marks.image_points, marks.floor_points, pose.lens)
    if pose.lens is not None:
        lens = {
            "camera_matrix": pose.lens.camera_matrix.tolist(),
            "distortion": pose.lens.distortion.tolist(),
        }
        extra = {"lens": {"model": "fisheye", **lens}}
    camera = {
        "id": "cam",
        "source": "synthetic",
        "anchor": anchor,
        "calibration": {
            "image_points": calibration.image_points.tolist(),
            "floor_points": calibration.floor_points.tolist(),
            **extra,
        },
    }
    hall = HallConfig.model_validate(
        {"site": "synthetic", "cameras": [camera], "zones": ZONES, "spacing": {"min_distance_m": 1.0}}
    )
    return pose, size, calibration, hall


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
