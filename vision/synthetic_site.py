"""A generated service hall seen through four ceiling cameras on two edge nodes, with floor truth.

The hall is 16 m x 10 m with four service windows along the back wall, a queue before two of
them, and the entrance in the front wall. Four fisheye cameras hang 3.5 m up in a 2 x 2 grid:
`cam-a1` and `cam-a2` (the front half) on node `edge-a`, `cam-b1` and `cam-b2` (the back half) on
node `edge-b`. Each camera's coverage is its quarter of the floor grown by a metre, so coverages
overlap in a 2 m strip across the middle (between the nodes) and down the centre line. Window
`w2` straddles the centre line (cam-b1 and cam-b2 share it), queue `q1` straddles the middle
strip (a camera of each node shares it), and the `annex` lies outside every camera's coverage.

People walk, queue, stand at the windows in twos and threes and in groups closer than 1 m
(`vision.synthetic.busy_hall`), and others come in through the entrance and leave through it, so
that counts, pairs across cameras and crossings all have a truth to be held against. Nothing here
draws an image or runs a model: `vision.synthetic.detect` gives what a good detector would.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vision.calibration import FloorCalibration
from vision.camera import CameraPose
from vision.config import HallConfig
from vision.synthetic import (
    StandingPerson,
    Walker,
    WalkingScene,
    busy_hall,
    calibrate_camera,
    fisheye_camera,
    grid_marks,
)

IMAGE_SIZE = (1536, 1536)
HEIGHT_M = 3.5
CAMERAS: dict[str, tuple[str, tuple[float, float], float]] = {  # camera -> (node, over the floor at, yaw)
    "cam-a1": ("edge-a", (4.0, 2.5), 0.0),
    "cam-a2": ("edge-a", (12.0, 2.5), 90.0),
    "cam-b1": ("edge-b", (4.0, 7.5), 180.0),
    "cam-b2": ("edge-b", (12.0, 7.5), 270.0),
}
DOOR = ((7.0, 0.5), (9.0, 0.5))
DOOR_INSIDE = (8.0, 3.0)


@dataclass(frozen=True, slots=True)
class SyntheticSite:
    """The hall, its cameras (pose, calibration from floor marks), which node has which, and the scene.

    Attributes:
        hall: the site's config (cameras with their calibration, lens and coverage; zones).
        poses: each camera's true pose (what `detect` sees through).
        calibrations: each camera's calibration, fitted to noisy clicks of floor marks.
        nodes: each node's cameras.
        scene: who walks where.
        crossings: per walker who crosses the entrance, `(time, "in" | "out")`.
    """

    hall: HallConfig
    poses: dict[str, CameraPose]
    calibrations: dict[str, FloorCalibration]
    nodes: dict[str, tuple[str, ...]]
    scene: WalkingScene
    crossings: tuple[tuple[float, str], ...]

    def truth(self, t_s: float) -> list[StandingPerson]:
        return [p for w in self.scene.walkers if (p := w.at(t_s)) is not None]

    def crossings_until(self, t_s: float) -> dict[str, int]:
        """How many truly came in and went out through the entrance by `t_s`."""
        done = [way for when, way in self.crossings if when <= t_s]
        return {"in": done.count("in"), "out": done.count("out")}


def coverage_of(camera: str) -> list[tuple[float, float]]:
    """The camera's quarter of the floor, grown by a metre on every side (metres)."""
    _, (cx, cy), _ = CAMERAS[camera]
    x0, x1 = cx - 4.0 - 1.0, cx + 4.0 + 1.0
    y0, y1 = cy - 2.5 - 1.0 - (1.5 if cy < 5 else 0.0), cy + 2.5 + 1.0  # the front ones see out of the door
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _zones() -> list[dict[str, object]]:
    def box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
        return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]

    return [
        {"id": "hall", "kind": "hall", "capacity": 60, "polygon": box(0, 0, 16, 10)},
        {"id": "w1", "kind": "window", "max_people": 2, "polygon": box(1.5, 8.2, 3.5, 10)},
        {"id": "w2", "kind": "window", "max_people": 2, "polygon": box(7.0, 8.2, 9.0, 10)},
        {"id": "w3", "kind": "window", "max_people": 2, "polygon": box(10.5, 8.2, 12.5, 10)},
        {"id": "w4", "kind": "window", "max_people": 2, "polygon": box(13.5, 8.2, 15.5, 10)},
        {"id": "q1", "kind": "queue", "window": "w1", "max_people": 6, "polygon": box(1.8, 4.0, 3.2, 6.6)},
        {"id": "q3", "kind": "queue", "window": "w3", "max_people": 6, "polygon": box(10.8, 5.4, 12.2, 8.0)},
        {"id": "annex", "kind": "queue", "window": "w4", "polygon": box(30, 0, 32, 2)},
        {"id": "door", "kind": "entrance", "line": [list(p) for p in DOOR], "inside": list(DOOR_INSIDE)},
    ]


