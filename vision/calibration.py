"""Floor calibration: from image pixels to floor metres through a homography, lens distortion undone first.

A camera's calibration is a set of image↔floor point pairs (floor marks whose position in metres is known).
`calibrate` checks the set is usable, fits a least-squares homography from undistorted image pixels to
the floor, and reports how well it fits, in centimetres on the floor.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import least_squares

from vision.config import CalibrationConfig, LensConfig

LensModel = Literal["pinhole", "fisheye"]

#: Two image points closer than this (pixels) are the same pixel.
SAME_PIXEL_PX = 1e-3
#: Two floor points closer than this (metres) are the same floor point.
SAME_FLOOR_POINT_M = 1e-4
#: A point whose distance from a line is below this fraction of the point set's spread lies on the line.
COLLINEAR_TOLERANCE = 1e-3
#: Largest condition number accepted for the homography between normalized point sets.
MAX_CONDITION = 1e8
#: A held-out point whose prediction by the others moves by more than this many of its own pixels
#: when their clicks move by one is not checked by them (its leave-one-out error is unknown).
MAX_HOLDOUT_AMPLIFICATION = 10.0

_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)


class CalibrationError(ValueError):
    """The calibration points cannot give a usable homography; the message names the points."""


@dataclass(frozen=True, eq=False)
class Lens:
    """Lens intrinsics as arrays.

    Attributes:
        model: 'pinhole' (OpenCV's radial-tangential model) or 'fisheye' (OpenCV's equidistant model).
        camera_matrix: `(3, 3)` intrinsic matrix in pixels.
        distortion: distortion coefficients for the model (4, 5 or 8 for pinhole, 4 for fisheye).
    """

    model: LensModel
    camera_matrix: NDArray[np.float64]
    distortion: NDArray[np.float64]

    @classmethod
    def from_config(cls, cfg: LensConfig) -> Lens:
        """The lens a `LensConfig` describes.

        Example:
            >>> cfg = LensConfig(model="fisheye", camera_matrix=((500, 0, 640), (0, 500, 360), (0, 0, 1)),
            ...                  distortion=(0.05, -0.01, 0.0, 0.0))
            >>> Lens.from_config(cfg).camera_matrix.shape
            (3, 3)
        """
        return cls(
            model=cfg.model,
            camera_matrix=np.asarray(cfg.camera_matrix, np.float64).reshape(3, 3),
            distortion=np.asarray(cfg.distortion, np.float64),
        )

    def undistort(self, points_px: ArrayLike) -> NDArray[np.float64]:
        """Distorted image pixels `(n, 2)` to undistorted pixels `(n, 2)` of the same camera matrix.

        Example:
            >>> lens = Lens("pinhole", np.array([[800.0, 0, 640], [0, 800, 360], [0, 0, 1]]), np.zeros(4))
            >>> lens.undistort([[640.0, 360.0]]).round(6).tolist()
            [[640.0, 360.0]]
        """
        pts = _as_points(points_px, "points_px")
        if len(pts) == 0:
            return pts
        src = pts.reshape(-1, 1, 2)
        k, d = self.camera_matrix, self.distortion
        if self.model == "fisheye":
            out = cv2.fisheye.undistortPoints(src, k, d, P=k, criteria=_UNDISTORT_CRITERIA)
        else:
            out = cv2.undistortPoints(src, k, d, P=k, criteria=_UNDISTORT_CRITERIA)
        return np.asarray(out, np.float64).reshape(-1, 2)

    def normalized(self, points_px: ArrayLike) -> NDArray[np.float64]:
        """Distorted image pixels `(n, 2)` to normalized camera coordinates `(n, 2)`: (x/z, y/z) of the ray.

        Example:
            >>> lens = Lens("pinhole", np.array([[800.0, 0, 640], [0, 800, 360], [0, 0, 1]]), np.zeros(4))
            >>> lens.normalized([[1440.0, 360.0]]).round(6).tolist()
            [[1.0, 0.0]]
        """
        pts = _as_points(points_px, "points_px")
        if len(pts) == 0:
            return pts
        src = pts.reshape(-1, 1, 2)
        k, d = self.camera_matrix, self.distortion
        if self.model == "fisheye":
            out = cv2.fisheye.undistortPoints(src, k, d, criteria=_UNDISTORT_CRITERIA)
        else:
            out = cv2.undistortPoints(src, k, d, criteria=_UNDISTORT_CRITERIA)
        return np.asarray(out, np.float64).reshape(-1, 2)

    def from_normalized(self, normalized: ArrayLike) -> NDArray[np.float64]:
        """Normalized camera coordinates `(n, 2)` to the distorted pixels the camera records.

        Example:
            >>> lens = Lens("pinhole", np.array([[800.0, 0, 640], [0, 800, 360], [0, 0, 1]]), np.zeros(4))
            >>> lens.from_normalized([[1.0, 0.0]]).round(6).tolist()
            [[1440.0, 360.0]]
        """
        pts = _as_points(normalized, "normalized")
        if len(pts) == 0:
            return pts
        k, d = self.camera_matrix, self.distortion
        if self.model == "fisheye":
            out = cv2.fisheye.distortPoints(pts.reshape(-1, 1, 2), k, d)
        else:
            rays = np.hstack([pts, np.ones((len(pts), 1))]).reshape(-1, 1, 3)
            out, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), k, d)
        return np.asarray(out, np.float64).reshape(-1, 2)

    def distort(self, points_px: ArrayLike) -> NDArray[np.float64]:
        """Undistorted image pixels `(n, 2)` back to the distorted pixels the camera records.

        Example:
            >>> lens = Lens("pinhole", np.array([[800.0, 0, 640], [0, 800, 360], [0, 0, 1]]), np.zeros(4))
            >>> lens.distort([[700.0, 400.0]]).round(6).tolist()
            [[700.0, 400.0]]
        """
        pts = _as_points(points_px, "points_px")
        if len(pts) == 0:
            return pts
        return self.from_normalized(_apply_homography(np.asarray(np.linalg.inv(self.camera_matrix)), pts))


@dataclass(frozen=True, eq=False)
class FloorCalibration:
    """A camera's mapping between image pixels and floor metres.

    Attributes:
        homography: `(3, 3)` from undistorted image pixels to floor metres.
        lens: the lens whose distortion is undone first, or None for an undistorted image.
        image_points: `(n, 2)` calibration points in (distorted) image pixels.
        floor_points: `(n, 2)` the same points on the floor in metres.
        errors_m: `(n,)` per point distance in metres between its floor point and where the
            calibration puts its image point. With exactly 4 points these are 0 whatever the points
            are (a homography fits 4 pairs exactly); `holdout_errors_m` is the honest measure.
        holdout_errors_m: `(n,)` leave-one-out errors: per point, the distance in metres between its
            floor point and where a calibration fitted to the other points puts it. NaN for a point
            without which the rest cannot be fitted, or that the rest cannot pin down (it lies far
            beyond them); all NaN with fewer than 5 points (unknown).
        rest_errors_m: `(n,)` per point, the RMS error of the other points under a fit without it:
            the point whose removal leaves the rest agreeing best is the likeliest wrong one.
    """

    homography: NDArray[np.float64]
    lens: Lens | None
    image_points: NDArray[np.float64]
    floor_points: NDArray[np.float64]
    errors_m: NDArray[np.float64]
    holdout_errors_m: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    rest_errors_m: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    _inverse: NDArray[np.float64] = field(init=False, repr=False)
    _front_sign: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_inverse", np.asarray(np.linalg.inv(self.homography), np.float64))
        undistorted = self._undistorted(self.image_points)
        w = _homogeneous_w(self.homography, undistorted)
        object.__setattr__(self, "_front_sign", 1.0 if np.all(w > 0) else -1.0)

    @property
    def reprojection_error_cm(self) -> float:
        """Root mean square of the per point floor errors, in centimetres."""
        return float(np.sqrt(np.mean(self.errors_m**2)) * 100.0)

    @property
    def max_error_cm(self) -> float:
        """The largest per point floor error, in centimetres."""
        return float(np.max(self.errors_m) * 100.0)

    @property
    def holdout_error_cm(self) -> float | None:
        """Root mean square of the leave-one-out floor errors in centimetres, over the points the
        others can check; None when fewer than 5 can be.

        This is what a floor point among the marks is likely to be off by: each mark is checked
        against a calibration that did not see it.
        """
        known = self.holdout_errors_m[np.isfinite(self.holdout_errors_m)]
        if len(known) < 5:
            return None
        return float(np.sqrt(np.mean(known**2)) * 100.0)

    @property
    def suspect_point(self) -> int | None:
        """The point most likely wrong: with 6 or more, the one without which the others agree best;
        with 5, the one with the largest leave-one-out error (the other 4 fit exactly). None if unknown."""
        if len(self.rest_errors_m) >= 6 and np.any(np.isfinite(self.rest_errors_m)):
            return int(np.nanargmin(self.rest_errors_m))
        if np.any(np.isfinite(self.holdout_errors_m)):
            return int(np.nanargmax(self.holdout_errors_m))
        return None

    @property
    def scale_error(self) -> float | None:
        """The calibration's relative error: the leave-one-out error over the marks' spread (the RMS
        distance of the floor points from their centroid). None when the leave-one-out error is unknown.

        A distance measured on the floor through this calibration is off by about this share of it.
        """
        error_cm = self.holdout_error_cm
        if error_cm is None:
            return None
        spread = float(
            np.sqrt(np.mean(np.sum((self.floor_points - self.floor_points.mean(axis=0)) ** 2, axis=1)))
        )
        return error_cm / 100.0 / spread

    def floor_from_image(self, points_px: ArrayLike) -> NDArray[np.float64]:
        """Image pixels `(n, 2)` to floor metres `(n, 2)`, undistorting first when there is a lens.

        Points beyond the horizon of the floor (which no floor point can be) come back as NaN.

        Example:
            >>> cal = calibrate([[0, 0], [100, 0], [100, 100], [0, 100]], [[0, 0], [1, 0], [1, 1], [0, 1]])
            >>> cal.floor_from_image([[50.0, 50.0]]).round(6).tolist()
            [[0.5, 0.5]]
        """
        undistorted = self._undistorted(_as_points(points_px, "points_px"))
        floor_xy = _apply_homography(self.homography, undistorted)
        behind = _homogeneous_w(self.homography, undistorted) * self._front_sign <= 0
        floor_xy[behind] = np.nan
        return floor_xy

    def floor_scale_m_per_px(self, points_px: ArrayLike, *, finest: bool = False) -> NDArray[np.float64]:
        """Metres of floor per image pixel at each image point `(n,)`, along the coarsest direction
        (along the finest with `finest`: across the line of sight, where an upright person's height
        is resolved about as well); NaN beyond the floor's horizon.

        Example:
            >>> cal = calibrate([[0, 0], [100, 0], [100, 100], [0, 100]], [[0, 0], [2, 0], [2, 1], [0, 1]])
            >>> cal.floor_scale_m_per_px([[50.0, 50.0]]).round(6).tolist()
            [0.02]
        """
        pts = _as_points(points_px, "points_px")
        if len(pts) == 0:
            return np.zeros(0)
        base = self.floor_from_image(pts)
        dx = self.floor_from_image(pts + [1.0, 0.0]) - base
        dy = self.floor_from_image(pts + [0.0, 1.0]) - base
        # The singular values of the 2 x 2 Jacobian [dx dy], in closed form (NaN stays NaN).
        a, b, c = (dx * dx).sum(axis=1), (dx * dy).sum(axis=1), (dy * dy).sum(axis=1)
        with np.errstate(invalid="ignore"):
            spread = np.sqrt(((a - c) / 2) ** 2 + b * b)
            scale: NDArray[np.float64] = np.sqrt(
                np.maximum((a + c) / 2 + (-spread if finest else spread), 0.0)
            )
        return scale

    def image_from_floor(self, points_m: ArrayLike) -> NDArray[np.float64]:
        """Floor metres `(n, 2)` to image pixels `(n, 2)`, re-applying the lens distortion (to draw zones).

        Floor points beyond the camera's horizon (behind it) come back as NaN.

        Example:
            >>> cal = calibrate([[0, 0], [100, 0], [100, 100], [0, 100]], [[0, 0], [1, 0], [1, 1], [0, 1]])
            >>> cal.image_from_floor([[0.25, 0.5]]).round(6).tolist()
            [[25.0, 50.0]]
        """
        floor_m = _as_points(points_m, "points_m")
        undistorted = _apply_homography(self._inverse, floor_m)
        in_view = (_homogeneous_w(self._inverse, floor_m) * self._front_sign > 0) & np.all(
            np.isfinite(undistorted), axis=1
        )
        image_px = np.full_like(undistorted, np.nan)
        image_px[in_view] = (
            undistorted[in_view] if self.lens is None else self.lens.distort(undistorted[in_view])
        )
        return image_px

    def _undistorted(self, points_px: NDArray[np.float64]) -> NDArray[np.float64]:
        return points_px if self.lens is None else self.lens.undistort(points_px)


def calibrate(
    image_points: ArrayLike,
    floor_points: ArrayLike,
    lens: LensConfig | Lens | None = None,
) -> FloorCalibration:
    """Fit the floor homography to image↔floor point pairs.

    Args:
        image_points: `(n, 2)` pixels in the camera's full (distorted) frame, n >= 4.
        floor_points: `(n, 2)` metres, in the same order.
        lens: intrinsics to undo the lens distortion before the homography, or None.

    Returns:
        The calibration, with the per point errors on the floor.

    Raises:
        CalibrationError: fewer than 4 pairs, a different number of image and floor points, the same
            point twice, all points on one line (or, for exactly 4 points, any 3 on one line), or a
            homography that is singular or ill-conditioned.

    Example:
        >>> cal = calibrate([[0, 0], [200, 0], [200, 100], [0, 100]], [[0, 0], [4, 0], [4, 2], [0, 2]])
        >>> round(cal.reprojection_error_cm, 6)
        0.0
    """
    image_px = _as_calibration_points(image_points, "image_points")
    floor_m = _as_calibration_points(floor_points, "floor_points")
    if len(image_px) != len(floor_m):
        raise CalibrationError(
            f"image_points has {len(image_px)} points but floor_points has {len(floor_m)}: "
            "they are pairs, one floor point per image point"
        )
    if len(image_px) < 4:
        raise CalibrationError(f"a homography needs at least 4 point pairs, got {len(image_px)}")
    the_lens = Lens.from_config(lens) if isinstance(lens, LensConfig) else lens
    undistorted = image_px if the_lens is None else the_lens.undistort(image_px)
    if not np.all(np.isfinite(undistorted)):
        raise CalibrationError("the lens cannot undistort the image points: check the camera matrix")

    _check_distinct(image_px, SAME_PIXEL_PX, "image", "pixel")
    _check_distinct(floor_m, SAME_FLOOR_POINT_M, "floor", "floor point")
    _check_general_position(undistorted, "image")
    _check_general_position(floor_m, "floor")

    homography = _fit_homography(undistorted, floor_m)
    w = _homogeneous_w(homography, undistorted)
    if not (np.all(w > 0) or np.all(w < 0)):
        positive = w > 0
        majority = positive if 2 * np.count_nonzero(positive) > len(w) else ~positive
        split = np.flatnonzero(~majority)
        raise CalibrationError(
            f"{_name_points('image', split)} {'falls' if len(split) == 1 else 'fall'} beyond the horizon "
            "of the fitted floor: check that the image and floor points are listed in the same order"
        )
    fitted_m = _apply_homography(homography, undistorted)
    errors_m = np.linalg.norm(fitted_m - floor_m, axis=1)
    holdout, rest = _holdout_errors(undistorted, floor_m)
    return FloorCalibration(
        homography=homography,
        lens=the_lens,
        image_points=image_px,
        floor_points=floor_m,
        errors_m=errors_m,
        holdout_errors_m=holdout,
        rest_errors_m=rest,
    )


def _holdout_errors(
    undistorted: NDArray[np.float64], floor_m: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per point, its floor error under a homography fitted to all the other points, and the RMS of
    those other points' own errors under that fit (how well the rest agrees without it). NaN: unknown.

    A point the others cannot pin down is unknown too: where a pixel of noise in the other points'
    clicks moves its predicted floor position by more than `MAX_HOLDOUT_AMPLIFICATION` of its own
    pixels (a corner beyond the others, a rest with three points in line), its error says how the
    others extrapolate, not whether it is right.
    """
    n = len(undistorted)
    errors, rest_rms = np.full(n, np.nan), np.full(n, np.nan)
    if n < 5:
        return errors, rest_rms
    rng = np.random.default_rng(0)  # the same clicks always get the same verdict
    for i in range(n):
        rest = np.arange(n) != i
        try:  # a rest without 4 points in general position fails here, in the DLT
            homography = _fit_homography(undistorted[rest], floor_m[rest])
        except CalibrationError:
            continue
        predicted = _apply_homography(homography, undistorted)
        rest_rms[i] = float(np.sqrt(np.mean(np.sum((predicted[rest] - floor_m[rest]) ** 2, axis=1))))
        if np.all(np.isfinite(predicted[i])) and _pinned_down(undistorted, floor_m, i, homography, rng):
            errors[i] = float(np.linalg.norm(predicted[i] - floor_m[i]))
    return errors, rest_rms


