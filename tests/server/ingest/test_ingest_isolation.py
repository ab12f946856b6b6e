"""One bad message never stops the hall (issue 11): it is refused alone, counted, logged, kept as a
dead letter and acknowledged; the messages around it are stored. And a node speaks only for itself.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from support.contract import Node, topic_of
from test_ingest_processor import Rig, rig  # noqa: F401 (the fixture)

from hallwatch.contract import CameraEvent, camera_topic
from server.ingest.processor import RawMessage
from server.store.alerts import AlertFilter
from server.store.history import EventFilter


def stored_events(rig: Rig) -> int:  # noqa: F811
    return len(rig.store.history.all_events(EventFilter(site=rig.site)))


@pytest.mark.parametrize("ts", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_an_event_with_an_overflowing_time_is_refused_alone(rig: Rig, ts: str) -> None:  # noqa: F811
    # Before: OverflowError escaped parse_payload, the round failed, nothing was acknowledged and
    # the broker redelivered the message first after every restart (0 of 200 later events stored).
    node = Node(rig.site)
    rig.feed(node.layout(), node.health())  # the health ties cam-1 to edge-1
    bad = json.loads(node.event("camera_lost", reason="x").to_json())
    bad["ts"] = ts
    topic = camera_topic(rig.site, "cam-1", "events")
    messages = [RawMessage(topic, json.dumps(bad).encode(), time.time(), 1, 1)]
    good = [node.event("person_entered", zone="door", people=[i]) for i in range(20)]
    messages += [RawMessage(topic_of(m), m.to_json(), time.time(), 1, i + 2) for i, m in enumerate(good)]
    rig.feed(*messages)
    assert stored_events(rig) == 20
    assert sorted(rig.acks) == [(i, 1) for i in range(1, 22)], "the bad one is acknowledged with the rest"
    assert rig.metric("hallwatch_ingest_rejected_total", reason="invalid") == 1
    (letter,), total = rig.store.quarantine.dead_letters(rig.site, None, 10, 0)
    assert total == 1 and letter.topic == topic and letter.event_id == bad["event_id"]
    assert letter.reason == "invalid" and "out of range" in letter.detail and letter.node == "edge-1"
    assert json.loads(letter.payload)["ts"] == ts


def test_absurd_but_once_contract_valid_values_are_refused(rig: Rig) -> None:  # noqa: F811
    node = Node(rig.site)
    topic = camera_topic(rig.site, "cam-1", "events")
    base = json.loads(node.event("camera_lost", reason="x").to_json())
    cases = [
        base | {"ts": "0001-01-01T00:00:00Z"},
        base | {"ts": "9999-12-31T23:59:59Z"},
        base | {"ts": int(time.time())},
        base | {"type": "person_entered", "zone": "door", "people": [2**64], "reason": None},
        base | {"type": "person_entered", "zone": "door", "people": [-3], "reason": None},
        base | {"reason": "NUL \x00 here"},
        base | {"reason": "\x1b[2J\x1b[31mfire"},
        base | {"reason": "\u202egnirts"},
    ]
    raws = [
        RawMessage(
            topic, json.dumps(c | {"event_id": f"00000000-0000-0000-0000-{i:012d}"}).encode(), time.time()
        )
        for i, c in enumerate(cases)
    ]
    rig.feed(node.layout(), *raws)
    assert stored_events(rig) == 0
    assert rig.store.alerts.all(AlertFilter(site=rig.site)) == [], "none of them raised an alert"
    assert rig.store.quarantine.dead_letters(rig.site, None, 100, 0)[1] == len(cases)


def test_a_node_cannot_speak_for_another_nodes_camera(rig: Rig) -> None:  # noqa: F811
    a, b = Node(rig.site, "edge-a", "cam-a"), Node(rig.site, "edge-b", "cam-b")
    rig.feed(a.status(), a.health(), b.status(), b.health())
    # edge-a, on its own camera's topic, claims to be edge-b: a camera_lost "of edge-b".
    forged = CameraEvent.model_validate(
        json.loads(a.event("camera_lost", reason="forged").to_json()) | {"node": "edge-b"}
    )
    rig.feed(forged, qos=1)
    assert stored_events(rig) == 0
    assert rig.store.alerts.all(AlertFilter(site=rig.site)) == []
    assert rig.metric("hallwatch_ingest_rejected_total", reason="foreign_camera") == 1
    # A made-up node name on its own camera: no ghost node.
    ghost = json.loads(a.state({"hall": 3}).to_json()) | {"node": "ghost-1"}
    rig.feed(RawMessage(camera_topic(rig.site, "cam-a", "state"), json.dumps(ghost).encode(), time.time()))
    assert {n.node for n in rig.store.nodes.nodes(rig.site)} == {"edge-a", "edge-b"}
    # Health naming another node's camera would mark it disconnected: refused.
    rig.feed(a.health({"cam-a": True, "cam-b": False}))
    assert rig.metric("hallwatch_ingest_rejected_total", reason="foreign_camera") == 3
    assert {c.camera: c.node for c in rig.store.nodes.cameras(rig.site)} == {
        "cam-a": "edge-a",
        "cam-b": "edge-b",
    }
    assert rig.store.alerts.all(AlertFilter(site=rig.site)) == []
    # The real owner still gets through.
    rig.feed(b.event("camera_lost", reason="unplugged"), qos=1)
    assert stored_events(rig) == 1


def test_a_layout_cannot_take_another_nodes_camera(rig: Rig) -> None:  # noqa: F811
    from hallwatch.contract import LayoutCamera, NodeLayout

    def layout(node: Node, camera: str) -> NodeLayout:
        cam = LayoutCamera(
            id=camera,
            anchor="feet",
            reprojection_error_cm=1.0,
            image_points=[(0, 0), (10, 0), (10, 10), (0, 10)],
            floor_points=[(0, 0), (1, 0), (1, 1), (0, 1)],
        )
        return node.layout().model_copy(update={"cameras": [cam]})

    a, b = Node(rig.site, "edge-a", "cam-a"), Node(rig.site, "edge-b", "cam-b")
    rig.feed(layout(a, "cam-a"), layout(b, "cam-b"))
    rig.feed(layout(a, "cam-b"))
    assert rig.metric("hallwatch_ingest_rejected_total", reason="camera_conflict") == 1
    assert rig.processor.identity.owner(rig.site, "cam-b") == "edge-b"


def test_messages_of_a_node_nobody_accepted_are_held(rig: Rig) -> None:  # noqa: F811
    rig.processor.identity.accept_new_nodes = False
    node = Node(rig.site, "edge-new", "cam-new")
    rig.feed(
        node.layout(),
        node.status(),
        node.health(),
        node.state({"w1": 5}),
        node.event("camera_lost", reason="x"),
    )
    assert rig.store.nodes.nodes(rig.site) == [] and stored_events(rig) == 0
    assert rig.store.alerts.all(AlertFilter(site=rig.site)) == [], "a quarantined node raises no alert"
    (candidate,) = rig.store.quarantine.candidates(rig.site)
    assert (candidate.node, candidate.messages, candidate.version) == ("edge-new", 3, "test")
    assert candidate.layout is not None and {z["id"] for z in candidate.layout["zones"]} == {
        "w1",
        "w2",
        "q1",
        "hall",
    }
    assert rig.metric("hallwatch_ingest_quarantined_total") == 5
    rig.store.quarantine.accept(rig.site, "edge-new", datetime.now(UTC))
    rig.processor.request_identity_sync()
    rig.feed(node.event("camera_lost", reason="x"))
    assert stored_events(rig) == 1
    assert {z.zone for z in rig.store.nodes.zones(rig.site)} == {"w1", "w2", "q1", "hall"}
    assert rig.store.quarantine.candidates(rig.site) == []
