"""The person detector on OpenVINO's own runtime: the one place in the core that touches openvino.

`OpenVinoPoseDetector` reads the cached OpenVINO export of the pose model (`models/export.py`,
fp32 or INT8) and runs it through an `openvino.AsyncInferQueue`, so that several frames are in
inference at once: a camera's next frame while its last one is decoded, and the frames of every
camera that shares the detector. It returns the same `Detections` as the ultralytics adapter
(`vision/detector.py`), found by our own letterbox and decoding (`vision/pose_head.py`).

What happens where, per frame:

- the caller's thread letterboxes the frame into one uint8 array (the only copy of the frame);
  colour order, layout and the scaling to [0, 1] are compiled into the model (OpenVINO's
  pre-processing), so the array goes to the inference request as it is (shared, not copied);
- OpenVINO's threads run the model; when a request finishes, its callback copies out only the
  columns whose person score reaches the floor (a few dozen of thousands) and frees the request;
- the caller's thread (`PendingDetections.result`) runs NMS and maps people back to the frame.

Models are compiled for a fixed input shape (one per distinct letterboxed frame shape, usually
one per node): static shapes run faster than dynamic ones, and OpenVINO's CPU plugin fails on
INT8 models with dynamic shapes on CPUs with AMX (openvinotoolkit/openvino#37577).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vision.detections import Detections
from vision.pose_head import HEAD_ROWS, Letterbox, candidates, decode, letterbox, letterbox_geometry

log = logging.getLogger(__name__)

# The tracker's second association uses detections down to this score (see vision/detector.py).
LOW_SCORE_FLOOR = 0.1
# Letterboxed shapes compiled at once; a node's cameras usually share one, snapshots' tiles add one.
MAX_SHAPES = 4


class PendingDetections:
    """One frame in inference; `result` waits for it and decodes its people."""

    __slots__ = ("_box", "_done", "_error", "_input", "_rows")

    def __init__(self, box: Letterbox, image: NDArray[np.uint8]) -> None:
        self._box = box
        self._input: NDArray[np.uint8] | None = image  # shared with the request until it is done
        self._rows: NDArray[np.float32] | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()

    def done(self) -> bool:
        """Whether inference has finished (then `result` does not wait)."""
        return self._done.is_set()

    def result(self, timeout: float | None = None) -> Detections:
        """The frame's people, in its pixels, strongest first.

        Raises:
            TimeoutError: inference did not finish within `timeout` seconds.
            RuntimeError: inference failed (the text says why).
        """
        if not self._done.wait(timeout):
            raise TimeoutError(f"inference did not finish within {timeout} s")
        if self._error is not None:
            raise RuntimeError(f"inference failed: {self._error}") from self._error
        assert self._rows is not None
        return decode(self._rows, self._box)

    def _finish(self, raw: NDArray[np.float32] | None, min_score: float, error: BaseException | None) -> None:
        try:
            if error is None and raw is not None:
                self._rows = candidates(raw, min_score)
            else:
                self._error = error
        except BaseException as exc:  # never raise into OpenVINO's thread
            self._error = exc
        finally:
            self._input = None
            self._done.set()


class _Compiled:
    """One compiled model for one input shape, and its queue of inference requests."""

    def __init__(self, compiled: Any, requests: int) -> None:
        import openvino as ov

        self.compiled = compiled
        self.requests = requests
        self.queue = ov.AsyncInferQueue(compiled, requests)
        self.queue.set_callback(self._done)
        self.lock = threading.Lock()  # AsyncInferQueue is not documented as thread-safe

    @staticmethod
    def _done(request: Any, userdata: tuple[PendingDetections, float]) -> None:
        pending, min_score = userdata
        try:
            raw = request.get_output_tensor(0).data
        except BaseException as exc:
            pending._finish(None, min_score, exc)
            return
        pending._finish(raw, min_score, None)

    def start(self, image: NDArray[np.uint8], pending: PendingDetections, min_score: float) -> None:
        with self.lock:
            # Waits (without the GIL) while every request is busy; shares `image`, never copies it.
            self.queue.start_async({0: image[np.newaxis]}, (pending, min_score), share_inputs=True)

    def wait_all(self) -> None:
        self.queue.wait_all()


class OpenVinoPoseDetector:
    """YOLO pose on OpenVINO with frames pipelined through an async infer queue.

    Thread-safe: every camera of a node may call `submit` or `detect` at once; frames of the same
    letterboxed shape share one compiled model and its requests.

    Args:
        model_dir: the cached OpenVINO export (a folder with one `.xml` and its `.bin`).
        imgsz: inference size in pixels (the long side of the letterboxed frame).
        confidence: the configured minimum person score (detections go down to `LOW_SCORE_FLOOR`
            for the tracker, see `detect`).
        backend: what the loader resolved ("openvino" or "openvino-int8"), for reports.
        requests: inference requests per compiled shape; by default what OpenVINO finds optimal for
            throughput on this CPU (one per stream) plus one, so a stream never waits while a
            request's output is being read.
        streams: OpenVINO CPU streams; by default what its throughput hint picks.

    Example:
        >>> detector = OpenVinoPoseDetector(export_dir, 960)  # doctest: +SKIP
        >>> pending = [detector.submit(frame) for frame in frames]  # doctest: +SKIP
        >>> people = [p.result() for p in pending]  # doctest: +SKIP
    """

    def __init__(
        self,
        model_dir: Path,
        imgsz: int,
        confidence: float = 0.25,
        backend: str = "openvino",
        *,
        requests: int | None = None,
        streams: int | None = None,
    ) -> None:
        import openvino as ov

        xml = model_dir if model_dir.suffix == ".xml" else next(iter(sorted(model_dir.glob("*.xml"))), None)
        if xml is None:
            raise FileNotFoundError(f"no OpenVINO model (.xml) in {model_dir}")
        self.weights = model_dir
        self.imgsz = imgsz
        self.confidence = confidence
        self.backend = backend
        self._requests = requests
        self._streams = streams
        self._core = ov.Core()
        self._xml = xml
        self._model = self._core.read_model(xml)
        rows = self._model.outputs[0].get_partial_shape()[1]
        if len(self._model.outputs) != 1 or not rows.is_static or rows.get_length() != HEAD_ROWS:
            raise ValueError(
                f"{xml} is not a YOLO pose export: expected one output of {HEAD_ROWS} rows per anchor, "
                f"got {[str(o.get_partial_shape()) for o in self._model.outputs]}"
            )
        self._models: OrderedDict[tuple[int, int], _Compiled] = OrderedDict()
        self._models_lock = threading.Lock()

    # ---------------------------------------------------------------------------------- frames
    def submit(self, image_bgr: NDArray[np.uint8], min_score: float | None = None) -> PendingDetections:
        """Start finding the people in one BGR frame; returns at once unless every request is busy.

        Args:
            min_score: report detections down to this score (default: the lower of the configured
                confidence and `LOW_SCORE_FLOOR`, which the tracker's second association uses).
        """
        floor = min(self.confidence, LOW_SCORE_FLOOR) if min_score is None else min_score
        box = letterbox_geometry(image_bgr.shape[:2], self.imgsz)
        image = letterbox(image_bgr, box)
        pending = PendingDetections(box, image)
        self._compiled(box.input_hw).start(image, pending, floor)
        return pending

    def detect(self, image_bgr: NDArray[np.uint8], min_score: float | None = None) -> Detections:
        """People in one BGR frame (`submit` and wait): the same as `vision.detector.PersonDetector`."""
        return self.submit(image_bgr, min_score).result()

    def warm_up(self, shape: tuple[int, int] = (480, 640)) -> None:
        """Compile for frames of `shape` (height, width) and run once: the first real frame won't wait."""
        self.detect(np.zeros((*shape, 3), np.uint8))

    def requests_for(self, frame_hw: tuple[int, int]) -> int:
        """How many inference requests frames of this size share (compiling for it if needed)."""
        return self._compiled(letterbox_geometry(frame_hw, self.imgsz).input_hw).requests

    def close(self) -> None:
        """Wait for every frame in inference (a compiled model must not go while requests run)."""
        with self._models_lock:
            models = list(self._models.values())
        for model in models:
            model.wait_all()

    # ---------------------------------------------------------------------------------- models
    def _compiled(self, input_hw: tuple[int, int]) -> _Compiled:
        with self._models_lock:
            model = self._models.get(input_hw)
            if model is not None:
                self._models.move_to_end(input_hw)
                return model
            model = self._compile(input_hw)
            self._models[input_hw] = model
            while len(self._models) > MAX_SHAPES:
                _shape, old = self._models.popitem(last=False)
                old.wait_all()
            return model

    def _compile(self, input_hw: tuple[int, int]) -> _Compiled:
        import openvino as ov
        from openvino.preprocess import ColorFormat, PrePostProcessor

        height, width = input_hw
        model = self._model.clone()
        model.reshape([1, 3, height, width])
        ppp = PrePostProcessor(model)
        ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_color_format(
            ColorFormat.BGR
        )
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        ppp.input().preprocess().convert_element_type(ov.Type.f32).convert_color(ColorFormat.RGB).scale(255.0)
        config: dict[str, Any] = {"PERFORMANCE_HINT": "THROUGHPUT"}
        if self._streams is not None:
            config["NUM_STREAMS"] = self._streams
        compiled = self._core.compile_model(ppp.build(), "CPU", config)
        optimal = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        requests = self._requests if self._requests is not None else optimal + 1
        log.info(
            "OpenVINO %s at %dx%d: %s streams, %d inference requests (%s)",
            self._xml.name,
            width,
            height,
            compiled.get_property("NUM_STREAMS"),
            requests,
            self.backend,
        )
        return _Compiled(compiled, requests)
