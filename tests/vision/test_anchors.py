"""Anchor points: feet, head or box centre, with keypoint confidence and fallbacks."""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest

from vision.anchors import anchor_points
from vision.config import Anchor
from vision.detections import (
    KEYPOINTS,
    LEFT_ANKLE,
    LEFT_EAR,
    LEFT_EYE,
    NOSE,
    RIGHT_ANKLE,
    RIGHT_EAR,
    RIGHT_EYE,
    Detections,
)

BOX = [100.0, 50.0, 140.0, 250.0]  # centre (120, 150), bottom centre (120, 250)
CONF = 0.5


def person(keypoints: dict[int, tuple[float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints `(17, 2)` and scores `(17,)` from {index: (x, y, score)}; others at (0, 0), score 0."""
    xy = np.zeros((KEYPOINTS, 2), np.float32)
    conf = np.zeros(KEYPOINTS, np.float32)
    for index, (x, y, score) in keypoints.items():
        xy[index] = (x, y)
        conf[index] = score
    return xy, conf


def detections(*people: dict[int, tuple[float, float, float]]) -> Detections:
    xy, conf = zip(*(person(p) for p in people), strict=True) if people else ((), ())
    n = len(people)
    return Detections.from_boxes(
        np.tile(np.array(BOX, np.float32), (n, 1)),
        np.full(n, 0.9, np.float32),
        np.array(xy, np.float32).reshape(n, KEYPOINTS, 2),
        np.array(conf, np.float32).reshape(n, KEYPOINTS),
    )


CASES = [
    # The feet are where the box ends: real footage placed keypoint-based feet 0.37 m too far.
    pytest.param(
        "feet", {LEFT_ANKLE: (110, 240, 0.9), RIGHT_ANKLE: (130, 244, 0.8)}, (120, 250), id="feet: box bottom"
    ),
    pytest.param("feet", {}, (120, 250), id="feet no keypoints"),
    pytest.param("feet", {NOSE: (120, 60, 0.99)}, (120, 250), id="feet ignores the head"),
    pytest.param(
        "head",
        {NOSE: (120, 60, 0.9), LEFT_EYE: (116, 58, 0.9), RIGHT_EYE: (124, 58, 0.9), LEFT_EAR: (112, 60, 0.9)},
        (118, 59),
        id="head four points: their mean",
    ),
    pytest.param("head", {RIGHT_EAR: (131, 62, 0.6), NOSE: (0, 0, 0.1)}, (131, 62), id="head one point"),
    pytest.param("head", {NOSE: (120, 60, 0.4)}, (120, 150), id="head none: box centre"),
    pytest.param("head", {LEFT_ANKLE: (110, 240, 0.9)}, (120, 150), id="head ignores the ankles"),
    pytest.param("center", {LEFT_ANKLE: (110, 240, 0.9), NOSE: (120, 60, 0.9)}, (120, 150), id="center"),
]


@pytest.mark.parametrize(("anchor", "keypoints", "expected"), CASES)
def test_anchor_point(
    anchor: Anchor, keypoints: dict[int, tuple[float, float, float]], expected: tuple[float, float]
) -> None:
    out = anchor_points(detections(keypoints), anchor, CONF)
    assert out.dtype == np.float64
    assert out.shape == (1, 2)
    np.testing.assert_allclose(out[0], expected, atol=1e-4)


@pytest.mark.parametrize("anchor", ["feet", "head", "center"])
def test_many_people_at_once_match_one_at_a_time(anchor: Anchor) -> None:
    people = [cast(dict[int, tuple[float, float, float]], case.values[1]) for case in CASES]
    together = anchor_points(detections(*people), anchor, CONF)
    one_by_one = np.vstack([anchor_points(detections(p), anchor, CONF) for p in people])
    np.testing.assert_array_equal(together, one_by_one)


@pytest.mark.parametrize("anchor", ["feet", "head", "center"])
def test_no_people(anchor: Anchor) -> None:
    out = anchor_points(Detections.empty(), anchor, CONF)
    assert out.shape == (0, 2)
    assert out.dtype == np.float64


def test_boxes_differ_per_person() -> None:
    boxes = np.array([[0, 0, 10, 20], [100, 100, 120, 180]], np.float32)
    d = Detections.from_boxes(boxes, np.array([0.9, 0.8]))
    np.testing.assert_allclose(anchor_points(d, "feet", CONF), [[5, 20], [110, 180]])
    np.testing.assert_allclose(anchor_points(d, "center", CONF), [[5, 10], [110, 140]])


def test_unknown_anchor_is_refused() -> None:
    with pytest.raises(ValueError, match="anchor must be"):
        anchor_points(Detections.empty(), "knees", CONF)  # type: ignore[arg-type]
