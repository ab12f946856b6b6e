"""Where a node gets its per-camera `FrameProcessor`s.

The node takes a `ProcessorFactory`: given the node's config and a camera id, a processor for that
camera. `PipelineProcessors` is the real one (detector + ByteTrack + floor pipeline, one detector
shared by every camera with the same detector settings). `load_processor_factory` resolves
`module:attribute` for `hallwatch edge run --processor` (hidden from help): the tests use it to run
a real node process, with real sources, outbox and broker, around a scripted processor.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from edge.config import NodeConfig

if TYPE_CHECKING:
    from vision.config import DetectorConfig
    from vision.detections import Detector
    from vision.processor import FrameProcessor

log = logging.getLogger(__name__)

ProcessorFactory = Callable[[NodeConfig, str], "FrameProcessor"]


class ProcessorError(Exception):
    """A camera's pipeline cannot be built; the text says which camera and why."""


class PipelineProcessors:
    """The real pipeline: `vision.processor.CameraProcessor` around a shared detector.

    Detectors are loaded on first use and shared by every camera with the same detector settings
    and image size (a detector serialises its calls).
    """

    def __init__(self) -> None:
        self._detectors: dict[tuple[DetectorConfig, int], Detector] = {}
        self._lock = threading.Lock()

    def detector(self, config: DetectorConfig, imgsz: int) -> Detector:
        from models.loader import load_detector

        with self._lock:
            key = (config, imgsz)
            if key not in self._detectors:
                self._detectors[key] = load_detector(config, imgsz)
            return self._detectors[key]

    def __call__(self, config: NodeConfig, camera_id: str) -> FrameProcessor:
        from models.catalog import ModelError
        from vision.calibration import CalibrationError
        from vision.processor import CameraProcessor

        camera = config.camera(camera_id)
        try:
            detector = self.detector(camera.detector, camera.effective_imgsz)
            return CameraProcessor.from_config(config, camera_id, detector)
        except CalibrationError as exc:
            raise ProcessorError(f"cameras[{camera_id}].calibration: {exc}") from None
        except ModelError as exc:
            raise ProcessorError(f"{camera_id}: cannot load the detector: {exc}") from None


def load_processor_factory(spec: str) -> ProcessorFactory:
    """Resolve `package.module:attribute` to a processor factory.

    Raises:
        ProcessorError: the module or attribute cannot be found, or is not callable.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ProcessorError(f"--processor {spec!r}: expected MODULE:ATTRIBUTE")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProcessorError(f"--processor {spec!r}: cannot import {module_name} ({exc})") from None
    factory: Any = getattr(module, attr, None)
    if not callable(factory):
        raise ProcessorError(f"--processor {spec!r}: {module_name} has no callable {attr!r}")
    log.warning("using the processor factory %s instead of the detector pipeline", spec)
    result: ProcessorFactory = factory
    return result
