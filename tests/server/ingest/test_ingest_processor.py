"""The ingest worker without a broker: messages in, history, alerts, live messages and counters out."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import make_settings
from support.contract import Node, topic_of
from support.processes import unique, wait_until

from hallwatch.contract import camera_topic, node_topic
from server.ingest.live_state import CameraNow, LiveState
from server.ingest.processor import IngestProcessor, RawMessage
from server.live.hub import LiveHub, LiveMessage
from server.metrics import Metrics
from server.schemas.live import parse_live
from server.store import Store
from server.store.alerts import AlertFilter
from server.store.history import EventFilter


class RecordingHub(LiveHub):
    def __init__(self, metrics: Metrics) -> None:
        super().__init__(metrics)
        self.sent: list[LiveMessage] = []

    def publish(self, msgs: Any) -> None:
        self.sent.extend(msgs)


@dataclass
class Rig:
    processor: IngestProcessor
    metrics: Metrics
    hub: RecordingHub
    live: LiveState
    store: Store
    site: str
    acks: list[tuple[int, int]]

    def feed(self, *msgs: Any, qos: int = 0) -> None:
        for i, msg in enumerate(msgs):
            raw = (
                msg
                if isinstance(msg, RawMessage)
                else RawMessage(topic_of(msg), msg.to_json(), time.time(), qos, i + 1)
            )
            self.processor.offer(raw)
        while self.processor.run_round(wait_s=0.0, final=True):
            pass
        assert self.processor.writer.flush(10)

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return value or 0.0


@pytest.fixture
def rig(store: Store, db_url: str, site: str) -> Iterator[Rig]:
    settings_ = make_settings(db_url, site)
    metrics = Metrics()
    hub = RecordingHub(metrics)
    live = LiveState(settings_.alerts)
    processor = IngestProcessor(settings_, store, hub, live, metrics)
    acks: list[tuple[int, int]] = []
    processor.acker = lambda mid, qos: acks.append((mid, qos))
    processor.writer.start()
    yield Rig(processor, metrics, hub, live, store, site, acks)
    processor.writer.stop()


def test_messages_become_history_alerts_and_live_messages(rig: Rig) -> None:
    node = Node(rig.site)
    rig.feed(node.layout(), node.status(), node.health())
    rig.feed(node.state({"w1": 3, "hall": 3}), node.event("person_entered", zone="door", people=[4]), qos=1)
    (alert,) = rig.store.alerts.search(AlertFilter(site=rig.site), 10, 0)[0]
    assert (alert.rule, alert.subject, alert.value, alert.message) == (
        "window_over_limit",
        "w1",
        3,
        "Window 1: more than 2 people",
    )
    _, events = rig.store.history.events(EventFilter(site=rig.site), 10, 0)
    assert events == 1
    zones = {z.zone: (z.count, z.level) for z in rig.live.zones(rig.site, alert.opened_at)}
    assert zones["w1"] == (3, "over") and zones["hall"] == (3, "ok")
    kinds = [parse_live(m.text).type for m in rig.hub.sent]
    assert {"alert", "occupancy", "node", "layout", "event"} <= set(kinds)
    assert rig.metric("hallwatch_ingest_messages_total", kind="state") == 1
    assert rig.acks == [(1, 1), (2, 1)]  # acknowledged once stored


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("hallwatch/SITE/cameras/cam-1/state", b"\xff\xfe not json", "invalid"),
        ("hallwatch/SITE/cameras/cam-1/state", b'{"kind": "state"}', "invalid"),
        ("hallwatch/SITE/cameras/cam-2/state", None, "mismatch"),  # a cam-1 payload on cam-2's topic
        ("hallwatch/SITE/nodes/edge-1/health", None, "mismatch"),  # a state payload on a health topic
        ("hallwatch/SITE/nodes/edge-1/config", b"{}", "config_topic"),
        ("something/else", b"{}", "topic"),
        ("hallwatch/SITE/cameras/cam-1/state", b" " * (256 * 1024 + 1), "too_large"),
        ("hallwatch/SITE/nodes/edge-1/layout", b"", "empty"),  # a retained message cleared
    ],
)
def test_bad_messages_are_refused_and_counted_by_reason(
    rig: Rig, topic: str, payload: bytes | None, reason: str
) -> None:
    valid = Node(rig.site).state({"w1": 1}).to_json()
    rig.feed(
        RawMessage(
            topic.replace("SITE", rig.site), payload if payload is not None else valid, time.time(), 1, 7
        )
    )
    assert rig.metric("hallwatch_ingest_rejected_total", reason=reason) == 1
    assert rig.acks == [(7, 1)]  # refused messages are acknowledged: never delivered again
    assert rig.processor.handled == 1


def test_duplicate_event_ids_are_dropped(rig: Rig) -> None:
    event = Node(rig.site).event("person_entered")
    rig.feed(event, event, qos=1)
    assert rig.metric("hallwatch_ingest_duplicates_total") == 1
    assert rig.store.history.events(EventFilter(site=rig.site), 10, 0)[1] == 1


def test_a_full_queue_drops_and_counts(store: Store, db_url: str, site: str) -> None:
    settings_ = make_settings(db_url, site, ingest={"queue_size": 100})
    metrics = Metrics()
    processor = IngestProcessor(settings_, store, RecordingHub(metrics), LiveState(settings_.alerts), metrics)
    msg = Node(site).state({"w1": 0})
    for _ in range(150):
        processor.offer(RawMessage(topic_of(msg), msg.to_json(), time.time()))
    assert metrics.registry.get_sample_value("hallwatch_ingest_dropped_total", {"reason": "queue_full"}) == 50


class FailingWriter:
    def __init__(self, real: Any, failures: int) -> None:
        self.real, self.failures = real, failures

    def write(self, batch: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database unreachable")
        self.real.write(batch)


def test_a_failed_write_is_retried_and_acks_wait_for_it(rig: Rig) -> None:
    failing = FailingWriter(rig.store.ingest, failures=1)
    rig.processor.writer._write = failing.write  # the database is away for one write
    event = Node(rig.site).event("person_entered")
    rig.processor.offer(RawMessage(topic_of(event), event.to_json(), time.time(), 1, 42))
    rig.processor.run_round(0.0)
    wait_until(lambda: rig.metric("hallwatch_store_errors_total", what="ingest") == 1)
    assert rig.acks == []  # not stored, not acknowledged: the broker keeps it
    wait_until(lambda: rig.acks == [(42, 1)])  # retried after the backoff
    assert rig.store.history.events(EventFilter(site=rig.site), 10, 0)[1] == 1


SITE_CHARS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=12)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=20,
)


@st.composite
def hostile_messages(draw: st.DrawFn, site: str) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["state", "events", "positions", "status", "health", "layout"]))
    name = draw(st.sampled_from(["cam-1", "edge-1"]) | SITE_CHARS)
    topic = (
        camera_topic(site, name, kind)
        if kind in ("state", "events", "positions")
        else node_topic(site, name, kind)
    )  # type: ignore[arg-type]
    strategy = draw(st.sampled_from(["bytes", "json", "mutated"]))
    if strategy == "bytes":
        return topic, draw(st.binary(max_size=300))
    if strategy == "json":
        return topic, json.dumps(draw(JSONISH)).encode()
    valid = json.loads(Node(site).state({"w1": 1}).to_json())
    field = draw(st.sampled_from(sorted(valid)))
    valid[field] = draw(JSONISH)
    valid["kind"] = draw(
        st.sampled_from(["state", "event", "health", "nope"])
    )  # never matching all of the rest
    valid["schema_version"] = draw(st.sampled_from([0, 4, "one", None]))  # 2 and 3 are versions now
    return topic, json.dumps(valid).encode()


def test_fuzzed_payloads_are_all_refused_and_counted(rig: Rig) -> None:
    offered = 0

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data: st.DataObject) -> None:
        nonlocal offered
        topic, payload = data.draw(hostile_messages(rig.site))
        rig.processor.offer(RawMessage(topic, payload, time.time()))
        offered += 1
        rig.processor.run_round(0.0)

    check()
    rejected = sum(
        s.value
        for m in rig.metrics.registry.collect()
        if m.name == "hallwatch_ingest_rejected"
        for s in m.samples
        if s.name.endswith("_total")
    )
    assert rejected == offered == rig.processor.handled
    assert rig.metric("hallwatch_ingest_messages_total", kind="state") == 0
    # and the worker still works
    rig.feed(Node(rig.site, unique("n")).state({"w1": 0}))
    assert rig.metric("hallwatch_ingest_messages_total", kind="state") == 1


def test_a_camera_s_target_rate_and_adaptive_bounds_are_stored_from_health(rig: Rig) -> None:
    from hallwatch.contract import SCHEMA_VERSION_RATES, CameraHealth

    node = Node(rig.site)
    rig.feed(node.layout(), node.status())
    adaptive = CameraHealth(
        camera=node.camera, connected=True, fps=6.1, latency_ms=80.0, frames_dropped=0, reconnects=0,
        target_fps=6.25, min_fps=1.0, max_fps=9.0,
    )  # fmt: skip
    health = node.health().model_copy(update={"schema_version": SCHEMA_VERSION_RATES, "cameras": [adaptive]})
    rig.feed(health)
    (camera,) = rig.store.nodes.cameras(rig.site)
    assert (camera.fps, camera.target_fps, camera.min_fps, camera.max_fps) == (6.1, 6.25, 1.0, 9.0)
    # The camera is fixed again (a config push): its bounds go.
    fixed = adaptive.model_copy(update={"target_fps": 5.0, "min_fps": None, "max_fps": None})
    rig.feed(node.health().model_copy(update={"cameras": [fixed]}))
    (camera,) = rig.store.nodes.cameras(rig.site)
    assert (camera.target_fps, camera.min_fps, camera.max_fps) == (5.0, None, None)


def test_other_replicas_cameras_reach_the_live_state_in_time_order(rig: Rig) -> None:
    node = Node(rig.site)
    rig.feed(node.layout())
    now = datetime.now(UTC)
    rig.feed(node.state({"w1": 2}, camera="cam-1", ts=now))

    def relayed(count: int, ts: datetime) -> None:
        camera = CameraNow(rig.site, "cam-2", node.node, count, 0, ts, datetime.now(UTC), {"w2": count})
        rig.processor.take_remote_cameras([camera])
        rig.processor.run_round(wait_s=0.0)

    def count(zone: str) -> int | None:
        return next(z.count for z in rig.live.zones(rig.site, datetime.now(UTC)) if z.zone == zone)

    relayed(1, now)
    assert (count("w1"), count("w2")) == (2, 1)
    relayed(0, now - timedelta(seconds=1))  # older, arriving later through another replica: skipped
    assert count("w2") == 1
    relayed(2, now + timedelta(seconds=1))
    assert count("w2") == 2
    # the live state only: the other replica's engine judges its cameras, and nothing is stored twice
    assert rig.metric("hallwatch_ingest_messages_total", kind="state") == 1
