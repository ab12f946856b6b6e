"""A node of two cameras fuses them onto one floor (issue 12): real sources, outbox and broker, with
a scripted processor whose people each camera sees by where they stand.

Four people stand still: A at x = 1 m (cam-0 only), B at 3.0 and D at 3.6 (both cameras, 0.6 m
apart: a spacing pair), C at 5.5 (cam-1 only, at window-r). The node must publish one floor of
four people (not six), the pair once, the floor's events on its own topic and no camera state;
when cam-1's stream hangs, the floor goes on with cam-0, says cam-1 is left out and that window-r
(which only cam-1 covers) is not seen, and takes cam-1 back when it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from edge_support import Capture, MjpegServer, camera_entry, make_video, node_config
from numpy.typing import NDArray
from test_edge_node import running_node

from edge.config import NodeConfig
from hallwatch.contract import (
    CameraState,
    FloorEvent,
    FloorPositions,
    FloorState,
    NodeConfigPush,
    NodeLayout,
    node_topic,
    parse_payload,
)
from vision.processor import FrameResult
from vision.state import FloorPeople, HallState

PEOPLE = {1: (1.0, 2.0), 2: (3.0, 2.4), 3: (3.6, 2.4), 4: (5.5, 2.0)}  # A, B, D, C
VIEW_X = {"cam-0": (-1.0, 4.0), "cam-1": (2.0, 7.0)}
ZONES = [
    {"id": "hall", "kind": "hall", "capacity": 10, "polygon": [[0, 0], [6.4, 0], [6.4, 4.8], [0, 4.8]]},
    {"id": "window-r", "kind": "window", "max_people": 2, "polygon": [[5, 1], [6.2, 1], [6.2, 3], [5, 3]]},
]


WINDOW_L = {
    "id": "window-l",
    "kind": "window",
    "max_people": 2,
    "polygon": [[0.5, 1], [1.5, 1], [1.5, 3], [0.5, 3]],
}


class SeenByPlace:
    """Each camera sees the people standing within its x range, with its own track ids."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        lo, hi = VIEW_X[camera_id]
        self.seen = [(pid, xy) for pid, xy in PEOPLE.items() if lo <= xy[0] <= hi]

    def process(self, image_bgr: NDArray[np.uint8], frame: int, t_s: float) -> FrameResult:
        n = len(self.seen)
        people = FloorPeople(
            ids=np.array([pid * 10 + int(self.camera_id[-1]) for pid, _ in self.seen], np.int64),
            floor_xy=np.array([xy for _, xy in self.seen], np.float64).reshape(-1, 2),
            image_xy=np.zeros((n, 2)),
            scores=np.full(n, 0.9, np.float32),
            sigma_m=np.full(n, 0.05),
        )
        # The camera's own counts are deliberately wrong: a fusing node must not publish them.
        state = HallState(self.camera_id, frame, t_s, people, {"hall": 99}, (), {})
        return FrameResult(state, tracked=None)


def factory(config: NodeConfig, camera_id: str) -> SeenByPlace:
    return SeenByPlace(config.camera(camera_id).id)


def floors(cap: Capture) -> list[FloorState]:
    return [
        m for m in (parse_payload(x.topic, x.payload) for x in cap.on("/floor")) if isinstance(m, FloorState)
    ]


