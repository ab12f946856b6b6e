"""A district under load: many halls on one service, two replicas, one of them killed mid-run.

Starts a private mosquitto, a temporary PostgreSQL database and two `hallwatch server run`
replicas on them (the shared subscription on a connection without a session,
`mqtt.shared_connection`; the live state shared through Redis, `live.redis_url`). Publisher
processes play ``--halls`` halls, each one edge node with ``--cameras`` cameras: every camera sends
its state ``--state-hz`` times a second (QoS 0), every hall an entrance event ``--event-hz`` times
a second (QoS 1). For ``--probe-halls`` halls a guide of that hall only (a user whose role holds on
it) watches the live stream, half of them through each replica; every ``--probe-gap-s`` one of those
halls' windows goes over its limit and back (its camera repeating its state five times a second,
as a camera does), and the time from the first state over the limit to the alert on that guide's
stream is measured. At ``--kill-at`` of the run the second replica is SIGKILLed; its guides
reconnect to the first, as through a load balancer. At the end: the events published against those
stored (nothing lost, nothing twice), the latencies before and after the kill, and how long the
killed replica's guides were without a stream.

With ``--nats`` the broker is the clustered one of deploy/README.md part 4: three NATS nodes
(JetStream, MQTT 3.1.1) behind HAProxy; the replicas split the sites (`mqtt.split: site`, NATS has
no shared subscriptions) and keep persistent sessions, and at ``--kill-broker-at`` of the run the
broker node holding the first replica's connection is SIGKILLed as well (everyone on it
reconnects through HAProxy to the other two).

    .venv/bin/python benchmarks/district_load.py --seconds 120
    .venv/bin/python benchmarks/district_load.py --halls 50 --cameras 8 --seconds 600 --nats

Needs mosquitto (or nats-server and haproxy) on PATH, PostgreSQL on 127.0.0.1:5432 (user postgres,
trust auth) and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import signal
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import websockets

sys.path.insert(0, str(Path(__file__).parent))
from _server import ServerStack
from server_ingest import cpu_model, layout

PASSWORD = "district-bench-1"
NODE = "edge-1"
PROBE_ZONE = "pw"
PROBE_FPS = 5.0  # how often the probe camera repeats its state


def hall_publisher(
    port: int,
    auth: tuple[str, str] | None,
    sites: list[str],
    cameras: int,
    state_hz: float,
    event_hz: float,
    seconds: float,
    sent: Any,
    go: Any,
) -> None:
    """Camera states (QoS 0) and entrance events (QoS 1) of `sites`, round robin, at their rates."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"district-pub-{secrets.token_hex(3)}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)  # while its broker node is away, paho keeps what it publishes
    client.reconnect_delay_set(0.2, 2)
    if auth is not None:
        client.username_pw_set(*auth)
    client.connect("127.0.0.1", port)
    client.loop_start()
    streams = [(site, f"cam-{c}") for site in sites for c in range(cameras)]
    seq = dict.fromkeys(sites, 10)
    states = events = 0
    go.wait()
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        while states < int(elapsed * state_hz * len(streams)):
            site, camera = streams[states % len(streams)]
            seq[site] += 1
            n = states % 2
            payload = {
                "kind": "state", "site": site, "node": NODE, "camera": camera, "event_id": str(uuid.uuid4()),
                "seq": seq[site], "ts": datetime.now(UTC).isoformat(), "frame": states, "people": 3 * n,
                "zones": {"w0": n, "w1": n, "w2": 0, "w3": 1, "hall": 3 * n}, "violations": 0,
            }  # fmt: skip
            # retained, as nodes publish states (on NATS each one is a replicated JetStream write)
            topic = f"hallwatch/{site}/cameras/{camera}/state"
            client.publish(topic, json.dumps(payload), qos=0, retain=True)
            states += 1
        while events < int(elapsed * event_hz * len(sites)):
            site = sites[events % len(sites)]
            seq[site] += 1
            payload = {
                "kind": "event", "site": site, "node": NODE, "camera": "cam-0", "event_id": str(uuid.uuid4()),
                "seq": seq[site], "ts": datetime.now(UTC).isoformat(), "type": "person_entered",
                "zone": "door", "people": [events],
            }  # fmt: skip
            client.publish(f"hallwatch/{site}/cameras/cam-0/events", json.dumps(payload), qos=1)
            events += 1
        time.sleep(0.005)
    time.sleep(2.0)  # the last QoS 1 handshakes
    client.loop_stop()
    client.disconnect()
    with sent.get_lock():
        sent[0] += states
        sent[1] += events


