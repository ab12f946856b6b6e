"""Draw what the pipeline saw onto a frame: zones from the floor, people, ids, and violating pairs.

Used by `hallwatch replay --annotated` for ops to check a camera's set-up; frames drawn here never
leave the machine they are made on.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.calibration import FloorCalibration
from vision.config import EntranceLine, HallConfig, HallZone
from vision.detections import Detections
from vision.state import HallState

_COLOURS: dict[str, tuple[int, int, int]] = {  # BGR
    "window": (255, 160, 0),
    "queue": (0, 200, 255),
    "hall": (120, 120, 120),
    "entrance": (255, 0, 255),
    "over": (0, 0, 255),
    "person": (0, 220, 0),
    "violation": (0, 0, 255),
}
_SAMPLES_PER_EDGE = 24  # straight floor edges curve in a distorted image, so draw them as polylines


class Annotator:
    """Draw zones (projected from the floor through the calibration) and a frame's people."""

    def __init__(self, hall: HallConfig, camera_id: str, calibration: FloorCalibration) -> None:
        self._calibration = calibration
        # (zone id, kind, closed, image outline, limit), projected once: the floor does not move.
        self._outlines: list[tuple[str, str, bool, NDArray[np.int32], int | None]] = []
        for zone in hall.zones_for(camera_id):
            if isinstance(zone, EntranceLine):
                points, closed, limit = np.array(zone.line, float), False, None
            else:
                points, closed = np.array(zone.polygon, float), True
                limit = zone.capacity if isinstance(zone, HallZone) else zone.max_people
            image = calibration.image_from_floor(_densify(points, closed))
            outline = np.round(image[np.isfinite(image).all(axis=1)]).astype(np.int32)
            self._outlines.append((zone.id, zone.kind, closed, outline, limit))

    def draw(
        self, image: NDArray[np.uint8], state: HallState, tracked: Detections | None = None
    ) -> NDArray[np.uint8]:
        """A copy of `image` with the zones, the people and the violations of `state` drawn on it.

        `tracked`, the frame's tracked detections, adds each person's box.
        """
        canvas = image.copy()
        for zone_id, kind, closed, outline, limit in self._outlines:
            count = state.zone_counts.get(zone_id)
            over = count is not None and limit is not None and count > limit
            colour = _COLOURS["over" if over else kind]
            if len(outline) >= 2:
                cv2.polylines(canvas, [outline], closed, colour, 2, cv2.LINE_AA)
                label = zone_id if count is None else f"{zone_id}: {count}" + (f"/{limit}" if limit else "")
                _label(canvas, label, tuple(int(v) for v in outline[0]), colour)
        people = state.people
        position = {int(i): people.image_xy[k] for k, i in enumerate(people.ids)}
        if tracked is not None:
            for box in tracked.boxes_xyxy:
                x1, y1, x2, y2 = (int(round(float(v))) for v in box)
                cv2.rectangle(canvas, (x1, y1), (x2, y2), _COLOURS["person"], 2)
        for k in range(len(people)):
            u, v = (int(round(float(c))) for c in people.image_xy[k])
            cv2.circle(canvas, (u, v), 5, _COLOURS["person"], -1)
            _label(canvas, f"#{int(people.ids[k])}", (u + 6, v), _COLOURS["person"])
        hidden = state.hidden
        if len(hidden):  # counted though not seen: where they are thought to stand, hollow
            for (u, v), track_id in zip(
                self._calibration.image_from_floor(hidden.floor_xy), hidden.ids, strict=True
            ):
                if np.isfinite(u) and np.isfinite(v):
                    cv2.circle(canvas, (int(round(u)), int(round(v))), 7, _COLOURS["person"], 1, cv2.LINE_AA)
                    _label(
                        canvas,
                        f"#{int(track_id)} hidden",
                        (int(round(u)) + 8, int(round(v))),
                        _COLOURS["person"],
                    )
        for violation in state.violations:
            if violation.a in position and violation.b in position:
                a = tuple(int(round(float(c))) for c in position[violation.a])
                b = tuple(int(round(float(c))) for c in position[violation.b])
                cv2.line(canvas, a, b, _COLOURS["violation"], 2, cv2.LINE_AA)
                mid = ((a[0] + b[0]) // 2, (a[1] + b[1]) // 2)
                _label(canvas, f"{violation.distance_m:.2f} m", mid, _COLOURS["violation"])
        return canvas


class AnnotatedVideo:
    """An mp4 written frame by frame."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        """Open the file for writing.

        Raises:
            OSError: the folder cannot be made or the file cannot be written; the text names it.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"{path}: cannot create the folder {path.parent} ({exc.strerror or exc})") from None
        self.path = path
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
        if not self._writer.isOpened():
            raise OSError(f"{path}: cannot write a video there")

    def write(self, image: NDArray[np.uint8]) -> None:
        self._writer.write(image)

    def close(self) -> None:
        self._writer.release()


def _densify(points: NDArray[np.float64], closed: bool) -> NDArray[np.float64]:
    ends = np.roll(points, -1, axis=0) if closed else points[1:]
    starts = points if closed else points[:-1]
    steps = np.linspace(0.0, 1.0, _SAMPLES_PER_EDGE, endpoint=False)[None, :, None]
    dense = starts[:, None, :] + (ends - starts)[:, None, :] * steps
    flat = dense.reshape(-1, 2)
    return flat if closed else np.vstack([flat, points[-1:]])


def _label(
    canvas: NDArray[np.uint8], text: str, origin: tuple[int, ...], colour: tuple[int, int, int]
) -> None:
    x, y = int(origin[0]), max(int(origin[1]), 12)
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
