"""The contract refuses nonsense at the border (issue 11): every refusal is a `PayloadError` with a reason.

Each case here was accepted (or crashed `parse_payload` with another exception) before the contract
was hardened.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hallwatch.contract import (
    MAX_ID,
    PayloadError,
    TimeWindow,
    camera_topic,
    clean_text,
    node_topic,
    parse_payload,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema_version": 1,
        "event_id": "00000000-0000-0000-0000-000000000005",
        "site": "hall-a",
        "node": "edge-1",
        "camera": "cam-1",
        "seq": 7,
        "ts": "2026-11-29T11:59:00Z",
        "kind": "event",
        "type": "camera_lost",
        "reason": "stream stopped",
    }
    return base | fields


def layout(**camera: Any) -> dict[str, Any]:
    cam = {
        "id": "cam-1",
        "anchor": "feet",
        "reprojection_error_cm": 2.0,
        "image_points": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 9.0]],
        "floor_points": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
        "lens": None,
    } | camera
    return {
        "schema_version": 1,
        "event_id": "00000000-0000-0000-0000-000000000003",
        "site": "hall-a",
        "node": "edge-1",
        "camera": None,
        "seq": 1,
        "ts": "2026-11-29T11:59:00Z",
        "kind": "layout",
        "zones": [],
        "cameras": [cam],
        "min_distance_m": 1.0,
    }


EVENTS = camera_topic("hall-a", "cam-1", "events")


def refused(topic: str, payload: dict[str, Any] | bytes, now: datetime | None = NOW) -> PayloadError:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(PayloadError) as info:
        parse_payload(topic, raw, now=now)
    return info.value


def test_a_valid_event_passes() -> None:
    assert parse_payload(EVENTS, json.dumps(event()).encode(), now=NOW).seq == 7


@pytest.mark.parametrize("ts", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_that_overflow_utc_are_a_payload_error(ts: str) -> None:
    # Before: OverflowError from astimezone, which stalled the ingest round for good.
    assert refused(EVENTS, event(ts=ts), now=None).reason == "invalid"


@pytest.mark.parametrize(
    ("ts", "reason"),
    [
        ("0001-01-01T00:00:00Z", "stale"),
        ("9999-12-31T23:59:59Z", "future"),
        ("2026-12-01T12:00:00Z", "future"),
        ("2026-09-01T12:00:00Z", "stale"),
    ],
)
def test_times_far_from_the_clock_are_refused(ts: str, reason: str) -> None:
    error = refused(EVENTS, event(ts=ts))
    assert error.reason == reason, error


def test_events_may_be_replayed_late_states_may_not() -> None:
    week_old = (NOW - timedelta(days=7)).isoformat()
    assert parse_payload(EVENTS, json.dumps(event(ts=week_old)).encode(), now=NOW).ts.day == 22
    state = event(kind="state", ts=week_old, frame=1, people=0, zones={}, violations=0)
    for key in ("type", "reason"):
        state.pop(key)
    assert refused(camera_topic("hall-a", "cam-1", "state"), state).reason == "stale"
    tight = TimeWindow(past_s=60, future_s=60, replay_past_s=3600)
    with pytest.raises(PayloadError, match="old"):
        parse_payload(EVENTS, json.dumps(event(ts=week_old)).encode(), now=NOW, window=tight)


@pytest.mark.parametrize("ts", [1764417540, 1764417540.5])
def test_numbers_are_not_coerced_to_times(ts: float) -> None:
    assert refused(EVENTS, event(ts=ts)).reason == "invalid"


@pytest.mark.parametrize("people", [[2**64], [-1], [MAX_ID + 1], [1.0], ["3"], [True]])
def test_track_ids_are_small_non_negative_integers(people: list[Any]) -> None:
    assert refused(EVENTS, event(type="person_entered", zone="door", people=people, reason=None))


def test_a_ten_to_the_4000_track_id_is_refused() -> None:
    body = json.dumps(event(type="person_entered", zone="door", people=[0], reason=None))
    raw = body.replace('"people": [0]', '"people": [1' + "0" * 4000 + "]").encode()
    assert refused(EVENTS, raw).reason == "invalid"


def test_the_largest_id_passes() -> None:
    payload = event(type="person_entered", zone="door", people=[MAX_ID], reason=None, seq=MAX_ID)
    assert parse_payload(EVENTS, json.dumps(payload).encode(), now=NOW).people == [MAX_ID]


@pytest.mark.parametrize("reason", ["a\x00b", "red \x1b[31m alert", "\u202eevil", "tab\there", "zw\u200bsp"])
def test_text_with_control_characters_is_refused(reason: str) -> None:
    assert "control or formatting" in str(refused(EVENTS, event(reason=reason)))


def test_text_is_bounded() -> None:
    assert refused(EVENTS, event(reason="x" * 301))


def test_nodes_clean_their_text_before_sending() -> None:
    assert clean_text("lost\n\x1b[0m\u202e" + "y" * 400, 300) == "lost  [0m " + "y" * 290


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_layout_image_points_must_be_finite(value: str) -> None:
    body = json.dumps(layout()).replace("[1.0, 2.0]", f"[{value}, 2.0]")
    assert refused(node_topic("hall-a", "edge-1", "layout"), body.encode()).reason == "invalid"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e300"])
def test_lens_values_must_be_finite_and_moderate(value: str) -> None:
    lens = {
        "model": "pinhole",
        "camera_matrix": [[800, 0, 640], [0, 800, 360], [0, 0, 1]],
        "distortion": [0.1],
    }
    body = json.dumps(layout(lens=lens)).replace('"distortion": [0.1]', f'"distortion": [{value}]')
    assert refused(node_topic("hall-a", "edge-1", "layout"), body.encode()).reason == "invalid"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("hallwatch/hall-a/elsewhere", b"{}", "topic"),
        (node_topic("hall-a", "edge-1", "config"), b"{}", "config_topic"),
        (EVENTS, b"x" * (256 * 1024 + 1), "too_large"),
        (EVENTS, b"{not json", "invalid"),
        (camera_topic("hall-a", "cam-2", "events"), json.dumps(event()).encode(), "mismatch"),
    ],
)
def test_every_refusal_carries_its_reason(topic: str, payload: bytes, reason: str) -> None:
    assert refused(topic, payload).reason == reason
