"""The real detector on the photos that ship inside the ultralytics wheel, on both backends."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from models.loader import load_detector
from vision.config import DetectorConfig
from vision.detector import PersonDetector

EXPECTED_PEOPLE = {"bus.jpg": 4, "zidane.jpg": 2}


@pytest.fixture(scope="module", params=["pytorch", "openvino"])
def detector(request: pytest.FixtureRequest) -> PersonDetector:
    return load_detector(DetectorConfig(backend=request.param, imgsz=640))


@pytest.mark.parametrize("image_name", sorted(EXPECTED_PEOPLE))
def test_counts_the_people_in_the_reference_photos(
    detector: PersonDetector, ultralytics_assets: Path, image_name: str
) -> None:
    image = cv2.imread(str(ultralytics_assets / image_name))
    found = detector.detect(image)
    confident = found.take(found.scores >= detector.confidence)
    assert len(confident) == EXPECTED_PEOPLE[image_name]
    h, w = image.shape[:2]
    assert (confident.boxes_xyxy[:, [0, 2]] >= -1).all() and (confident.boxes_xyxy[:, [0, 2]] <= w + 1).all()
    assert (confident.boxes_xyxy[:, [1, 3]] >= -1).all() and (confident.boxes_xyxy[:, [1, 3]] <= h + 1).all()
    # Every clearly seen person has keypoints inside its own box (padding for limbs the box clips).
    clear = confident.take(confident.scores > 0.8)
    assert len(clear) >= EXPECTED_PEOPLE[image_name] - 1
    for box, kps, conf in zip(clear.boxes_xyxy, clear.keypoints_xy, clear.keypoints_conf, strict=True):
        seen = kps[conf > 0.5]
        assert len(seen) > 0
        assert (seen[:, 0] >= box[0] - 20).all() and (seen[:, 0] <= box[2] + 20).all()


def test_an_empty_frame_has_nobody(detector: PersonDetector) -> None:
    assert len(detector.detect(np.full((480, 640, 3), 127, np.uint8))) == 0


def test_both_backends_find_the_same_boxes(ultralytics_assets: Path) -> None:
    image = cv2.imread(str(ultralytics_assets / "bus.jpg"))
    results = {}
    for backend in ("pytorch", "openvino"):
        found = load_detector(DetectorConfig(backend=backend, imgsz=640)).detect(image)
        confident = found.take(found.scores >= 0.25)
        results[backend] = confident.boxes_xyxy[np.argsort(confident.boxes_xyxy[:, 0])]
    assert results["pytorch"].shape == results["openvino"].shape
    np.testing.assert_allclose(results["pytorch"], results["openvino"], atol=4.0)