def test_a_node_of_two_cameras_publishes_one_fused_floor(
    tmp_path: Path, site: str, node_id: str, broker: Any, capture: Callable[..., Capture]
) -> None:
    video = make_video(tmp_path / "v.avi", frames=30, fps=30.0)
    stream = MjpegServer(fps=20.0).start()
    cams = [
        camera_entry("cam-0", str(video), fps=10.0, loop=True, coverage=[[-1, -1], [4, -1], [4, 6], [-1, 6]]),
        camera_entry("cam-1", stream.url, fps=10.0, coverage=[[2, -1], [7, -1], [7, 6], [2, 6]]),
    ]
    cfg = node_config(
        tmp_path,
        site=site,
        node=node_id,
        port=broker.port,
        cameras=cams,
        zones=ZONES,
        node_settings={"camera_timeout_s": 1.0, "state_interval_s": 0.2},
        mqtt_settings={"publish_positions": True},
    )
    cfg["spacing"] = {"min_duration_s": 1.0}
    cap = capture(broker.port, f"hallwatch/{site}/#")

    def last_floor() -> FloorState | None:
        seen = floors(cap)
        return seen[-1] if seen else None

    try:
        with running_node(tmp_path, cfg, factory) as node:
            assert cap.wait_for(lambda ms: (f := last_floor()) is not None and f.zones.get("hall") == 4, 15.0)
            both = last_floor()
            assert both is not None
            assert both.people == 4 and both.seen_by_several == 2
            assert both.cameras == ["cam-0", "cam-1"] and both.left_out == [] and both.uncovered == []
            assert both.zones["window-r"] == 1
            assert both.violations == 1 and both.possible_violations == 0
            assert [(p.distance_m, p.certain) for p in both.pairs] == [(0.6, True)]
            assert cap.wait_for(lambda ms: any(m.topic.endswith("/floor_events") for m in ms), 10.0)

            stream.hang.set()  # cam-1 stops delivering frames; cam-0 goes on
            assert cap.wait_for(lambda ms: (f := last_floor()) is not None and f.left_out == ["cam-1"], 10.0)
            alone = last_floor()
            assert alone is not None and alone.cameras == ["cam-0"]
            assert alone.uncovered == ["window-r"] and "window-r" not in alone.zones, "unseen, not 0"
            mark = cap.mark()
            assert cap.wait_for(lambda ms: any(m.topic.endswith("/floor") for m in cap.since(mark)), 5.0)
            stream.hang.clear()
            assert cap.wait_for(
                lambda ms: (
                    (f := last_floor()) is not None and f.left_out == [] and f.zones.get("window-r") == 1
                ),
                15.0,
            )
            # A config push (ops moved the zones) rebuilds the floor with the new zones, live.
            push = NodeConfigPush(issued_by="ops", config={"zones": [ZONES[0], WINDOW_L]})
            assert node.handle_config_push(push.model_dump_json().encode())
            assert cap.wait_for(
                lambda ms: (f := last_floor()) is not None and f.zones == {"hall": 4, "window-l": 1}, 10.0
            )
    finally:
        stream.stop()

    parsed = [(m, parse_payload(m.topic, m.payload)) for m in cap.snapshot() if m.payload]
    assert not [p for _, p in parsed if isinstance(p, CameraState)], "a fusing node sends no camera state"
    camera_events = [p for m, p in parsed if m.topic.endswith("/events")]
    assert {p.type for p in camera_events} <= {"camera_lost", "camera_recovered"}  # type: ignore[union-attr]
    layout = next(p for _, p in parsed if isinstance(p, NodeLayout))
    assert layout.schema_version == 2 and layout.fusion == "node"
    assert {c.id: c.coverage for c in layout.cameras}["cam-1"] == [(2, -1), (7, -1), (7, 6), (2, 6)]

    events = [(m, p) for m, p in parsed if isinstance(p, FloorEvent)]
    assert all(m.topic == node_topic(site, node_id, "floor_events") and m.qos == 1 for m, _ in events)
    started = [p for _, p in events if p.type == "spacing_violation_started"]
    assert started and all(p.distance_m == pytest.approx(0.6) and p.camera is None for p in started)
    assert not [p for _, p in events if p.type.startswith("hall_")], "the hall (capacity 10) was never over"

    positions = [p for _, p in parsed if isinstance(p, FloorPositions)]
    assert positions, "publish_positions: the fused floor's positions"
    full = max(positions, key=lambda p: len(p.people))
    assert len(full.people) == 4
    assert sorted(len(p.cameras) for p in full.people) == [1, 1, 2, 2]
    merged = sorted((round(p.x, 2), p.cameras) for p in full.people if len(p.cameras) == 2)
    assert merged == [(3.0, ["cam-0", "cam-1"]), (3.6, ["cam-0", "cam-1"])]
