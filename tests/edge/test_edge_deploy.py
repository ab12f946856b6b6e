"""The files in deploy/ work: the example node file loads, and the example mosquitto config, with
the credentials our command writes and real certificates, lets a node in over mutual TLS."""

from __future__ import annotations

import getpass
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from edge_support import camera_entry, node_config, write_yaml
from support.processes import REPO, free_port, wait_until

from edge.config import MqttConfig, load_config
from edge.publisher import probe_broker
from hallwatch.cli import root

DEPLOY = REPO / "deploy"


def test_example_node_file_is_valid() -> None:
    config = load_config(DEPLOY / "node.example.yaml")
    assert config.mqtt.tls is not None and config.mqtt.password_env == "HALLWATCH_MQTT_PASSWORD"


def test_unit_runs_the_node_as_documented() -> None:
    unit = (DEPLOY / "hallwatch-edge.service").read_text()
    assert "ExecStart=/opt/hallwatch/.venv/bin/hallwatch edge run --config /etc/hallwatch/node.yaml" in unit
    assert "RestartPreventExitStatus=2" in unit and "KillSignal=SIGTERM" in unit


@pytest.fixture
def example_broker(tmp_path: Path, tls_files: dict[str, Path]) -> Iterator[tuple[int, Path]]:
    site = "town-hall"
    node = node_config(
        tmp_path, site=site, node="edge-entrance", port=1, cameras=[camera_entry("cam-entrance", "x.mp4")]
    )
    creds = tmp_path / "hallwatch"
    result = CliRunner().invoke(
        root,
        [
            "edge",
            "credentials",
            "--config",
            str(write_yaml(tmp_path / "node.yaml", node)),
            "--out",
            str(creds),
        ],
    )
    assert result.exit_code == 0, result.output
    tls_port, local_port = free_port(), free_port()
    text = (DEPLOY / "mosquitto" / "hallwatch.conf").read_text()
    for old, new in {
        "/etc/mosquitto/hallwatch/": f"{creds}/",
        "/etc/mosquitto/certs/ca.crt": str(tls_files["ca"]),
        "/etc/mosquitto/certs/broker.crt": str(tls_files["broker_cert"]),
        "/etc/mosquitto/certs/broker.key": str(tls_files["broker_key"]),
        "/var/lib/mosquitto/": f"{tmp_path}/",
        "listener 8883": f"listener {tls_port} 127.0.0.1",
        "listener 1883 127.0.0.1": f"listener {local_port} 127.0.0.1",
    }.items():
        assert old in text, old
        text = text.replace(old, new)
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"user {getpass.getuser()}\n" + text)
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: listening(tls_port) or proc.poll() is not None, 5.0)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        yield tls_port, creds
    finally:
        proc.kill()
        proc.wait()


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def probe(port: int, user: str, password: str, tls: dict[str, Path] | None = None) -> object:
    cfg = MqttConfig.model_validate(
        {"host": "127.0.0.1", "port": port, "username": user, "password": password, "tls": tls}
    )
    return probe_broker(cfg, user, client_id=f"{user}-deploy-test", timeout_s=3.0)


def test_example_broker_takes_a_node_over_mutual_tls_and_nothing_less(
    example_broker: tuple[int, Path], tls_files: dict[str, Path]
) -> None:
    port, creds = example_broker
    password = (creds / "edge-entrance.password").read_text().strip()
    assert re.fullmatch(r"HALLWATCH_MQTT_PASSWORD=\S+\n", (creds / "edge-entrance.env").read_text())
    mutual = {
        "ca_file": tls_files["ca"],
        "cert_file": tls_files["client_cert"],
        "key_file": tls_files["client_key"],
    }
    ok = probe(port, "edge-entrance", password, mutual)
    assert ok.ok, ok.message  # type: ignore[attr-defined]
    wrong_password = probe(port, "edge-entrance", password + "x", mutual)
    assert wrong_password.refused  # type: ignore[attr-defined]
    no_client_cert = probe(port, "edge-entrance", password, {"ca_file": tls_files["ca"]})
    assert not no_client_cert.ok  # type: ignore[attr-defined]
    plain = probe(port, "edge-entrance", password)
    assert not plain.ok  # type: ignore[attr-defined]
