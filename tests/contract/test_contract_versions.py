"""Contract versions (issue 12): version 2 adds the fused floor; version-1 payloads still pass, a
version-1 payload that carries a version-2 field is refused, and version-2 kinds say so. Version 3
(issue 13) adds the `queue_left` event type: such an event must say 3, and nothing else needs to."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.contract import Node, topic_of

from hallwatch.contract import (
    CameraEvent,
    CameraPositions,
    CameraState,
    FloorEvent,
    FloorState,
    NodeLayout,
    PayloadError,
    node_topic,
    parse_payload,
)

NODE = Node("hall-a", "edge-1", "cam-1")


def as_json(message: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(message.to_json())
    return loaded


def parse(topic: str, payload: dict[str, Any]) -> Any:
    return parse_payload(topic, json.dumps(payload).encode())


def test_a_version_1_node_s_payloads_still_pass() -> None:
    for message in (NODE.state({"hall": 2}), NODE.positions([(1.0, 2.0)]), NODE.layout()):
        payload = as_json(message)
        assert payload["schema_version"] == 1
        assert parse(topic_of(message), payload) == message


@pytest.mark.parametrize(
    ("message", "field", "value"),
    [
        (NODE.state({"hall": 2}), "possible_violations", 3),
        (NODE.positions([(1.0, 2.0)], sigma_m=0.1), None, None),
        (NODE.layout(), "fusion", "node"),
        (
            NODE.layout(),
            "counting",
            {"zone_margin_m": 0.15, "zone_settle_s": 0.2, "min_track_frames": 2, "hidden_hold_s": 2.0},
        ),
    ],
)
def test_a_version_2_field_in_a_version_1_payload_is_refused_and_named(
    message: Any, field: str | None, value: Any
) -> None:
    payload = as_json(message)
    if field is not None:
        payload[field] = value
    assert parse(topic_of(message), payload | {"schema_version": 2})  # fine as version 2
    with pytest.raises(PayloadError) as info:
        parse(topic_of(message), payload | {"schema_version": 1})
    assert info.value.reason == "invalid"
    assert "need schema_version 2" in str(info.value)
    assert (field or "sigma_m") in str(info.value)


def test_a_camera_s_coverage_in_a_layout_needs_version_2() -> None:
    payload = as_json(NODE.layout())
    payload["cameras"] = [
        {
            "id": "cam-1",
            "anchor": "feet",
            "reprojection_error_cm": 2.0,
            "image_points": [[0, 0], [1, 0], [1, 1], [0, 1]],
            "floor_points": [[0, 0], [1, 0], [1, 1], [0, 1]],
            "coverage": [[0, 0], [4, 0], [4, 3]],
        }
    ]
    topic = node_topic("hall-a", "edge-1", "layout")
    layout = parse(topic, payload | {"schema_version": 2})
    assert isinstance(layout, NodeLayout) and layout.cameras[0].coverage == [(0, 0), (4, 0), (4, 3)]
    with pytest.raises(PayloadError, match=r"cameras\[\]\.coverage need schema_version 2"):
        parse(topic, payload | {"schema_version": 1})


@pytest.mark.parametrize("version", [1, 3, "2"])
def test_the_floor_kinds_are_version_2_only(version: Any) -> None:
    floor = NODE.floor({"hall": 2}, cameras=["cam-1", "cam-2"])
    with pytest.raises(PayloadError) as info:
        parse(topic_of(floor), as_json(floor) | {"schema_version": version})
    assert info.value.reason == "invalid" and "schema_version" in str(info.value)


def test_the_floor_belongs_to_its_node_not_to_a_camera() -> None:
    floor = NODE.floor({"hall": 2})
    assert isinstance(parse(topic_of(floor), as_json(floor)), FloorState)
    with pytest.raises(PayloadError, match="camera"):
        parse(topic_of(floor), as_json(floor) | {"camera": "cam-1"})
    with pytest.raises(PayloadError) as info:  # another node's floor topic
        parse(node_topic("hall-a", "edge-2", "floor"), as_json(floor))
    assert info.value.reason == "mismatch"


def test_what_version_2_adds_reads_back() -> None:
    state = CameraState.model_validate(
        as_json(NODE.state({"hall": 2})) | {"schema_version": 2, "possible_violations": 1}
    )
    assert state.possible_violations == 1
    positions = NODE.positions([(1.0, 2.0), (2.0, 2.0)], sigma_m=0.07, ids=[5, 9])
    again = parse(topic_of(positions), as_json(positions))
    assert isinstance(again, CameraPositions) and [(p.id, p.sigma_m) for p in again.people] == [
        (5, 0.07),
        (9, 0.07),
    ]


def test_a_wait_in_a_queue_is_a_version_3_event_on_both_event_topics() -> None:
    for message in (
        NODE.event("queue_left", zone="queue-1", people=[17], duration_s=312.5),
        NODE.floor_event("queue_left", zone="queue-1", people=[31], duration_s=42.0),
    ):
        payload = as_json(message)
        assert payload["schema_version"] == 3
        parsed = parse(topic_of(message), payload)
        assert isinstance(parsed, CameraEvent | FloorEvent) and parsed.duration_s == payload["duration_s"]
        with pytest.raises(PayloadError) as info:
            parse(topic_of(message), payload | {"schema_version": 2})
        assert info.value.reason == "invalid"
        assert "type queue_left need schema_version 3" in str(info.value)
        with pytest.raises(PayloadError, match="schema_version"):
            parse(topic_of(message), payload | {"schema_version": 1})
        with pytest.raises(PayloadError, match="schema_version"):  # no version 5 yet
            parse(topic_of(message), payload | {"schema_version": 5})


def test_version_3_leaves_the_other_events_as_they_were() -> None:
    event = NODE.event("person_entered", zone="door", people=[4])
    assert as_json(event)["schema_version"] == 1
    assert parse(topic_of(event), as_json(event) | {"schema_version": 3})  # a reader of 3 takes it
    floor = NODE.floor_event("person_left", zone="door", people=[4])
    assert as_json(floor)["schema_version"] == 2
    with pytest.raises(PayloadError, match="schema_version"):  # a floor event is never version 1
        parse(topic_of(floor), as_json(floor) | {"schema_version": 1})
