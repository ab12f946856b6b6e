"""Where each detected person stands on the floor, and how sure that is.

- ``feet`` (oblique cameras): the middle of the box's bottom edge, which is where the soles meet the
  floor, through the floor homography. On real footage (issue 10: an independent evaluation on an
  elevated camera) this beat every keypoint-based foot point: pose keypoints of people 50-150 px
  tall sit about 10 % of the box height above the soles and move with the gait.
- ``head`` (cameras looking down): a person is a vertical segment standing at ``(x, y)``, ``stature``
  tall. The head keypoints are at 93 % of the stature (eye level is 0.936 of stature in Drillis &
  Contini, "Body segment parameters", 1966); the ankles, where the camera sees them, at 3.9 %. The
  position and the stature that best explain the keypoints, with the stature held near the
  configured one (a Gaussian prior), come from a few Gauss-Newton steps through the camera's pose
  and lens. Right under the camera the ankles are hidden and the stature barely matters; away from
  it the ankles show and give the person's own stature.
- ``center``: the same model with only the box centre, taken as the middle of the projected feet
  and head.

Each position comes with `sigma_m`, one standard deviation of its error on the floor, from the
measured noise of the anchor in pixels (and, for the model, the stature's spread).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vision.anchors import (
    ANKLES,
    HEAD,
    box_bottom_centres,
    box_centres,
    head_points,
    mean_confident_keypoints,
)
from vision.calibration import FloorCalibration
from vision.camera import CameraPose, camera_pose
from vision.config import Anchor
from vision.detections import (
    LEFT_HIP,
    LEFT_KNEE,
    LEFT_SHOULDER,
    RIGHT_HIP,
    RIGHT_KNEE,
    RIGHT_SHOULDER,
    Detections,
)

#: Heights of the keypoints on the body's axis, as shares of stature (Drillis & Contini, "Body
#: segment parameters", 1966): head (eye level 0.936), shoulders 0.818, hips 0.530, knees 0.285,
#: ankles 0.039.
HEAD_HEIGHT_SHARE = 0.93
SHOULDER_HEIGHT_SHARE = 0.818
HIP_HEIGHT_SHARE = 0.53
KNEE_HEIGHT_SHARE = 0.285
ANKLE_HEIGHT_SHARE = 0.039
#: One standard deviation of an anchor's position in the image. Box bottom, as a share of the box's
#: height: measured on Debian's vtest.avi (real people walking, 795 frames, yolo11n-pose at imgsz
#: 1280): tracked box bottoms scatter about a 9-frame quadratic fit of their own track with a
#: standard deviation (1.4826 x median absolute deviation) of 1.2-1.4 % of the box height.
BOX_BOTTOM_NOISE_SHARE = 0.013
#: Feet found for a box cut by the image's edge: share of the person's (extrapolated) height.
CUT_NOISE_SHARE = 0.05
#: A box edge this close to the image's edge is cut by it.
_BORDER_PX = 2.0
#: Keypoints, as shares of the box's diagonal, measured the same way: the head, shoulder and hip
#: midpoints 0.9-1.4 % of the box height, ankles 1.2-1.5 % (they swing with the gait).
_NOISE_SHARES = (0.015, 0.015, 0.015, 0.02)
#: The box centre as the middle of feet and head: a rough stand-in (arms, bags, the box's slack).
BOX_CENTRE_NOISE_SHARE = 0.1
_AXIS_PAIRS = ((LEFT_SHOULDER, RIGHT_SHOULDER), (LEFT_HIP, RIGHT_HIP), ANKLES)
_BODY_GROUPS = (HEAD, (LEFT_SHOULDER, RIGHT_SHOULDER), (LEFT_HIP, RIGHT_HIP), ANKLES)
_HEIGHT_SHARES = (HEAD_HEIGHT_SHARE, SHOULDER_HEIGHT_SHARE, HIP_HEIGHT_SHARE, ANKLE_HEIGHT_SHARE)
_GAUSS_NEWTON_STEPS = 8
_STEP_M = 1e-4


@dataclass(frozen=True, slots=True)
class Placement:
    """People of one frame on the floor.

    Attributes:
        image_xy: `(n, 2)` the anchor point in image pixels (box bottom, head or box centre).
        floor_xy: `(n, 2)` floor positions in metres; NaN where the anchor is beyond the floor.
        sigma_m: `(n,)` one standard deviation of each floor position's error, in metres.
        stature_m: `(n,)` each person's estimated stature for the head and center anchors, else NaN.
    """

    image_xy: NDArray[np.float64]
    floor_xy: NDArray[np.float64]
    sigma_m: NDArray[np.float64]
    stature_m: NDArray[np.float64]


class FloorPlacer:
    """Places one camera's detections on the floor.

    Args:
        anchor: feet, head or center.
        calibration: the camera's floor calibration.
        keypoint_conf: a keypoint counts when its score is at least this.
        stature_m: the typical stature (head and center anchors).
        stature_sd_m: its spread, the weight of the prior.
        mounting_height_m: the camera's measured height, for a pose without a lens model.

    Example:
        >>> from vision.calibration import calibrate
        >>> cal = calibrate([[0, 0], [100, 0], [100, 100], [0, 100]], [[0, 0], [1, 0], [1, 1], [0, 1]])
        >>> placer = FloorPlacer("feet", cal, keypoint_conf=0.5)
        >>> people = Detections.from_boxes(np.array([[40.0, 10.0, 60.0, 50.0]]), np.array([0.9]))
        >>> placer.place(people, (100, 100)).floor_xy.round(3).tolist()
        [[0.5, 0.5]]
    """

    def __init__(
        self,
        anchor: Anchor,
        calibration: FloorCalibration,
        *,
        keypoint_conf: float,
        stature_m: float = 1.65,
        stature_sd_m: float = 0.1,
        mounting_height_m: float | None = None,
    ) -> None:
        if anchor not in ("feet", "head", "center"):
            raise ValueError(f"anchor must be 'feet', 'head' or 'center', got {anchor!r}")
        self.anchor = anchor
        self.calibration = calibration
        self.keypoint_conf = keypoint_conf
        self.stature_m = stature_m
        self.stature_sd_m = stature_sd_m
        self.mounting_height_m = mounting_height_m
        self._pose: CameraPose | None = None
        self._pose_for: tuple[int, int] | None = None

    def pose(self, image_size: tuple[int, int] | None) -> CameraPose:
        """The camera's pose for frames of this size (cached).

        Raises:
            vision.calibration.CalibrationError: the pose cannot be recovered; the text says what to set.
        """
        if self._pose is None or self._pose_for != image_size:
            self._pose = camera_pose(self.calibration, image_size, self.mounting_height_m)
            self._pose_for = image_size
        return self._pose

    def check(self, image_size: tuple[int, int] | None) -> None:
        """Fail now, not on the first person, if this anchor cannot place people in such frames.

        Raises:
            vision.calibration.CalibrationError: the head or center anchor needs the camera's pose
                and it cannot be recovered; the text says what to set.
        """
        if self.anchor != "feet":
            self.pose(image_size)

    def place(self, detections: Detections, image_size: tuple[int, int] | None) -> Placement:
        """Floor positions of `detections` in a frame of `image_size` `(width, height)` pixels.

        Without the image size, boxes cut by the image's bottom are taken as they are, and the head
        and center anchors need a lens model for the camera's pose.
        """
        boxes = np.asarray(detections.boxes_xyxy, np.float64).reshape(-1, 4)
        heights_px = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
        if self.anchor == "feet":
            image_xy, noise_px = self._feet(detections, boxes, heights_px, image_size)
            floor_xy = self.calibration.floor_from_image(image_xy)
            sigma_m = noise_px * self.calibration.floor_scale_m_per_px(image_xy)
            return Placement(image_xy, floor_xy, sigma_m, np.full(len(boxes), np.nan))
        return self._place_standing(detections, boxes, self.pose(image_size))

    def _feet(
        self,
        detections: Detections,
        boxes: NDArray[np.float64],
        heights_px: NDArray[np.float64],
        image_size: tuple[int, int] | None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Box bottom centres, and their noise in pixels.

        A box cut by the image's edge ends where the image does, not at the person. Measured on
        vtest.avi cut short (the full frame's box as the reference), against the cut box itself:

        - cut at the bottom (176 rows cut away): feet extrapolated from the head down through the
          knees (or hips) by the body's proportions are a median 3.2 % of the person's height off
          (90th percentile 8.5 %), the cut box's bottom 18.5 % (75 %);
        - cut at a side (200 columns cut away): the middle of the shoulder, hip and ankle pairs is a
          median 2.3 % of the height off sideways (90th percentile 7.9 %), the cut box's centre
          7.3 % (12.8 %).
        """
        feet = box_bottom_centres(boxes)
        noise_px = BOX_BOTTOM_NOISE_SHARE * heights_px
        if image_size is None:
            return feet, noise_px
        width, height = image_size
        cut_below = boxes[:, 3] >= height - _BORDER_PX
        cut_side = (boxes[:, 0] <= _BORDER_PX) | (boxes[:, 2] >= width - _BORDER_PX)
        if not np.any(cut_below | cut_side):
            return feet, noise_px
        n = len(boxes)
        nan_xy = np.full((n, 2), np.nan)
        conf = self.keypoint_conf
        head, has_head = mean_confident_keypoints(detections, HEAD, conf, nan_xy)
        knees, has_knees = _pair_midpoints(detections, (LEFT_KNEE, RIGHT_KNEE), conf)
        hips, has_hips = _pair_midpoints(detections, (LEFT_HIP, RIGHT_HIP), conf)
        low_y = np.where(has_knees, knees[:, 1], hips[:, 1])
        low_share = np.where(has_knees, KNEE_HEIGHT_SHARE, HIP_HEIGHT_SHARE)
        with np.errstate(invalid="ignore"):
            below = head[:, 1] + (low_y - head[:, 1]) * HEAD_HEIGHT_SHARE / (HEAD_HEIGHT_SHARE - low_share)
        lowered = cut_below & has_head & (has_knees | has_hips) & (below > feet[:, 1])
        feet[lowered, 1] = below[lowered]
        noise_px[lowered] = CUT_NOISE_SHARE * (below[lowered] - boxes[lowered, 1])

        axes = [_pair_midpoints(detections, pair, conf) for pair in _AXIS_PAIRS]
        found = np.stack([seen for _, seen in axes], axis=1)  # (n, pairs)
        x = np.stack([xy[:, 0] for xy, _ in axes], axis=1)
        with np.errstate(invalid="ignore"):
            axis_x = np.nansum(np.where(found, x, 0.0), axis=1) / found.sum(axis=1)
        shifted = cut_side & found.any(axis=1)
        feet[shifted, 0] = axis_x[shifted]
        noise_px[shifted] = np.maximum(noise_px[shifted], CUT_NOISE_SHARE * heights_px[shifted])
        return feet, noise_px

    def _place_standing(
        self, detections: Detections, boxes: NDArray[np.float64], pose: CameraPose
    ) -> Placement:
        n = len(boxes)
        size_px = np.maximum(np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]), 1.0)
        centre = box_centres(boxes)
        points, found = [], []
        for group in _BODY_GROUPS:
            if self.anchor == "head" and group is HEAD:
                xy, seen = head_points(detections, self.keypoint_conf)
            elif self.anchor == "head":
                xy, seen = _pair_midpoints(detections, group, self.keypoint_conf)
            else:
                xy, seen = np.full((n, 2), np.nan), np.zeros(n, bool)
            points.append(xy)
            found.append(seen)
        use_centre = ~np.any(found, axis=0)  # the box centre stands in for the body only without keypoints
        observed = np.stack([*points, centre], axis=1)  # (n, groups + 1, 2)
        shares = np.array([*_NOISE_SHARES, BOX_CENTRE_NOISE_SHARE])
        seen = np.stack([*found, use_centre], axis=1)
        weight = np.where(seen, 1.0 / (shares[None, :] * size_px[:, None]), 0.0)
        observed = np.where(seen[:, :, None], observed, 0.0)
        has_head = found[0]
        head_xy = points[0]
        start = pose.floor_at_height(
            np.where(has_head[:, None], head_xy, centre),
            np.where(has_head, HEAD_HEIGHT_SHARE, 0.5) * self.stature_m,
        )
        params = np.column_stack([start, np.full(n, self.stature_m)])
        floor_xy, stature, sigma_m = _fit_standing(
            pose, observed, weight, params, self.stature_m, self.stature_sd_m
        )
        image_xy = np.where(has_head[:, None], head_xy, centre)
        return Placement(image_xy, floor_xy, sigma_m, stature)


