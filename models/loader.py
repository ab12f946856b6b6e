"""From a camera's detector settings to a ready `PersonDetector`."""

from __future__ import annotations

import logging

from models.export import resolve
from vision.config import DetectorConfig
from vision.detector import PersonDetector

log = logging.getLogger(__name__)


def load_detector(config: DetectorConfig, imgsz: int | None = None) -> PersonDetector:
    """Resolve the configured model and backend (exporting to OpenVINO on first use) and load it.

    Raises:
        models.catalog.ModelError: the weights are missing or damaged, or the backend cannot load.
    """
    size = imgsz if imgsz is not None else config.imgsz
    model = resolve(config.model, config.backend, size)
    log.info("detector %s: %s backend at imgsz %d (%s)", model.spec.name, model.backend, size, model.path)
    return PersonDetector(model.path, imgsz=size, confidence=config.confidence, backend=model.backend)
