"""The image point that stands for each person: feet on the floor, the head, or the box centre."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from vision.config import Anchor
from vision.detections import (
    LEFT_ANKLE,
    LEFT_EAR,
    LEFT_EYE,
    NOSE,
    RIGHT_ANKLE,
    RIGHT_EAR,
    RIGHT_EYE,
    Detections,
)

ANKLES = (LEFT_ANKLE, RIGHT_ANKLE)
HEAD = (NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR)
# The ankle joint is about 3.9 % of a standing person's height above the floor (Drillis & Contini,
# "Body segment parameters", 1966: ankle height 0.039 H). Seen from an oblique camera, an ankle
# taken as a floor point lands that much further away (about 0.2 m on our synthetic camera), so
# the feet anchor drops from the ankles by that share of the box's height, never below the box.
ANKLE_HEIGHT_SHARE = 0.039


def box_bottom_centres(boxes_xyxy: NDArray[np.floating]) -> NDArray[np.float64]:
    """The middle of each box's bottom edge, `(n, 2)` pixels.

    Example:
        >>> box_bottom_centres(np.array([[10, 20, 30, 100]])).tolist()
        [[20.0, 100.0]]
    """
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2.0, boxes[:, 3]], axis=1)


def box_centres(boxes_xyxy: NDArray[np.floating]) -> NDArray[np.float64]:
    """The centre of each box, `(n, 2)` pixels.

    Example:
        >>> box_centres(np.array([[10, 20, 30, 100]])).tolist()
        [[20.0, 60.0]]
    """
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2.0, (boxes[:, 1] + boxes[:, 3]) / 2.0], axis=1)


def anchor_points(detections: Detections, anchor: Anchor, min_keypoint_conf: float) -> NDArray[np.float64]:
    """One image point per person, `(n, 2)` float64 pixels, for placing them on the floor.

    - ``feet``: the midpoint of both ankles (COCO 15 and 16) when both are confident, the one
      confident ankle otherwise, lowered to the floor by `ANKLE_HEIGHT_SHARE` of the box height
      (but not below the box); else the box's bottom centre. For oblique views.
    - ``head``: the mean of the confident head keypoints (nose, eyes, ears: COCO 0-4), else the box
      centre. For cameras looking straight down, where the head is near the box centre and the box
      bottom is wrong.
    - ``center``: the box centre.

    A keypoint is confident when its score is at least `min_keypoint_conf`.

    Example:
        >>> d = Detections.from_boxes(np.array([[10, 20, 30, 100]]), np.array([0.9]))
        >>> anchor_points(d, "feet", 0.5).tolist()
        [[20.0, 100.0]]
    """
    if anchor == "center":
        return box_centres(detections.boxes_xyxy)
    if anchor == "feet":
        return _feet(detections, min_keypoint_conf)
    if anchor == "head":
        return _mean_confident(detections, HEAD, min_keypoint_conf, box_centres(detections.boxes_xyxy))
    raise ValueError(f"anchor must be 'feet', 'head' or 'center', got {anchor!r}")


def _feet(detections: Detections, min_keypoint_conf: float) -> NDArray[np.float64]:
    bottoms = box_bottom_centres(detections.boxes_xyxy)
    ankles = _mean_confident(detections, ANKLES, min_keypoint_conf, bottoms)
    boxes = np.asarray(detections.boxes_xyxy, np.float64).reshape(-1, 4)
    lowered = ankles[:, 1] + ANKLE_HEIGHT_SHARE * (boxes[:, 3] - boxes[:, 1])
    ankles[:, 1] = np.maximum(ankles[:, 1], np.minimum(lowered, boxes[:, 3]))
    return ankles


def _mean_confident(
    detections: Detections,
    keypoints: tuple[int, ...],
    min_keypoint_conf: float,
    fallback_xy: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Per person, the mean of the confident keypoints among `keypoints`, else `fallback_xy`."""
    index = list(keypoints)
    xy = detections.keypoints_xy[:, index, :].astype(np.float64)  # (n, k, 2)
    weight = (detections.keypoints_conf[:, index] >= min_keypoint_conf).astype(np.float64)  # (n, k)
    total = weight.sum(axis=1)  # (n,)
    found = total > 0
    mean_xy = (xy * weight[:, :, None]).sum(axis=1) / np.maximum(total, 1.0)[:, None]
    result: NDArray[np.float64] = np.where(found[:, None], mean_xy, fallback_xy)
    return result