class Guide:
    """One hall's guide on the live stream, through one replica; reconnects to the survivor."""

    def __init__(self, site: str, token: str, port: int) -> None:
        self.site, self.token, self.port = site, token, port
        self.alerts: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
        self.offline_s = 0.0
        self.foreign = 0  # messages of another hall: none may come
        self.live = asyncio.Event()
        self.resolved = True  # whether this hall's last probe saw its alert resolve

    async def run(self, survivor: int) -> None:
        lost: float | None = None
        while True:
            url = f"ws://127.0.0.1:{self.port}/api/v1/live?topics=alerts"
            try:
                async with websockets.connect(
                    url, additional_headers={"Authorization": f"Bearer {self.token}"}, open_timeout=2
                ) as ws:
                    hello = json.loads(await ws.recv())
                    assert hello["type"] == "hello" and hello["sites"] == [self.site], hello
                    for alert in hello["alerts"]:  # opened while this page reconnected
                        if alert["subject"] == PROBE_ZONE:
                            self.alerts.put_nowait((alert["status"], time.perf_counter()))
                    if lost is not None:
                        self.offline_s += time.perf_counter() - lost
                        lost = None
                    self.live.set()
                    async for text in ws:
                        msg = json.loads(text)
                        if msg.get("site") not in (None, self.site):
                            self.foreign += 1
                        elif msg["type"] == "alert" and msg["alert"]["subject"] == PROBE_ZONE:
                            self.alerts.put_nowait((msg["alert"]["status"], time.perf_counter()))
            except (TimeoutError, OSError, websockets.ConnectionClosed):
                pass
            self.live.clear()
            lost = lost if lost is not None else time.perf_counter()
            self.port = survivor
            await asyncio.sleep(0.2)


async def probe(guide: Guide, client: Any, timeout_s: float = 10.0) -> float | None:
    """A window of the guide's hall over its limit: seconds from the camera's first such state
    until the alert reached the guide (None: not within the timeout); then back under until the
    alert resolves. The camera repeats its state at `PROBE_FPS` meanwhile, as a camera does: the
    shared subscription hands each state to either replica."""
    topic = f"hallwatch/{guide.site}/cameras/cam-probe/state"

    def state(count: int) -> str:
        return json.dumps(
            {"kind": "state", "site": guide.site, "node": NODE, "camera": "cam-probe",
             "event_id": str(uuid.uuid4()), "seq": int(time.time() * 1e6),
             "ts": datetime.now(UTC).isoformat(), "frame": 1, "people": count, "zones": {PROBE_ZONE: count},
             "violations": 0}
        )  # fmt: skip

    async def until(status: str, count: int) -> float | None:
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            client.publish(topic, state(count), qos=0, retain=True)
            try:
                while True:
                    got, at = await asyncio.wait_for(guide.alerts.get(), 1 / PROBE_FPS)
                    if got == status:
                        return at
            except TimeoutError:
                continue
        return None

    while not guide.alerts.empty():
        guide.alerts.get_nowait()
    sent = time.perf_counter()
    opened = await until("open", 3)
    guide.resolved = opened is not None and await until("resolved", 0) is not None
    return None if opened is None else opened - sent


def quantiles(values: list[float]) -> str:
    if len(values) < 2:
        return f"{len(values)} probes"
    ms = sorted(v * 1000 for v in values)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return (
        f"p50 {q[49]:.0f} ms, p90 {q[89]:.0f} ms, p99 {q[98]:.0f} ms, max {ms[-1]:.0f} ms ({len(ms)} probes)"
    )


