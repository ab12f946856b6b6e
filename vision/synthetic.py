"""Exact-geometry people: what a detector would report of people whose floor positions are known.

Tests and benchmarks build a camera (pinhole or fisheye, at any height and tilt), stand people of
chosen statures on the floor, and get the `Detections` a good detector would give: each person's
box around their projected body, COCO keypoints at their body heights, keypoints hidden where the
body or a nearer person covers them, and people mostly hidden behind nearer people left out. No
image is drawn and no model runs, so the geometry of placement, counting, spacing and fusion is
tested exactly. These scenes cannot tell how a real detector behaves on real people; only real
footage can (see the README's accuracy section).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vision.calibration import FloorCalibration, Lens, calibrate
from vision.camera import CameraPose
from vision.detections import KEYPOINTS, Detections

# Height (share of stature), sideways offset (metres, + is the person's left) and forward offset of
# each COCO keypoint for a person standing upright with arms down (Drillis & Contini proportions).
_KEYPOINT_BODY = np.array(
    [
        (0.930, 0.00, 0.09),  # nose
        (0.936, 0.03, 0.08),  # left eye
        (0.936, -0.03, 0.08),  # right eye
        (0.930, 0.075, 0.0),  # left ear
        (0.930, -0.075, 0.0),  # right ear
        (0.818, 0.19, 0.0),  # left shoulder
        (0.818, -0.19, 0.0),  # right shoulder
        (0.630, 0.22, 0.0),  # left elbow
        (0.630, -0.22, 0.0),  # right elbow
        (0.485, 0.22, 0.03),  # left wrist
        (0.485, -0.22, 0.03),  # right wrist
        (0.530, 0.10, 0.0),  # left hip
        (0.530, -0.10, 0.0),  # right hip
        (0.285, 0.10, 0.02),  # left knee
        (0.285, -0.10, 0.02),  # right knee
        (0.039, 0.10, 0.0),  # left ankle
        (0.039, -0.10, 0.0),  # right ankle
    ]
)
# The body's outline: (height share, radius in metres), a stack of horizontal circles.
_HULL = (
    (0.0, 0.14),
    (0.039, 0.14),
    (0.285, 0.15),
    (0.53, 0.19),
    (0.72, 0.2),
    (0.818, 0.24),
    (0.87, 0.1),
    (1.0, 0.1),
)
_HULL_POINTS = 12
#: A person whose box is covered this much by nearer people's boxes is not detected.
HIDDEN_SHARE = 0.6
KEYPOINT_SCORE = 0.9


@dataclass(frozen=True, slots=True)
class StandingPerson:
    """Someone standing upright at floor point `(x_m, y_m)`, `stature_m` tall, facing `facing_rad`."""

    id: int
    x_m: float
    y_m: float
    stature_m: float = 1.65
    facing_rad: float = 0.0


def pinhole_camera(
    *,
    height_m: float,
    tilt_deg: float,
    image_size: tuple[int, int] = (1280, 720),
    hfov_deg: float = 90.0,
    yaw_deg: float = 0.0,
    over_xy: tuple[float, float] = (0.0, 0.0),
) -> CameraPose:
    """A pinhole camera `height_m` above `over_xy`, tilted `tilt_deg` from straight down towards
    the direction `yaw_deg` (0: towards +y)."""
    focal = image_size[0] / 2 / math.tan(math.radians(hfov_deg) / 2)
    k = np.array([[focal, 0, image_size[0] / 2], [0, focal, image_size[1] / 2], [0, 0, 1.0]])
    return _posed(k, None, height_m, tilt_deg, yaw_deg, over_xy)


def fisheye_camera(
    *,
    height_m: float,
    tilt_deg: float = 0.0,
    image_size: tuple[int, int] = (2048, 2048),
    fov_deg: float = 180.0,
    distortion: tuple[float, float, float, float] = (0.02, -0.01, 0.0, 0.0),
    yaw_deg: float = 0.0,
    over_xy: tuple[float, float] = (0.0, 0.0),
) -> CameraPose:
    """An equidistant fisheye whose image circle spans `fov_deg` across the shorter side."""
    focal = min(image_size) / 2 / math.radians(fov_deg / 2)
    k = np.array([[focal, 0, image_size[0] / 2], [0, focal, image_size[1] / 2], [0, 0, 1.0]])
    lens = Lens("fisheye", k, np.asarray(distortion, np.float64))
    return _posed(k, lens, height_m, tilt_deg, yaw_deg, over_xy)


def _posed(
    k: NDArray[np.float64],
    lens: Lens | None,
    height_m: float,
    tilt_deg: float,
    yaw_deg: float,
    over_xy: tuple[float, float],
) -> CameraPose:
    tilt, yaw = -math.radians(tilt_deg), math.radians(yaw_deg)
    down = np.diag([1.0, -1.0, -1.0])  # looking straight down, image up along +y
    tilt_about_x = np.array(
        [[1, 0, 0], [0, math.cos(tilt), -math.sin(tilt)], [0, math.sin(tilt), math.cos(tilt)]]
    )
    turn = np.array([[math.cos(yaw), math.sin(yaw), 0], [-math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
    rotation = tilt_about_x @ down @ turn
    centre = np.array([over_xy[0], over_xy[1], height_m])
    return CameraPose(k, rotation, -rotation @ centre, lens)


def calibrate_camera(
    pose: CameraPose,
    marks_m: NDArray[np.float64],
    image_size: tuple[int, int],
    noise_px: float = 0.0,
    seed: int = 0,
) -> FloorCalibration:
    """The calibration an installer would get from floor marks seen by `pose` (marks out of view dropped).

    The lens is given to the calibration when the camera has one.
    """
    marks = np.asarray(marks_m, np.float64).reshape(-1, 2)
    image = pose.project(np.column_stack([marks, np.zeros(len(marks))]))
    seen = _in_image(image, image_size)
    image = image[seen] + np.random.default_rng(seed).normal(0.0, noise_px, (int(seen.sum()), 2))
    return calibrate(image, marks[seen], pose.lens)


def grid_marks(
    extent_m: float, step_m: float, centre: tuple[float, float] = (0.0, 0.0)
) -> NDArray[np.float64]:
    """Floor marks on a square grid around `centre`."""
    ticks = np.arange(-extent_m, extent_m + 1e-9, step_m)
    return np.array([(centre[0] + x, centre[1] + y) for y in ticks for x in ticks], np.float64)


def detect(
    pose: CameraPose,
    people: list[StandingPerson],
    image_size: tuple[int, int],
    *,
    noise_share: float = 0.0,
    seed: int = 0,
) -> tuple[Detections, list[int]]:
    """What a good detector reports of `people` standing in view of `pose`.

    Args:
        noise_share: Gaussian noise on box edges and keypoints, as a share of the box's height.

    Returns:
        The detections, and the id of the person behind each one (in the same order).
    """
    if not people:
        return Detections.empty(), []
    rng = np.random.default_rng(seed)
    centre = pose.centre_m
    boxes, keypoints, visible, depth, ids = [], [], [], [], []
    for person in people:
        hull = pose.project(_hull_points(person))
        finite = np.all(np.isfinite(hull), axis=1)
        if not np.any(finite):
            continue
        x1, y1 = np.min(hull[finite], axis=0)
        x2, y2 = np.max(hull[finite], axis=0)
        clipped = (max(x1, 0.0), max(y1, 0.0), min(x2, image_size[0]), min(y2, image_size[1]))
        full_area = (x2 - x1) * (y2 - y1)
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            continue
        if (clipped[2] - clipped[0]) * (clipped[3] - clipped[1]) < 0.3 * full_area:
            continue  # mostly out of the picture
        joints = _keypoints_world(person)
        kp = pose.project(joints)
        seen = _in_image(kp, image_size) & _not_self_hidden(person, joints, centre)
        boxes.append(clipped)
        keypoints.append(np.nan_to_num(kp))
        visible.append(seen)
        depth.append(float(np.linalg.norm(np.array([person.x_m, person.y_m, 0.9]) - centre)))
        ids.append(person.id)
    if not boxes:
        return Detections.empty(), []
    box_arr = np.array(boxes)
    kp_arr = np.array(keypoints)
    seen_arr = np.array(visible)
    keep = np.ones(len(box_arr), bool)
    for i in range(len(box_arr)):
        nearer = [j for j in range(len(box_arr)) if depth[j] < depth[i]]
        if _covered_share(box_arr[i], box_arr[nearer]) >= HIDDEN_SHARE:
            keep[i] = False
            continue
        for j in nearer:  # keypoints behind a nearer person's box are not seen
            x1, y1, x2, y2 = box_arr[j]
            inside = (
                (kp_arr[i, :, 0] > x1)
                & (kp_arr[i, :, 0] < x2)
                & (kp_arr[i, :, 1] > y1)
                & (kp_arr[i, :, 1] < y2)
            )
            seen_arr[i] &= ~inside
    if noise_share > 0:
        scale = (box_arr[:, 3] - box_arr[:, 1]) * noise_share
        box_arr = box_arr + rng.normal(0.0, 1.0, box_arr.shape) * scale[:, None]
        kp_arr = kp_arr + rng.normal(0.0, 1.0, kp_arr.shape) * scale[:, None, None]
    conf = np.where(seen_arr, KEYPOINT_SCORE, 0.0)
    detections = Detections.from_boxes(box_arr[keep], np.full(int(keep.sum()), 0.9), kp_arr[keep], conf[keep])
    return detections, [i for i, k in zip(ids, keep, strict=True) if k]


def _hull_points(person: StandingPerson) -> NDArray[np.float64]:
    angles = np.linspace(0, 2 * math.pi, _HULL_POINTS, endpoint=False)
    rings = [
        np.column_stack(
            [
                person.x_m + radius * np.cos(angles),
                person.y_m + radius * np.sin(angles),
                np.full(_HULL_POINTS, share * person.stature_m),
            ]
        )
        for share, radius in _HULL
    ]
    return np.vstack(rings)


def _keypoints_world(person: StandingPerson) -> NDArray[np.float64]:
    forward = np.array([math.cos(person.facing_rad), math.sin(person.facing_rad)])
    left = np.array([-forward[1], forward[0]])
    xy = np.array([person.x_m, person.y_m]) + _KEYPOINT_BODY[:, 1:2] * left + _KEYPOINT_BODY[:, 2:3] * forward
    return np.column_stack([xy, _KEYPOINT_BODY[:, 0] * person.stature_m])


def _not_self_hidden(
    person: StandingPerson, joints: NDArray[np.float64], camera_m: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """Joints below the shoulders are hidden by the person's own upper body when the camera is nearly
    above them: the ray from the joint to the camera must clear the body at hip and shoulder height."""
    seen = np.ones(len(joints), bool)
    horizontal = float(np.hypot(camera_m[0] - person.x_m, camera_m[1] - person.y_m))
    for k, z in enumerate(joints[:, 2]):
        for share, radius in ((0.53, 0.17), (0.818, 0.22)):
            height = share * person.stature_m
            if z >= height or camera_m[2] <= z:
                continue
            offset = horizontal * (height - z) / (camera_m[2] - z)
            if offset < radius:
                seen[k] = False
    return seen


def _in_image(points: NDArray[np.float64], image_size: tuple[int, int]) -> NDArray[np.bool_]:
    finite = np.all(np.isfinite(points), axis=1)
    inside = np.zeros(len(points), bool)
    p = points[finite]
    inside[finite] = (p[:, 0] >= 0) & (p[:, 0] < image_size[0]) & (p[:, 1] >= 0) & (p[:, 1] < image_size[1])
    return inside


def _covered_share(box: NDArray[np.float64], others: NDArray[np.float64]) -> float:
    """Share of `box`'s area inside the union of `others`, on a coarse raster."""
    if len(others) == 0:
        return 0.0
    xs = np.linspace(box[0], box[2], 12)
    ys = np.linspace(box[1], box[3], 24)
    gx, gy = np.meshgrid(xs, ys)
    points = np.column_stack([gx.ravel(), gy.ravel()])
    covered = np.zeros(len(points), bool)
    for x1, y1, x2, y2 in others:
        covered |= (points[:, 0] >= x1) & (points[:, 0] <= x2) & (points[:, 1] >= y1) & (points[:, 1] <= y2)
    return float(covered.mean())


