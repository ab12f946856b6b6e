"""The MQTT connection and the outbox pump, against real mosquitto brokers."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from edge_support import Capture
from support.processes import Mosquitto, free_port, wait_until

from edge.config import ConfigError, MqttConfig
from edge.outbox import Outbox
from edge.publisher import MqttPublisher, OutboxPump, probe_broker


def mqtt_config(port: int, **extra: Any) -> MqttConfig:
    return MqttConfig.model_validate({"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.2, **extra})


def password_file(path: Path, users: dict[str, str]) -> Path:
    """Written by mosquitto's own tool, independent of our hashing."""
    for i, (user, password) in enumerate(users.items()):
        subprocess.run(
            ["mosquitto_passwd", *(["-c"] if i == 0 else []), "-b", str(path), user, password], check=True
        )
    return path


def test_probe_of_a_port_nobody_listens_on() -> None:
    port = free_port()
    result = probe_broker(mqtt_config(port), "node-1", client_id="probe-x", timeout_s=2.0)
    assert not result.ok and not result.refused
    assert result.message == (
        f"nothing accepts connections at 127.0.0.1:{port} (connection refused): "
        "is the broker running, is the port right?"
    )


def test_probe_of_an_unknown_host() -> None:
    cfg = MqttConfig(host="broker.invalid", port=1883)
    result = probe_broker(cfg, "node-1", client_id="probe-x", timeout_s=2.0)
    assert not result.ok and "cannot resolve the broker's host name 'broker.invalid'" in result.message


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_wrong_password_is_refused_in_plain_words(
    tmp_path: Path, make_broker: Callable[..., Mosquitto], protocol: str
) -> None:
    b = make_broker(password_file=password_file(tmp_path / "passwd", {"node-1": "right"}))
    good = probe_broker(
        mqtt_config(b.port, username="node-1", password="right", protocol=protocol), "node-1", client_id="p1"
    )
    assert good.ok, good.message
    bad = probe_broker(
        mqtt_config(b.port, username="node-1", password="wrong", protocol=protocol), "node-1", client_id="p2"
    )
    assert not bad.ok and bad.refused
    assert bad.message.startswith("the broker refused node-1's user name or password (user 'node-1'")


def test_publisher_reports_a_refused_login_once(
    tmp_path: Path, make_broker: Callable[..., Mosquitto]
) -> None:
    b = make_broker(password_file=password_file(tmp_path / "passwd", {"node-1": "right"}))
    refused: list[str] = []
    pub = MqttPublisher(
        mqtt_config(b.port, username="node-1", password="nope"),
        node="node-1",
        will=lambda: ("hallwatch/s/nodes/node-1/status", b"offline"),
        on_refused=refused.append,
    )
    pub.start()
    try:
        assert wait_until(lambda: bool(refused), 5.0)
        assert "the broker refused node-1's user name or password" in refused[0]
        assert not pub.connected and not pub.ever_connected
    finally:
        pub.stop()


def test_password_from_an_unset_environment_variable_names_it() -> None:
    cfg = mqtt_config(1883, username="node-1", password_env="HALLWATCH_TEST_UNSET_PASSWORD_VAR")
    with pytest.raises(ConfigError, match="HALLWATCH_TEST_UNSET_PASSWORD_VAR is not set"):
        probe_broker(cfg, "node-1", client_id="p")


def test_tls_with_ca_and_client_certificate(
    make_broker: Callable[..., Mosquitto], tls_files: dict[str, Path]
) -> None:
    b = make_broker(
        tls={
            "cafile": tls_files["ca"],
            "certfile": tls_files["broker_cert"],
            "keyfile": tls_files["broker_key"],
        },
        require_certificate=True,
    )
    mutual = {
        "ca_file": tls_files["ca"],
        "cert_file": tls_files["client_cert"],
        "key_file": tls_files["client_key"],
    }
    ok = probe_broker(mqtt_config(b.port, tls=mutual), "node-1", client_id="t1")
    assert ok.ok, ok.message
    wrong_ca = probe_broker(
        mqtt_config(b.port, tls={"ca_file": tls_files["other_ca"]}), "node-1", client_id="t2"
    )
    assert not wrong_ca.ok
    assert "TLS: the broker's certificate at" in wrong_ca.message and "mqtt.tls.ca_file" in wrong_ca.message
    no_client_cert = probe_broker(
        mqtt_config(b.port, tls={"ca_file": tls_files["ca"]}), "node-1", client_id="t3"
    )
    assert not no_client_cert.ok
    plain = probe_broker(mqtt_config(b.port), "node-1", client_id="t4", timeout_s=2.0)
    assert not plain.ok


def test_missing_tls_file_names_the_field(tmp_path: Path) -> None:
    cfg = mqtt_config(8883, tls={"ca_file": tmp_path / "nope.crt"})
    with pytest.raises(ConfigError, match=r"mqtt\.tls\.ca_file: no such file"):
        probe_broker(cfg, "node-1", client_id="p")


