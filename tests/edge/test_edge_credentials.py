"""Broker credentials and ACL, checked by a real mosquitto that uses the files we generate."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from edge_support import Capture, camera_entry, node_config, write_yaml
from paho.mqtt.enums import CallbackAPIVersion
from support.nats import NatsCluster
from support.processes import Mosquitto, unique, wait_until

from edge.config import MqttConfig
from edge.credentials import hash_password, read_password_file, verify_password
from edge.publisher import probe_broker
from hallwatch.cli import root


def login(port: int, user: str, password: str, protocol: str = "5") -> bool:
    cfg = MqttConfig(host="127.0.0.1", port=port, username=user, password=password, protocol=protocol)  # type: ignore[arg-type]
    return probe_broker(cfg, user, client_id=unique("login")).ok


def test_our_hashes_are_mosquittos(tmp_path: Path, make_broker: Callable[..., Mosquitto]) -> None:
    (tmp_path / "passwd").write_text(f"node-1:{hash_password('correct horse')}\n")
    b = make_broker(password_file=tmp_path / "passwd")
    assert login(b.port, "node-1", "correct horse")
    assert not login(b.port, "node-1", "correct horse!")
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(tmp_path / "theirs"), "u", "pw"], check=True)
    theirs = read_password_file(tmp_path / "theirs")["u"]
    assert verify_password("pw", theirs) and not verify_password("pW", theirs)


def write_nodes(tmp_path: Path, site: str) -> tuple[Path, Path]:
    a = node_config(
        tmp_path,
        site=site,
        node="node-a",
        port=1,
        cameras=[camera_entry("cam-a1", "a.mp4"), camera_entry("cam-a2", "b.mp4")],
        mqtt_settings={"username": "node-a", "password_env": "A_PW"},
    )
    b = node_config(tmp_path, site=site, node="node-b", port=1, cameras=[camera_entry("cam-b1", "c.mp4")])
    return write_yaml(tmp_path / "a.yaml", a), write_yaml(tmp_path / "b.yaml", b)


def node_a_topics(site: str) -> tuple[list[str], list[str]]:
    """Topics node-a (of `write_nodes`) may publish on, and topics it may not."""
    base = f"hallwatch/{site}"
    allowed = [
        f"{base}/nodes/node-a/status",
        f"{base}/nodes/node-a/health",
        f"{base}/nodes/node-a/layout",
        f"{base}/nodes/node-a/snapshot",
        f"{base}/cameras/cam-a1/events",
        f"{base}/cameras/cam-a2/state",
    ]
    denied = [
        f"{base}/nodes/node-b/status",
        f"{base}/nodes/node-b/snapshot",
        f"{base}/cameras/cam-b1/events",
        f"{base}/nodes/node-a/config",
        f"{base}/nodes/node-a/snapshot_request",
        f"{base}/nodes/node-b/snapshot_request",
        f"{base}/cameras/cam-new/events",
        "hallwatch/other-site/nodes/node-a/status",
        "elsewhere/x",
    ]
    return allowed, denied


def credentials(*args: str) -> Any:
    return CliRunner().invoke(root, ["edge", "credentials", *args], catch_exceptions=False)


def client(
    port: int,
    user: str,
    password: str,
    acks: list[tuple[str, int]],
    protocol: str = "5",
    received: list[str] | None = None,
) -> mqtt.Client:
    version = mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique(user), protocol=version)
    c.username_pw_set(user, password)
    mids: dict[int, str] = {}
    c.user_data_set(mids)
    c.on_publish = lambda _c, ud, mid, reason, _p: acks.append((ud.get(mid, "?"), reason.value))
    if received is not None:
        c.on_message = lambda _c, _u, m: received.append(m.topic)
    c.on_subscribe = lambda _c, ud, _mid, codes, _p: ud.setdefault("subacks", []).extend(
        code.is_failure for code in codes
    )
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def publish(c: mqtt.Client, topic: str, sender: str) -> None:
    info = c.publish(topic, sender.encode(), qos=1)
    c.user_data_get()[info.mid] = topic
    info.wait_for_publish(5)


def test_each_node_publishes_only_on_its_own_topics(
    tmp_path: Path, make_broker: Callable[..., Mosquitto], capture: Callable[..., Capture]
) -> None:
    site = unique("site")
    a, b = write_nodes(tmp_path, site)
    out = tmp_path / "creds"
    result = credentials("--config", str(a), "--config", str(b), "--out", str(out), "--server-user", "srv")
    assert result.exit_code == 0, result.output
    assert (out / "node-a.env").read_text().startswith("A_PW=")
    assert (out / "node-b.env").read_text().startswith("HALLWATCH_MQTT_PASSWORD=")
    assert oct((out / "node-a.password").stat().st_mode & 0o777) == "0o600"
    pw = {u: (out / f"{u}.password").read_text().strip() for u in ("node-a", "node-b", "srv")}
    broker = make_broker(password_file=out / "passwd", acl_file=out / "acl")
    server = capture(broker.port, "hallwatch/#", username="srv", password=pw["srv"])
    acks: list[tuple[str, int]] = []
    node_a = client(broker.port, "node-a", pw["node-a"], acks)
    node_b = client(broker.port, "node-b", pw["node-b"], acks)
    srv = client(broker.port, "srv", pw["srv"], acks)
    received_config: list[bytes] = []
    received_requests: list[bytes] = []
    received_by_b: list[str] = []
    node_a.on_message = lambda _c, _u, m: (
        received_requests if m.topic.endswith("/snapshot_request") else received_config
    ).append(m.payload)
    node_a.subscribe(f"hallwatch/{site}/nodes/node-a/config", qos=1)
    node_a.subscribe(f"hallwatch/{site}/nodes/node-a/snapshot_request", qos=1)
    node_b.on_message = lambda _c, _u, m: received_by_b.append(m.topic)
    node_b.subscribe(f"hallwatch/{site}/nodes/+/snapshot_request", qos=1)
    node_b.subscribe(f"hallwatch/{site}/nodes/node-a/snapshot", qos=1)
    base = f"hallwatch/{site}"
    allowed, denied = node_a_topics(site)
    try:
        time.sleep(0.3)
        for topic in denied + allowed:
            publish(node_a, topic, "node-a")
        publish(node_b, f"{base}/cameras/cam-b1/events", "node-b")
        publish(srv, f"{base}/nodes/node-a/config", "srv")
        publish(srv, f"{base}/nodes/node-a/snapshot_request", "srv")
        assert server.wait_for(
            lambda ms: {m.topic for m in ms} >= {*allowed, f"{base}/cameras/cam-b1/events"}, 5.0
        )
        wait_until(lambda: received_config == [b"srv"], 5.0, explain="only the server writes a node's config")
        wait_until(lambda: received_requests == [b"srv"], 5.0, explain="only the server asks for snapshots")
        time.sleep(0.3)
        assert received_by_b == [], "a node reads neither another node's requests nor its snapshots"
        from_a = {m.topic for m in server.snapshot() if m.payload == b"node-a"}
        assert from_a == set(allowed), "node A's publishes on other topics never arrive"
        refused = {topic for topic, code in acks if code == 0x87}
        assert refused == set(denied), "MQTT 5 tells the node its publish was refused"
    finally:
        for c in (node_a, node_b, srv):
            c.disconnect()
            c.loop_stop()


def test_running_again_keeps_passwords_unless_rotated(tmp_path: Path) -> None:
    a, b = write_nodes(tmp_path, "hall")
    out = tmp_path / "creds"
    assert credentials("--config", str(a), "--out", str(out)).exit_code == 0
    first = read_password_file(out / "passwd")
    assert set(first) == {"node-a", "hallwatch-server"}
    result = credentials("--config", str(a), "--config", str(b), "--out", str(out), "--rotate", "node-a")
    assert result.exit_code == 0
    second = read_password_file(out / "passwd")
    assert second["hallwatch-server"] == first["hallwatch-server"]
    assert second["node-a"] != first["node-a"] and "node-b" in second
    assert verify_password((out / "node-a.password").read_text().strip(), second["node-a"])
    assert "kept the passwords of: hallwatch-server" in result.output


def test_a_camera_claimed_by_two_nodes_is_refused(tmp_path: Path) -> None:
    a = node_config(tmp_path, site="hall", node="node-a", port=1, cameras=[camera_entry("cam-1", "a.mp4")])
    b = node_config(tmp_path, site="hall", node="node-b", port=1, cameras=[camera_entry("cam-1", "b.mp4")])
    result = CliRunner().invoke(
        root,
        [
            "edge",
            "credentials",
            "--config",
            str(write_yaml(tmp_path / "a.yaml", a)),
            "--config",
            str(write_yaml(tmp_path / "b.yaml", b)),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    assert "camera 'cam-1' of site hall is on both node-a and node-b" in result.output
    assert not (tmp_path / "o" / "passwd").exists()


DEPLOY_CONF = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "hallwatch.conf"


def test_a_login_cannot_take_another_clients_session(
    tmp_path: Path, make_broker: Callable[..., Mosquitto], capture: Callable[..., Capture]
) -> None:
    # Issue 11: with node-a's login and client id "node-b" (or the server's), node-b (or the
    # server) was kicked and its last will published; a clean start wiped the server's queue.
    assert "\nuse_username_as_clientid true\n" in DEPLOY_CONF.read_text(), "the deploy config binds them"
    site = unique("site")
    a, b = write_nodes(tmp_path, site)
    out = tmp_path / "creds"
    assert (
        credentials(
            "--config", str(a), "--config", str(b), "--out", str(out), "--server-user", "srv"
        ).exit_code
        == 0
    )
    pw = {u: (out / f"{u}.password").read_text().strip() for u in ("node-a", "node-b", "srv")}
    broker = make_broker(password_file=out / "passwd", acl_file=out / "acl", client_id_from_username=True)
    server = capture(broker.port, "hallwatch/#", username="srv", password=pw["srv"])
    will_topic = f"hallwatch/{site}/nodes/node-b/status"
    kicked: list[str] = []

    def connect(user: str, client_id: str, will: bool = False) -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        c.username_pw_set(user, pw[user])
        if will:
            c.will_set(will_topic, b"offline", qos=1, retain=False)
        c.on_disconnect = lambda *_args: kicked.append(user)
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        return c

    node_b = connect("node-b", "node-b", will=True)
    wait_until(node_b.is_connected, 5)
    try:
        for taken in ("node-b", "srv"):  # another node's client id, then the server's
            intruder = connect("node-a", taken)
            wait_until(intruder.is_connected, 5)
            time.sleep(1.0)
            intruder.disconnect()
            intruder.loop_stop()
        assert node_b.is_connected() and "node-b" not in kicked, "node-b kept its session"
        assert not [m for m in server.snapshot() if m.topic == will_topic], "no last will was fired"
        node_b.publish(f"hallwatch/{site}/cameras/cam-b1/events", b"still here", qos=1).wait_for_publish(5)
        assert server.wait_for(lambda ms: any(m.payload == b"still here" for m in ms), 5.0), (
            "the server's subscription survived a login under its client id"
        )
    finally:
        node_b.disconnect()
        node_b.loop_stop()


def test_credential_files_are_for_their_owner_only(tmp_path: Path) -> None:
    a, b = write_nodes(tmp_path, "hall")
    out = tmp_path / "creds"
    result = credentials(
        "--config",
        str(a),
        "--config",
        str(b),
        "--out",
        str(out),
        "--server-user",
        "srv-1",
        "--server-user",
        "srv-2",
    )
    assert result.exit_code == 0, result.output
    for name in ("passwd", "acl", "node-a.password", "node-a.env", "srv-2.password"):
        assert oct((out / name).stat().st_mode & 0o777) == "0o600", name
    assert oct(out.stat().st_mode & 0o777) == "0o700"
    acl = (out / "acl").read_text()
    assert "user srv-1\n" in acl and "user srv-2\n" in acl, "one broker user per server replica"


@pytest.mark.timeout(120)
def test_on_nats_each_node_publishes_and_reads_only_its_own_topics(tmp_path: Path) -> None:
    """The same rules as NATS users and permissions (`--broker nats`), on a real three-node
    cluster that includes the written hallwatch-users.conf the way deploy/nats/hallwatch.conf does."""
    site = unique("site")
    (tmp_path / "dotted").mkdir()
    dotted = write_nodes(tmp_path / "dotted", "hall.a")[0]
    refused = credentials("--broker", "nats", "--config", str(dotted), "--out", str(tmp_path / "x"))
    assert refused.exit_code == 2 and "refuses topics with a '.'" in refused.output
    assert not (tmp_path / "x").exists()
    a, b = write_nodes(tmp_path, site)
    out = tmp_path / "creds"
    result = credentials(
        "--broker", "nats", "--config", str(a), "--config", str(b), "--out", str(out), "--server-user", "srv"
    )
    assert result.exit_code == 0, result.output
    assert set(read_password_file(out / "nats-passwd")) == {"node-a", "node-b", "srv"}
    pw = {u: (out / f"{u}.password").read_text().strip() for u in ("node-a", "node-b", "srv")}
    cluster = NatsCluster(tmp_path / "nats", (out / "hallwatch-users.conf").read_text()).start()
    port = cluster.nodes[0].mqtt_port
    try:
        assert login(port, "node-a", pw["node-a"], "3.1.1")
        assert not login(port, "node-a", pw["node-b"], "3.1.1")
        received: dict[str, list[str]] = {"srv": [], "node-a": [], "node-b": []}
        clients = {u: client(port, u, pw[u], [], "3.1.1", received[u]) for u in received}
        base = f"hallwatch/{site}"
        clients["srv"].subscribe("hallwatch/#", qos=1)
        clients["node-a"].subscribe(f"{base}/nodes/node-a/config", qos=1)
        clients["node-b"].subscribe(f"{base}/nodes/+/config", qos=1)  # not only its own
        refusals = {u: c.user_data_get() for u, c in clients.items()}
        wait_until(lambda: all("subacks" in r for r in refusals.values()), 30, explain=lambda: refusals)
        assert {u: r["subacks"] for u, r in refusals.items()} == {
            "srv": [False],
            "node-a": [False],
            "node-b": [True],
        }
        allowed, denied = node_a_topics(site)
        for topic in denied + allowed:
            publish(clients["node-a"], topic, "node-a")
        config = f"{base}/nodes/node-a/config"
        publish(clients["srv"], config, "srv")
        wait_until(lambda: set(received["srv"]) >= set(allowed), 10, explain=lambda: received)
        wait_until(lambda: received["node-a"] == [config], 10, explain=lambda: received)
        time.sleep(0.5)
        assert set(received["srv"]) == {*allowed, config}, "denied topics never arrive"
        assert received["node-b"] == [], "a node reads no other node's config"
    finally:
        cluster.stop()