assert _KEYPOINT_BODY.shape == (KEYPOINTS, 3)


@dataclass(frozen=True, slots=True)
class Walker:
    """Someone following waypoints `(t_s, x_m, y_m)`, present from the first to the last."""

    id: int
    waypoints: tuple[tuple[float, float, float], ...]
    stature_m: float = 1.65

    def at(self, t_s: float) -> StandingPerson | None:
        times = [w[0] for w in self.waypoints]
        if t_s < times[0] or t_s > times[-1]:
            return None
        x = float(np.interp(t_s, times, [w[1] for w in self.waypoints]))
        y = float(np.interp(t_s, times, [w[2] for w in self.waypoints]))
        ahead = min(t_s + 0.2, times[-1])
        dx = float(np.interp(ahead, times, [w[1] for w in self.waypoints])) - x
        dy = float(np.interp(ahead, times, [w[2] for w in self.waypoints])) - y
        facing = math.atan2(dy, dx) if abs(dx) + abs(dy) > 1e-6 else self.id * 0.7
        return StandingPerson(self.id, x, y, self.stature_m, facing)


@dataclass(frozen=True, slots=True)
class WalkingScene:
    """People walking and standing in a hall, sampled `fps` times a second for `duration_s`."""

    walkers: tuple[Walker, ...]
    fps: float
    duration_s: float

    def frames(self) -> list[tuple[int, float, list[StandingPerson]]]:
        """Per frame: its index, its time, and who is where."""
        out = []
        for k in range(int(round(self.duration_s * self.fps))):
            t = k / self.fps
            out.append((k, t, [p for w in self.walkers if (p := w.at(t)) is not None]))
        return out