def start_pump(outbox: Outbox, cfg: MqttConfig) -> tuple[MqttPublisher, OutboxPump]:
    holder: dict[str, OutboxPump] = {}
    pub = MqttPublisher(
        cfg,
        node="node-1",
        will=lambda: ("hallwatch/s/nodes/node-1/status", b"offline"),
        on_connected=lambda: holder["pump"].connected(),
        on_ack=lambda: holder["pump"].wake(),
    )
    pump = holder["pump"] = OutboxPump(outbox, pub, window=20)
    pump.start()
    pub.start()
    return pub, pump


def test_pump_sends_in_seq_order_and_deletes_on_puback(
    tmp_path: Path, broker: Mosquitto, capture: Callable[..., Capture]
) -> None:
    cap = capture(broker.port, "hallwatch/s/#")
    outbox = Outbox(tmp_path / "o.sqlite", max_events=10_000)
    seqs = [
        outbox.enqueue("hallwatch/s/cameras/c/events", lambda s: json.dumps({"seq": s}).encode())
        for _ in range(300)
    ]
    pub, pump = start_pump(outbox, mqtt_config(broker.port))
    try:
        assert wait_until(lambda: outbox.depth == 0, 10.0)
        assert cap.wait_for(lambda ms: len(ms) >= 300, 5.0)
        assert [m.json()["seq"] for m in cap.snapshot()] == seqs
        assert all(m.qos == 1 for m in cap.snapshot())
        assert pump.published == 300 and pump.refused == 0
    finally:
        pump.stop()
        pub.stop()
        outbox.close()


def test_events_the_broker_refuses_are_dropped_counted_and_logged(
    tmp_path: Path, make_broker: Callable[..., Mosquitto], caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "acl").write_text("user node-1\ntopic write hallwatch/s/cameras/mine/+\n")
    b = make_broker(
        password_file=password_file(tmp_path / "passwd", {"node-1": "pw"}), acl_file=tmp_path / "acl"
    )
    outbox = Outbox(tmp_path / "o.sqlite", max_events=100)
    outbox.enqueue("hallwatch/s/cameras/mine/events", lambda s: b"{}")
    outbox.enqueue("hallwatch/s/cameras/someone-elses/events", lambda s: b"{}")
    caplog.set_level(logging.ERROR, logger="edge.publisher")
    pub, pump = start_pump(outbox, mqtt_config(b.port, username="node-1", password="pw"))
    try:
        assert wait_until(lambda: outbox.depth == 0, 10.0)
        assert (pump.published, pump.refused) == (1, 1)
        assert (
            "the broker refused event seq 1: Not authorized (check the ACL for user 'node-1')" in caplog.text
        )
    finally:
        pump.stop()
        pub.stop()
        outbox.close()


def test_final_message_on_stop_is_retained(broker: Mosquitto, capture: Callable[..., Capture]) -> None:
    pub = MqttPublisher(
        mqtt_config(broker.port), node="node-1", will=lambda: ("hallwatch/s/nodes/node-1/status", b"offline")
    )
    pub.start()
    assert pub.wait_connected(5.0)
    assert pub.stop(("hallwatch/s/nodes/node-1/status", b"stopped"))
    late = capture(broker.port, "hallwatch/s/nodes/+/status")  # subscribes after: gets the retained one
    assert late.wait_for(lambda ms: [(m.payload, m.retain) for m in ms] == [(b"stopped", True)], 5.0)


def test_a_handler_that_raises_does_not_end_the_connection(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    """paho ends its network thread when a callback raises; ours are guarded and logged."""
    topic = "hallwatch/s/nodes/node-1/config"
    received: list[bytes] = []

    def broken_handler(_topic: str, payload: bytes) -> None:
        received.append(payload)
        raise RuntimeError("bug in a message handler")

    def broken_on_connected() -> None:
        raise RuntimeError("bug in the on-connect handler")

    caplog.set_level(logging.ERROR, logger="edge.publisher")
    pub = MqttPublisher(
        mqtt_config(broker.port),
        node="node-1",
        will=lambda: ("hallwatch/s/nodes/node-1/status", b"offline"),
        subscriptions=[topic],
        on_connected=broken_on_connected,
        on_message=broken_handler,
    )
    pub.start()
    try:
        assert pub.wait_connected(5.0)
        pub.publish(topic, b"first", qos=1)
        assert wait_until(lambda: len(received) == 1, 5.0)
        pub.publish(topic, b"second", qos=1)  # paho's thread is still there to deliver it
        wait_until(lambda: len(received) == 2, 5.0, explain=lambda: received)
        assert received == [b"first", b"second"] and pub.connected
        assert "the on-connect handler failed; the MQTT connection carries on" in caplog.text
        assert f"the handler of a message on {topic} failed" in caplog.text
        assert "bug in a message handler" in caplog.text
    finally:
        pub.stop()
