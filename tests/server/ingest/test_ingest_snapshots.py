"""Snapshots in the ingest: kept in memory for a while, announced on the live stream, never stored."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
from support.processes import unique
from test_ingest_processor import Rig, rig  # noqa: F401 (the fixture)

from hallwatch.contract import NodeSnapshot, SnapshotRequest, node_topic
from server.ingest.processor import RawMessage
from server.ingest.snapshots import PendingRequest, SnapshotStore
from server.schemas.live import LiveSnapshot, parse_live

JPEG = cv2.imencode(".jpg", np.full((48, 64, 3), 100, np.uint8))[1].tobytes()


def snapshot(site: str, node: str = "edge-1", camera: str = "cam-1", **kw: object) -> NodeSnapshot:
    fields: dict[str, object] = {
        "site": site,
        "node": node,
        "camera": camera,
        "seq": 3,
        "ts": datetime.now(UTC),
        "request_id": uuid.uuid4(),
        "width": 64,
        "height": 48,
        "frame_width": 640,
        "frame_height": 480,
        "jpeg_base64": base64.b64encode(JPEG).decode(),
        "blurred": True,
        "blur_method": "people",
        "people_blurred": 2,
    }
    return NodeSnapshot(**(fields | kw))  # type: ignore[arg-type]


def asked(rig: Rig, msg: NodeSnapshot, camera: str | None = None, ttl_s: float = 60.0) -> None:  # noqa: F811
    """Remember a request for ``msg``'s answer, as `POST .../snapshot` does."""
    now = time.time()
    request = PendingRequest(
        msg.site, msg.node, camera or msg.camera, msg.request_id, "ops", True, now, now + ttl_s
    )
    rig.processor.snapshots.requested(request)


def test_a_snapshot_is_kept_in_memory_announced_live_and_never_stored(rig: Rig) -> None:  # noqa: F811
    msg = snapshot(rig.site)
    asked(rig, msg)
    rig.feed(RawMessage(node_topic(rig.site, "edge-1", "snapshot"), msg.to_json(), time.time(), 1, 5))
    kept = rig.processor.snapshots.latest(rig.site, "cam-1")
    assert kept is not None and kept.jpeg == JPEG and kept.request_id == msg.request_id
    assert (kept.frame_width, kept.blur_method, kept.people_blurred) == (640, "people", 2)
    (announced,) = [m for m in rig.hub.sent if parse_live(m.text).type == "snapshot"]
    announcement = parse_live(announced.text)
    assert isinstance(announcement, LiveSnapshot) and announcement.request_id == str(msg.request_id)
    assert len(announced.text) < 400, "the live stream announces it; it never carries the picture"
    assert all(len(m.text) < 4000 for m in rig.hub.sent)
    assert announced.topic == "nodes", "only roles that see nodes learn of it"
    assert rig.acks == [(5, 1)]
    assert rig.metric("hallwatch_ingest_messages_total", kind="snapshot") == 1
    assert rig.store.nodes.node(rig.site, "edge-1") is None, "nothing about it went to the database"


def test_only_the_first_answer_to_a_pending_request_for_that_camera_is_kept(rig: Rig) -> None:  # noqa: F811
    # Before issue 11 any snapshot was kept: a node could push a picture nobody asked for, or
    # replace another camera's picture that ops would then calibrate on.
    topic = node_topic(rig.site, "edge-1", "snapshot")
    unasked = snapshot(rig.site)
    wrong_camera = snapshot(rig.site, camera="cam-2")
    asked(rig, wrong_camera, camera="cam-1")
    expired = snapshot(rig.site, camera="cam-3")
    asked(rig, expired, ttl_s=-60.0)
    good = snapshot(rig.site)
    asked(rig, good)
    again = snapshot(rig.site, request_id=good.request_id)
    for i, msg in enumerate((unasked, wrong_camera, expired, good, again)):
        rig.feed(RawMessage(topic, msg.to_json(), time.time(), 1, i + 1))
    assert rig.metric("hallwatch_ingest_rejected_total", reason="unsolicited") == 4
    kept = rig.processor.snapshots.latest(rig.site, "cam-1")
    assert kept is not None and kept.request_id == good.request_id and kept.captured_at == good.ts
    assert rig.processor.snapshots.latest(rig.site, "cam-2") is None
    assert rig.processor.snapshots.latest(rig.site, "cam-3") is None
    letters, total = rig.store.quarantine.dead_letters(rig.site, None, 10, 0)
    assert total == 4 and {d.reason for d in letters} == {"unsolicited"}
    assert sorted(rig.acks) == [(i, 1) for i in range(1, 6)], "refused answers are acknowledged too"


def test_snapshot_requests_seen_by_the_ingest_are_refused(rig: Rig) -> None:  # noqa: F811
    now = datetime.now(UTC)
    request = SnapshotRequest(
        site=rig.site, node="edge-1", camera="cam-1", requested_by="x", expires_at=now + timedelta(seconds=9)
    )
    topic = node_topic(rig.site, "edge-1", "snapshot_request")
    rig.feed(RawMessage(topic, request.to_json(), time.time(), 1, 9))
    assert rig.metric("hallwatch_ingest_rejected_total", reason="config_topic") == 1
    assert rig.processor.snapshots.latest(rig.site, "cam-1") is None


def test_the_store_forgets_after_its_ttl_and_keeps_a_bounded_number() -> None:
    clock = [1000.0]
    store = SnapshotStore(ttl_s=60.0, max_cameras=3, clock=lambda: clock[0])
    site = unique("site")
    first = store.put(snapshot(site, camera="cam-0"), clock[0])
    assert store.latest(site, "cam-0") == first and store.answer(first.request_id) == first
    newer = store.put(snapshot(site, camera="cam-0"), clock[0])
    assert store.latest(site, "cam-0") == newer and store.answer(first.request_id) is None, (
        "latest per camera"
    )
    for i in range(1, 4):
        store.put(snapshot(site, camera=f"cam-{i}"), clock[0])
    assert store.latest(site, "cam-0") is None, "the oldest camera's picture went first"
    assert all(store.latest(site, f"cam-{i}") for i in range(1, 4))
    clock[0] += 61.0
    assert all(store.latest(site, f"cam-{i}") is None for i in range(1, 4)), "forgotten after the TTL"

    pending = PendingRequest(site, "edge-1", "cam-1", uuid.uuid4(), "ops", True, clock[0], clock[0] + 60)
    store.requested(pending)
    assert store.request(pending.request_id) == pending
    clock[0] += 200.0
    store.latest(site, "cam-1")
    assert store.request(pending.request_id) is None