async def measure(
    args: argparse.Namespace, stack: ServerStack, ports: list[int], guides: list[Guide], killed: Any
) -> tuple[dict[str, list[float]], int, float]:
    """Probe the guides' halls in turn for the run; kill the second replica on the way."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"district-probe-{secrets.token_hex(3)}")
    client.reconnect_delay_set(0.2, 2)
    if stack.mqtt_auth is not None:
        client.username_pw_set(*stack.mqtt_auth)
    client.connect("127.0.0.1", stack.mqtt_port)
    client.loop_start()
    tasks = [asyncio.create_task(g.run(survivor=ports[0])) for g in guides]
    await asyncio.wait_for(asyncio.gather(*(g.live.wait() for g in guides)), 30)
    phases: dict[str, list[float]] = {}  # latencies by what has been killed so far
    replica_down = broker_down = False
    missed = 0
    start = time.perf_counter()
    kill_at = start + args.kill_at * args.seconds
    kill_broker_at = start + args.kill_broker_at * args.seconds if stack.cluster else float("inf")
    turn = 0
    while time.perf_counter() - start < args.seconds:
        if time.perf_counter() >= kill_broker_at and stack.cluster is not None:
            first = stack.env.get("HALLWATCH_MQTT__CLIENT_ID", "")
            node = next((n for n in stack.cluster.nodes if first in n.mqtt_clients()), stack.cluster.nodes[0])
            clients = len(node.mqtt_clients())
            stack.cluster.kill(node)
            broker_down = True
            print(
                f"killed        : broker node {node.name} (SIGKILL, {clients} MQTT clients on it, the first "
                f"replica's among them) at {time.perf_counter() - start:.0f} s"
            )
            kill_broker_at = float("inf")
        if killed is not None and time.perf_counter() >= kill_at:
            killed.send_signal(signal.SIGKILL)
            killed.wait()
            print(
                f"killed        : replica on port {ports[1]} (SIGKILL) at {time.perf_counter() - start:.0f} s"
            )
            killed, kill_at = None, float("inf")
            replica_down = True
        guide = guides[turn % len(guides)]
        turn += 1
        resolved_before = guide.resolved
        latency = await probe(guide, client)
        if latency is None:
            missed += 1
            at = time.perf_counter() - start
            print(
                f"probe missed  : {guide.site} at {at:.0f} s (no alert within 10 s; "
                f"its previous probe {'saw' if resolved_before else 'did not see'} the alert resolve)"
            )
        else:
            phase = ("one replica" if replica_down else "two replicas") + (
                ", a broker node down" if broker_down else ""
            )
            phases.setdefault(phase, []).append(latency)
        await asyncio.sleep(args.probe_gap_s)
    for task in tasks:
        task.cancel()
    client.loop_stop()
    client.disconnect()
    foreign = sum(g.foreign for g in guides)
    assert foreign == 0, f"{foreign} live messages of other halls reached a guide"
    return phases, missed, max(g.offline_s for g in guides)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--halls", type=int, default=50)
    parser.add_argument("--cameras", type=int, default=8, help="cameras per hall")
    parser.add_argument("--state-hz", type=float, default=1.0, help="states a second per camera")
    parser.add_argument("--event-hz", type=float, default=0.2, help="entrance events a second per hall")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--probe-halls", type=int, default=10, help="halls whose guide watches")
    parser.add_argument("--probe-gap-s", type=float, default=0.5, help="pause between probes")
    parser.add_argument("--kill-at", type=float, default=0.4, help="share of the run when a replica dies")
    parser.add_argument("--publishers", type=int, default=2, help="publishing processes")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--nats", action="store_true", help="a three-node NATS cluster behind HAProxy")
    parser.add_argument(
        "--kill-broker-at",
        type=float,
        default=0.7,
        help="with --nats: share of the run when a broker node dies",
    )
    args = parser.parse_args()

    sites = [f"hall-{i:02d}-{secrets.token_hex(2)}" for i in range(args.halls)]
    split = (
        {
            "HALLWATCH_MQTT__PROTOCOL": "3.1.1",
            "HALLWATCH_MQTT__SPLIT": "site",
            # A replica whose broker node dies finds what was queued for it on another node.
            "HALLWATCH_MQTT__SESSION_EXPIRY_S": "600",
            "HALLWATCH_MQTT__CLIENT_ID": f"hallwatch-bench-{secrets.token_hex(3)}",
        }
        if args.nats
        else {"HALLWATCH_MQTT__SHARED_CONNECTION": "true"}
    )
    stack = ServerStack(
        {
            "HALLWATCH_LIVE__REDIS_URL": args.redis,
            "HALLWATCH_LIVE__CHANNEL": f"district-{secrets.token_hex(3)}",
            **split,
            # The window rule without delays: the latency measured is the service's own.
            "HALLWATCH_ALERTS__WINDOW__TRIGGER_S": "0",
            "HALLWATCH_ALERTS__WINDOW__CLEAR_S": "0",
            "HALLWATCH_ALERTS__COOLDOWN_S": "0",
        },
        nats=args.nats,
    )
    offered = args.halls * (args.cameras * args.state_hz + args.event_hz)
    print(f"machine       : {cpu_model()}, {os.cpu_count()} cores")
    print(
        f"district      : {args.halls} halls x {args.cameras} cameras, {offered:,.0f} messages/s "
        f"({args.state_hz:g} states/s a camera, {args.event_hz:g} events/s a hall), {args.seconds:.0f} s"
    )
    print(
        "broker        : "
        + (
            "3 NATS nodes behind HAProxy, replicas split by site"
            if args.nats
            else "mosquitto, shared subscription"
        )
    )
    publishers: list[multiprocessing.Process] = []
    try:
        stack.hallwatch(
            "server",
            "create-user",
            "district-ops",
            "--role",
            "ops",
            "--password-stdin",
            stdin=f"{PASSWORD}\n",
        )
        stack.start_server()
        ports = [stack.http_port, stack.start_replica()]
        api = f"http://127.0.0.1:{ports[0]}/api/v1"
        ops = {"Authorization": "Bearer " + login(api, "district-ops")}
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        setup = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"district-setup-{secrets.token_hex(3)}")
        if stack.mqtt_auth is not None:
            setup.username_pw_set(*stack.mqtt_auth)
        setup.connect("127.0.0.1", stack.mqtt_port)
        setup.loop_start()
        for site in sites:
            hall = json.loads(layout(site, NODE, 1))
            hall["zones"].append(
                {"id": PROBE_ZONE, "kind": "window", "polygon": [[0, 0], [1, 0], [1, 1]], "limit": 2}
            )
            # retained, as nodes publish it: a replica that subscribes later still gets it
            topic = f"hallwatch/{site}/nodes/{NODE}/layout"
            setup.publish(topic, json.dumps(hall), qos=1, retain=True).wait_for_publish()
        setup.loop_stop()
        setup.disconnect()
        guides = []
        for k, site in enumerate(sites[: args.probe_halls]):
            name = f"guide-{k}"
            body = {"username": name, "password": PASSWORD, "role": "guide", "sites": [site]}
            httpx.post(f"{api}/users", json=body, headers=ops, timeout=10).raise_for_status()
            guides.append(Guide(site, login(api, name), ports[k % 2]))
        time.sleep(2.0)  # the layouts stored, the subscriptions settled

        sent: Any = multiprocessing.Array("q", 2)
        go = multiprocessing.Event()
        share = [sites[i :: args.publishers] for i in range(args.publishers)]
        publishers = [
            multiprocessing.Process(
                target=hall_publisher,
                args=(
                    stack.mqtt_port,
                    stack.mqtt_auth,
                    mine,
                    args.cameras,
                    args.state_hz,
                    args.event_hz,
                    args.seconds,
                    sent,
                    go,
                ),
            )
            for mine in share
        ]
        for p in publishers:
            p.start()
        go.set()
        phases, missed, offline = asyncio.run(measure(args, stack, ports, guides, stack.replicas[0][0]))
        for p in publishers:
            p.join(60)
        stored = wait_stored(stack, sites, int(sent[1]))
        print(f"published     : {sent[0]:,} states, {sent[1]:,} events (QoS 1)")
        print(f"events stored : {stored:,} (each once: the event id is the key); lost {sent[1] - stored:,}")
        every = [latency for values in phases.values() for latency in values]
        print(f"alerts, all   : {quantiles(every)} (first over-limit state -> guide's page)")
        for name, values in phases.items():
            if values:
                print(f"  {name:<31}: {quantiles(values)}")
        print(
            f"probes missed : {missed} (no alert within 10 s); "
            f"guides without a stream at most {offline:.1f} s"
        )
    finally:
        for p in publishers:
            if p.is_alive():
                p.kill()
        stack.close()


def login(api: str, name: str) -> str:
    response = httpx.post(f"{api}/auth/login", json={"username": name, "password": PASSWORD}, timeout=10)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def wait_stored(stack: ServerStack, sites: list[str], events: int, timeout_s: float = 30.0) -> int:
    """Events of the district stored (the event id is the key: none twice), once they stop coming."""
    deadline, last = time.monotonic() + timeout_s, -1
    while time.monotonic() < deadline:
        with psycopg.connect(stack.database_url) as conn:
            row = conn.execute("SELECT count(*) FROM events WHERE site = ANY(%s)", (sites,)).fetchone()
        now = int(row[0]) if row else 0
        if now == last or now >= events:
            return now
        last = now
        time.sleep(2.0)
    return last


if __name__ == "__main__":
    main()
