"""Synthetic hall footage in which the floor position of every person is known.

People cut from the photos that ship inside the ultralytics wheel (`bus.jpg`) are pasted onto a
tiled floor at chosen floor positions, through a known camera homography, and scaled to the
floor's local pixels-per-metre. A scene is a script of people walking between waypoints; rendering
it gives frames plus the truth (who stands where), so tests can check window counts, crossings and
violation pairs end to end through the real detector, and `make demo` has footage where Debian's
`vtest.avi` is missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.zones import points_in_polygon

IMAGE_SIZE = (1280, 720)  # width, height
FLOOR_SIZE_M = (10.0, 8.0)
# The synthetic camera: floor corners (metres) and where they appear (pixels). The near edge
# (y = 0) is at the bottom of the image, the far wall (y = 8 m) near the top: an elevated,
# oblique view like a camera hung above the entrance.
FLOOR_CORNERS_M = ((0.0, 0.0), (10.0, 0.0), (10.0, 8.0), (0.0, 8.0))
IMAGE_CORNERS_PX = ((90.0, 705.0), (1190.0, 705.0), (1030.0, 150.0), (250.0, 150.0))
PERSON_HEIGHT_M = 1.7

# Tight boxes of the two people seen whole in ultralytics/assets/bus.jpg (x1, y1, x2, y2 pixels);
# the third is cut by the photo's edge and is found less reliably once pasted small.
_BUS_PEOPLE = ((48, 400, 222, 906), (245, 405, 344, 859))


@dataclass(frozen=True, slots=True)
class ScriptedPerson:
    """A person who follows waypoints `(t_s, x_m, y_m)`, present from the first to the last."""

    id: int
    waypoints: tuple[tuple[float, float, float], ...]
    look: int = 0

    def position(self, t_s: float) -> tuple[float, float] | None:
        times = [w[0] for w in self.waypoints]
        if t_s < times[0] or t_s > times[-1]:
            return None
        x = float(np.interp(t_s, times, [w[1] for w in self.waypoints]))
        y = float(np.interp(t_s, times, [w[2] for w in self.waypoints]))
        return x, y


@dataclass(frozen=True, slots=True)
class Scene:
    name: str
    fps: float
    duration_s: float
    people: tuple[ScriptedPerson, ...]

    @property
    def frame_count(self) -> int:
        return int(round(self.duration_s * self.fps))

    def truth(self, frame: int) -> list[tuple[int, float, float]]:
        t_s = frame / self.fps
        return [(p.id, *pos) for p in self.people if (pos := p.position(t_s)) is not None]


@cache
def camera_homography() -> NDArray[np.float64]:
    """Floor metres → image pixels for the synthetic camera (read-only: it is computed once)."""
    src = np.array(FLOOR_CORNERS_M, np.float32)
    dst = np.array(IMAGE_CORNERS_PX, np.float32)
    homography = np.asarray(cv2.getPerspectiveTransform(src, dst), np.float64)
    homography.flags.writeable = False
    return homography


def image_from_floor(points_m: NDArray[np.float64]) -> NDArray[np.float64]:
    pts = np.asarray(points_m, np.float64).reshape(-1, 1, 2)
    return np.asarray(cv2.perspectiveTransform(pts, camera_homography()), np.float64).reshape(-1, 2)


def hall_config(source: str, *, imgsz: int = 1280, backend: str = "auto") -> dict[str, Any]:
    """A hall config (as YAML data) that matches the synthetic camera and the demo hall's layout.

    Calibration points are floor tile corners seen by the synthetic camera, like an installer
    would measure them: the hall's corners and the middles of its long walls, so that every point
    can be checked against the others (a centre point would leave three in line when a corner is
    left out).
    """
    floor = [(0.0, 0.0), (10.0, 0.0), (10.0, 8.0), (0.0, 8.0), (5.0, 0.0), (5.0, 8.0)]
    image = image_from_floor(np.array(floor))
    return {
        "site": "demo-hall",
        "cameras": [
            {
                "id": "cam-1",
                "source": source,
                "anchor": "feet",
                "imgsz": imgsz,
                "fps": 5.0,
                "calibration": {
                    "image_points": [[round(float(u), 2), round(float(v), 2)] for u, v in image],
                    "floor_points": [list(p) for p in floor],
                },
                "detector": {"backend": backend},
            }
        ],
        "zones": [
            _zone("hall", "hall", [[0, 0], [10, 0], [10, 8], [0, 8]], capacity=8),
            _zone("window-1", "window", [[1, 6], [4, 6], [4, 8], [1, 8]], max_people=2),
            _zone(
                "queue-1",
                "queue",
                [[1.5, 2.5], [3.5, 2.5], [3.5, 6], [1.5, 6]],
                window="window-1",
                max_people=4,
            ),
            _zone("window-2", "window", [[6, 6], [9, 6], [9, 8], [6, 8]], max_people=2),
            _zone(
                "queue-2",
                "queue",
                [[6.5, 2.5], [8.5, 2.5], [8.5, 6], [6.5, 6]],
                window="window-2",
                max_people=4,
            ),
            {"id": "door", "kind": "entrance", "line": [[3.8, 1.0], [6.2, 1.0]], "inside": [5.0, 4.0]},
        ],
        "spacing": {"min_distance_m": 1.0, "min_duration_s": 1.0},
    }


def _zone(zone_id: str, kind: str, polygon: list[list[float]], **limits: Any) -> dict[str, Any]:
    return {"id": zone_id, "kind": kind, "polygon": polygon, **limits}


ZONES_FOR_TRUTH = {
    z["id"]: np.array(z["polygon"], np.float64) for z in hall_config("x")["zones"] if "polygon" in z
}


def truth_counts(truth: Sequence[tuple[int, float, float]]) -> dict[str, int]:
    """People per zone for a list of `(id, x_m, y_m)`, counted from the script, not the pipeline."""
    xy = np.array([(x, y) for _, x, y in truth], np.float64).reshape(-1, 2)
    return {zone: int(points_in_polygon(xy, poly).sum()) for zone, poly in ZONES_FOR_TRUTH.items()}


# -------------------------------------------------------------------------------------- rendering
@cache
def _looks() -> tuple[NDArray[np.uint8], ...]:
    import ultralytics

    bus = cv2.imread(str(Path(ultralytics.__file__).parent / "assets" / "bus.jpg"))
    if bus is None:
        raise FileNotFoundError("ultralytics/assets/bus.jpg is missing from the installed ultralytics")
    crops = [np.asarray(bus[y1:y2, x1:x2], np.uint8) for x1, y1, x2, y2 in _BUS_PEOPLE]
    return tuple(crops + [np.ascontiguousarray(c[:, ::-1]) for c in crops])


@cache
def _floor_image() -> NDArray[np.uint8]:
    """The empty hall: 0.5 m tiles, warped into the camera's view."""
    ppm = 80
    w, h = int(FLOOR_SIZE_M[0] * ppm), int(FLOOR_SIZE_M[1] * ppm)
    top = np.full((h, w, 3), (178, 186, 190), np.uint8)
    rng = np.random.default_rng(7)
    top = np.clip(top.astype(np.int16) + rng.integers(-6, 7, size=(h, w, 1)), 0, 255).astype(np.uint8)
    for k in range(0, w + 1, ppm // 2):
        cv2.line(top, (k, 0), (k, h), (150, 156, 160), 1)
    for k in range(0, h + 1, ppm // 2):
        cv2.line(top, (0, k), (w, k), (150, 156, 160), 1)
    # Raster rows grow downwards; floor y grows away from the camera. Map raster → floor → image.
    raster_to_floor = np.array([[1 / ppm, 0, 0], [0, -1 / ppm, FLOOR_SIZE_M[1]], [0, 0, 1]])
    warp = camera_homography() @ raster_to_floor
    background = np.full((IMAGE_SIZE[1], IMAGE_SIZE[0], 3), (120, 110, 100), np.uint8)
    warped = cv2.warpPerspective(
        top, warp, IMAGE_SIZE, dst=background, borderMode=cv2.BORDER_TRANSPARENT, flags=cv2.INTER_LINEAR
    )
    return np.asarray(warped, np.uint8)


def _pixels_per_metre(x: float, y: float) -> float:
    a, b = image_from_floor(np.array([(x - 0.5, y), (x + 0.5, y)]))
    return float(np.hypot(*(b - a)))


def render(
    truth: Sequence[tuple[int, float, float]], looks: dict[int, int] | None = None
) -> NDArray[np.uint8]:
    """One frame with each `(id, x_m, y_m)` standing at that floor point (feet at the point)."""
    frame = _floor_image().copy()
    crops = _looks()
    # Far people first, so nearer ones cover them as they would in a real view.
    for person_id, x, y in sorted(truth, key=lambda p: -p[2]):
        crop = crops[(looks or {}).get(person_id, person_id) % len(crops)]
        height = max(int(round(PERSON_HEIGHT_M * _pixels_per_metre(x, y))), 8)
        width = max(int(round(crop.shape[1] * height / crop.shape[0])), 4)
        sprite = np.asarray(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA), np.uint8)
        ((u, v),) = image_from_floor(np.array([(x, y)]))
        _paste(frame, sprite, int(round(u - width / 2)), int(round(v - height)))
    return frame


def _paste(frame: NDArray[np.uint8], sprite: NDArray[np.uint8], left: int, top: int) -> None:
    h, w = sprite.shape[:2]
    fx0, fy0 = max(left, 0), max(top, 0)
    fx1, fy1 = min(left + w, frame.shape[1]), min(top + h, frame.shape[0])
    if fx0 >= fx1 or fy0 >= fy1:
        return
    frame[fy0:fy1, fx0:fx1] = sprite[fy0 - top : fy1 - top, fx0 - left : fx1 - left]


def frames(scene: Scene) -> Iterator[tuple[int, NDArray[np.uint8], list[tuple[int, float, float]]]]:
    looks = {p.id: p.look for p in scene.people}
    for index in range(scene.frame_count):
        truth = scene.truth(index)
        yield index, render(truth, looks), truth


def write_video(scene: Scene, path: Path) -> Path:
    """Render a scene to an mp4 (or avi) file, and its truth to `<path>.truth.jsonl`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), scene.fps, IMAGE_SIZE)
    try:
        if not writer.isOpened():
            raise OSError(f"{path}: cannot write a video there")
        truth_path = path.with_suffix(path.suffix + ".truth.jsonl")
        with truth_path.open("w") as out:
            for index, image, truth in frames(scene):
                writer.write(image)
                people = [[i, round(x, 3), round(y, 3)] for i, x, y in truth]
                out.write(json.dumps({"frame": index, "people": people}))
                out.write("\n")
    finally:
        writer.release()
    return truth_path


# ------------------------------------------------------------------------------------------ scenes
def standing(positions: Sequence[tuple[float, float]], seconds: float = 2.0, fps: float = 5.0) -> Scene:
    """People standing still at the given floor positions."""
    people = tuple(
        ScriptedPerson(i + 1, ((0.0, x, y), (seconds, x, y)), look=i) for i, (x, y) in enumerate(positions)
    )
    return Scene("standing", fps, seconds, people)


def walk(
    paths: Sequence[Sequence[tuple[float, float, float]]], fps: float = 5.0, name: str = "walk"
) -> Scene:
    """People following waypoint lists `(t_s, x_m, y_m)`."""
    people = tuple(ScriptedPerson(i + 1, tuple(p), look=i) for i, p in enumerate(paths))
    return Scene(name, fps, max(p[-1][0] for p in paths), people)


def crowding_cycles(cycles: int, period_s: float = 10.0, fps: float = 10.0) -> Scene:
    """Window 1 goes over its limit once a cycle: two people stand at it, a third steps up and back.

    In each cycle of `period_s` the third person walks from the queue into window 1 three seconds
    in, stays three seconds, and walks back; `over_limit_starts` gives the truth.
    """
    a = ((0.0, 1.8, 7.0), (cycles * period_s, 1.8, 7.0))
    b = ((0.0, 2.6, 7.3), (cycles * period_s, 2.6, 7.3))
    c: list[tuple[float, float, float]] = []
    for k in range(cycles):
        t0 = k * period_s
        c += [
            (t0, 3.4, 4.2),
            (t0 + 3.0, 3.4, 4.2),
            (t0 + 3.6, 3.5, 6.8),
            (t0 + 6.0, 3.5, 6.8),
            (t0 + 6.6, 3.4, 4.2),
        ]
    c.append((cycles * period_s, 3.4, 4.2))
    return walk([a, b, c], fps=fps, name="crowding-cycles")


def over_limit_starts(scene: Scene, zone: str, limit: int) -> list[int]:
    """Frames at which the truth count of `zone` rises above `limit`."""
    starts, over = [], False
    for frame in range(scene.frame_count):
        now = truth_counts(scene.truth(frame))[zone] > limit
        if now and not over:
            starts.append(frame)
        over = now
    return starts


def demo_day(fps: float = 5.0, minutes: float = 3.0, seed: int = 1) -> Scene:
    """A few minutes of a hall: visitors come in through the door, queue, are served, and leave.

    Window 1 gets busy now and then (three people at it), and people in its queue stand closer
    than a metre, so the demo shows every kind of alert.
    """
    rng = np.random.default_rng(seed)
    door_in, door_out = (5.0, -0.4), (5.3, -0.4)
    people: list[ScriptedPerson] = []
    t, pid = 0.0, 1
    while t < minutes * 60 - 40:
        window = 1 if rng.random() < 0.6 else 2
        wx = (2.5 if window == 1 else 7.5) + rng.uniform(-0.6, 0.6)
        qy = rng.uniform(3.0, 5.0)
        serve_s = rng.uniform(15, 35)
        walk_s = 6.0
        points = [
            (t, *door_in),
            (t + 2.0, 5.0, 1.8),
            (t + walk_s, wx, qy),
            (t + walk_s + rng.uniform(4, 12), wx, qy),
        ]
        at = points[-1][0]
        points += [(at + 3.0, wx, 7.0), (at + 3.0 + serve_s, wx, 7.0)]
        done = points[-1][0]
        points += [(done + 5.0, 5.6, 1.8), (done + 7.0, *door_out)]
        people.append(ScriptedPerson(pid, tuple(points), look=pid))
        pid += 1
        t += float(rng.uniform(3.0, 9.0))
    return Scene("demo-day", fps, minutes * 60, tuple(people))