def busy_hall(
    *,
    area: tuple[tuple[float, float], tuple[float, float]],
    windows: list[tuple[float, float]],
    walkers: int = 8,
    duration_s: float = 40.0,
    fps: float = 5.0,
    seed: int = 0,
) -> WalkingScene:
    """A hall where people walk between random spots, queue and stand at windows in twos and threes,
    and wait in small groups closer than a metre, so every count, limit and pair gets exercised.

    Args:
        area: the floor's `((x_min, y_min), (x_max, y_max))` in metres.
        windows: the centre of each service window's standing area.
    """
    rng = np.random.default_rng(seed)
    (x0, y0), (x1, y1) = area
    people: list[Walker] = []
    pid = 1

    def spot() -> tuple[float, float]:
        return float(rng.uniform(x0 + 0.5, x1 - 0.5)), float(rng.uniform(y0 + 0.5, y1 - 0.5))

    def stature() -> float:
        return float(np.clip(rng.normal(1.68, 0.09), 1.5, 1.9))

    for _ in range(walkers):  # wanderers: walk, pause, walk on
        t, (x, y) = float(rng.uniform(0, 5)), spot()
        points = [(t, x, y)]
        while t < duration_s:
            nx, ny = spot()
            t += float(np.hypot(nx - x, ny - y) / rng.uniform(0.8, 1.4))
            points.append((t, nx, ny))
            t += float(rng.uniform(0.5, 4.0))
            points.append((t, nx, ny))
            x, y = nx, ny
        people.append(Walker(pid, tuple(points), stature()))
        pid += 1
    entrance = ((x0 + x1) / 2, y0 + 0.3)

    def arrive(spot_xy: tuple[float, float], at_s: float) -> list[tuple[float, float, float]]:
        """Walk in from the entrance to a spot, arriving at `at_s`, and stay to the end."""
        walk_s = float(np.hypot(spot_xy[0] - entrance[0], spot_xy[1] - entrance[1]) / 1.1)
        start = max(at_s - walk_s, 0.0)
        return [(start, *entrance), (start + walk_s, *spot_xy), (duration_s, *spot_xy)]

    for k, (wx, wy) in enumerate(windows):  # two at each window, and a third who steps up now and then
        for j, dx in enumerate((-0.35, 0.35)):
            people.append(Walker(pid, tuple(arrive((wx + dx, wy), 2.0 + 3 * k + j)), stature()))
            pid += 1
        start = float(rng.uniform(12, 18))
        queue = (wx + 0.2, wy - 2.5)
        points = arrive(queue, start - 3.0)[:-1]
        points += [(start, *queue), (start + 2.0, wx + 0.1, wy - 0.2), (start + 8.0, wx + 0.1, wy - 0.2)]
        points += [(start + 10.0, *queue), (duration_s, *queue)]
        people.append(Walker(pid, tuple(points), stature()))
        pid += 1
    for g in range(2):  # small groups standing closer than a metre, in the middle of the hall
        cx = float(rng.uniform(x0 + 1.5, x1 - 1.5))
        cy = float(rng.uniform(y0 + 1.5, (y0 + y1) / 2))
        for k in range(3):
            angle = 2 * math.pi * k / 3
            where = (cx + 0.4 * math.cos(angle), cy + 0.4 * math.sin(angle))
            people.append(Walker(pid, tuple(arrive(where, 6.0 + 4 * g + k)), stature()))
            pid += 1
    return WalkingScene(tuple(people), fps, duration_s)
