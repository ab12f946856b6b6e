"""A `FrameProcessor` for a real edge node playing a synthetic scene (`edge/scene.py`), for the ops pages.

`hallwatch edge run --processor ops_scene_processor:factory` (this folder on PYTHONPATH) with the
scene's video as the camera source and ``HALLWATCH_TEST_SCENE_TRUTH`` naming its truth file
(``<video>.truth.jsonl``, written by `edge.scene.write_video`). The node's real frames come in;
what the pipeline would have found comes from the scene's truth instead of the detector: each
person's box (as the result's `tracked`, so ops snapshots blur the people), their floor positions, and the
people per zone of the node's current zones, and the zone events the pipeline would send when a
window, queue or the hall goes over its limit and back. It is an honest stand-in for the detector
where a test is about the pages, not about detection (the e2e tests cover the detector).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from edge.config import NodeConfig
from edge.scene import PERSON_HEIGHT_M, image_from_floor
from vision.config import EntranceLine, HallZone, QueueZone, WindowZone
from vision.detections import Detections
from vision.processor import FrameResult
from vision.state import FloorPeople, HallEvent, HallState
from vision.zones import points_in_polygon

WIDTH_PER_HEIGHT = 0.32  # the scene's people are cut from bus.jpg: about a third as wide as tall


def _load_truth(path: Path) -> list[list[tuple[int, float, float]]]:
    frames = []
    for line in path.read_text().splitlines():
        frames.append([(int(i), float(x), float(y)) for i, x, y in json.loads(line)["people"]])
    return frames


class SceneProcessor:
    def __init__(
        self, config: NodeConfig, camera_id: str, truth: list[list[tuple[int, float, float]]]
    ) -> None:
        self.camera_id = camera_id
        self.truth = truth
        zones = [z for z in config.zones_for(camera_id) if not isinstance(z, EntranceLine)]
        self.zones = {z.id: np.asarray(z.polygon, np.float64) for z in zones}
        self.limits: dict[str, tuple[str, int]] = {}
        for z in zones:
            if isinstance(z, WindowZone) or (isinstance(z, QueueZone) and z.max_people is not None):
                self.limits[z.id] = (f"{z.kind}_over_limit", int(z.max_people or 0))
            elif isinstance(z, HallZone):
                self.limits[z.id] = ("hall_over_capacity", z.capacity)
        self.over: dict[str, float] = {}  # zone -> when it went over its limit (t_s)

    def process(self, image_bgr: NDArray[np.uint8], frame: int, t_s: float) -> FrameResult:
        people = self.truth[frame % len(self.truth)] if self.truth else []
        ids = np.array([p[0] for p in people], np.int64)
        floor = np.array([(x, y) for _, x, y in people], np.float64).reshape(-1, 2)
        feet = image_from_floor(floor) if len(floor) else np.zeros((0, 2))
        boxes = []
        for (x, y), (u, v) in zip(floor, feet, strict=True):
            left, right = image_from_floor(np.array([(x - 0.5, y), (x + 0.5, y)]))
            height = PERSON_HEIGHT_M * float(np.hypot(*(right - left)))
            width = height * WIDTH_PER_HEIGHT
            boxes.append((u - width / 2, v - height, u + width / 2, v))
        tracked = Detections.from_boxes(
            np.asarray(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9, np.float32)
        )
        counts = {zone: int(points_in_polygon(floor, poly).sum()) for zone, poly in self.zones.items()}
        events = []
        for zone, (kind, limit) in self.limits.items():
            if counts[zone] > limit and zone not in self.over:
                self.over[zone] = t_s
                events.append(HallEvent(f"{kind}_started", t_s, zone=zone, count=counts[zone], limit=limit))  # type: ignore[arg-type]
            elif counts[zone] <= limit and zone in self.over:
                duration = t_s - self.over.pop(zone)
                events.append(
                    HallEvent(
                        f"{kind}_ended", t_s, zone=zone, count=counts[zone], limit=limit, duration_s=duration
                    )  # type: ignore[arg-type]
                )
        state = HallState(
            camera=self.camera_id,
            frame=frame,
            t_s=t_s,
            people=FloorPeople(
                ids=ids, floor_xy=floor, image_xy=feet, scores=np.full(len(ids), 0.9, np.float32)
            ),
            zone_counts=counts,
            violations=(),
            crossings={},
            events=tuple(events),
        )
        return FrameResult(state, tracked)


def factory(config: NodeConfig, camera_id: str) -> SceneProcessor:
    config.camera(camera_id)
    return SceneProcessor(config, camera_id, _load_truth(Path(os.environ["HALLWATCH_TEST_SCENE_TRUTH"])))
