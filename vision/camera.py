"""Where a camera hangs and how it looks at the floor, recovered from its floor calibration.

The floor homography of a calibrated camera is ``K [r1 r2 t]`` up to scale (Zhang, "A flexible new
technique for camera calibration", 2000): with the intrinsics ``K`` it gives the camera's rotation
and position over the floor. That is what places a person seen by the head (a point 1.5 m above the
floor) where they stand: through the plane at head height, not the floor. Without a lens model the
focal length comes from the homography itself when the camera is tilted (the two floor axes must be
perpendicular and of equal length; principal point at the image centre, square pixels), or from the
mounting height when it looks almost straight down, where the homography cannot tell a high camera
with a long lens from a low one with a short lens.

World coordinates: x and y on the floor in metres (the calibration's), z up from the floor in metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

from vision.calibration import CalibrationError, FloorCalibration, Lens

#: Below this tilt (degrees from straight down) the focal length is not taken from the homography.
MIN_TILT_FOR_FOCAL_DEG = 12.0


@dataclass(frozen=True, eq=False)
class CameraPose:
    """A calibrated camera in the hall: intrinsics, orientation and position.

    Attributes:
        camera_matrix: `(3, 3)` intrinsics in pixels.
        rotation: `(3, 3)` orthonormal, world to camera (`p_cam = rotation @ p_world + translation`);
            its determinant is -1 when the floor's x, y axes and "up" form a left-handed frame.
        translation: `(3,)` metres.
        lens: the lens distortion, or None for an undistorted image.

    Example:
        >>> pose = CameraPose.looking_down(height_m=3.0, focal_px=500.0, image_size=(640, 480))
        >>> round(pose.height_m, 6), round(pose.tilt_deg, 6)
        (3.0, 0.0)
        >>> pose.floor_at_height([[420.0, 240.0]], 1.5).round(6).tolist()  # 100 px right of centre
        [[0.3, 0.0]]
    """

    camera_matrix: NDArray[np.float64]
    rotation: NDArray[np.float64]
    translation: NDArray[np.float64]
    lens: Lens | None = None

    @classmethod
    def looking_down(
        cls,
        height_m: float,
        focal_px: float,
        image_size: tuple[int, int],
        over_xy: tuple[float, float] = (0, 0),
    ) -> CameraPose:
        """A pinhole camera at `height_m` over `over_xy` looking straight down, image x along floor x."""
        k = np.array([[focal_px, 0, image_size[0] / 2], [0, focal_px, image_size[1] / 2], [0, 0, 1.0]])
        rotation = np.diag([1.0, -1.0, -1.0])  # camera z looks down (-z), image y runs along -y
        centre = np.array([over_xy[0], over_xy[1], height_m])
        return cls(k, rotation, -rotation @ centre)

    @property
    def centre_m(self) -> NDArray[np.float64]:
        """The camera's position `(3,)` in metres; `z` is its height over the floor."""
        centre: NDArray[np.float64] = -self.rotation.T @ self.translation
        return centre

    @property
    def height_m(self) -> float:
        """How high above the floor the camera hangs, in metres."""
        return float(self.centre_m[2])

    @property
    def tilt_deg(self) -> float:
        """Angle between the camera's optical axis and straight down, in degrees (0: looks down)."""
        axis_world = self.rotation[2]  # the camera's z axis, in world coordinates
        return math.degrees(math.acos(float(np.clip(-axis_world[2], -1.0, 1.0))))

    @property
    def focal_px(self) -> float:
        return float((self.camera_matrix[0, 0] + self.camera_matrix[1, 1]) / 2)

    def normalized(self, image_px: ArrayLike) -> NDArray[np.float64]:
        """Image pixels `(n, 2)` (as recorded, distorted) to normalized camera coordinates `(n, 2)`."""
        px = np.asarray(image_px, np.float64).reshape(-1, 2)
        if self.lens is not None:
            return self.lens.normalized(px)
        k = self.camera_matrix
        return np.stack([(px[:, 0] - k[0, 2]) / k[0, 0], (px[:, 1] - k[1, 2]) / k[1, 1]], axis=1)

    def project(self, points_m: ArrayLike) -> NDArray[np.float64]:
        """World points `(n, 3)` in metres to image pixels `(n, 2)`; NaN for points behind the camera.

        Example:
            >>> pose = CameraPose.looking_down(height_m=3.0, focal_px=500.0, image_size=(640, 480))
            >>> pose.project([[0.3, 0.0, 1.5]]).round(6).tolist()
            [[420.0, 240.0]]
        """
        world = np.asarray(points_m, np.float64).reshape(-1, 3)
        cam = world @ self.rotation.T + self.translation
        with np.errstate(divide="ignore", invalid="ignore"):
            normalized = cam[:, :2] / cam[:, 2:3]
        in_front = cam[:, 2] > 1e-9
        image = np.full((len(world), 2), np.nan)
        if not np.any(in_front):
            return image
        if self.lens is not None:
            image[in_front] = self.lens.from_normalized(normalized[in_front])
        else:
            k = self.camera_matrix
            image[in_front] = normalized[in_front] * [k[0, 0], k[1, 1]] + [k[0, 2], k[1, 2]]
        return image

    def rays(self, image_px: ArrayLike) -> NDArray[np.float64]:
        """World directions `(n, 3)` (not unit length) from the camera through image pixels `(n, 2)`."""
        normalized = self.normalized(image_px)
        cam = np.hstack([normalized, np.ones((len(normalized), 1))])
        rays: NDArray[np.float64] = cam @ self.rotation  # rotation.T @ d, row-wise
        return rays

    def floor_at_height(self, image_px: ArrayLike, height_m: ArrayLike) -> NDArray[np.float64]:
        """Floor positions `(n, 2)` of points seen at image pixels `(n, 2)` and standing `height_m` high.

        The ray through each pixel meets the horizontal plane at that height; the floor position is
        the point right below. NaN where the ray never reaches that plane (at or above the camera).
        """
        rays = self.rays(image_px)
        heights = np.broadcast_to(np.asarray(height_m, np.float64), (len(rays),))
        centre = self.centre_m
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (heights - centre[2]) / rays[:, 2]
        floor = centre[:2] + s[:, None] * rays[:, :2]
        floor[~(s > 0)] = np.nan
        result: NDArray[np.float64] = floor
        return result