def _door_walkers(
    first_id: int, duration_s: float, rng: np.random.Generator
) -> tuple[list[Walker], list[tuple[float, str]]]:
    """People coming in through the door to a spot, and others going out through it."""
    walkers: list[Walker] = []
    crossings: list[tuple[float, str]] = []
    outside = (8.0, -1.2)
    line_y = DOOR[0][1]
    pid = first_id
    for k in range(int(duration_s // 6)):
        start = 1.0 + 6.0 * k + float(rng.uniform(0.0, 2.0))
        spot = (float(rng.uniform(4.0, 12.0)), float(rng.uniform(2.5, 5.5)))
        door_x = float(rng.uniform(7.4, 8.6))
        speed = float(rng.uniform(0.9, 1.3))
        if k % 2 == 0:  # in: from outside through the door to a spot, and stay
            to_door = math.hypot(door_x - outside[0], line_y - 0.3 - outside[1]) / speed
            points = [(start, *outside), (start + to_door, door_x, line_y - 0.3)]
            crossing = start + to_door + 0.3 / speed
            end = start + to_door + math.hypot(spot[0] - door_x, spot[1] - line_y + 0.3) / speed
            points += [(end, *spot), (max(duration_s, end) + 1.0, *spot)]
            crossings.append((crossing, "in"))
        else:  # out: from a spot through the door and away
            points = [(0.0, *spot), (start, *spot)]
            to_door = math.hypot(door_x - spot[0], line_y + 0.3 - spot[1]) / speed
            crossing = start + to_door + 0.3 / speed
            points += [
                (start + to_door, door_x, line_y + 0.3),
                (crossing + 1.5 / speed, door_x, line_y - 1.2),
            ]
            crossings.append((crossing, "out"))
        walkers.append(Walker(pid, tuple(points), float(np.clip(rng.normal(1.68, 0.09), 1.5, 1.9))))
        pid += 1
    return walkers, crossings


def generated_site(*, duration_s: float = 40.0, fps: float = 5.0, seed: int = 0) -> SyntheticSite:
    """The site and a scene of `duration_s` seconds sampled `fps` times a second."""
    poses: dict[str, CameraPose] = {}
    calibrations: dict[str, FloorCalibration] = {}
    cameras: list[dict[str, object]] = []
    for camera, (_, over, yaw) in CAMERAS.items():
        pose = fisheye_camera(height_m=HEIGHT_M, image_size=IMAGE_SIZE, over_xy=over, yaw_deg=yaw)
        assert pose.lens is not None
        marks = grid_marks(4.0, 2.0, over)  # 25 marks: 81 fit the same and take 80 times longer
        calibration = calibrate_camera(pose, marks, IMAGE_SIZE, noise_px=0.5, seed=len(poses))
        poses[camera], calibrations[camera] = pose, calibration
        cameras.append(
            {
                "id": camera,
                "source": "synthetic",
                "anchor": "head",
                "calibration": {
                    "image_points": calibration.image_points.tolist(),
                    "floor_points": calibration.floor_points.tolist(),
                    "lens": {
                        "model": "fisheye",
                        "camera_matrix": pose.lens.camera_matrix.tolist(),
                        "distortion": pose.lens.distortion.tolist(),
                    },
                },
                "coverage": [list(p) for p in coverage_of(camera)],
            }
        )
    hall = HallConfig.model_validate({"site": "generated", "cameras": cameras, "zones": _zones()})
    inside = busy_hall(
        area=((0.5, 1.5), (15.5, 9.5)),
        windows=[(2.5, 9.1), (8.0, 9.1), (11.5, 9.1)],
        duration_s=duration_s,
        fps=fps,
        seed=seed,
    )
    door, crossings = _door_walkers(len(inside.walkers) + 1, duration_s, np.random.default_rng(seed + 1))
    nodes: dict[str, list[str]] = {}
    for camera, (node, _, _) in CAMERAS.items():
        nodes.setdefault(node, []).append(camera)
    return SyntheticSite(
        hall=hall,
        poses=poses,
        calibrations=calibrations,
        nodes={node: tuple(cams) for node, cams in nodes.items()},
        scene=WalkingScene((*inside.walkers, *door), fps, duration_s),
        crossings=tuple(sorted(crossings)),
    )


def true_pairs(people: Sequence[StandingPerson], min_distance_m: float) -> set[tuple[int, int]]:
    """Ids of the people truly closer than `min_distance_m`, in pairs `(a, b)` with `a < b`."""
    xy: NDArray[np.float64] = np.array([(p.x_m, p.y_m) for p in people], np.float64).reshape(-1, 2)
    ids = [p.id for p in people]
    pairs = set()
    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            if math.dist(xy[i], xy[j]) < min_distance_m:
                pairs.add((min(ids[i], ids[j]), max(ids[i], ids[j])))
    return pairs
