"""A fused floor's step and a camera's certain and possible pairs as contract payloads (issue 12)."""

from __future__ import annotations

import numpy as np

from edge.events import Origin, camera_positions, camera_state, floor_positions, floor_state, floor_time
from hallwatch.contract import node_topic, parse_payload
from vision.state import FloorPeople, HallState, Violation

ORIGIN = Origin("hall-a", "edge-1")
T = 1_780_000_000.25  # a fused floor's time: the frames' capture time, seconds since the epoch


def fused(**overrides: object) -> HallState:
    base: dict[str, object] = {
        "camera": "fused",
        "frame": 40,
        "t_s": T,
        "people": FloorPeople(
            ids=np.array([1, 2, 3], np.int64),
            floor_xy=np.array([[1.0, 1.0], [1.6, 1.0], [2.7, 1.0]]),
            image_xy=np.full((3, 2), np.nan),
            scores=np.ones(3, np.float32),
            sigma_m=np.array([0.03, 0.04, 0.05]),
        ),
        "zone_counts": {"hall": 3, "w1": 2},
        # 1-2 certainly too close, 2-3 estimated under 1 m but not certainly, 1-3 possibly
        "violations": (Violation(1, 2, 0.6, 0.1, True), Violation(2, 3, 0.95, 0.12, False)),
        "possible": (Violation(1, 3, 1.05, 0.2, False),),
        "alerting_pairs": 1,
        "crossings": {"door": {"in": 2, "out": 1}},
        "seen_by": {1: ("cam-a",), 2: ("cam-a", "cam-b"), 3: ("cam-b",)},
        "uncovered": ("w9",),
        "left_out": ("cam-c",),
    }
    base.update(overrides)
    return HallState(**base)  # type: ignore[arg-type]


def test_a_camera_s_state_counts_the_pairs_that_alert_and_the_possible_ones_apart() -> None:
    state = fused(camera="cam-1", seen_by={}, uncovered=(), left_out=())
    payload = camera_state(ORIGIN, state, seq=3, ts=floor_time(T))
    assert (payload.schema_version, payload.violations, payload.possible_violations) == (2, 1, 2)


def test_a_floor_step_says_its_pairs_cameras_and_what_it_does_not_see() -> None:
    payload = floor_state(ORIGIN, fused(), ["cam-a", "cam-b", "cam-c"], seq=9)
    parsed = parse_payload(node_topic("hall-a", "edge-1", "floor"), payload.to_json())
    assert parsed == payload and payload.ts == floor_time(T)
    assert (payload.people, payload.zones, payload.uncovered) == (3, {"hall": 3, "w1": 2}, ["w9"])
    assert (payload.violations, payload.possible_violations) == (1, 2)
    assert [(p.a, p.b, p.certain) for p in payload.pairs] == [(1, 2, True), (2, 3, False), (1, 3, False)]
    assert (payload.cameras, payload.left_out, payload.seen_by_several) == (["cam-a", "cam-b"], ["cam-c"], 1)


def test_the_floor_s_positions_carry_each_person_once_with_the_cameras_that_saw_them() -> None:
    payload = floor_positions(ORIGIN, fused(), seq=10)
    parse_payload(node_topic("hall-a", "edge-1", "floor_positions"), payload.to_json())
    assert [(p.id, p.cameras, p.sigma_m) for p in payload.people] == [
        (1, ["cam-a"], 0.03),
        (2, ["cam-a", "cam-b"], 0.04),
        (3, ["cam-b"], 0.05),
    ]


def test_a_camera_s_positions_carry_their_uncertainty_as_version_2() -> None:
    state = fused(camera="cam-1")
    payload = camera_positions(ORIGIN, state, seq=11, ts=floor_time(T))
    assert payload.schema_version == 2 and [p.sigma_m for p in payload.people] == [0.03, 0.04, 0.05]