def camera_pose(
    calibration: FloorCalibration,
    image_size: tuple[int, int] | None = None,
    mounting_height_m: float | None = None,
) -> CameraPose:
    """The camera's pose, from its floor calibration.

    Args:
        calibration: the camera's floor calibration (its homography works on undistorted pixels).
        image_size: `(width, height)` in pixels: the principal point is taken at its centre when the
            calibration has no lens model.
        mounting_height_m: the camera's height over the floor, measured; needed without a lens model
            when the camera looks almost straight down.

    Raises:
        CalibrationError: what is missing to recover the pose, in words an installer can act on.

    Example:
        >>> truth = CameraPose.looking_down(height_m=3.0, focal_px=500.0, image_size=(640, 480))
        >>> from vision.calibration import calibrate
        >>> floor = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [0.2, 0.5]], np.float64)
        >>> image = truth.project(np.hstack([floor, np.zeros((5, 1))]))
        >>> pose = camera_pose(calibrate(image, floor), (640, 480), mounting_height_m=3.0)
        >>> round(pose.focal_px, 3)
        500.0
    """
    image_from_floor = np.asarray(np.linalg.inv(calibration.homography), np.float64)
    floor_sample = calibration.floor_points
    if calibration.lens is not None:
        pose = pose_from_homography(image_from_floor, calibration.lens.camera_matrix, floor_sample)
        return CameraPose(pose.camera_matrix, pose.rotation, pose.translation, calibration.lens)
    if image_size is None:
        raise CalibrationError(
            "the image size is needed to place the principal point of a camera without a lens"
        )
    cx, cy = image_size[0] / 2.0, image_size[1] / 2.0
    focal = focal_from_homography(image_from_floor, (cx, cy))
    tilted = None
    if focal is not None:
        tilted = pose_from_homography(image_from_floor, _intrinsics(focal, cx, cy), floor_sample)
        if tilted.tilt_deg < MIN_TILT_FOR_FOCAL_DEG:
            tilted = None
    if tilted is not None:
        return tilted
    if mounting_height_m is None:
        raise CalibrationError(
            "the camera looks almost straight down, so its height cannot be told from the floor marks: "
            "set calibration.mounting_height_m (measured from the floor to the lens) or give the lens"
        )
    height = mounting_height_m

    def height_error(f: float) -> float:
        pose = pose_from_homography(image_from_floor, _intrinsics(f, cx, cy), floor_sample)
        return pose.height_m - height

    # Looking down, the height grows with the focal length; bracket it on a coarse log grid first.
    grid = np.geomspace(10.0, 1e6, 60)
    errors = np.array([height_error(float(f)) for f in grid])
    crossing = np.flatnonzero(np.sign(errors[:-1]) != np.sign(errors[1:]))
    if len(crossing) == 0:
        raise CalibrationError(
            f"no focal length puts this camera {height} m above the floor: "
            "check calibration.mounting_height_m and the floor marks"
        )
    i = int(crossing[0])
    focal = float(brentq(height_error, float(grid[i]), float(grid[i + 1]), xtol=1e-9))
    return pose_from_homography(image_from_floor, _intrinsics(focal, cx, cy), floor_sample)