def _pinned_down(
    undistorted: NDArray[np.float64],
    floor_m: NDArray[np.float64],
    index: int,
    homography: NDArray[np.float64],
    rng: np.random.Generator,
    trials: int = 8,
) -> bool:
    """Whether the points other than `index` place it steadily: their clicks shaken by a pixel move
    its predicted position by at most `MAX_HOLDOUT_AMPLIFICATION` pixels' worth of floor there."""
    rest = np.arange(len(undistorted)) != index
    point = undistorted[index : index + 1]
    base = _apply_homography(homography, point)[0]
    nearby = _apply_homography(homography, point + [[1.0, 0.0]])[0]
    metres_per_px = float(np.linalg.norm(nearby - base))
    if not np.isfinite(metres_per_px) or metres_per_px <= 0:
        return False
    moved = []
    for _ in range(trials):
        shaken = undistorted[rest] + rng.normal(0.0, 1.0, (int(rest.sum()), 2))
        try:
            dlt = _linear_homography(shaken, floor_m[rest])
        except CalibrationError:
            return False
        moved.append(np.linalg.norm(_apply_homography(dlt, point)[0] - base))
    spread = float(np.sqrt(np.mean(np.square(moved))))
    return np.isfinite(spread) and spread <= MAX_HOLDOUT_AMPLIFICATION * metres_per_px


