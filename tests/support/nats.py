"""A local three-node NATS cluster (Debian's nats-server, JetStream and its MQTT listener) run with
the deploy config (deploy/nats/hallwatch.conf), and HAProxy in front of its MQTT listeners
(`mqtt_proxy`, deploy/haproxy/mqtt.cfg): the clustered broker of issue 16."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.haproxy import Haproxy
from support.processes import REPO, free_port, port_open, wait_until

NATS_CONFIG = REPO / "deploy" / "nats" / "hallwatch.conf"
PROXY_CONFIG = REPO / "deploy" / "haproxy" / "mqtt.cfg"


def _binary(name: str) -> str:
    path = shutil.which(name) or f"/usr/sbin/{name}"
    if not os.path.exists(path):
        pytest.fail(f"Debian's {name} is needed (`make test` installs it as root, or says how)")
    return path


@dataclass
class NatsNode:
    name: str
    store: Path
    port: int = field(default_factory=free_port)
    cluster_port: int = field(default_factory=free_port)
    mqtt_port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.store.parent / f"{self.name}.log"

    def healthy(self) -> bool:
        """Its /healthz says 200 for the JetStream server, as HAProxy's check asks (streams and
        consumers may still be catching up)."""
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-server-only=true"
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def mqtt_clients(self) -> list[str]:
        """The client ids of the MQTT clients connected to this node now."""
        url = f"http://127.0.0.1:{self.monitor_port}/connz?limit=1000"
        with urllib.request.urlopen(url, timeout=2) as r:
            connz = json.load(r)
        return [c["mqtt_client"] for c in connz.get("connections") or [] if c.get("mqtt_client")]


@dataclass
class NatsCluster:
    """Three nodes on free ports. ``users`` is the hallwatch-users.conf the deploy config includes
    (from `hallwatch edge credentials --broker nats`); the config is copied next to it."""

    workdir: Path
    users: str
    nodes: list[NatsNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.nodes = [NatsNode(f"nats-{i}", self.workdir / f"nats-{i}" / "jetstream") for i in (1, 2, 3)]
        self.config = self.workdir / NATS_CONFIG.name
        self.route_password = secrets.token_hex(16)

    def start(self) -> NatsCluster:
        self.workdir.mkdir(parents=True, exist_ok=True)
        shutil.copy(NATS_CONFIG, self.config)
        (self.workdir / "hallwatch-users.conf").write_text(self.users)
        for node in self.nodes:
            self.start_node(node)
        wait_until(lambda: all(n.healthy() for n in self.nodes), 60, 0.3, explain=self.logs)
        return self

    def start_node(self, node: NatsNode) -> None:
        node.store.mkdir(parents=True, exist_ok=True)
        env = os.environ | {
            "HALLWATCH_NATS_NAME": node.name,
            "HALLWATCH_NATS_STORE": str(node.store),
            "HALLWATCH_NATS_HOST": "127.0.0.1",
            "HALLWATCH_NATS_PORT": str(node.port),
            "HALLWATCH_NATS_CLUSTER_PORT": str(node.cluster_port),
            "HALLWATCH_NATS_MQTT_PORT": str(node.mqtt_port),
            "HALLWATCH_NATS_MONITOR_PORT": str(node.monitor_port),
        }
        env |= {"HALLWATCH_NATS_ROUTE_USER": "route", "HALLWATCH_NATS_ROUTE_PASSWORD": self.route_password}
        for i, peer in enumerate(self.nodes, start=1):
            url = f"nats-route://route:{self.route_password}@127.0.0.1:{peer.cluster_port}"
            env[f"HALLWATCH_NATS_ROUTE_{i}"] = url
        command = [_binary("nats-server"), "-c", str(self.config), "-l", str(node.log_path)]
        node.proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: self._listening(node), 15, 0.1, explain=self.logs)
        except RuntimeError:
            self.stop()
            raise

    def _listening(self, node: NatsNode) -> bool:
        if node.proc is not None and node.proc.poll() is not None:
            err = node.proc.stderr.read() if node.proc.stderr else b""
            raise RuntimeError(f"nats-server {node.name} exited: {err.decode(errors='replace')}")
        return port_open("127.0.0.1", node.mqtt_port, 0.2)

    def kill(self, node: NatsNode) -> None:
        """SIGKILL: the node's process dies without a word to its clients or peers."""
        if node.proc is not None and node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait(5)
        node.proc = None

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
                try:
                    node.proc.wait(10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
            node.proc = None

    def logs(self) -> str:
        return "\n".join(
            f"--- {n.name}\n{n.log_path.read_text()[-2000:]}" for n in self.nodes if n.log_path.exists()
        )


def mqtt_proxy(cluster: NatsCluster) -> Haproxy:
    """HAProxy with deploy/haproxy/mqtt.cfg in front of the cluster's MQTT listeners (not started)."""
    env = {}
    for i, node in enumerate(cluster.nodes, start=1):
        env[f"HALLWATCH_BROKER_{i}"] = f"127.0.0.1:{node.mqtt_port}"
        env[f"HALLWATCH_BROKER_MONITOR_PORT_{i}"] = str(node.monitor_port)
    return Haproxy(env, PROXY_CONFIG, "HALLWATCH_MQTT_BIND")


def open_users(user: str, password: str) -> str:
    """A hallwatch-users.conf with one user who may do anything (benchmarks' publishers)."""
    return (
        f'authorization {{ users = [{{user: "{user}", password: "{password}", '
        'allowed_connection_types: ["MQTT"], permissions: {publish: ">", subscribe: ">"}}] }\n'
    )
