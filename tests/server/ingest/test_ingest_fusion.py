"""Fused floors at the server (issue 12): a node's own fused floor taken once, the floor the server
fuses from the positions of nodes that leave fusing to it, and the border's rules for both."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from server_support import make_settings
from support.contract import Node, topic_of
from test_ingest_processor import RecordingHub, Rig

from server.ingest.live_state import LiveState
from server.ingest.processor import IngestProcessor, RawMessage
from server.metrics import Metrics
from server.schemas.live import LivePositions, parse_live
from server.store import Store
from server.store.alerts import AlertFilter
from server.store.history import EventFilter

ZONES: list[dict[str, Any]] = [
    {
        "id": "w1",
        "kind": "window",
        "name": "Window 1",
        "polygon": [(1, 8), (3, 8), (3, 10), (1, 10)],
        "limit": 2,
    },
    {
        "id": "w2",
        "kind": "window",
        "name": "Window 2",
        "polygon": [(9, 8), (11, 8), (11, 10), (9, 10)],
        "limit": 2,
    },
    {"id": "hall", "kind": "hall", "polygon": [(0, 0), (12, 0), (12, 10), (0, 10)], "limit": 30},
]
# cam-a (node edge-a) sees x < 7, cam-b (node edge-b) x > 5: w1 is cam-a's, w2 cam-b's.
COVERAGE = {"cam-a": [(-1, -1), (7, -1), (7, 11), (-1, 11)], "cam-b": [(5, -1), (13, -1), (13, 11), (5, 11)]}


class PositionsHub(RecordingHub):
    """Someone watches the floor plan: positions are built and sent."""

    def wants(self, topic: str) -> bool:
        return True


@pytest.fixture
def rig(store: Store, db_url: str, site: str) -> Iterator[Rig]:
    settings_ = make_settings(db_url, site, ingest={"positions_interval_s": 0.0})
    metrics = Metrics()
    hub = PositionsHub(metrics)
    live = LiveState(settings_.alerts)
    processor = IngestProcessor(settings_, store, hub, live, metrics)
    acks: list[tuple[int, int]] = []
    processor.acker = lambda mid, qos: acks.append((mid, qos))
    processor.writer.start()
    yield Rig(processor, metrics, hub, live, store, site, acks)
    processor.writer.stop()


def zones_now(rig: Rig) -> dict[str, tuple[int | None, tuple[str, ...]]]:
    return {z.zone: (z.count, z.cameras) for z in rig.live.zones(rig.site, datetime.now(UTC))}


def test_a_node_s_fused_floor_counts_each_zone_once_with_its_certain_and_possible_pairs(rig: Rig) -> None:
    node = Node(rig.site, "edge-1", zones=ZONES)
    rig.feed(
        node.layout(fusion="node", coverage=COVERAGE),
        node.status(),
        node.health({"cam-a": True, "cam-b": True}),
    )
    rig.feed(
        node.floor({"w1": 3, "w2": 1, "hall": 6}, violations=1, possible=2, cameras=["cam-a", "cam-b"]),
        node.floor_event(
            "spacing_violation_started", people=[4, 9], distance_m=0.7, floor=(6.0, 5.0), zone="w1"
        ),
        qos=1,
    )
    assert zones_now(rig) == {
        "w1": (3, ("fused:edge-1",)),
        "w2": (1, ("fused:edge-1",)),
        "hall": (6, ("fused:edge-1",)),
    }
    (floor,) = rig.live.cameras(rig.site)
    assert (floor.camera, floor.violations, floor.possible_violations) == ("fused:edge-1", 1, 2)
    alerts, _ = rig.store.alerts.search(AlertFilter(site=rig.site), 10, 0)
    assert {(a.rule, a.subject) for a in alerts} == {("window_over_limit", "w1"), ("spacing_violation", "w1")}
    events, total = rig.store.history.events(EventFilter(site=rig.site), 10, 0)
    assert total == 1 and (events[0].camera, events[0].node, events[0].people) == (
        "fused:edge-1",
        "edge-1",
        [4, 9],
    )

    # cam-b's frames stopped: the floor no longer sees w2, which is then unknown at once, not 1 or 0.
    rig.feed(node.floor({"w1": 3, "hall": 5}, cameras=["cam-a"], uncovered=["w2"], left_out=["cam-b"]))
    now = zones_now(rig)
    assert now["w2"][0] is None and now["w1"][0] == 3
    assert {z.zone: z.level for z in rig.live.zones(rig.site, datetime.now(UTC))}["w2"] == "unknown"


def fusing_nodes(rig: Rig) -> tuple[Node, Node]:
    a = Node(rig.site, "edge-a", "cam-a", zones=ZONES)
    b = Node(rig.site, "edge-b", "cam-b", zones=ZONES)
    rig.feed(
        a.layout(fusion="server", coverage={"cam-a": COVERAGE["cam-a"]}),
        b.layout(fusion="server", coverage={"cam-b": COVERAGE["cam-b"]}),
    )
    return a, b


def test_the_server_fuses_the_positions_of_nodes_that_leave_fusing_to_it(rig: Rig) -> None:
    a, b = fusing_nodes(rig)
    start = datetime.now(UTC) - timedelta(seconds=5)
    # Four people: one at w1 (cam-a), two in the overlap at x = 6 (both cameras, each with its own
    # track ids and 3 cm apart), one at w2 (cam-b). Six positions, four people.
    for k in range(4):
        ts = start + timedelta(seconds=0.2 * k)
        rig.feed(
            a.positions([(2.0, 9.0), (6.0, 4.0), (6.0, 6.5)], ts=ts, sigma_m=0.05, ids=[1, 2, 3]),
            b.positions([(6.03, 4.0), (6.03, 6.5), (10.0, 9.0)], ts=ts, sigma_m=0.05, ids=[7, 8, 9]),
        )
    assert zones_now(rig) == {"w1": (1, ("fused",)), "w2": (1, ("fused",)), "hall": (4, ("fused",))}
    fused = next(c for c in rig.live.cameras(rig.site) if c.camera == "fused")
    assert fused.people == 4 and fused.node == "fused"
    dots = [m for m in (parse_live(s.text) for s in rig.hub.sent) if isinstance(m, LivePositions)]
    assert dots and {d.camera for d in dots} == {"fused"}, "one set of dots: the fused floor's, no camera's"
    last = dots[-1].people
    assert len(last) == 4 and sorted(len(p.cameras or ()) for p in last) == [1, 1, 2, 2]
    assert rig.metric("hallwatch_ingest_rejected_total", reason="invalid") == 0

    # cam-b goes silent: after a second it is no longer waited for, its last frame is left behind
    # (more than 0.5 s older than cam-a's), and w2, which only it covers, becomes unknown.
    time.sleep(1.1)
    for k in range(4, 10):
        ts = start + timedelta(seconds=0.2 * k)
        rig.feed(a.positions([(2.0, 9.0), (6.0, 4.0)], ts=ts, sigma_m=0.05, ids=[1, 2]))
    now = zones_now(rig)
    assert now["w2"][0] is None and now["w1"][0] == 1
    fused = next(c for c in rig.live.cameras(rig.site) if c.camera == "fused")
    assert fused.uncovered == ("w2",)


def test_the_server_s_floor_raises_its_own_events_and_alerts(rig: Rig) -> None:
    a, b = fusing_nodes(rig)
    start = datetime.now(UTC) - timedelta(seconds=30)
    # Three people at w1 seen by cam-a, and the same three by cam-b: w1 over its limit of 2, once.
    for k in range(6):
        ts = start + timedelta(seconds=0.2 * k)
        rig.feed(
            a.positions([(1.5, 9.0), (2.2, 9.0), (2.9, 9.0)], ts=ts, sigma_m=0.05, ids=[1, 2, 3]),
            b.positions([(1.52, 9.0), (2.22, 9.0), (2.92, 9.0)], ts=ts, sigma_m=0.05, ids=[4, 5, 6]),
        )
    alerts, _ = rig.store.alerts.search(AlertFilter(site=rig.site), 10, 0)
    assert [(x.rule, x.subject, x.value) for x in alerts] == [("window_over_limit", "w1", 3)]
    events, _ = rig.store.history.events(
        EventFilter(site=rig.site, types=["window_over_limit_started"]), 10, 0
    )
    assert [(e.camera, e.node, e.count) for e in events] == [("fused", "fused", 3)]


def test_old_nodes_positions_are_not_fused_and_bad_floor_messages_are_refused_alone(rig: Rig) -> None:
    old = Node(rig.site, "edge-old", "cam-x", zones=ZONES)
    rig.feed(old.layout(), old.positions([(2.0, 9.0)]))
    assert "fused" not in {c.camera for c in rig.live.cameras(rig.site)}
    node = Node(rig.site, "edge-1", zones=ZONES)
    floor = node.floor({"w1": 1}, cameras=["cam-a"])
    payload = floor.to_json().replace(b'"schema_version":2', b'"schema_version":1')
    rig.feed(
        RawMessage(topic_of(floor), payload, time.time(), 1, 3),
        RawMessage(
            topic_of(floor), floor.to_json().replace(b'"camera":null', b'"camera":"cam-a"'), time.time(), 1, 4
        ),
        node.floor({"w1": 2}, cameras=["cam-a"]),
    )
    assert rig.metric("hallwatch_ingest_rejected_total", reason="invalid") == 2
    assert zones_now(rig)["w1"][0] == 2, "the good message after them was taken"
    assert (3, 1) in rig.acks and (4, 1) in rig.acks, "refused and acknowledged, never delivered again"


def test_a_camera_may_not_take_the_server_floor_s_name(rig: Rig) -> None:
    node = Node(rig.site, "edge-1", "fused", zones=ZONES)
    rig.feed(node.state({"w1": 1}))
    assert rig.metric("hallwatch_ingest_rejected_total", reason="reserved_camera") == 1
    assert zones_now(rig).get("w1", (None, ()))[0] is None
