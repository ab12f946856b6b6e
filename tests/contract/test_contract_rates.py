"""Contract version 4 (issue 14): an adaptive camera's rate bounds in a node's health.

A health message with an adaptive camera says 4; one without stays what it was, so servers that
know only the earlier versions still read nodes that use no adaptive rate.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from edge.events import Origin
from edge.health import CameraPeriod, node_health
from hallwatch.contract import NodeHealth, PayloadError, node_topic, parse_payload

TOPIC = node_topic("hall-a", "edge-1", "health")
NOW = datetime.now(UTC)


def health(*bounds: tuple[float, float] | None) -> NodeHealth:
    periods = [CameraPeriod(f"cam-{i}", True, 4.0, 80.0, 0, 0, NOW, 4.5, b) for i, b in enumerate(bounds)]
    return node_health(
        Origin("hall-a", "edge-1"),
        periods,
        seq=1,
        ts=NOW,
        uptime_s=10.0,
        outbox_depth=0,
        outbox_dropped=0,
        published=0,
        refused=0,
        rejected_config=0,
        version="test",
    )


def as_json(message: NodeHealth) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(message.to_json())
    return loaded


def test_a_node_with_an_adaptive_camera_says_version_4_and_its_bounds_read_back() -> None:
    message = health((1.0, 9.0), None)
    payload = as_json(message)
    assert payload["schema_version"] == 4
    parsed = parse_payload(TOPIC, message.to_json())
    assert isinstance(parsed, NodeHealth)
    adaptive, fixed = parsed.cameras
    assert (adaptive.min_fps, adaptive.max_fps, adaptive.target_fps) == (1.0, 9.0, 4.5)
    assert (fixed.min_fps, fixed.max_fps, fixed.target_fps) == (None, None, 4.5)


def test_a_node_without_one_stays_version_1() -> None:
    payload = as_json(health(None, None))
    assert payload["schema_version"] == 1
    assert "min_fps" in payload["cameras"][0] and payload["cameras"][0]["min_fps"] is None


@pytest.mark.parametrize("version", [1, 2, 3])
def test_bounds_in_an_earlier_version_are_refused_and_named(version: int) -> None:
    payload = as_json(health((1.0, 9.0))) | {"schema_version": version}
    with pytest.raises(PayloadError) as info:
        parse_payload(TOPIC, json.dumps(payload).encode())
    assert info.value.reason == "invalid"
    assert "cameras[].min_fps, cameras[].max_fps need schema_version 4" in str(info.value)


@pytest.mark.parametrize("bad", [{"min_fps": 0.0}, {"max_fps": -1.0}, {"max_fps": 1e9}, {"min_fps": "1"}])
def test_bounds_must_be_positive_rates(bad: dict[str, Any]) -> None:
    payload = as_json(health((1.0, 9.0)))
    payload["cameras"][0] |= bad
    with pytest.raises(PayloadError, match="min_fps|max_fps"):
        parse_payload(TOPIC, json.dumps(payload).encode())
