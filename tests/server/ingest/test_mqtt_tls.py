"""The server's MQTT client over mutual TLS, made by the same helper as the node's (hallwatch.mqtt)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_support import make_settings
from support.processes import Mosquitto, unique, wait_until
from support.tls import make_tls_files

from hallwatch.mqtt import MqttSetupError, TlsFiles, new_client
from server.ingest.mqtt_client import MqttIngestClient
from server.ingest.processor import RawMessage
from server.metrics import Metrics
from server.settings import Settings


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def mutual_broker(tmp_path: Path, tls: dict[str, Path]) -> Iterator[Mosquitto]:
    """A mosquitto that takes only clients with a certificate from the test CA."""
    broker = Mosquitto(
        tmp_path / "broker",
        tls={"cafile": tls["ca"], "certfile": tls["broker_cert"], "keyfile": tls["broker_key"]},
        require_certificate=True,
    ).start()
    yield broker
    broker.kill()


def settings_for(port: int, site: str, **tls_files: Path) -> Settings:
    return make_settings(
        "sqlite:///unused.sqlite3", site, mqtt={"url": f"mqtts://localhost:{port}", **tls_files}
    )


def test_the_server_subscribes_with_a_client_certificate_and_a_node_publishes_with_one(
    mutual_broker: Mosquitto, tls: dict[str, Path]
) -> None:
    site = unique("site")
    settings = settings_for(
        mutual_broker.port, site, ca_file=tls["ca"], cert_file=tls["client_cert"], key_file=tls["client_key"]
    )
    received: list[RawMessage] = []
    server = MqttIngestClient(settings.broker(), settings.mqtt, received.append, Metrics())
    node = new_client(
        unique("node"),
        protocol="5",
        tls=TlsFiles(ca_file=tls["ca"], cert_file=tls["client_cert"], key_file=tls["client_key"]),
    )
    server.start()
    try:
        assert server.wait_connected(10), "the server did not connect over mutual TLS"
        node.connect("localhost", mutual_broker.port)
        node.loop_start()
        topic = f"hallwatch/{site}/nodes/n1/status"

        def arrived() -> list[Any]:
            node.publish(topic, b"{}", qos=0)
            return [m for m in received if m.topic == topic]

        wait_until(arrived, 10, 0.2)
    finally:
        node.loop_stop()
        node.disconnect()
        server.stop()


def test_without_a_client_certificate_the_broker_refuses_the_server(
    mutual_broker: Mosquitto, tls: dict[str, Path]
) -> None:
    settings = settings_for(mutual_broker.port, unique("site"), ca_file=tls["ca"])
    server = MqttIngestClient(settings.broker(), settings.mqtt, lambda _m: None, Metrics())
    server.start()
    try:
        assert not server.wait_connected(3)
    finally:
        server.stop()


def test_tls_settings_are_checked_before_connecting(tmp_path: Path, tls: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="cert_file and key_file go together"):
        settings_for(8883, "s", cert_file=tls["client_cert"])
    with pytest.raises(ValueError, match="need a TLS broker"):
        make_settings("sqlite:///unused.sqlite3", "s", mqtt={"ca_file": tls["ca"]})
    missing = settings_for(8883, "s", cert_file=tmp_path / "nope.crt", key_file=tls["client_key"])
    with pytest.raises(MqttSetupError, match="cert_file: no such file"):
        MqttIngestClient(missing.broker(), missing.mqtt, lambda _m: None, Metrics())