def _pair_midpoints(
    detections: Detections, pair: tuple[int, ...], min_keypoint_conf: float
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """The midpoint of a left-right keypoint pair where both are confident (it lies on the body's axis)."""
    nan_xy = np.full((len(detections), 2), np.nan)
    xy, _ = mean_confident_keypoints(detections, pair, min_keypoint_conf, nan_xy)
    both: NDArray[np.bool_] = np.all(detections.keypoints_conf[:, list(pair)] >= min_keypoint_conf, axis=1)
    return np.where(both[:, None], xy, np.nan), both


def _predict(pose: CameraPose, params: NDArray[np.float64]) -> NDArray[np.float64]:
    """Image points `(n, groups + 1, 2)` of the body's keypoint groups and of the feet-head midpoint
    (the box centre's stand-in) for people at `(x, y, stature)`."""
    n = len(params)
    x, y, s = params[:, 0], params[:, 1], params[:, 2]
    shares = np.array([*_HEIGHT_SHARES, 0.0, 1.0])
    heights = s[:, None] * shares[None, :]  # (n, groups + 2)
    k = len(shares)
    world = np.stack([np.repeat(x, k), np.repeat(y, k), heights.ravel()], axis=1)
    image = pose.project(world).reshape(n, k, 2)
    return np.concatenate([image[:, :-2], (image[:, -2:-1] + image[:, -1:]) / 2.0], axis=1)


def _fit_standing(
    pose: CameraPose,
    observed: NDArray[np.float64],
    weight: NDArray[np.float64],
    params: NDArray[np.float64],
    stature_m: float,
    stature_sd_m: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Gauss-Newton on weighted image residuals plus the stature prior, for every person at once."""
    n = len(params)
    if n == 0:
        return np.zeros((0, 2)), np.zeros(0), np.zeros(0)
    valid = np.all(np.isfinite(params), axis=1)
    params = np.where(valid[:, None], params, [0.0, 0.0, stature_m])

    def residuals(p: NDArray[np.float64]) -> NDArray[np.float64]:
        image = np.nan_to_num(_predict(pose, p), nan=1e6)
        r = ((image - observed) * weight[:, :, None]).reshape(n, -1)
        return np.column_stack([r, (p[:, 2] - stature_m) / stature_sd_m])

    for _ in range(_GAUSS_NEWTON_STEPS):
        jacobian, r = _jacobian(residuals, params)
        step = _solve(jacobian, r)
        step[:, :2] = np.clip(step[:, :2], -1.0, 1.0)
        params = params - step
        params[:, 2] = np.clip(params[:, 2], 0.8, 2.4)
    jacobian, _ = _jacobian(residuals, params)
    normal = np.einsum("nki,nkj->nij", jacobian, jacobian)
    covariance = np.linalg.pinv(normal)[:, :2, :2]
    sigma_m = np.sqrt(np.maximum(np.linalg.eigvalsh(covariance)[:, -1], 0.0))
    floor_xy = params[:, :2].copy()
    floor_xy[~valid] = np.nan
    sigma_m[~valid] = np.nan
    return floor_xy, params[:, 2], sigma_m


def _jacobian(
    residuals: Callable[[NDArray[np.float64]], NDArray[np.float64]], params: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    base: NDArray[np.float64] = residuals(params)
    columns = []
    for k in range(params.shape[1]):
        shifted = params.copy()
        shifted[:, k] += _STEP_M
        columns.append((residuals(shifted) - base) / _STEP_M)
    return np.stack(columns, axis=2), base


def _solve(jacobian: NDArray[np.float64], r: NDArray[np.float64]) -> NDArray[np.float64]:
    normal = np.einsum("nki,nkj->nij", jacobian, jacobian) + 1e-9 * np.eye(jacobian.shape[2])
    gradient = np.einsum("nki,nk->ni", jacobian, r)
    step: NDArray[np.float64] = np.linalg.solve(normal, gradient[:, :, None])[:, :, 0]
    return step
