"""Replicas share what pages see through Redis (issue 16 item 3): real Redis, mosquitto, PostgreSQL.

Two replicas split six cameras' states through one shared subscription. With the relay each
replica's live state, occupancy API and live stream cover all six; without it each covers only the
cameras the broker gave it (the measured limit, kept as proof the test can fail).
"""

from __future__ import annotations

import base64
import contextlib
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient
from server_support import login, make_settings, running
from support.contract import Node
from support.mqtt import Publisher
from support.processes import unique, wait_until

from hallwatch.contract import NodeSnapshot, node_topic
from server.ingest.live_state import CameraNow
from server.ingest.snapshots import PendingRequest
from server.live.hub import LiveMessage
from server.live.relay import RedisRelay
from server.metrics import Metrics
from server.runtime import Server
from server.schemas.live import LivePositions, parse_live

pytestmark = pytest.mark.usefixtures("shared_broker")

CAMERAS = [f"cam-{k}" for k in range(1, 7)]
JPEG = cv2.imencode(".jpg", np.full((8, 8, 3), 100, np.uint8))[1].tobytes()
ZONES = [
    {"id": f"w{k}", "kind": "window", "polygon": [[k, 0], [k + 1, 0], [k + 1, 1], [k, 1]]}
    for k in range(1, 7)
]


@dataclass
class Replicas:
    a: Server
    a_client: TestClient
    b: Server
    node: Node
    pub: Publisher


@contextmanager
def two_replicas(pg_url: str, site: str, redis_url: str | None) -> Iterator[Replicas]:
    """Two replicas in one shared group (with the relay when `redis_url` is given), the node's
    layout on both, and a publisher for the node."""
    group, channel = unique("grp"), unique("live")
    live = {"redis_url": redis_url, "channel": channel} if redis_url else {}
    first, second = (
        make_settings(pg_url, site, mqtt={"shared_group": group, "client_id": unique(name)}, live=live)
        for name in ("replica-a", "replica-b")
    )
    node = Node(site)
    pub = Publisher()
    try:
        with running(first) as (a, a_client), running(second) as (b, _):
            pub.send(node.layout(ZONES), retain=False)
            for server in (a, b):
                wait_until(lambda s=server: len(s.live.zones(site, s.app.state.services.clock())) == 6)
                if redis_url:
                    assert server.ingest.relay.listening.wait(10)  # type: ignore[union-attr]
            yield Replicas(a, a_client, b, node, pub)
    finally:
        pub.close()


def _counted_windows(server: object, site: str) -> set[str]:
    zones = server.live.zones(site, server.app.state.services.clock())  # type: ignore[attr-defined]
    return {z.zone for z in zones if z.count == 1}


def _send_rounds(pub: Publisher, node: Node, rounds: int) -> None:
    for _ in range(rounds):
        for k, camera in enumerate(CAMERAS, start=1):
            pub.send(node.state({f"w{k}": 1}, camera=camera))
        time.sleep(0.05)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("relay", [True, False], ids=["with-relay", "without"])
def test_each_replica_sees_every_camera_only_with_the_relay(
    pg_url: str, site: str, redis_url: str, relay: bool
) -> None:
    with two_replicas(pg_url, site, redis_url if relay else None) as r:
        _send_rounds(r.pub, r.node, 20)
        pa, pb = r.a.ingest.processor, r.b.ingest.processor  # type: ignore[union-attr]
        wait_until(lambda: pa.handled + pb.handled >= 6 * 20, 20)
        assert pa.handled > 10 and pb.handled > 10  # the broker split the cameras between them
        every = {f"w{k}" for k in range(1, 7)}
        if relay:
            wait_until(lambda: _counted_windows(r.a, site) == every == _counted_windows(r.b, site), 10)
            # what a guide sees: the occupancy API of either replica
            headers = login(r.a_client, r.a.store, "guide")
            body = r.a_client.get(f"/api/v1/sites/{site}/occupancy", headers=headers).json()
            assert {z["zone"] for z in body["zones"] if z["count"] == 1} == every
            assert r.a.metrics.relay.labels("received")._value.get() > 0
        else:
            time.sleep(1.0)
            assert _counted_windows(r.a, site) < every and _counted_windows(r.b, site) < every


