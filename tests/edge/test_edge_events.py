"""HallState and HallEvent → contract payloads; the state throttle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from edge.events import (
    Origin,
    StateThrottle,
    camera_event,
    camera_lost,
    camera_positions,
    camera_recovered,
    camera_state,
    event_time,
    floor_event,
    state_key,
)
from hallwatch.contract import (
    CameraEvent,
    CameraPositions,
    CameraState,
    FloorEvent,
    camera_topic,
    node_topic,
    parse_payload,
)
from vision.state import FloorPeople, HallEvent, HallState, Violation

ORIGIN = Origin("hall-a", "edge-1")
CAPTURED = datetime(2026, 3, 2, 9, 30, 0, tzinfo=UTC)


def state(**overrides: object) -> HallState:
    base: dict[str, object] = {
        "camera": "cam-1",
        "frame": 120,
        "t_s": 24.0,
        "people": FloorPeople(
            ids=np.array([3, 5, -1], np.int64),
            floor_xy=np.array([[1.2, 4.05], [1.9, 4.1], [7.0, 1.0]]),
            image_xy=np.array([[100.0, 200.0], [140.0, 210.0], [300.0, 50.0]]),
            scores=np.array([0.8, 0.7, 0.3], np.float32),
        ),
        "zone_counts": {"hall": 3, "window-1": 2, "queue-1": 0},
        "violations": (Violation(3, 5, 0.71),),
        "crossings": {"door": {"in": 4, "out": 1}},
        "alerting_pairs": 1,
    }
    base.update(overrides)
    return HallState(**base)  # type: ignore[arg-type]


def test_state_payload_carries_counts_not_pixels() -> None:
    payload = camera_state(ORIGIN, state(), seq=7, ts=CAPTURED)
    assert (payload.people, payload.violations, payload.frame) == (3, 1, 120)


def test_state_payload_counts_the_pairs_that_alert_not_every_close_pair() -> None:
    unsure = (Violation(3, 5, 0.95, uncertainty_m=0.1, certain=False),)
    payload = camera_state(ORIGIN, state(violations=unsure, alerting_pairs=0), seq=8, ts=CAPTURED)
    assert payload.violations == 0
    assert payload.zones == {"hall": 3, "window-1": 2, "queue-1": 0}
    assert payload.crossings == {"door": {"in": 4, "out": 1}}
    parsed = parse_payload(camera_topic("hall-a", "cam-1", "state"), payload.to_json())
    assert isinstance(parsed, CameraState) and parsed == payload


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        (
            HallEvent("window_over_limit_ended", 20.0, zone="window-1", count=2, limit=2, duration_s=12.5),
            {"zone": "window-1", "count": 2, "limit": 2, "duration_s": 12.5},
        ),
        (
            HallEvent(
                "spacing_violation_started",
                24.0,
                zone="window-1",
                people=(3, 5),
                distance_m=0.71,
                floor=(1.5, 4.0),
            ),
            {"people": [3, 5], "distance_m": 0.71, "floor": (1.5, 4.0), "zone": "window-1"},
        ),
        (HallEvent("person_entered", 23.5, zone="door", people=(9,)), {"zone": "door", "people": [9]}),
        (
            HallEvent("hall_over_capacity_started", 24.0, zone="hall", count=41, limit=40),
            {"count": 41, "limit": 40, "schema_version": 1},
        ),
        (
            HallEvent("queue_left", 22.0, zone="queue-1", people=(5,), duration_s=184.5),
            {"zone": "queue-1", "people": [5], "duration_s": 184.5, "schema_version": 3},
        ),
    ],
)
def test_event_payloads(event: HallEvent, fields: dict[str, object]) -> None:
    s = state(events=(event,))
    payload = camera_event(ORIGIN, "cam-1", event, seq=9, ts=event_time(event, s, CAPTURED))
    assert payload.type == event.type
    for name, value in fields.items():
        assert getattr(payload, name) == value
    assert payload.ts == CAPTURED - timedelta(seconds=24.0 - event.t_s)
    parsed = parse_payload(camera_topic("hall-a", "cam-1", "events"), payload.to_json())
    assert isinstance(parsed, CameraEvent) and parsed.event_id == payload.event_id


@pytest.mark.parametrize(("event_type", "version"), [("queue_left", 3), ("person_entered", 2)])
def test_a_fused_floor_s_events_say_the_version_their_type_needs(event_type: str, version: int) -> None:
    event = HallEvent(event_type, 1_780_000_000.0, zone="queue-1", people=(31,), duration_s=42.0)  # type: ignore[arg-type]
    payload = floor_event(ORIGIN, event, seq=10)
    assert payload.schema_version == version
    parsed = parse_payload(node_topic("hall-a", "edge-1", "floor_events"), payload.to_json())
    assert isinstance(parsed, FloorEvent) and (parsed.type, parsed.duration_s) == (event_type, 42.0)


def test_event_time_never_lies_in_the_future() -> None:
    event = HallEvent("person_left", 30.0)
    assert event_time(event, state(t_s=24.0), CAPTURED) == CAPTURED


def test_camera_lost_and_recovered() -> None:
    lost = camera_lost(ORIGIN, "cam-1", "cannot open stream rtsp://***@cam/1" + "x" * 400, seq=1, ts=CAPTURED)
    assert lost.type == "camera_lost" and lost.reason is not None and len(lost.reason) == 300
    back = camera_recovered(ORIGIN, "cam-1", 12.5, seq=2, ts=CAPTURED)
    assert back.type == "camera_recovered" and back.duration_s == 12.5
    for p in (lost, back):
        parse_payload(camera_topic("hall-a", "cam-1", "events"), p.to_json())


def test_positions_are_anonymous_and_leave_untracked_people_out() -> None:
    payload = camera_positions(ORIGIN, state(), seq=3, ts=CAPTURED)
    assert [(p.id, p.x, p.y) for p in payload.people] == [(3, 1.2, 4.05), (5, 1.9, 4.1)]
    parsed = parse_payload(camera_topic("hall-a", "cam-1", "positions"), payload.to_json())
    assert isinstance(parsed, CameraPositions)


def test_an_empty_hall_is_a_normal_state() -> None:
    empty = state(
        people=FloorPeople.empty(), zone_counts={"hall": 0}, violations=(), crossings={}, alerting_pairs=0
    )
    payload = camera_state(ORIGIN, empty, seq=1, ts=CAPTURED)
    assert (payload.people, payload.violations, payload.crossings) == (0, 0, {})
    assert camera_positions(ORIGIN, empty, seq=2, ts=CAPTURED).people == []


def test_state_key_ignores_time_but_not_counts() -> None:
    assert state_key(state(frame=1, t_s=0.2)) == state_key(state(frame=2, t_s=0.4))
    assert state_key(state()) != state_key(state(zone_counts={"hall": 4, "window-1": 2, "queue-1": 0}))
    assert state_key(state()) != state_key(state(crossings={"door": {"in": 5, "out": 1}}))


def test_throttle_sends_changes_at_once_and_the_same_state_once_per_interval() -> None:
    t = StateThrottle(1.0)
    sent = [
        now
        for now, key in [(0.0, "a"), (0.2, "a"), (0.4, "b"), (0.6, "b"), (1.3, "b"), (1.5, "b")]
        if t.should_send(key, now)
    ]
    assert sent == [0.0, 0.4, 1.5]  # b changed at 0.4; the same b again one interval later
    t.force()
    assert t.should_send("b", 1.6)
