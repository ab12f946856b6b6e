"""Health numbers and the layout message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from edge_support import CALIBRATION

from edge.config import parse_config
from edge.events import Origin
from edge.health import CameraStats, node_health
from edge.layout import node_layout
from hallwatch.contract import NodeHealth, NodeLayout, node_topic, parse_payload
from vision.calibration import calibration_from_config
from vision.config import CalibrationConfig

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_camera_stats_give_fps_and_mean_latency_per_period() -> None:
    stats = CameraStats("cam-1")
    start = 1000.0
    stats._period_start = start  # a period that began at a known time
    for i in range(10):
        stats.record_frame(start + i * 0.2, NOW, start + i * 0.2 + 0.05 + 0.01 * (i % 2))
    period = stats.take_period(connected=True, frames_dropped=3, reconnects=1, now_mono=start + 2.0)
    assert period.fps == pytest.approx(5.0)
    assert period.latency_ms == pytest.approx(55.0)
    assert (period.frames_dropped, period.reconnects, period.last_frame_ts) == (3, 1, NOW)
    empty = stats.take_period(connected=False, frames_dropped=3, reconnects=1, now_mono=start + 4.0)
    assert (empty.fps, empty.latency_ms) == (0.0, 0.0)


def test_node_health_is_a_valid_message() -> None:
    stats = CameraStats("cam-1")
    period = stats.take_period(connected=False, frames_dropped=2_000_000, reconnects=4)
    health = node_health(
        Origin("hall-a", "edge-1"),
        [period],
        seq=5,
        ts=NOW,
        uptime_s=12.0,
        outbox_depth=3,
        outbox_dropped=1,
        published=9,
        refused=1,
        rejected_config=2,
        last_config_error="zones[0].polygon: a polygon needs at least 3 points",
        version="0.1.0",
    )
    parsed = parse_payload(node_topic("hall-a", "edge-1", "health"), health.to_json())
    assert isinstance(parsed, NodeHealth)
    assert parsed.cameras[0].frames_dropped == 2_000_000  # running totals are not capped
    assert (parsed.outbox_depth, parsed.published, parsed.refused, parsed.rejected_config) == (3, 9, 1, 2)


def test_layout_lists_zones_and_cameras_with_their_calibration_error() -> None:
    skewed = {**CALIBRATION, "floor_points": [[0.0, 0.0], [6.4, 0.0], [6.4, 4.8], [0.0, 4.9]]}
    config = parse_config(
        {
            "site": "hall-a",
            "node": {"id": "edge-1"},
            "cameras": [
                {"id": "cam-1", "source": "a.mp4", "calibration": CALIBRATION},
                {
                    "id": "cam-2",
                    "source": "b.mp4",
                    "anchor": "head",
                    "calibration": {
                        **skewed,
                        "image_points": [*CALIBRATION["image_points"], [32, 24]],
                        "floor_points": [*skewed["floor_points"], [3.2, 2.5]],
                    },
                },
            ],
            "zones": [
                {"id": "hall", "kind": "hall", "capacity": 40, "polygon": [[0, 0], [6, 0], [6, 4], [0, 4]]},
                {"id": "w1", "kind": "window", "name": "Window 1", "polygon": [[0, 0], [1, 0], [1, 1]]},
                {
                    "id": "q1",
                    "kind": "queue",
                    "window": "w1",
                    "max_people": 5,
                    "polygon": [[1, 1], [2, 1], [2, 2]],
                    "cameras": ["cam-2"],
                },
                {"id": "door", "kind": "entrance", "line": [[0, 0], [0, 2]]},
            ],
            "spacing": {"min_distance_m": 1.5},
        }
    )
    layout = node_layout(config, seq=4, ts=NOW)
    parsed = parse_payload(node_topic("hall-a", "edge-1", "layout"), layout.to_json())
    assert isinstance(parsed, NodeLayout)
    zones = {z.id: z for z in parsed.zones}
    assert (zones["hall"].limit, zones["w1"].limit, zones["q1"].limit, zones["door"].limit) == (
        40,
        2,
        5,
        None,
    )
    assert zones["q1"].window == "w1" and zones["q1"].cameras == ["cam-2"]
    assert zones["door"].line == ((0.0, 0.0), (0.0, 2.0)) and zones["door"].polygon == []
    assert zones["w1"].name == "Window 1"
    cams = {c.id: c for c in parsed.cameras}
    assert cams["cam-1"].reprojection_error_cm == pytest.approx(0.0, abs=1e-3)
    expected = calibration_from_config(
        CalibrationConfig.model_validate(config.cameras[1].calibration.model_dump())
    )
    assert cams["cam-2"].reprojection_error_cm == pytest.approx(expected.reprojection_error_cm, abs=1e-3)
    assert cams["cam-2"].reprojection_error_cm > 0.1
    assert cams["cam-2"].anchor == "head" and len(cams["cam-2"].image_points) == 5
    assert parsed.min_distance_m == 1.5 and parsed.config_id is None


def test_layout_carries_the_lens_and_the_entrance_inside_point_so_edits_keep_them() -> None:
    lens = {
        "model": "pinhole",
        "camera_matrix": [[80.0, 0.0, 32.0], [0.0, 80.0, 24.0], [0.0, 0.0, 1.0]],
        "distortion": [-0.1, 0.01, 0.0, 0.0],
    }
    config = parse_config(
        {
            "site": "hall-a",
            "node": {"id": "edge-1"},
            "cameras": [
                {"id": "cam-1", "source": "a.mp4", "calibration": {**CALIBRATION, "lens": lens}},
                {"id": "cam-2", "source": "b.mp4", "calibration": CALIBRATION},
            ],
            "zones": [
                {"id": "door", "kind": "entrance", "line": [[0, 0], [0, 2]], "inside": [1.0, 1.0]},
                {"id": "back", "kind": "entrance", "line": [[5, 0], [5, 2]]},
            ],
        }
    )
    parsed = parse_payload(
        node_topic("hall-a", "edge-1", "layout"), node_layout(config, seq=1, ts=NOW).to_json()
    )
    assert isinstance(parsed, NodeLayout)
    cams = {c.id: c for c in parsed.cameras}
    assert cams["cam-1"].lens is not None and cams["cam-1"].lens.model_dump(mode="json") == {
        **lens,
        "camera_matrix": [[80.0, 0.0, 32.0], [0.0, 80.0, 24.0], [0.0, 0.0, 1.0]],
    }
    assert cams["cam-2"].lens is None
    zones = {z.id: z for z in parsed.zones}
    assert zones["door"].inside == (1.0, 1.0) and zones["back"].inside is None
    # A layout from an older node (without these fields) still validates.
    old = parsed.model_dump(mode="json")
    for cam in old["cameras"]:
        del cam["lens"]
    for zone in old["zones"]:
        del zone["inside"]
    assert NodeLayout.model_validate(old).cameras[0].lens is None