@pytest.mark.timeout(90)
def test_a_replica_streams_positions_the_other_replica_took(pg_url: str, site: str, redis_url: str) -> None:
    with two_replicas(pg_url, site, redis_url) as r:
        headers = login(r.a_client, r.a.store, "guide")
        with r.a_client.websocket_connect(f"/api/v1/live?site={site}", headers=headers) as ws:
            parse_live(ws.receive_text())  # hello
            seen: set[str] = set()
            deadline = time.monotonic() + 30
            while seen != set(CAMERAS) and time.monotonic() < deadline:
                for camera in CAMERAS:
                    r.pub.send(r.node.positions([(1.5, 0.5)], camera=camera))
                msg = parse_live(ws.receive_text())
                if isinstance(msg, LivePositions):
                    seen.add(msg.camera)
            assert seen == set(CAMERAS)
        # replica b took some of them: those reached a's page through Redis
        assert r.b.ingest.processor.handled > 0  # type: ignore[union-attr]


def _camera(site: str, camera: str) -> CameraNow:
    now = datetime.now(UTC)
    return CameraNow(site, camera, "edge-1", 1, 0, now, now, {"w1": 1})


def test_a_malformed_batch_is_refused_alone_and_the_relay_goes_on(redis_url: str) -> None:
    metrics = Metrics()
    taken: list[list[CameraNow]] = []
    relay = RedisRelay(
        redis_url, unique("live"), "replica-b", metrics, on_cameras=taken.append, on_live=lambda _: None
    )
    sender = RedisRelay(
        redis_url, relay.channel, "replica-a", Metrics(), on_cameras=lambda _: None, on_live=lambda _: None
    )
    relay.start()
    try:
        assert relay.listening.wait(10)
        time.sleep(0.2)
        client = redis.Redis.from_url(redis_url)
        for junk in (b"not json", b'{"origin": "x", "cameras": [{"site": 1}]}', b"\xff\xfe", b'{"extra": 1}'):
            client.publish(relay.channel, junk)
        assert sender.publish([_camera("s", "cam-1")], [])
        wait_until(lambda: len(taken) == 1, 5)
        assert taken[0][0].camera == "cam-1"
        assert metrics.relay.labels("refused")._value.get() == 4
        # its own batches are skipped
        assert relay.publish([_camera("s", "cam-2")], [LiveMessage("positions", "s", "{}")])
        time.sleep(0.5)
        assert len(taken) == 1
    finally:
        relay.stop()


def test_without_redis_ingest_goes_on_and_the_lost_batches_are_counted() -> None:
    # A "Redis" that takes connections and never answers: each attempt costs a timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        metrics = Metrics()
        relay = RedisRelay(
            f"redis://127.0.0.1:{silent.getsockname()[1]}/0",
            "live",
            "replica-a",
            metrics,
            on_cameras=lambda _: None,
            on_live=lambda _: None,
        )
        sent = [relay.publish([_camera("s", "cam-1")], []) for _ in range(20)]
        assert not any(sent)
        assert metrics.relay.labels("unsent")._value.get() == 20
        silent.setblocking(False)
        attempts = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                silent.accept()[0].close()
                attempts += 1
        assert attempts == 1  # then it backs off instead of waiting out a timeout every round


@pytest.mark.timeout(90)
@pytest.mark.parametrize("relay", [True, False], ids=["with-relay", "without"])
def test_a_snapshot_one_replica_asked_for_is_kept_by_every_replica(
    pg_url: str, site: str, redis_url: str, relay: bool
) -> None:
    with two_replicas(pg_url, site, redis_url if relay else None) as r:
        node = r.node
        answer = NodeSnapshot(
            site=site,
            node=node.node,
            camera=node.camera,
            seq=1,
            ts=datetime.now(UTC),
            request_id=uuid.uuid4(),
            width=8,
            height=8,
            frame_width=64,
            frame_height=48,
            jpeg_base64=base64.b64encode(JPEG).decode(),
            blurred=True,
            blur_method="people",
            people_blurred=0,
        )
        now = time.time()
        a_snapshots = r.a.ingest.processor.snapshots  # type: ignore[union-attr]
        b_snapshots = r.b.ingest.processor.snapshots  # type: ignore[union-attr]
        a_snapshots.requested(
            PendingRequest(site, node.node, node.camera, answer.request_id, "ops", True, now, now + 60)
        )
        time.sleep(0.3)  # the node takes longer than this to answer (it blurs a frame)
        r.pub.raw(node_topic(site, node.node, "snapshot"), answer.to_json())
        wait_until(lambda: a_snapshots.answer(answer.request_id) is not None, 10)
        if relay:
            wait_until(lambda: b_snapshots.answer(answer.request_id) is not None, 10)
        else:
            time.sleep(1.0)
            assert b_snapshots.answer(answer.request_id) is None
