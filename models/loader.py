"""From a camera's detector settings to a ready detector.

OpenVINO backends get `vision.openvino_detector.OpenVinoPoseDetector` (OpenVINO's own runtime,
frames pipelined through its async queue); PyTorch gets the ultralytics adapter
(`vision.detector.PersonDetector`). Both return the same `Detections`.
"""

from __future__ import annotations

import logging

from models.catalog import ModelError
from models.export import resolve
from vision.config import DetectorConfig
from vision.detections import Detector

log = logging.getLogger(__name__)


def load_detector(config: DetectorConfig, imgsz: int | None = None) -> Detector:
    """Resolve the configured model and backend (exporting to OpenVINO on first use) and load it.

    Raises:
        models.catalog.ModelError: the weights are missing or damaged, or the backend cannot load.
    """
    size = imgsz if imgsz is not None else config.imgsz
    model = resolve(config.model, config.backend, size)
    log.info("detector %s: %s backend at imgsz %d (%s)", model.spec.name, model.backend, size, model.path)
    if model.backend == "pytorch":
        from vision.detector import PersonDetector

        return PersonDetector(model.path, imgsz=size, confidence=config.confidence, backend=model.backend)
    from vision.openvino_detector import OpenVinoPoseDetector

    try:
        return OpenVinoPoseDetector(
            model.path, imgsz=size, confidence=config.confidence, backend=model.backend
        )
    except (RuntimeError, ValueError, FileNotFoundError) as exc:  # OpenVINO raises RuntimeError
        raise ModelError(f"cannot load the OpenVINO model in {model.path}: {exc}") from exc