def focal_from_homography(
    image_from_floor: NDArray[np.float64], principal_px: tuple[float, float]
) -> float | None:
    """The focal length in pixels that makes the floor's x and y axes perpendicular and equally long.

    Two linear equations in ``1 / f**2`` (Zhang 2000, square pixels and a known principal point),
    solved together in the least-squares sense. None when they do not determine a positive value
    (a camera looking straight down leaves them empty).
    """
    g = np.asarray(image_from_floor, np.float64)
    cx, cy = principal_px
    a = np.stack([g[0] - cx * g[2], g[1] - cy * g[2], g[2]])  # rows x, y, z of the shifted homography
    a1, a2 = a[:, 0], a[:, 1]
    scale = max(float(np.linalg.norm(a1[:2])), float(np.linalg.norm(a2[:2])))
    if scale == 0:
        return None
    a1, a2 = a1 / scale, a2 / scale
    coefficients = np.array(
        [a1[0] * a2[0] + a1[1] * a2[1], a1[0] ** 2 + a1[1] ** 2 - a2[0] ** 2 - a2[1] ** 2]
    )
    constants = np.array([a1[2] * a2[2], a1[2] ** 2 - a2[2] ** 2])
    denominator = float(coefficients @ coefficients)
    if denominator < 1e-18:
        return None
    w = -float(coefficients @ constants) / denominator
    if not w > 0:
        return None
    return 1.0 / math.sqrt(w)


def pose_from_homography(
    image_from_floor: NDArray[np.float64], camera_matrix: NDArray[np.float64], floor_sample: ArrayLike
) -> CameraPose:
    """Decompose ``K [r1 r2 t]`` (floor metres to undistorted pixels) into a pose.

    Args:
        floor_sample: floor points `(n, 2)` known to be in view, to pick the sign that puts them in
            front of the camera.
    """
    k = np.asarray(camera_matrix, np.float64)
    m = np.linalg.solve(k, np.asarray(image_from_floor, np.float64))
    scale = 2.0 / (np.linalg.norm(m[:, 0]) + np.linalg.norm(m[:, 1]))
    sample = np.asarray(floor_sample, np.float64).reshape(-1, 2)
    depth = (np.hstack([sample, np.ones((len(sample), 1))]) @ m.T)[:, 2]
    if np.mean(depth) < 0:
        scale = -scale
    r1, r2, t = m[:, 0] * scale, m[:, 1] * scale, m[:, 2] * scale
    u, _, vt = np.linalg.svd(np.stack([r1, r2, np.cross(r1, r2)], axis=1))
    rotation = u @ vt
    if (-rotation.T @ t)[2] < 0:
        rotation[:, 2] = -rotation[:, 2]  # floor axes and "up" are left-handed: z must point at the camera
    return CameraPose(k, rotation, t)


def _intrinsics(focal_px: float, cx: float, cy: float) -> NDArray[np.float64]:
    return np.array([[focal_px, 0.0, cx], [0.0, focal_px, cy], [0.0, 0.0, 1.0]])
