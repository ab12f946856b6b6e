"""The examples in the vision core's docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "vision.anchors",
    "vision.calibration",
    "vision.calibration_report",
    "vision.camera",
    "vision.counting",
    "vision.coverage",
    "vision.crossings",
    "vision.frame_rate",
    "vision.fusion",
    "vision.detections",
    "vision.pipeline",
    "vision.placement",
    "vision.pose_head",
    "vision.site_pipeline",
    "vision.smoothing",
    "vision.spacing",
    "vision.tracking",
    "vision.zones",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
