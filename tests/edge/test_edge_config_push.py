"""Config pushes: merging, refusing, writing back, and a running node applying them."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from edge_support import CALIBRATION, Capture, camera_entry, make_video, node_config, write_yaml
from paho.mqtt.enums import CallbackAPIVersion
from scripted_processor import ScriptedProcessor
from support.processes import unique, wait_until

from edge.config import NodeConfig, load_config, parse_config
from edge.config_push import ConfigPushError, changed_cameras, merge_push, parse_push, write_config_file
from edge.node import EdgeNode
from hallwatch.contract import NodeConfigPush, NodeLayout, node_topic

NEW_CALIBRATION = {
    "image_points": [[0, 0], [64, 0], [64, 48], [0, 48]],
    "floor_points": [[0.0, 0.0], [3.2, 0.0], [3.2, 2.4], [0.0, 2.4]],
}


def base(tmp_path: Path) -> dict[str, Any]:
    return node_config(
        tmp_path,
        site="hall",
        node="edge-1",
        port=1883,
        cameras=[camera_entry("cam-1", "a.mp4", anchor="head"), camera_entry("cam-2", "b.mp4")],
    )


def push(config: dict[str, Any]) -> NodeConfigPush:
    return NodeConfigPush(issued_by="ops@hall", config=config)


def test_a_push_changes_only_what_it_names(tmp_path: Path) -> None:
    current = parse_config(base(tmp_path))
    zones = [{"id": "w1", "kind": "window", "max_people": 1, "polygon": [[0, 0], [1, 0], [1, 1]]}]
    new = merge_push(
        current,
        push(
            {
                "cameras": [{"id": "cam-1", "calibration": NEW_CALIBRATION}],
                "zones": zones,
                "spacing": {"min_distance_m": 1.5},
            }
        ),
    )
    cam1 = new.camera("cam-1")
    assert cam1.calibration.floor_points[1] == (3.2, 0.0)
    assert (cam1.anchor, cam1.source) == ("head", "a.mp4"), "fields the push does not give stay"
    assert new.camera("cam-2") == current.camera("cam-2")
    assert [z.id for z in new.zones] == ["w1"]
    assert (new.spacing.min_distance_m, new.spacing.min_duration_s) == (1.5, current.spacing.min_duration_s)
    assert (new.mqtt, new.node, new.outbox) == (current.mqtt, current.node, current.outbox)
    restart, rebuild, everything = changed_cameras(current, new)
    assert (restart, rebuild, everything) == (set(), {"cam-1"}, True)


def test_a_push_may_add_a_complete_camera(tmp_path: Path) -> None:
    current = parse_config(base(tmp_path))
    new = merge_push(current, push({"cameras": [camera_entry("cam-3", "rtsp://cam3/live")]}))
    assert [c.id for c in new.cameras] == ["cam-1", "cam-2", "cam-3"]
    assert changed_cameras(current, new) == ({"cam-3"}, set(), False)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"mqtt": {"host": "evil"}}, "config.mqtt: cannot be pushed"),
        (
            {"zones": [{"id": "w1", "kind": "window", "polygon": [[0, 0], [1, 1]]}]},
            "zones[0].polygon: a polygon needs at least 3 points",
        ),
        ({"spacing": {"min_distance_m": -1}}, "spacing.min_distance_m: Input should be greater than 0"),
        ({"cameras": [{"id": "cam-9", "source": "x.mp4"}]}, "cameras[2].calibration: Field required"),
        (
            {
                "cameras": [
                    {
                        "id": "cam-1",
                        "calibration": {**CALIBRATION, "floor_points": [[0, 0], [1, 0], [2, 0], [3, 0]]},
                    }
                ]
            },
            "cameras[0] (cam-1).calibration:",
        ),
        ({"cameras": {"id": "cam-1"}}, "config.cameras: expected a list"),
    ],
)
def test_a_bad_push_is_refused_naming_the_field(tmp_path: Path, config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigPushError) as err:
        merge_push(parse_config(base(tmp_path)), push(config))
    assert message in str(err.value)


def test_garbage_on_the_config_topic_is_refused() -> None:
    for payload in (b"not json", b"{}", json.dumps({"config": {}, "issued_by": "x", "extra": 1}).encode()):
        with pytest.raises(ConfigPushError, match="not a config push"):
            parse_push(payload)


def test_written_back_file_keeps_other_keys_and_a_backup(tmp_path: Path) -> None:
    data = base(tmp_path)
    data["mqtt"]["password_env"] = "NODE_PASSWORD"
    data["mqtt"]["username"] = "edge-1"
    path = write_yaml(tmp_path / "node.yaml", data)
    original = path.read_text()
    current = load_config(path)
    new = merge_push(
        current, push({"cameras": [{"id": "cam-1", "calibration": NEW_CALIBRATION, "anchor": "feet"}]})
    )
    write_config_file(path, new, ["cameras"])
    assert (tmp_path / "node.yaml.bak").read_text() == original
    assert load_config(path) == new
    raw = yaml.safe_load(path.read_text())
    assert raw["mqtt"] == data["mqtt"] and raw["node"] == data["node"]
    assert raw["cameras"][0]["anchor"] == "feet", "a field set back to its default is still written"
    assert "detector" not in raw["cameras"][0], "defaults the file did not have are not spelled out"


class CountingFactory:
    def __init__(self) -> None:
        self.built: list[tuple[str, NodeConfig]] = []
        self.lock = threading.Lock()

    def __call__(self, config: NodeConfig, camera_id: str) -> ScriptedProcessor:
        with self.lock:
            self.built.append((camera_id, config))
        return ScriptedProcessor(camera_id, events_every=1000)


def publish_retained(port: int, topic: str, payload: bytes) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("server"))
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def test_running_node_applies_a_push_and_survives_bad_ones(
    tmp_path: Path, broker: Any, site: str, node_id: str, capture: Callable[..., Capture]
) -> None:
    video = make_video(tmp_path / "v.avi", frames=30, fps=30.0)
    cfg = node_config(
        tmp_path,
        site=site,
        node=node_id,
        port=broker.port,
        cameras=[camera_entry("cam-1", str(video), fps=5.0, loop=True)],
    )
    path = write_yaml(tmp_path / "node.yaml", cfg)
    cap = capture(broker.port, f"hallwatch/{site}/#")
    factory = CountingFactory()
    node = EdgeNode(load_config(path), factory, config_path=path)
    node.start()
    runner = threading.Thread(target=node.run, daemon=True)
    runner.start()
    config_topic = node_topic(site, node_id, "config")
    try:
        assert cap.wait_for(lambda ms: any(m.topic.endswith("/layout") for m in ms), 5.0)
        good = push(
            {
                "cameras": [{"id": "cam-1", "calibration": NEW_CALIBRATION}],
                "zones": [{"id": "w1", "kind": "window", "polygon": [[0, 0], [1, 0], [1, 1]]}],
            }
        )
        publish_retained(broker.port, config_topic, good.model_dump_json().encode())

        def layouts() -> list[NodeLayout]:
            return [NodeLayout.model_validate_json(m.payload) for m in cap.on("/layout")]

        assert wait_until(lambda: any(lay.config_id == good.event_id for lay in layouts()), 10.0)
        applied = next(lay for lay in layouts() if lay.config_id == good.event_id)
        assert [z.id for z in applied.zones] == ["w1"]
        assert applied.cameras[0].floor_points[1] == (3.2, 0.0)
        assert len(factory.built) == 2 and factory.built[1][1].zones[0].id == "w1"
        assert load_config(path).camera("cam-1").calibration.floor_points[1] == (3.2, 0.0)
        assert (tmp_path / "node.yaml.bak").exists()

        bad = push({"zones": [{"id": "w1", "kind": "window", "polygon": [[0, 0], [1, 1]]}]})
        publish_retained(broker.port, config_topic, bad.model_dump_json().encode())
        publish_retained(broker.port, config_topic, b"\x00\xffnot json")

        def rejected() -> int:
            health = [json.loads(m.payload) for m in cap.on("/health")]
            return int(health[-1]["rejected_config"]) if health else 0

        assert wait_until(lambda: rejected() == 2, 10.0)
        last_health = json.loads(cap.on("/health")[-1].payload)
        assert "not a config push" in last_health["last_config_error"]
        assert node.last_config_error is not None
        assert len(factory.built) == 2, "a refused push rebuilds nothing"
        assert load_config(path).zones[0].id == "w1", "a refused push leaves the file alone"
        states = len(cap.on("/state"))
        assert cap.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/state")]) > states + 1, 5.0)
        assert runner.is_alive()
    finally:
        node.request_stop()
        runner.join(15)
    assert not runner.is_alive()


def test_a_push_applied_before_a_restart_is_not_applied_twice(
    tmp_path: Path, broker: Any, site: str, node_id: str, capture: Callable[..., Capture]
) -> None:
    video = make_video(tmp_path / "v.avi", frames=30, fps=30.0)
    cfg = node_config(
        tmp_path,
        site=site,
        node=node_id,
        port=broker.port,
        cameras=[camera_entry("cam-1", str(video), fps=5.0, loop=True)],
    )
    path = write_yaml(tmp_path / "node.yaml", cfg)
    good = push({"spacing": {"min_distance_m": 2.0}})
    publish_retained(broker.port, node_topic(site, node_id, "config"), good.model_dump_json().encode())
    cap = capture(broker.port, f"hallwatch/{site}/nodes/+/layout")
    for run in range(2):  # the retained push arrives on both starts
        factory = CountingFactory()
        node = EdgeNode(load_config(path), factory, config_path=path)
        node.start()
        runner = threading.Thread(target=node.run, daemon=True)
        runner.start()
        assert wait_until(lambda node=node: node.applied_config_id == good.event_id, 10.0)
        node.request_stop()
        runner.join(15)
        assert len(factory.built) == (2 if run == 0 else 1), "the second start finds it already in effect"
    assert load_config(path).spacing.min_distance_m == 2.0
    assert [NodeLayout.model_validate_json(m.payload).config_id for m in cap.snapshot()][-1] == good.event_id
    assert uuid.UUID(str(good.event_id))