def _linear_homography(image_px: NDArray[np.float64], floor_m: NDArray[np.float64]) -> NDArray[np.float64]:
    """The Hartley-normalized DLT alone (no refinement): cheap, for judging how steady a fit is."""
    to_image = _normalizing_transform(image_px)
    to_floor = _normalizing_transform(floor_m)
    normalized = _dlt(_apply_homography(to_image, image_px), _apply_homography(to_floor, floor_m))
    homography: NDArray[np.float64] = np.linalg.inv(to_floor) @ normalized @ to_image
    return homography


def calibration_from_config(cfg: CalibrationConfig) -> FloorCalibration:
    """Calibrate from a camera's `calibration:` section.

    Example:
        >>> cfg = CalibrationConfig(image_points=[(0, 0), (100, 0), (100, 100), (0, 100)],
        ...                         floor_points=[(0, 0), (1, 0), (1, 1), (0, 1)])
        >>> calibration_from_config(cfg).max_error_cm < 1e-6
        True
    """
    return calibrate(cfg.image_points, cfg.floor_points, cfg.lens)


def _as_points(points: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.array(points, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 2), np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2), got {arr.shape}")
    return arr


def _as_calibration_points(points: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        arr = _as_points(points, name)
    except ValueError as exc:
        raise CalibrationError(str(exc)) from exc
    bad = np.flatnonzero(~np.all(np.isfinite(arr), axis=1))
    if len(bad):
        raise CalibrationError(f"{name}: {_name_points(name.split('_')[0], bad)} not finite numbers")
    return arr


def _apply_homography(homography: NDArray[np.float64], points: NDArray[np.float64]) -> NDArray[np.float64]:
    projected = points @ homography[:, :2].T + homography[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        mapped: NDArray[np.float64] = projected[:, :2] / projected[:, 2:3]
    return mapped


def _homogeneous_w(homography: NDArray[np.float64], points: NDArray[np.float64]) -> NDArray[np.float64]:
    w: NDArray[np.float64] = points @ homography[2, :2] + homography[2, 2]
    return w


def _index_list(indexes: Sequence[int] | NDArray[np.intp]) -> str:
    """'3', '1 and 2', '1, 2 and 4'."""
    items = [str(int(i)) for i in indexes]
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _name_points(kind: str, indexes: Sequence[int] | NDArray[np.intp]) -> str:
    """'image point 3', 'floor points 1 and 2', 'image points 1, 2 and 4'."""
    return f"{kind} point{'' if len(indexes) == 1 else 's'} {_index_list(indexes)}"


def _check_distinct(points: NDArray[np.float64], tolerance: float, kind: str, unit: str) -> None:
    for i, j in itertools.combinations(range(len(points)), 2):
        if np.linalg.norm(points[i] - points[j]) <= tolerance:
            raise CalibrationError(
                f"{_name_points(kind, [i, j])} are the same {unit}: each pair needs its own mark"
            )


def _distance_to_line(
    points: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64]
) -> NDArray[np.float64]:
    direction = (b - a) / np.linalg.norm(b - a)
    offset = points - a
    distance: NDArray[np.float64] = np.abs(offset[:, 0] * direction[1] - offset[:, 1] * direction[0])
    return distance


def _check_general_position(points: NDArray[np.float64], kind: str) -> None:
    """Refuse point sets with no 4 points of which no 3 are in line.

    Such a set exists unless one line holds all points, or all but one: with n >= 4 points, a line
    holding at most n - 2 of them leaves room to pick 2 on it and 2 off it, none 3 in line.
    """
    n = len(points)
    spread = float(np.sqrt(np.mean(np.sum((points - points.mean(axis=0)) ** 2, axis=1))))
    tolerance = COLLINEAR_TOLERANCE * spread
    for i, j in itertools.combinations(range(n), 2):
        on_line = np.flatnonzero(_distance_to_line(points, points[i], points[j]) <= tolerance)
        if len(on_line) < n - 1:
            continue
        if len(on_line) == n:
            detail = f"all {kind} points ({_index_list(on_line)}) lie on one line"
        elif n == 4:
            detail = f"{_name_points(kind, on_line)} lie on one line"
        else:
            off = int(np.setdiff1d(np.arange(n), on_line)[0])
            detail = f"{_name_points(kind, on_line)} lie on one line and only {kind} point {off} is off it"
        raise CalibrationError(f"{detail}: a homography needs 4 points with no 3 in line")


def _normalizing_transform(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Hartley's normalization: centroid to the origin, mean distance sqrt(2)."""
    centroid = points.mean(axis=0)
    mean_distance = float(np.mean(np.linalg.norm(points - centroid, axis=1)))
    scale = np.sqrt(2.0) / mean_distance
    return np.array([[scale, 0.0, -scale * centroid[0]], [0.0, scale, -scale * centroid[1]], [0.0, 0.0, 1.0]])


def _fit_homography(image_px: NDArray[np.float64], floor_m: NDArray[np.float64]) -> NDArray[np.float64]:
    """Least-squares homography: Hartley-normalized DLT, then (over 4 points) refined to minimise the
    floor distances themselves rather than the DLT's algebraic error."""
    to_image = _normalizing_transform(image_px)
    to_floor = _normalizing_transform(floor_m)
    src = _apply_homography(to_image, image_px)
    dst = _apply_homography(to_floor, floor_m)
    normalized = _dlt(src, dst)
    if len(src) > 4:
        normalized = _refine(normalized, src, dst)
    singular_values = np.linalg.svd(normalized, compute_uv=False)
    if not np.all(np.isfinite(singular_values)) or singular_values[-1] <= singular_values[0] / MAX_CONDITION:
        condition = singular_values[0] / max(singular_values[-1], 1e-300)
        raise CalibrationError(
            f"the homography is singular or ill-conditioned (condition number {condition:.3g}): "
            "spread the points over the floor"
        )
    homography = np.linalg.inv(to_floor) @ normalized @ to_image
    scale = homography[2, 2] if abs(homography[2, 2]) > 1e-12 else np.linalg.norm(homography)
    result: NDArray[np.float64] = homography / scale
    return result


def _dlt(src: NDArray[np.float64], dst: NDArray[np.float64]) -> NDArray[np.float64]:
    """The direct linear transform: the homography whose algebraic error is least, by SVD."""
    n = len(src)
    x, y = src[:, 0], src[:, 1]
    u, v = dst[:, 0], dst[:, 1]
    zero, one = np.zeros(n), np.ones(n)
    rows = np.empty((2 * n, 9))
    rows[0::2] = np.stack([x, y, one, zero, zero, zero, -u * x, -u * y, -u], axis=1)
    rows[1::2] = np.stack([zero, zero, zero, x, y, one, -v * x, -v * y, -v], axis=1)
    _, singular_values, vt = np.linalg.svd(rows)
    padded = np.zeros(9)
    padded[: len(singular_values)] = singular_values
    if padded[-2] <= padded[0] * 1e-10:
        raise CalibrationError("the points do not determine one homography: they are degenerate")
    solution: NDArray[np.float64] = vt[-1].reshape(3, 3)
    return solution


def _refine(
    homography: NDArray[np.float64], src: NDArray[np.float64], dst: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Levenberg-Marquardt on the distances between mapped and given (normalized) floor points."""

    def residuals(params: NDArray[np.float64]) -> NDArray[np.float64]:
        mapped = _apply_homography(params.reshape(3, 3), src)
        return np.concatenate([(mapped - dst).ravel(), [params @ params - 1.0]])

    start = homography.ravel() / np.linalg.norm(homography)
    fit = least_squares(residuals, start, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15)
    refined = np.asarray(fit.x, np.float64).reshape(3, 3)
    if not np.all(np.isfinite(refined)):
        return homography
    before = np.sum((_apply_homography(homography, src) - dst) ** 2)
    after = np.sum((_apply_homography(refined, src) - dst) ** 2)
    return refined if after <= before else homography
