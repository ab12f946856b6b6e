"""The INT8 detector: calibration pictures made from the wheel's photos, and a quantized model that
finds the same people as the FP32 one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from models.catalog import spec_for, verified_weights
from models.export import export_openvino, resolve
from models.quantize import calibration_frames, int8_dir
from vision.detector import PersonDetector


def test_calibration_frames_are_network_inputs_made_from_the_photos() -> None:
    frames = calibration_frames(320, count=6)
    assert len(frames) == 6
    for frame in frames:
        assert frame.shape == (1, 3, 320, 320) and frame.dtype == np.float32
        assert float(frame.min()) >= 0.0 and float(frame.max()) <= 1.0
    assert not np.allclose(frames[0], frames[1])  # crops and mosaics differ
    np.testing.assert_array_equal(calibration_frames(320, count=2), calibration_frames(320, count=2))


@pytest.mark.slow
def test_int8_finds_the_people_fp32_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ultralytics_assets: Path
) -> None:
    monkeypatch.setenv("HALLWATCH_MODEL_CACHE", str(tmp_path))
    spec = spec_for("yolo11n-pose")
    model = resolve("yolo11n-pose", "openvino-int8", 320)
    assert model.backend == "openvino-int8" and model.path == int8_dir(spec, 320)
    assert any(model.path.glob("*.xml")) and (model.path / "metadata.yaml").is_file()
    int8 = PersonDetector(model.path, 320, backend="openvino")
    fp32 = PersonDetector(export_openvino(spec, verified_weights(spec), 320), 320, backend="openvino")
    image = cv2.imread(str(ultralytics_assets / "bus.jpg"))
    quantized, reference = int8.detect(image), fp32.detect(image)
    confident = reference.boxes_xyxy[reference.scores >= 0.5]
    found = quantized.boxes_xyxy[quantized.scores >= 0.25]
    assert len(confident) >= 3
    for box in confident:  # every confident FP32 person is found by INT8 in about the same place
        overlap = [_iou(box, other) for other in found]
        assert overlap and max(overlap) > 0.7
    assert resolve("yolo11n-pose", "openvino-int8", 320).path == model.path  # cached, not quantized again


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))
