"""The pose model's input and output in our own terms: a letterboxed frame in, `Detections` out.

The OpenVINO export of a YOLO pose model (`models/export.py`) takes a letterboxed RGB image and
returns the pose head's raw tensor, `(56, n)` per image: for each of `n` anchor points a box centre
and size (x, y, w, h in input pixels), the person score, and 17 keypoints as (x, y, confidence),
scores and confidences already through their sigmoid. This module makes the input and reads that
output without the model library: `letterbox_geometry` and `letterbox` on the way in,
`candidates` (the few columns worth keeping, copied out of the request's buffer) and `decode` (NMS
and back to the frame's pixels) on the way out.

The letterbox is the "rect" kind: the frame is scaled so that its long side is `imgsz`, and only
the short side is padded, up to the next multiple of the model's stride (a 768x576 frame at 960
becomes 960x736, not 960x960: a quarter less to compute). Padding is split evenly on both sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.detections import KEYPOINTS, Detections

STRIDE = 32
PAD_VALUE = 114  # the grey the model was trained with around letterboxed images
HEAD_ROWS = 5 + 3 * KEYPOINTS  # x, y, w, h, person score, 17 x (x, y, confidence)
NMS_IOU = 0.7  # overlap above which the weaker of two person boxes is the same person
MAX_DETECTIONS = 300


@dataclass(frozen=True, slots=True)
class Letterbox:
    """Where a frame lies in the model's input.

    Attributes:
        scale: input pixels per frame pixel.
        left: padding columns on the left of the resized frame.
        top: padding rows above it.
        resized_wh: the resized frame's width and height in input pixels.
        input_hw: the model input's height and width (multiples of the stride).
        frame_wh: the frame's own width and height in pixels.
    """

    scale: float
    left: int
    top: int
    resized_wh: tuple[int, int]
    input_hw: tuple[int, int]
    frame_wh: tuple[int, int]


def letterbox_geometry(frame_hw: tuple[int, int], imgsz: int, stride: int = STRIDE) -> Letterbox:
    """The rect letterbox of a frame of `frame_hw` (height, width) pixels at inference size `imgsz`.

    Example:
        >>> box = letterbox_geometry((576, 768), 960)
        >>> box.scale, box.resized_wh, box.input_hw, (box.left, box.top)
        (1.25, (960, 720), (736, 960), (0, 8))
    """
    height, width = frame_hw
    if height <= 0 or width <= 0:
        raise ValueError(f"a frame of {width}x{height} pixels has nothing to letterbox")
    scale = min(imgsz / height, imgsz / width)
    new_w, new_h = round(width * scale), round(height * scale)
    input_h = math.ceil(new_h / stride) * stride
    input_w = math.ceil(new_w / stride) * stride
    left, top = (input_w - new_w) // 2, (input_h - new_h) // 2
    return Letterbox(scale, left, top, (new_w, new_h), (input_h, input_w), (width, height))


def letterbox(image_bgr: NDArray[np.uint8], box: Letterbox) -> NDArray[np.uint8]:
    """The frame scaled and padded into a fresh `(h, w, 3)` uint8 BGR array of `box.input_hw`.

    The model takes this array as it is (colour order, layout and scaling to [0, 1] are part of
    the compiled model), so it is the only copy of the frame on its way in. When only rows are
    padded (every landscape frame) the resize writes straight into the padded array.

    Example:
        >>> frame = np.full((576, 768, 3), 7, np.uint8)
        >>> out = letterbox(frame, letterbox_geometry(frame.shape[:2], 960))
        >>> out.shape, int(out[7, 0, 0]), int(out[8, 0, 0]), int(out[727, 959, 2]), int(out[728, 0, 0])
        ((736, 960, 3), 114, 7, 7, 114)
    """
    input_h, input_w = box.input_hw
    new_w, new_h = box.resized_wh
    out = np.empty((input_h, input_w, 3), np.uint8)
    bottom, right = box.top + new_h, box.left + new_w
    out[: box.top] = PAD_VALUE
    out[bottom:] = PAD_VALUE
    if box.left == 0 and right == input_w:
        # Full-width rows are contiguous: OpenCV resizes into them with no intermediate image.
        cv2.resize(image_bgr, (new_w, new_h), dst=out[box.top : bottom], interpolation=cv2.INTER_LINEAR)
    else:
        out[:, : box.left] = PAD_VALUE
        out[:, right:] = PAD_VALUE
        out[box.top : bottom, box.left : right] = cv2.resize(
            image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR
        )
    return out


def candidates(raw: NDArray[np.float32], min_score: float) -> NDArray[np.float32]:
    """The anchor columns whose person score reaches `min_score`, as `(k, 56)` rows (a copy).

    `raw` is the head's output for one image, `(56, n)` or `(1, 56, n)`, usually a view of the
    inference request's own buffer: only these few columns are copied out of it, so the request can
    take the next frame at once.

    Example:
        >>> raw = np.zeros((56, 4), np.float32); raw[4] = [0.125, 0.875, 0.5, 0.0]
        >>> candidates(raw, 0.25)[:, 4].tolist()
        [0.875, 0.5]
    """
    head = raw.reshape(HEAD_ROWS, -1)
    keep = np.flatnonzero(head[4] >= min_score)
    return np.ascontiguousarray(head[:, keep].T)


def decode(
    rows: NDArray[np.float32],
    box: Letterbox,
    *,
    iou: float = NMS_IOU,
    max_detections: int = MAX_DETECTIONS,
) -> Detections:
    """People in the frame's pixels from the candidate rows of one image (`candidates`).

    Boxes that overlap a stronger one by more than `iou` are dropped (OpenCV's NMS); the rest,
    strongest first, are mapped from the input back to the frame and clipped to it, keypoints too.

    Example:
        >>> box = letterbox_geometry((576, 768), 960)
        >>> row = np.zeros((1, 56), np.float32); row[0, :5] = [480, 368, 100, 200, 0.9]
        >>> decode(row, box).boxes_xyxy.round(1).tolist()
        [[344.0, 208.0, 424.0, 368.0]]
    """
    if len(rows) == 0:
        return Detections.empty()
    centre, size, scores = rows[:, 0:2], rows[:, 2:4], rows[:, 4]
    corner = centre - size / 2
    boxes_xywh = np.concatenate([corner, size], axis=1).astype(np.float64)
    picked = cv2.dnn.NMSBoxes(boxes_xywh, scores.astype(np.float64), 0.0, iou)  # type: ignore[arg-type]
    keep = np.asarray(picked, np.int64).reshape(-1)[:max_detections]
    offset = np.array([box.left, box.top], np.float32)
    width, height = box.frame_wh
    limit = np.array([width, height], np.float32)
    xyxy = np.concatenate([corner[keep], corner[keep] + size[keep]], axis=1)
    xyxy = (xyxy - np.tile(offset, 2)) / box.scale
    xyxy = np.clip(xyxy, 0.0, np.tile(limit, 2))
    keypoints = rows[keep, 5:].reshape(-1, KEYPOINTS, 3)
    kp_xy = np.clip((keypoints[..., :2] - offset) / box.scale, 0.0, limit)
    return Detections.from_boxes(xyxy, scores[keep], kp_xy, keypoints[..., 2])
