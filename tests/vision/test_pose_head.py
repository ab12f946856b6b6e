"""Our letterbox and decoding of the pose head's raw output, with no model: inputs built by hand."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vision.detections import KEYPOINTS
from vision.pose_head import (
    HEAD_ROWS,
    PAD_VALUE,
    STRIDE,
    Letterbox,
    candidates,
    decode,
    letterbox,
    letterbox_geometry,
)


@pytest.mark.parametrize(
    ("frame_hw", "imgsz", "scale", "resized_wh", "input_hw", "left_top"),
    [
        ((576, 768), 960, 1.25, (960, 720), (736, 960), (0, 8)),  # vtest.avi: only rows padded
        ((1080, 810), 640, 640 / 1080, (480, 640), (640, 480), (0, 0)),  # bus.jpg: fits exactly
        ((720, 1280), 640, 0.5, (640, 360), (384, 640), (0, 12)),  # zidane.jpg
        ((768, 576), 960, 1.25, (720, 960), (960, 736), (8, 0)),  # portrait: columns padded
        ((960, 960), 960, 1.0, (960, 960), (960, 960), (0, 0)),  # square at its own size
        ((2048, 2048), 960, 960 / 2048, (960, 960), (960, 960), (0, 0)),  # ceiling fisheye
        ((100, 1000), 320, 0.32, (320, 32), (32, 320), (0, 0)),  # a thin strip
    ],
)
def test_letterbox_geometry(
    frame_hw: tuple[int, int],
    imgsz: int,
    scale: float,
    resized_wh: tuple[int, int],
    input_hw: tuple[int, int],
    left_top: tuple[int, int],
) -> None:
    box = letterbox_geometry(frame_hw, imgsz)
    assert box.scale == pytest.approx(scale)
    assert box.resized_wh == resized_wh
    assert box.input_hw == input_hw
    assert (box.left, box.top) == left_top
    assert box.frame_wh == (frame_hw[1], frame_hw[0])


def test_an_empty_frame_cannot_be_letterboxed() -> None:
    with pytest.raises(ValueError, match="nothing to letterbox"):
        letterbox_geometry((0, 640), 640)


@given(
    height=st.integers(1, 4000),
    width=st.integers(1, 4000),
    imgsz=st.sampled_from([320, 640, 960, 1280]),
)
def test_the_letterbox_holds_the_whole_frame_on_stride_multiples(height: int, width: int, imgsz: int) -> None:
    box = letterbox_geometry((height, width), imgsz)
    input_h, input_w = box.input_hw
    new_w, new_h = box.resized_wh
    assert input_h % STRIDE == 0 and input_w % STRIDE == 0
    assert max(input_h, input_w) <= imgsz + STRIDE  # a long side rounds to imgsz itself
    assert box.left >= 0 and box.left + new_w <= input_w
    assert box.top >= 0 and box.top + new_h <= input_h
    # Padding is less than one stride plus rounding: the model computes little that is not frame.
    assert input_w - new_w < STRIDE and input_h - new_h < STRIDE


@pytest.mark.parametrize("frame_hw", [(576, 768), (768, 576), (300, 300), (721, 1283)])
def test_letterbox_resizes_the_frame_and_pads_it_grey(frame_hw: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, (*frame_hw, 3), np.uint8)
    box = letterbox_geometry(frame_hw, 640)
    out = letterbox(frame, box)
    new_w, new_h = box.resized_wh
    assert out.shape == (*box.input_hw, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    inside = out[box.top : box.top + new_h, box.left : box.left + new_w]
    np.testing.assert_array_equal(inside, cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR))
    padding = np.ones(box.input_hw, bool)
    padding[box.top : box.top + new_h, box.left : box.left + new_w] = False
    assert (out[padding] == PAD_VALUE).all()


def _row(centre_xy: tuple[float, float], size_wh: tuple[float, float], score: float) -> np.ndarray:
    row = np.zeros(HEAD_ROWS, np.float32)
    row[:5] = [*centre_xy, *size_wh, score]
    kps = row[5:].reshape(KEYPOINTS, 3)
    kps[:, 0], kps[:, 1], kps[:, 2] = centre_xy[0], centre_xy[1] - size_wh[1] / 4, 0.75
    return row


def test_candidates_copy_out_the_columns_over_the_floor() -> None:
    raw = np.stack([_row((10, 10), (4, 4), s) for s in (0.05, 0.5, 0.1, 0.99)], axis=1)[np.newaxis]
    rows = candidates(raw, 0.1)
    assert rows.shape == (3, HEAD_ROWS)
    assert rows[:, 4].tolist() == pytest.approx([0.5, 0.1, 0.99])
    raw[0, 4, :] = 0.0  # the request's buffer takes the next frame: the candidates are a copy
    assert rows[:, 4].tolist() == pytest.approx([0.5, 0.1, 0.99])
    assert candidates(raw, 0.1).shape == (0, HEAD_ROWS)


def test_decode_maps_people_back_to_the_frame() -> None:
    box = letterbox_geometry((576, 768), 960)  # scale 1.25, 8 rows of padding above
    # A person whose box is (100, 200)-(180, 400) in the frame: centre (140, 300), size 80 x 200.
    centre_in = (140 * 1.25, 300 * 1.25 + 8)
    found = decode(_row(centre_in, (100, 250), 0.8)[np.newaxis], box)
    assert len(found) == 1
    np.testing.assert_allclose(found.boxes_xyxy[0], [100, 200, 180, 400], atol=1e-3)
    np.testing.assert_allclose(found.keypoints_xy[0, :, 0], 140, atol=1e-3)
    np.testing.assert_allclose(found.keypoints_xy[0, :, 1], 250, atol=1e-3)
    np.testing.assert_allclose(found.keypoints_conf[0], 0.75)
    assert found.scores.tolist() == pytest.approx([0.8])
    assert (found.track_ids == -1).all()


def test_decode_keeps_the_strongest_of_overlapping_boxes_and_separate_people() -> None:
    box = Letterbox(1.0, 0, 0, (640, 480), (480, 640), (640, 480))
    rows = np.stack(
        [
            _row((100, 100), (50, 120), 0.6),
            _row((102, 101), (50, 120), 0.9),  # the same person, stronger
            _row((300, 100), (50, 120), 0.4),  # someone else
            _row((101, 99), (52, 118), 0.3),
        ]
    )
    found = decode(rows, box)
    assert found.scores.tolist() == pytest.approx([0.9, 0.4])  # strongest first
    np.testing.assert_allclose(found.boxes_xyxy[0], [77, 41, 127, 161])
    # Two people overlapping less than the threshold both stay.
    apart = np.stack([_row((100, 100), (50, 120), 0.9), _row((140, 100), (50, 120), 0.8)])
    assert len(decode(apart, box)) == 2
    assert len(decode(apart, box, iou=0.1)) == 1


def test_decode_clips_to_the_frame_and_handles_nobody() -> None:
    box = Letterbox(1.0, 0, 0, (640, 480), (480, 640), (640, 480))
    found = decode(_row((630, 470), (60, 60), 0.9)[np.newaxis], box)
    np.testing.assert_allclose(found.boxes_xyxy[0], [600, 440, 640, 480])
    assert len(decode(np.zeros((0, HEAD_ROWS), np.float32), box)) == 0
    many = np.stack([_row((20.0 * i, 20.0 * i), (5, 5), 0.5) for i in range(1, 21)])
    assert len(decode(many, box, max_detections=7)) == 7
