"""The image point that stands for each person: the feet on the floor, the head, or the box centre."""

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
    """The image point that stands for each person, `(n, 2)` float64 pixels.

    - ``feet``: the box's bottom centre, where the soles meet the floor (oblique views).
    - ``head``: the head's centre from its keypoints (`head_points`), else the box centre (cameras
      looking down).
    - ``center``: the box centre.

    Where each point lands on the floor is `vision.placement`'s business: the head and the box centre
    are above the floor, and are placed through the plane at their height.

    Example:
        >>> d = Detections.from_boxes(np.array([[10, 20, 30, 100]]), np.array([0.9]))
        >>> anchor_points(d, "feet", 0.5).tolist()
        [[20.0, 100.0]]
    """
    if anchor == "center":
        return box_centres(detections.boxes_xyxy)
    if anchor == "feet":
        return box_bottom_centres(detections.boxes_xyxy)
    if anchor == "head":
        xy, found = head_points(detections, min_keypoint_conf)
        return np.where(found[:, None], xy, box_centres(detections.boxes_xyxy))
    raise ValueError(f"anchor must be 'feet', 'head' or 'center', got {anchor!r}")


def head_points(
    detections: Detections, min_keypoint_conf: float
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """The mean of each head's confident keypoints (nose, eyes, ears).

    Returns:
        The points `(n, 2)`, NaN where no head keypoint is confident, and whether one was `(n,)`.

    Example:
        >>> kp = np.zeros((1, 17, 2))
        >>> kp[0, LEFT_EAR], kp[0, RIGHT_EAR], kp[0, NOSE] = (10, 5), (20, 5), (15, 8)
        >>> conf = np.zeros((1, 17)); conf[0, [NOSE, LEFT_EAR, RIGHT_EAR]] = 0.9
        >>> d = Detections.from_boxes(np.array([[0, 0, 30, 60]]), np.array([0.9]), kp, conf)
        >>> head_points(d, 0.5)[0].tolist()
        [[15.0, 6.0]]
    """
    nan_xy = np.full((len(detections), 2), np.nan)
    return mean_confident_keypoints(detections, HEAD, min_keypoint_conf, nan_xy)


def mean_confident_keypoints(
    detections: Detections,
    keypoints: tuple[int, ...],
    min_keypoint_conf: float,
    fallback_xy: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Per person, the mean of the confident keypoints among `keypoints`, else `fallback_xy`.

    Returns:
        The points `(n, 2)` and, per person, whether any of the keypoints was confident `(n,)`.

    Example:
        >>> d = Detections.from_boxes(np.array([[0, 0, 10, 10]]), np.array([0.9]))
        >>> xy, found = mean_confident_keypoints(d, HEAD, 0.5, np.array([[5.0, 5.0]]))
        >>> xy.tolist(), found.tolist()
        ([[5.0, 5.0]], [False])
    """
    index = list(keypoints)
    xy = detections.keypoints_xy[:, index, :].astype(np.float64)  # (n, k, 2)
    weight = (detections.keypoints_conf[:, index] >= min_keypoint_conf).astype(np.float64)  # (n, k)
    total = weight.sum(axis=1)  # (n,)
    found: NDArray[np.bool_] = total > 0
    mean_xy = (xy * weight[:, :, None]).sum(axis=1) / np.maximum(total, 1.0)[:, None]
    result: NDArray[np.float64] = np.where(found[:, None], mean_xy, fallback_xy)
    return result, found
