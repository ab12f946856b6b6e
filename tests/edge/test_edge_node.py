"""The node in-process: real video files and streams, real outbox, real broker, scripted processor."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from edge_support import Capture, MjpegServer, camera_entry, make_video, node_config, write_yaml
from paho.mqtt.enums import CallbackAPIVersion
from scripted_processor import factory as scripted_factory
from support.mqtt import clear_retained
from support.processes import free_port, unique

from edge.config import load_config
from edge.node import EdgeNode
from hallwatch.contract import (
    CameraEvent,
    CameraState,
    NodeHealth,
    NodeLayout,
    NodeSnapshot,
    NodeStatus,
    SnapshotRequest,
    node_topic,
    parse_payload,
)


@contextmanager
def running_node(
    tmp_path: Path, config: dict[str, Any], factory: Any = scripted_factory
) -> Iterator[EdgeNode]:
    path = write_yaml(tmp_path / f"{config['node']['id']}.yaml", config)
    node = EdgeNode(load_config(path), factory, config_path=path)
    node.start()
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(node.run()), daemon=True)
    thread.start()
    try:
        yield node
    finally:
        node.request_stop()
        thread.join(20)
        assert not thread.is_alive(), "the node did not stop"
        assert codes == [0]


@pytest.fixture
def retained_cleanup(shared_broker_port: int) -> Iterator[list[Capture]]:
    """Remove what tests left retained on the shared broker."""
    captures: list[Capture] = []
    yield captures
    topics = {
        m.topic
        for c in captures
        for m in c.snapshot()
        if m.retain or m.topic.endswith(("status", "layout", "state"))
    }
    clear_retained(shared_broker_port, sorted(topics))


IMAGE_MAGIC = [b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"BM"]
LONG_RUN = re.compile(rb"[A-Za-z0-9+/=]{120,}")


def assert_no_image_data(topic: str, payload: bytes) -> None:
    assert len(payload) < 8_000, f"{topic}: {len(payload)} bytes"
    for magic in IMAGE_MAGIC:
        assert magic not in payload, f"{topic}: carries {magic!r}"
    assert LONG_RUN.search(payload) is None, f"{topic}: a long encoded run"
    numbers = re.findall(rb"-?\d+(?:\.\d+)?(?:e-?\d+)?", payload)
    assert len(numbers) < 400, f"{topic}: {len(numbers)} numbers, like an array of pixels"


def test_node_publishes_what_the_contract_says_and_never_an_image(
    tmp_path: Path,
    site: str,
    node_id: str,
    shared_broker_port: int,
    capture: Callable[..., Capture],
    retained_cleanup: list[Capture],
) -> None:
    videos = [make_video(tmp_path / f"v{i}.avi", frames=30, fps=30.0, size=(320, 240)) for i in range(2)]
    cams = [camera_entry(f"cam-{i}", str(v), fps=10.0, loop=True) for i, v in enumerate(videos)]
    cfg = node_config(
        tmp_path,
        site=site,
        node=node_id,
        port=shared_broker_port,
        cameras=cams,
        mqtt_settings={"publish_positions": True},
        fusion="camera",  # each camera's own state and events (test_edge_floor.py: the fused floor)
    )
    cap = capture(shared_broker_port, f"hallwatch/{site}/#")
    retained_cleanup.append(cap)
    with running_node(tmp_path, cfg) as node:
        assert cap.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/health")]) >= 2, 10.0)
        assert node.outbox.depth < 10
    # The node had its `stopped` acknowledged before it returned; the capture gets it a moment later.
    assert cap.wait_for(
        lambda ms: any(m.topic.endswith("/status") and b'"stopped"' in m.payload for m in ms), 5.0
    )
    messages = [m for m in cap.snapshot() if m.payload]
    parsed = [(m, parse_payload(m.topic, m.payload)) for m in messages]
    for m in messages:
        assert_no_image_data(m.topic, m.payload)
    assert not [m for m in messages if "/snapshot" in m.topic], "no snapshot without an ops request"

    statuses = [p for _, p in parsed if isinstance(p, NodeStatus)]
    assert [s.status for s in statuses] == ["online", "stopped"]
    layouts = [p for _, p in parsed if isinstance(p, NodeLayout)]
    assert layouts and {c.id for c in layouts[0].cameras} == {"cam-0", "cam-1"}
    assert all(c.reprojection_error_cm < 0.01 for c in layouts[0].cameras)

    states = [p for _, p in parsed if isinstance(p, CameraState)]
    assert {s.camera for s in states} == {"cam-0", "cam-1"}
    assert all(s.people == 2 and s.zones["hall"] == 2 for s in states)
    assert any(m.topic.endswith("/positions") for m in messages)

    events = [(m, p) for m, p in parsed if isinstance(p, CameraEvent)]
    assert all(m.qos == 1 for m, _ in events)
    for cam in ("cam-0", "cam-1"):
        counters = [p.people[0] for _, p in events if p.camera == cam and p.type == "person_entered"]
        assert counters == list(range(len(counters))) and len(counters) >= 10, cam  # none lost, none repeated
    seqs = [p.seq for _, p in events]
    assert seqs == sorted(seqs), "events arrive in seq order"
    all_seqs = [p.seq for _, p in parsed]
    assert len(all_seqs) == len(set(all_seqs)), "seq is never reused within a node"

    health = [p for _, p in parsed if isinstance(p, NodeHealth)]
    last = health[-1]
    assert {c.camera for c in last.cameras} == {"cam-0", "cam-1"}
    assert all(c.connected and 6.0 < c.fps < 14.0 and c.latency_ms > 0 for c in last.cameras), last.cameras
    assert last.published >= 10 and last.outbox_dropped == 0 and last.uptime_s > 0


def snapshot_request(site: str, node: str, camera: str, *, ttl_s: float = 30.0, **kw: Any) -> SnapshotRequest:
    now = datetime.now(UTC)
    return SnapshotRequest(
        site=site,
        node=node,
        camera=camera,
        requested_by="ops",
        ts=now - timedelta(seconds=1),
        expires_at=now + timedelta(seconds=ttl_s),
        **kw,
    )


def send_as_server(port: int, topic: str, payload: bytes) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("server"), protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def test_an_image_leaves_the_node_only_as_the_reply_to_a_valid_ops_request(
    tmp_path: Path,
    site: str,
    node_id: str,
    shared_broker_port: int,
    capture: Callable[..., Capture],
    retained_cleanup: list[Capture],
) -> None:
    video = make_video(tmp_path / "v.avi", frames=30, fps=30.0, size=(320, 240))
    cfg = node_config(
        tmp_path,
        site=site,
        node=node_id,
        port=shared_broker_port,
        cameras=[camera_entry("cam-0", str(video), fps=10.0, loop=True)],
    )
    cap = capture(shared_broker_port, f"hallwatch/{site}/#")
    retained_cleanup.append(cap)
    request_topic = node_topic(site, node_id, "snapshot_request")
    expired = snapshot_request(site, node_id, "cam-0", ttl_s=-0.5)
    foreign = snapshot_request(site, "some-other-node", "cam-0")
    unknown_camera = snapshot_request(site, node_id, "cam-9")
    valid = snapshot_request(site, node_id, "cam-0", blur=True)
    with running_node(tmp_path, cfg):
        assert cap.wait_for(lambda ms: any(m.topic.endswith("/state") for m in ms), 10.0)
        send_as_server(shared_broker_port, request_topic, expired.to_json())
        send_as_server(shared_broker_port, request_topic, foreign.to_json())  # on our topic: refused
        send_as_server(shared_broker_port, request_topic, b"not a request")
        send_as_server(shared_broker_port, request_topic, unknown_camera.to_json())
        send_as_server(shared_broker_port, request_topic, valid.to_json())
        assert cap.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/snapshot")]) >= 2, 10.0)
        time.sleep(1.0)  # anything else the node would (wrongly) send arrives meanwhile
    messages = [m for m in cap.snapshot() if m.payload]
    replies = [m for m in messages if m.topic.endswith("/snapshot")]
    assert all(m.topic == node_topic(site, node_id, "snapshot") and not m.retain for m in replies)
    assert all(m.qos == 1 for m in replies)
    parsed = [parse_payload(m.topic, m.payload) for m in replies]
    assert all(isinstance(p, NodeSnapshot) for p in parsed)
    by_request = {p.request_id: p for p in parsed if isinstance(p, NodeSnapshot)}
    assert set(by_request) == {unknown_camera.event_id, valid.event_id}, "invalid or expired: no reply"
    assert len(replies) == 2, "one reply per request"
    error = by_request[unknown_camera.event_id]
    assert error.jpeg_base64 is None and error.error is not None and "no camera 'cam-9'" in error.error
    assert_no_image_data(replies[0].topic, error.to_json())
    picture = by_request[valid.event_id]
    image = cv2.imdecode(np.frombuffer(picture.jpeg(), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (240, 320, 3) and (picture.width, picture.height) == (320, 240)
    assert (picture.frame_width, picture.frame_height) == (320, 240)
    assert (picture.blurred, picture.blur_method) == (True, "frame"), "scripted processor: no boxes"
    # Every other message the node sent is still free of image data.
    others = [m for m in messages if m.topic != node_topic(site, node_id, "snapshot")]
    assert len(others) > 10
    for m in others:
        assert_no_image_data(m.topic, m.payload)


def test_one_dead_camera_never_stalls_the_others(
    tmp_path: Path, site: str, node_id: str, broker: Any, capture: Callable[..., Capture]
) -> None:
    video = make_video(tmp_path / "v.avi", frames=30, fps=30.0)
    dead = f"http://127.0.0.1:{free_port()}/stream.mjpg"
    cams = [camera_entry("alive", str(video), fps=10.0, loop=True), camera_entry("dead", dead, fps=10.0)]
    # Each camera on its own (two unrelated scripted views): the pace of each camera's events shows.
    cfg = node_config(tmp_path, site=site, node=node_id, port=broker.port, cameras=cams, fusion="camera")
    cap = capture(broker.port, f"hallwatch/{site}/#")
    with running_node(tmp_path, cfg):
        assert cap.wait_for(lambda ms: any(_is_event(m, "dead", "camera_lost") for m in ms), 10.0)
        start = len([e for e in cap.events() if e["camera"] == "alive"])
        time.sleep(1.0)
        later = len([e for e in cap.events() if e["camera"] == "alive"])
    assert later - start >= 5, "the live camera kept its pace (10/s) while the other was dead"
    lost = [e for e in cap.events() if e["camera"] == "dead" and e["type"] == "camera_lost"]
    assert len(lost) == 1, "lost once, not once per retry"
    assert f"cannot open stream {dead}" in lost[0]["reason"]
    health = [m.json() for m in cap.on("/health")][-1]
    dead_health = next(c for c in health["cameras"] if c["camera"] == "dead")
    assert not dead_health["connected"] and dead_health["fps"] == 0.0


def _is_event(m: Any, camera: str, kind: str) -> bool:
    if not m.topic.endswith("/events"):
        return False
    e = json.loads(m.payload)
    return bool(e["camera"] == camera and e["type"] == kind)


def test_camera_that_hangs_or_dies_is_lost_within_10_s_and_recovers(
    tmp_path: Path, site: str, node_id: str, broker: Any, capture: Callable[..., Capture]
) -> None:
    server = MjpegServer(fps=20.0).start()
    cfg = node_config(
        tmp_path,
        site=site,
        node=node_id,
        port=broker.port,
        cameras=[camera_entry("door", server.url, fps=5.0)],
        node_settings={"camera_timeout_s": 2.0, "camera_retry_max_s": 1.0},
    )
    cap = capture(broker.port, f"hallwatch/{site}/cameras/door/events")

    def count(kind: str) -> int:
        return len([e for e in cap.events() if e["type"] == kind])

    try:
        with running_node(tmp_path, cfg):
            assert cap.wait_for(lambda ms: count("person_entered") >= 3, 10.0)
            # 1) the stream hangs: the connection stays open but no frame comes
            server.hang.set()
            hung = time.monotonic()
            assert cap.wait_for(lambda ms: count("camera_lost") == 1, 10.0)
            assert time.monotonic() - hung < 10.0
            server.hang.clear()
            assert cap.wait_for(lambda ms: count("camera_recovered") == 1, 15.0)
            # 2) the camera goes away entirely, then comes back on the same address
            server.stop()
            gone = time.monotonic()
            assert cap.wait_for(lambda ms: count("camera_lost") == 2, 10.0)
            assert time.monotonic() - gone < 10.0
            time.sleep(1.0)
            server = MjpegServer(port=server.port, fps=20.0).start()
            back = time.monotonic()
            assert cap.wait_for(lambda ms: count("camera_recovered") == 2, 10.0)
            entered = count("person_entered")
            assert cap.wait_for(lambda ms: count("person_entered") > entered + 2, 5.0)
    finally:
        server.stop()
    recovered = [e for e in cap.events() if e["type"] == "camera_recovered"]
    assert recovered[1]["duration_s"] >= 2.0
    assert recovered[1]["duration_s"] < (back - gone) + 8.0
    lost = [e for e in cap.events() if e["type"] == "camera_lost"]
    assert all("stream http://127.0.0.1" in e["reason"] for e in lost), lost
    types = [e["type"] for e in cap.events() if e["type"].startswith("camera_")]
    assert types == ["camera_lost", "camera_recovered", "camera_lost", "camera_recovered"]
