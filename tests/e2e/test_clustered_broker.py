"""A clustered broker (issue 16 item 2), as separate processes: a three-node NATS cluster with
JetStream and its MQTT listener (deploy/nats/hallwatch.conf) behind HAProxy (deploy/haproxy/mqtt.cfg),
an edge node and two server replicas (one PostgreSQL, Redis, `mqtt.split: site`: NATS has no shared
subscriptions), all speaking MQTT 3.1.1 through the proxy, each logging in as its own user from
`hallwatch edge credentials --broker nats`.

Mid-stream the broker node holding the first replica's connection is SIGKILLed, and once it is
back, the node holding the edge node's: each client reconnects through the proxy to a live node,
where JetStream still holds its session and what was queued for it. Every event the node made is
stored, once, though both replicas receive every event.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from support.hallwatch_processes import EdgeProcess, ServerProcess
from support.nats import NatsCluster, NatsNode, mqtt_proxy
from support.processes import unique, wait_until
from test_end_to_end_acks import made
from test_whole_chain import received, write_node_config, write_video

from hallwatch.cli import root

HERE = Path(__file__).parent


def holder(cluster: NatsCluster, client_id: str) -> NatsNode:
    """The broker node the client is connected to now."""

    def find() -> NatsNode | None:
        return next((n for n in cluster.nodes if n.proc and client_id in n.mqtt_clients()), None)

    wait_until(lambda: find() is not None, 20, 0.3, explain=lambda: f"{client_id} is on no broker node")
    node = find()
    assert node is not None
    return node


@pytest.mark.timeout(300)
def test_a_broker_node_killed_mid_stream_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path, fresh_pg_url: str, redis_url: str
) -> None:
    site, node_id = unique("cluster"), unique("node")
    # The broker's port is known once it runs, and it needs the users first: 1883 until then.
    config = write_node_config(tmp_path / "node.yaml", site, node_id, 1883, write_video(tmp_path / "v.avi"))
    creds = tmp_path / "creds"
    made_creds = CliRunner().invoke(
        root,
        ["edge", "credentials", "--broker", "nats", "--config", str(config), "--out", str(creds)]
        + ["--server-user", "replica-a", "--server-user", "replica-b"],
        catch_exceptions=False,
    )
    assert made_creds.exit_code == 0, made_creds.output
    cluster = NatsCluster(tmp_path / "brokers", (creds / "hallwatch-users.conf").read_text()).start()
    proxy = mqtt_proxy(cluster).start()
    replica = {
        "HALLWATCH_MQTT__PROTOCOL": "3.1.1",
        "HALLWATCH_MQTT__SESSION_EXPIRY_S": "600",
        "HALLWATCH_MQTT__SPLIT": "site",
        "HALLWATCH_LIVE__REDIS_URL": redis_url,
        "HALLWATCH_LIVE__CHANNEL": unique("live"),
    }
    server, other = (
        ServerProcess(
            tmp_path / name,
            broker_port=proxy.port,
            env=replica
            | {
                "HALLWATCH_MQTT__USERNAME": name,
                "HALLWATCH_MQTT__PASSWORD": (creds / f"{name}.password").read_text().strip(),
            },
            database_url=fresh_pg_url,
        )
        for name in ("replica-a", "replica-b")
    )
    data = yaml.safe_load(config.read_text())
    data["mqtt"] |= {
        "port": proxy.port,
        "protocol": "3.1.1",
        "username": node_id,
        "password_env": "HALLWATCH_MQTT_PASSWORD",
    }
    data["outbox"] |= {"confirm": "server", "resend_after_s": 120}
    config.write_text(yaml.safe_dump(data))
    env = {
        "HALLWATCH_MQTT_PASSWORD": (creds / f"{node_id}.password").read_text().strip(),
        "HALLWATCH_E2E_EPOCH": repr(time.time()),
        "HALLWATCH_E2E_DIR": str(tmp_path),
        "HALLWATCH_E2E_RUN": "1",
    }
    edge: EdgeProcess | None = None
    try:
        server.start()
        other.start()
        edge = EdgeProcess(config, "timeline_processor:factory", HERE, env)

        def stored() -> list[int]:
            return sorted(n for run, n in received(server, site) if run == 1)

        log = edge.log
        wait_until(lambda: len(stored()) >= 5, 60, 0.3, explain=lambda: log() + cluster.logs())
        for client in (server.client_id, node_id):
            victim = holder(cluster, client)
            cluster.kill(victim)
            # The stream goes on through another node: 3 s more at 5 frames/s reach the server.
            wanted = made(tmp_path) + 15
            wait_until(lambda: len(stored()) >= wanted, 60, 0.5, explain=lambda: log() + cluster.logs())  # noqa: B023
            holder(cluster, client)  # connected again, to one of the two nodes alive
            cluster.start_node(victim)
            wait_until(lambda: all(n.healthy() for n in cluster.nodes), 60, 0.3, explain=cluster.logs)
        assert edge.stop() == 0, edge.log()[-3000:]
        total = made(tmp_path)
        wait_until(lambda: len(stored()) >= total, 60, 0.5, explain=lambda: f"{len(stored())} of {total}")
        time.sleep(2.0)  # anything sent twice would be stored by now
        assert stored() == list(range(total)), "every event the node made, once"
    finally:
        if edge is not None:
            edge.kill()
        for replica_process in (server, other):
            if replica_process.proc is not None:
                replica_process.stop()
        proxy.stop()
        cluster.stop()
