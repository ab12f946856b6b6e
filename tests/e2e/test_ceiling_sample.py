"""The real ceiling fisheye sample (CEPDOF, ../shared/data, not in the repo), scored in image space:
the detector at imgsz 960 finds the annotated people, and the head anchor lands inside them.

Skipped only where the sample is absent (a machine without the shared evaluation data).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from support.paths import SHARED_DATA

from models.loader import load_detector
from vision.accuracy import score_image_points
from vision.anchors import anchor_points
from vision.config import DetectorConfig

SAMPLE = SHARED_DATA / "ceiling-fisheye-sample"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"{SAMPLE} (shared evaluation data) is not here"),
]


def test_head_anchor_lands_inside_the_annotated_people() -> None:
    annotations = json.loads((SAMPLE / "annotations" / "video_0.json").read_text())
    truth: dict[str, list[list[float]]] = {}
    for item in annotations["annotations"]:
        truth.setdefault(item["image_id"], []).append(item["bbox"])
    detector = load_detector(DetectorConfig(backend="openvino", imgsz=960), 960)
    heads, centres, boxes = [], [], []
    for image_id, people in sorted(truth.items()):
        found = detector.detect(cv2.imread(str(SAMPLE / "video_0" / f"{image_id}.jpg")))
        found = found.take(np.argsort(-found.scores))
        found = found.take(found.scores >= 0.25)
        heads.append(anchor_points(found, "head", 0.5))
        centres.append(anchor_points(found, "center", 0.5))
        boxes.append(people)

    head = score_image_points(heads, boxes)
    centre = score_image_points(centres, boxes)

    assert head.tp + head.fn == 70  # the sample's annotated people
    assert head.precision >= 0.8 and head.recall >= 0.9, head
    assert centre.precision >= 0.8 and centre.recall >= 0.9, centre
