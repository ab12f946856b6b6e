"""Ops snapshots: the contract's new kinds, encoding and blurring, and the responder's rules."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.events import Origin
from edge.snapshot import LatestFrame, SnapshotResponder, blur_boxes, encode_snapshot, person_boxes
from hallwatch.contract import (
    MAX_PAYLOAD_BYTES,
    MAX_SNAPSHOT_JPEG_BYTES,
    MAX_SNAPSHOT_SIDE_PX,
    NodeSnapshot,
    PayloadError,
    SnapshotRequest,
    node_topic,
    parse_payload,
    parse_snapshot_request,
    parse_topic,
)
from vision.detections import Detections

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ORIGIN = Origin(site="hall-a", node="edge-1")
REQUEST_TOPIC = node_topic("hall-a", "edge-1", "snapshot_request")
REPLY_TOPIC = node_topic("hall-a", "edge-1", "snapshot")


def request(**overrides: Any) -> SnapshotRequest:
    fields: dict[str, Any] = {
        "site": "hall-a",
        "node": "edge-1",
        "camera": "cam-1",
        "requested_by": "ops",
        "ts": NOW,
        "expires_at": NOW + timedelta(seconds=60),
    }
    return SnapshotRequest(**(fields | overrides))


def scene(width: int = 640, height: int = 360, *, noise: bool = False) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(1)
    if noise:
        return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = np.full((height, width, 3), 90, np.uint8)
    cv2.line(image, (0, height - 40), (width, height - 40), (255, 255, 255), 3)  # a floor mark
    image[40:200, 100:160] = rng.integers(0, 256, (160, 60, 3), dtype=np.uint8)  # a "person"
    return image


# ------------------------------------------------------------------------------------ contract
@pytest.mark.parametrize(
    ("topic", "kind"),
    [
        ("hallwatch/hall-a/nodes/edge-1/snapshot_request", "snapshot_request"),
        ("hallwatch/hall-a/nodes/edge-1/snapshot", "snapshot"),
        ("hallwatch/hall-a/cameras/cam-1/snapshot", None),  # snapshots are node topics
        ("hallwatch/hall-a/nodes/edge-1/snapshots", None),
    ],
)
def test_parse_topic_knows_the_snapshot_kinds(topic: str, kind: str | None) -> None:
    parsed = parse_topic(topic)
    assert (parsed.kind if parsed else None) == kind


def test_a_request_must_be_short_lived() -> None:
    assert request().expired(NOW + timedelta(seconds=60))
    assert not request().expired(NOW + timedelta(seconds=59))
    with pytest.raises(ValueError, match="at most 300 s later"):
        request(expires_at=NOW + timedelta(seconds=301))
    with pytest.raises(ValueError, match="must be after ts"):
        request(expires_at=NOW)


def test_request_round_trips_and_must_match_its_topic() -> None:
    req = request(blur=False)
    assert parse_snapshot_request(REQUEST_TOPIC, req.to_json()) == req
    other = node_topic("hall-a", "edge-2", "snapshot_request")
    with pytest.raises(PayloadError, match="on the topic of hall-a/edge-2"):
        parse_snapshot_request(other, req.to_json())
    with pytest.raises(PayloadError, match="not a snapshot request topic"):
        parse_snapshot_request(node_topic("hall-a", "edge-1", "config"), req.to_json())
    with pytest.raises(PayloadError, match="server to nodes"):
        parse_payload(REQUEST_TOPIC, req.to_json())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_the_request_parser_never_crashes_on_any_bytes(payload: bytes) -> None:
    with contextlib.suppress(PayloadError):
        parse_snapshot_request(REQUEST_TOPIC, payload)


def picture(**overrides: Any) -> dict[str, Any]:
    ok, buf = cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))
    assert ok
    fields: dict[str, Any] = {
        "site": "hall-a",
        "node": "edge-1",
        "camera": "cam-1",
        "seq": 5,
        "ts": NOW,
        "request_id": uuid.uuid4(),
        "width": 64,
        "height": 48,
        "frame_width": 64,
        "frame_height": 48,
        "jpeg_base64": base64.b64encode(buf.tobytes()).decode(),
        "blurred": True,
        "blur_method": "frame",
    }
    return fields | overrides


def test_a_snapshot_is_a_jpeg_or_an_error_in_words() -> None:
    snap = NodeSnapshot(**picture())
    assert snap.jpeg().startswith(b"\xff\xd8\xff")
    assert parse_payload(REPLY_TOPIC, snap.to_json()) == snap
    error = NodeSnapshot(**picture(jpeg_base64=None, error="camera cam-1 has not delivered a frame yet"))
    assert error.jpeg() == b""
    bad: list[tuple[dict[str, Any], str]] = [
        (picture(error="both"), "either jpeg_base64 or error"),
        (picture(jpeg_base64=None), "either jpeg_base64 or error"),
        (picture(jpeg_base64=base64.b64encode(b"\x89PNG....").decode()), "not a JPEG"),
        (picture(jpeg_base64="!!!!"), "not valid base64"),
        (picture(width=None), "needs width, height"),
        (picture(width=MAX_SNAPSHOT_SIDE_PX + 1), "less than or equal to 1280"),
        (picture(blurred=True, blur_method=None), "blur_method is set exactly when blurred"),
    ]
    for fields, message in bad:
        with pytest.raises(ValueError, match=message):
            NodeSnapshot(**fields)


def test_snapshot_size_limits() -> None:
    too_big = base64.b64encode(b"\xff\xd8\xff" + bytes(MAX_SNAPSHOT_JPEG_BYTES)).decode()
    with pytest.raises(ValueError):
        NodeSnapshot(**picture(jpeg_base64=too_big))
    # Only the snapshot topic may carry more than the usual limit.
    snap = NodeSnapshot(**picture(jpeg_base64=base64.b64encode(b"\xff\xd8\xff" + bytes(400_000)).decode()))
    payload = snap.to_json()
    assert len(payload) > MAX_PAYLOAD_BYTES
    assert parse_payload(REPLY_TOPIC, payload).kind == "snapshot"
    layout_topic = node_topic("hall-a", "edge-1", "layout")
    with pytest.raises(PayloadError, match="exceeds"):
        parse_payload(layout_topic, payload)


def test_a_snapshot_on_another_nodes_topic_is_refused() -> None:
    snap = NodeSnapshot(**picture())
    with pytest.raises(PayloadError, match="does not match"):
        parse_payload(node_topic("hall-a", "edge-2", "snapshot"), snap.to_json())


# ------------------------------------------------------------------------------------ encoding
def test_large_frames_are_downscaled_and_keep_their_full_size() -> None:
    latest = LatestFrame(scene(1920, 1080), NOW, None)
    encoded = encode_snapshot(latest, blur=False)
    assert (encoded.width, encoded.height) == (1280, 720)
    assert (encoded.frame_width, encoded.frame_height) == (1920, 1080)
    decoded = cv2.imdecode(np.frombuffer(encoded.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (720, 1280, 3)
    assert encoded.blur_method is None and encoded.people_blurred is None
    portrait = encode_snapshot(LatestFrame(scene(1080, 1920), NOW, None), blur=False)
    assert (portrait.width, portrait.height) == (720, 1280)


def test_a_picture_that_does_not_compress_still_fits_the_cap() -> None:
    latest = LatestFrame(scene(1280, 1280, noise=True), NOW, None)
    encoded = encode_snapshot(latest, blur=False)
    assert len(encoded.jpeg) <= MAX_SNAPSHOT_JPEG_BYTES
    small = encode_snapshot(latest, blur=False, max_bytes=200_000)
    assert len(small.jpeg) <= 200_000 and small.width < 1280  # quality alone was not enough


def test_people_boxes_are_blurred_and_the_rest_is_not() -> None:
    image = scene()
    out = blur_boxes(image, np.array([[100.0, 40.0, 160.0, 200.0]]))
    person = (slice(40, 200), slice(100, 160))
    assert float(np.std(out[person])) < 0.5 * float(np.std(image[person])), "the person is smeared"
    assert np.array_equal(out[:, 200:], image[:, 200:]), "outside the grown box nothing changes"
    assert np.array_equal(out[:20], image[:20])


def test_blur_uses_the_boxes_when_there_are_some_and_the_whole_frame_otherwise() -> None:
    image = scene()
    with_boxes = encode_snapshot(LatestFrame(image, NOW, np.array([[100.0, 40.0, 160.0, 200.0]])), blur=True)
    assert (with_boxes.blur_method, with_boxes.people_blurred) == ("people", 1)
    no_info = encode_snapshot(LatestFrame(image, NOW, None), blur=True)
    assert (no_info.blur_method, no_info.people_blurred) == ("frame", None)
    decoded = cv2.imdecode(np.frombuffer(no_info.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert float(np.std(decoded[40:200, 100:160])) < 0.5 * float(np.std(image[40:200, 100:160]))
    nobody = encode_snapshot(LatestFrame(image, NOW, np.zeros((0, 4))), blur=True)
    assert (nobody.blur_method, nobody.people_blurred) == ("people", 0)


def test_person_boxes_come_from_the_frames_tracked_detections() -> None:
    tracked = Detections.from_boxes(np.array([[1, 2, 3, 4]], np.float32), np.array([0.9], np.float32))
    assert person_boxes(tracked).tolist() == [[1.0, 2.0, 3.0, 4.0]]  # type: ignore[union-attr]
    assert person_boxes(Detections.empty()).shape == (0, 4)  # nobody found: nothing to blur
    assert person_boxes(None) is None  # nothing known: the whole frame is blurred


# ------------------------------------------------------------------------------------ responder
def responder(frames: dict[str, LatestFrame | None], now: datetime = NOW) -> SnapshotResponder:
    seq = iter(range(100, 1000))
    return SnapshotResponder(
        ORIGIN,
        latest_frame=lambda cam: frames.get(cam),
        cameras=lambda: list(frames),
        next_seq=lambda: next(seq),
        clock=lambda: now,
    )


def test_a_valid_request_gets_a_picture_of_the_latest_frame() -> None:
    frames: dict[str, LatestFrame | None] = {"cam-1": LatestFrame(scene(), NOW - timedelta(seconds=1), None)}
    req = request(blur=False)
    reply = responder(frames).answer(REQUEST_TOPIC, req.to_json())
    assert reply is not None and reply.error is None
    assert reply.request_id == req.event_id and reply.camera == "cam-1" and not reply.blurred
    assert reply.ts == NOW - timedelta(seconds=1), "dated by the frame's capture"
    assert parse_payload(REPLY_TOPIC, reply.to_json()) == reply
    decoded = cv2.imdecode(np.frombuffer(reply.jpeg(), np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (360, 640, 3)
    blurred = responder(frames).answer(REQUEST_TOPIC, request().to_json())
    assert blurred is not None and (blurred.blurred, blurred.blur_method) == (True, "frame")


@pytest.mark.parametrize(
    ("payload", "topic"),
    [
        (b"{not json", REQUEST_TOPIC),
        (request().to_json(), node_topic("hall-a", "edge-2", "snapshot_request")),  # not ours
        (request(node="edge-2").to_json(), node_topic("hall-a", "edge-2", "snapshot_request")),
        (
            request(ts=NOW - timedelta(seconds=90), expires_at=NOW - timedelta(seconds=1)).to_json(),
            REQUEST_TOPIC,
        ),
        (json.dumps({"camera": "cam-1"}).encode(), REQUEST_TOPIC),
    ],
    ids=["garbage", "another-nodes-topic", "another-node", "expired", "incomplete"],
)
def test_invalid_expired_or_foreign_requests_get_no_reply(payload: bytes, topic: str) -> None:
    r = responder({"cam-1": LatestFrame(scene(), NOW, None)})
    assert r.answer(topic, payload) is None
    assert r.ignored == 1 and r.sent == 0


def test_unknown_camera_or_no_frame_yet_get_an_error_in_words_without_a_picture() -> None:
    r = responder({"cam-1": None})
    unknown = r.answer(REQUEST_TOPIC, request(camera="cam-9").to_json())
    assert unknown is not None and unknown.jpeg_base64 is None
    assert unknown.error == "node edge-1 has no camera 'cam-9'; its cameras: cam-1"
    waiting = r.answer(REQUEST_TOPIC, request().to_json())
    assert waiting is not None and waiting.jpeg_base64 is None
    assert waiting.error is not None and "has not delivered a frame yet" in waiting.error
    assert r.sent == 0


def test_a_snapshot_blurs_whom_the_detector_finds_as_well_as_the_tracks() -> None:
    """Issue 13: the tracks missed someone; the snapshot's own detector pass did not."""
    image = scene()
    image[40:200, 400:460] = np.random.default_rng(2).integers(0, 256, (160, 60, 3), dtype=np.uint8)
    tracks = np.array([[100.0, 40.0, 160.0, 200.0]])
    found = np.array([[101.0, 42.0, 160.0, 199.0], [400.0, 40.0, 460.0, 200.0]])  # the same one, and another
    asked: list[tuple[int, ...]] = []

    def find_people(frame: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        asked.append(frame.shape)
        return found

    frame = LatestFrame(image, NOW, tracks, find_people)
    payload = request(blur=True).model_dump_json().encode()
    reply = responder({"cam-1": frame}).answer(REQUEST_TOPIC, payload)
    assert reply is not None and asked == [image.shape]  # at the frame's full resolution
    assert (reply.blur_method, reply.people_blurred) == ("people", 2)  # each person once
    jpeg = np.frombuffer(base64.b64decode(reply.jpeg_base64 or ""), np.uint8)
    picture = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    assert (
        cv2.Laplacian(picture[60:180, 410:450], cv2.CV_64F).var()
        < 0.2 * cv2.Laplacian(image[60:180, 410:450], cv2.CV_64F).var()
    )
    # not asked to blur: no detector pass, nothing blurred
    sharp = responder({"cam-1": frame}).answer(REQUEST_TOPIC, request(blur=False).model_dump_json().encode())
    assert sharp is not None and sharp.blur_method is None and asked == [image.shape]
