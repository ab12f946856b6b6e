"""Our OpenVINO adapter finds the same people as the ultralytics one, also with frames pipelined.

The reference is ultralytics' own OpenVINO path (`vision.detector.PersonDetector` on the same
cached export). For FP32 both letterbox the same way (the rect letterbox of a dynamic export); the
two runtimes compile the model for different shapes, so numbers differ by rounding only. INT8 on
a CPU with AMX makes ultralytics letterbox to a square (it runs INT8 with static shapes there), so
INT8 is compared on square crops, where both inputs are the same.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from support.paths import VTEST

from models.export import resolve
from vision.detections import Detections, PipelinedDetector
from vision.detector import PersonDetector
from vision.openvino_detector import MAX_SHAPES, OpenVinoPoseDetector
from vision.pose_head import letterbox_geometry

CONFIDENT = 0.25


def _vtest_frames(every: int = 60, count: int = 5) -> list[NDArray[np.uint8]]:
    capture = cv2.VideoCapture(str(VTEST))
    frames = []
    for index in range(every * count):
        ok, frame = capture.read()
        assert ok, f"cannot read frame {index} of {VTEST}"
        if index % every == 0:
            frames.append(frame)
    capture.release()
    return frames


def _iou(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float64]:
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return np.asarray(inter / (area_a[:, None] + area_b[None, :] - inter), np.float64)


def assert_same_people(reference: Detections, ours: Detections, *, box_px: float, kp_px: float) -> None:
    """Every confident person of one is a confident person of the other, at the same place."""
    ref = reference.take(reference.scores >= CONFIDENT)
    got = ours.take(ours.scores >= CONFIDENT)
    assert len(ref) == len(got), (ref.scores, got.scores)
    if not len(ref):
        return
    rows, cols = linear_sum_assignment(-_iou(ref.boxes_xyxy, got.boxes_xyxy))
    assert (_iou(ref.boxes_xyxy, got.boxes_xyxy)[rows, cols] > 0.95).all()
    np.testing.assert_allclose(got.boxes_xyxy[cols], ref.boxes_xyxy[rows], atol=box_px)
    np.testing.assert_allclose(got.scores[cols], ref.scores[rows], atol=0.02)
    seen = (ref.keypoints_conf[rows] > 0.5) & (got.keypoints_conf[cols] > 0.5)
    np.testing.assert_allclose(got.keypoints_xy[cols][seen], ref.keypoints_xy[rows][seen], atol=kp_px)
    np.testing.assert_allclose(got.keypoints_conf[cols], ref.keypoints_conf[rows], atol=0.03)


@pytest.fixture(scope="module")
def photos(ultralytics_assets: Path) -> dict[str, NDArray[np.uint8]]:
    images = {name: cv2.imread(str(ultralytics_assets / name)) for name in ("bus.jpg", "zidane.jpg")}
    images |= {f"vtest-{i}": frame for i, frame in enumerate(_vtest_frames())}
    return images


@pytest.fixture(scope="module", params=[640, 960])
def fp32_pair(request: pytest.FixtureRequest) -> tuple[PersonDetector, OpenVinoPoseDetector]:
    model = resolve("yolo11n-pose", "openvino", request.param)
    return (
        PersonDetector(model.path, request.param, backend="openvino"),
        OpenVinoPoseDetector(model.path, request.param),
    )


def test_fp32_finds_the_same_people_as_ultralytics(
    fp32_pair: tuple[PersonDetector, OpenVinoPoseDetector], photos: dict[str, NDArray[np.uint8]]
) -> None:
    reference, ours = fp32_pair
    found = 0
    for name, image in photos.items():
        expected = reference.detect(image)
        got = ours.detect(image)
        try:
            # 3 px at these sizes is the runtimes' rounding (static and dynamic shapes compile apart).
            assert_same_people(expected, got, box_px=3.0, kp_px=3.0)
        except AssertionError as exc:
            raise AssertionError(f"{name} at imgsz {ours.imgsz}: {exc}") from None
        found += int((got.scores >= CONFIDENT).sum())
    assert found >= 8  # the comparison is about people, not about empty frames


def test_int8_finds_the_same_people_as_ultralytics_on_square_frames(
    photos: dict[str, NDArray[np.uint8]],
) -> None:
    model = resolve("yolo11n-pose", "openvino-int8", 960)
    reference = PersonDetector(model.path, 960, backend="openvino")
    ours = OpenVinoPoseDetector(model.path, 960, backend="openvino-int8")
    found = 0
    for name, image in photos.items():
        height, width = image.shape[:2]
        side = min(height, width)
        x0, y0 = (width - side) // 2, (height - side) // 2
        square = np.ascontiguousarray(image[y0 : y0 + side, x0 : x0 + side])
        expected, got = reference.detect(square), ours.detect(square)
        try:
            assert_same_people(expected, got, box_px=1.0, kp_px=1.0)
        except AssertionError as exc:
            raise AssertionError(f"{name}, centre square: {exc}") from None
        found += len(got.take(got.scores >= CONFIDENT))
    assert found >= 10


@pytest.fixture(scope="module")
def detector() -> OpenVinoPoseDetector:
    return OpenVinoPoseDetector(resolve("yolo11n-pose", "openvino", 640).path, 640)


def test_frames_in_flight_from_many_threads_each_get_their_own_people(
    detector: OpenVinoPoseDetector, photos: dict[str, NDArray[np.uint8]]
) -> None:
    assert isinstance(detector, PipelinedDetector)
    names = sorted(photos)
    alone = {name: detector.detect(photos[name]) for name in names}
    results: dict[tuple[int, str], Detections] = {}
    errors: list[BaseException] = []

    def camera(worker: int) -> None:
        try:
            # Each thread keeps several frames in flight, as a pipelined camera does.
            order = names[worker % len(names) :] + names[: worker % len(names)]
            pending = [(name, detector.submit(photos[name])) for name in order * 2]
            for name, handle in pending:
                results[(worker, name)] = handle.result(timeout=60)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert len(results) == 4 * len(names)
    for (_worker, name), found in results.items():
        # The same frame gives the same people whatever else was in inference meanwhile.
        np.testing.assert_array_equal(found.boxes_xyxy, alone[name].boxes_xyxy)
        np.testing.assert_array_equal(found.keypoints_xy, alone[name].keypoints_xy)


def test_a_frame_waits_when_every_request_is_busy_and_the_pending_one_says_when_done(
    detector: OpenVinoPoseDetector, photos: dict[str, NDArray[np.uint8]]
) -> None:
    image = photos["bus.jpg"]
    requests = detector.requests_for(image.shape[:2])
    assert requests >= 2  # the throughput hint gives at least one stream, plus one request spare
    pending = [detector.submit(image) for _ in range(3 * requests)]
    results = [p.result(timeout=60) for p in pending]
    assert all(p.done() for p in pending)
    assert len({len(r) for r in results}) == 1


def test_frames_of_other_sizes_compile_their_own_shape_and_old_shapes_go(
    detector: OpenVinoPoseDetector,
) -> None:
    sizes = [(480 + 32 * i, 640) for i in range(MAX_SHAPES + 2)]
    for height, width in sizes:
        assert len(detector.detect(np.full((height, width, 3), 90, np.uint8))) == 0
    compiled = list(detector._models)
    assert len(compiled) == MAX_SHAPES
    assert compiled[-1] == letterbox_geometry(sizes[-1], detector.imgsz).input_hw
    detector.close()  # waits for nothing in flight; the detector still works after it
    assert len(detector.detect(np.zeros((32, 32, 3), np.uint8))) == 0


def test_a_lower_score_floor_reports_weaker_people(
    detector: OpenVinoPoseDetector, photos: dict[str, NDArray[np.uint8]]
) -> None:
    image = photos["zidane.jpg"]
    default = detector.detect(image)
    assert default.scores.min() >= 0.1 - 1e-6
    low = detector.detect(image, min_score=0.01)
    assert len(low) >= len(default)
    assert low.scores.min() >= 0.01 - 1e-6


def test_a_model_that_is_not_a_pose_export_is_refused(tmp_path: Path) -> None:
    import openvino as ov
    import openvino.opset13 as ops

    image = ops.parameter([1, 3, 64, 64], ov.Type.f32, name="images")
    pooled = ops.reduce_mean(image, [2, 3], keep_dims=False)  # (1, 3): a classifier's shape
    ov.save_model(ov.Model([pooled], [image], "not-pose"), tmp_path / "model.xml")
    with pytest.raises(ValueError, match="not a YOLO pose export"):
        OpenVinoPoseDetector(tmp_path, 640)
    with pytest.raises(FileNotFoundError):
        OpenVinoPoseDetector(tmp_path / "nothing-here", 640)
