"""A `FrameProcessor` that sees the generated site (`vision.synthetic_site`) on the wall clock.

Each node process loads it with `hallwatch edge run --processor site_scene_processor:factory` (this
folder on PYTHONPATH). Every frame the node reads from its real source, it takes the moment of the
scene (seconds since the time in the file `HALLWATCH_E2E_EPOCH_FILE`, which the test writes once
every node is running; until then, and after `HALLWATCH_E2E_DURATION_S`, the hall is empty), gives
the camera's detections of the people there (`vision.synthetic.detect`), and runs them through the
camera's real tracker and floor pipeline: the node's whole pipeline but the detector, so that what
the nodes publish and the server fuses can be held against where people were.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from edge.config import NodeConfig
from vision.calibration import calibration_from_config
from vision.pipeline import HallPipeline
from vision.processor import FrameResult
from vision.synthetic import detect
from vision.synthetic_site import IMAGE_SIZE, generated_site
from vision.tracking import PersonTracker

EPOCH_FILE = Path(os.environ.get("HALLWATCH_E2E_EPOCH_FILE", "epoch"))
DURATION_S = float(os.environ.get("HALLWATCH_E2E_DURATION_S", "36"))
SITE = generated_site(duration_s=DURATION_S)


class SceneCamera:
    def __init__(self, config: NodeConfig, camera_id: str) -> None:
        self.camera_id = camera_id
        self.pose = SITE.poses[camera_id]
        calibration = calibration_from_config(config.camera(camera_id).calibration)
        self.tracker = PersonTracker(config.tracking, confidence=0.25)
        self.pipeline = HallPipeline(config, camera_id, calibration)
        self.epoch: float | None = None

    def process(self, image_bgr: NDArray[np.uint8], frame: int, t_s: float) -> FrameResult:
        if self.epoch is None and EPOCH_FILE.exists():
            self.epoch = float(EPOCH_FILE.read_text())
        moment = -1.0 if self.epoch is None else time.time() - self.epoch
        people = SITE.truth(moment) if 0.0 <= moment <= DURATION_S else []
        detections, _ = detect(self.pose, people, IMAGE_SIZE, noise_share=0.013, seed=frame)
        tracked = self.tracker.update(detections)
        return FrameResult(self.pipeline.step(frame, t_s, tracked, IMAGE_SIZE), tracked)


def factory(config: NodeConfig, camera_id: str) -> SceneCamera:
    return SceneCamera(config, camera_id)
