"""Two replicas that split the sites (`mqtt.split: site`) on a broker giving both every message
(MQTT 3.1.1, no shared subscription), with the real mosquitto, PostgreSQL and Redis: each site's
camera states go to exactly one replica, and when one replica stops the other takes its sites."""

from __future__ import annotations

import contextlib
import time

import pytest
from server_support import make_settings, running
from support.contract import Node
from support.mqtt import Publisher
from support.processes import unique, wait_until

from server.ingest.partition import owner
from server.runtime import Server

pytestmark = pytest.mark.usefixtures("shared_broker")

ZONES = [{"id": "w1", "kind": "window", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}]
ROUNDS = 5


def skipped(server: Server) -> int:
    return int(server.metrics.other_replica._value.get())


def taken(server: Server) -> int:
    assert server.ingest is not None
    return server.ingest.processor.handled - skipped(server)


def members(server: Server) -> frozenset[str]:
    assert server.ingest is not None and server.ingest.membership is not None
    return server.ingest.membership.members


def owned(server: Server, nodes: list[Node]) -> int:
    assert server.ingest is not None and server.ingest.processor.keeps is not None
    keeps = server.ingest.processor.keeps
    return sum(keeps(f"hallwatch/{n.site}/cameras/{n.camera}/state") for n in nodes)


def send_states(pub: Publisher, nodes: list[Node]) -> None:
    for _ in range(ROUNDS):
        for node in nodes:
            pub.send(node.state({"w1": 1}))


@pytest.mark.timeout(120)
def test_each_site_goes_to_one_replica_and_a_stopped_replicas_sites_to_the_other(
    pg_url: str, redis_url: str
) -> None:
    ids = [unique("replica-a"), unique("replica-b")]
    # Eight sites, four owned by each replica (random names would put all on one now and then).
    candidates = (unique("split") for _ in range(1000))
    sites = [s for s in candidates if owner(s, ids) == ids[0]][:4]
    sites += [s for s in candidates if owner(s, ids) == ids[1]][:4]
    channel = unique("live")
    first, second = (
        make_settings(
            pg_url,
            sites[0],
            mqtt={"protocol": "3.1.1", "split": "site", "sites": sites, "client_id": client_id},
            live={"redis_url": redis_url, "channel": channel},
        )
        for client_id in ids
    )
    nodes = [Node(site) for site in sites]
    pub = Publisher()
    try:
        with running(first) as (a, _), contextlib.ExitStack() as stack:
            b, _ = stack.enter_context(running(second))
            assert first.broker().shared_group is None  # both get every message
            both = {first.mqtt.client_id, second.mqtt.client_id}
            wait_until(lambda: members(a) == both == members(b), 10)
            for node in nodes:
                pub.send(node.layout(ZONES), retain=False)
            wait_until(lambda: taken(a) >= len(nodes) and taken(b) >= len(nodes), 10)
            before = [taken(a), taken(b)]
            send_states(pub, nodes)
            states = ROUNDS * len(nodes)
            # Each replica receives every state (handled) and takes its own sites' (taken).
            wait_until(lambda: taken(a) - before[0] + taken(b) - before[1] >= states, 10)
            wait_until(lambda: skipped(a) + skipped(b) >= states, 10)
            time.sleep(0.5)  # anything taken twice would be counted by now
            took_a, took_b = taken(a) - before[0], taken(b) - before[1]
            assert skipped(a) + skipped(b) == states and took_a + took_b == states
            assert took_a == ROUNDS * owned(a, nodes) == ROUNDS * 4 and took_b == ROUNDS * owned(b, nodes)

            stack.close()  # b stops and says so: a takes every site
            wait_until(lambda: members(a) == {first.mqtt.client_id}, 5)
            skipped_before, taken_before = skipped(a), taken(a)
            send_states(pub, nodes)
            wait_until(lambda: taken(a) - taken_before >= states, 10)
            assert skipped(a) == skipped_before
            # a's pages see every site's window, those b used to take included
            now = a.app.state.services.clock()
            for node in nodes:
                assert {(z.zone, z.count) for z in a.live.zones(node.site, now)} >= {("w1", 1)}
    finally:
        pub.close()
