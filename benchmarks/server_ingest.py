"""Sustained MQTT ingest into PostgreSQL, against what one raw paho-mqtt subscriber receives, in one run.

Starts a private mosquitto, a temporary PostgreSQL database and the real server (a subprocess),
publishes camera states (QoS 0) and events (QoS 1) of 100 cameras per publisher process, and reads
the servers' own counters from /metrics. Two phases:

1. **ceiling, against raw paho**: ``--slices`` turns, each first one plain paho-mqtt subscriber
   process (the same topic filters and QoS, every payload JSON-decoded, nothing else), then the
   server, flooded at ``--flood`` messages a second for ``--probe-seconds``; the steady rate each
   takes. Taking turns in short slices puts both under the same load of a shared machine; the
   ratio is of the medians;
2. **sustained**: ``--rate`` messages a second (default: ``--share`` of the raw rate) for
   ``--seconds``. "Sustained" means the server handled all of it into PostgreSQL, nothing dropped,
   its queue flat (never more than 2 s of messages) and drained within a second of the last publish.

``--replicas N`` measures phase 1 with one server process, then with one more at a time up to N
`hallwatch server run` processes on the same broker and database (the same shared group, so they
split camera states and positions; events reach each and count once here), and runs phase 2 on
all N: ingest across processes.

    .venv/bin/python benchmarks/server_ingest.py --seconds 60                # both phases
    .venv/bin/python benchmarks/server_ingest.py --rate 5000 --seconds 30 --no-raw
    .venv/bin/python benchmarks/server_ingest.py --replicas 2 --share 1.0
    .venv/bin/python benchmarks/server_ingest.py --replicas 2 --relay redis://127.0.0.1:6379/0

Needs mosquitto on PATH and PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _server import ServerStack

METRICS_TOKEN = "bench-" + "m" * 40
CAMERAS = 100
EVENT_SHARE = 0.1  # one message in ten is an event (QoS 1), the rest camera states (QoS 0)


def layout(site: str, node: str, seq: int) -> bytes:
    zones = [
        {"id": f"w{i}", "kind": "window", "polygon": [[i, 0], [i + 1, 0], [i + 1, 1]], "limit": 2}
        for i in range(4)
    ]
    zones.append({"id": "hall", "kind": "hall", "polygon": [[0, 0], [50, 0], [50, 50]], "limit": 500})
    return json.dumps(
        {"kind": "layout", "site": site, "node": node, "seq": seq, "ts": datetime.now(UTC).isoformat(),
         "zones": zones, "cameras": [], "min_distance_m": 1.0}
    ).encode()  # fmt: skip


def publisher(
    port: int, site: str, rate: float, seconds: float, worker: int, counter: Any, ready: Any, go: Any
) -> None:
    """Publish states and events at ``rate`` messages a second (one process of several)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{worker}-{secrets.token_hex(3)}")
    client.max_inflight_messages_set(2000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    node = f"edge-{worker}"
    state_tpl = (
        '{"kind":"state","site":"%s","node":"%s","camera":"%s","event_id":"%s","seq":%d,"ts":"%s",'
        '"frame":%d,"people":%d,"zones":{"w0":%d,"w1":%d,"w2":%d,"w3":%d,"hall":%d},"violations":0}'
    )
    event_tpl = (
        '{"kind":"event","site":"%s","node":"%s","camera":"%s","event_id":"%s","seq":%d,"ts":"%s",'
        '"type":"person_entered","zone":"door","people":[%d]}'
    )
    cameras = [f"cam-{worker}-{i}" for i in range(CAMERAS)]
    # Build every payload first: the edge nodes do this work in a real hall, not this box.
    total = int(rate * seconds) + 1
    messages: list[tuple[str, bytes, int]] = []
    for seq in range(11, 11 + total):
        camera = cameras[seq % CAMERAS]
        ts = datetime.now(UTC).isoformat()
        if seq % int(1 / EVENT_SHARE) == 0:
            payload = event_tpl % (site, node, camera, uuid.uuid4(), seq, ts, seq)
            messages.append((f"hallwatch/{site}/cameras/{camera}/events", payload.encode(), 1))
        else:
            n = seq % 3
            payload = state_tpl % (site, node, camera, uuid.uuid4(), seq, ts, seq, n * 5, n, n, 1, 0, n * 5)
            messages.append((f"hallwatch/{site}/cameras/{camera}/state", payload.encode(), 0))
    ready.release()
    go.wait()
    start = time.perf_counter()
    sent = 0
    while sent < total:
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
        due = min(int(elapsed * rate) + 1, total)
        while sent < due:
            topic, payload_bytes, qos = messages[sent]
            client.publish(topic, payload_bytes, qos=qos)
            sent += 1
        time.sleep(0.001)
    with counter.get_lock():
        counter.value += sent
    time.sleep(1.0)  # let QoS 1 handshakes finish
    client.loop_stop()
    client.disconnect()


def raw_subscriber(port: int, site: str, seconds: float, ready: Any, result: Any) -> None:
    """One plain paho-mqtt client: subscribe like the server, JSON-decode each payload, count.

    ``result`` gets the steady rate (messages a second between 2 s in and 1 s before the end of
    the flood) and the total received.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    received = [0]
    marks: list[tuple[float, int]] = []

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        json.loads(msg.payload)
        received[0] += 1

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-raw-{secrets.token_hex(3)}",
        protocol=mqtt.MQTTv5,
    )
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe(f"hallwatch/{site}/cameras/+/state", qos=0)
    client.subscribe(f"hallwatch/{site}/cameras/+/events", qos=1)
    client.loop_start()
    time.sleep(0.5)
    ready.release()
    # the flood starts when the parent says so; sample the count each 0.5 s until it stops
    quiet_since: float | None = None
    last = -1
    deadline = time.perf_counter() + seconds + 120
    while time.perf_counter() < deadline:
        time.sleep(0.5)
        now, count = time.perf_counter(), received[0]
        marks.append((now, count))
        if count == last and count > 0:
            quiet_since = quiet_since or now
            if now - quiet_since > 2.0:
                break
        else:
            quiet_since = None
        last = count
    client.loop_stop()
    client.disconnect()
    busy = [(t, n) for t, n in marks if n > 0]
    first = busy[0][0] if busy else 0.0
    steady = [(t, n) for t, n in busy if first + 2.0 <= t <= first + seconds - 1.0]
    rate = (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0]) if len(steady) >= 2 else 0.0
    result.put((rate, received[0]))


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith(name + "_created"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def start_publishers(
    port: int, site: str, rate: float, seconds: float, publishers: int
) -> tuple[list[multiprocessing.Process], Any]:
    """Start ``publishers`` processes sending ``rate`` messages a second in all for ``seconds``,
    released together once every one is connected; the processes and their shared sent-counter."""
    counter = multiprocessing.Value("q", 0)
    ready, go = multiprocessing.Semaphore(0), multiprocessing.Event()
    procs = [
        multiprocessing.Process(
            target=publisher, args=(port, site, rate / publishers, seconds, i, counter, ready, go)
        )
        for i in range(publishers)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    go.set()
    return procs, counter


def publish(port: int, site: str, rate: float, seconds: float, publishers: int) -> int:
    """Publish ``rate`` messages a second for ``seconds`` from ``publishers`` processes; returns
    how many were sent once they all finished."""
    procs, counter = start_publishers(port, site, rate, seconds, publishers)
    for p in procs:
        p.join()
    return int(counter.value)


def send_layouts(port: int, site: str, publishers: int) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    setup = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-setup-{secrets.token_hex(3)}")
    setup.connect("127.0.0.1", port)
    setup.loop_start()
    for worker in range(publishers):
        setup.publish(
            f"hallwatch/{site}/nodes/edge-{worker}/layout", layout(site, f"edge-{worker}", 1), qos=1
        ).wait_for_publish()
    setup.loop_stop()
    setup.disconnect()


def raw_rate(port: int, rate: float, seconds: float, publishers: int) -> tuple[float, int, int]:
    """Phase 1: the steady rate one raw paho subscriber receives (and decodes) under a flood."""
    site = f"raw-{secrets.token_hex(3)}"
    ready: Any = multiprocessing.Semaphore(0)
    result: Any = multiprocessing.Queue()
    sub = multiprocessing.Process(target=raw_subscriber, args=(port, site, seconds, ready, result))
    sub.start()
    ready.acquire()
    published = publish(port, site, rate, seconds, publishers)
    got, received = result.get(timeout=seconds + 180)
    sub.join(10)
    return float(got), received, published


class Run:
    """The server's counters, sampled while a phase publishes."""

    def __init__(self, ports: list[int]) -> None:
        self.urls = [f"http://127.0.0.1:{port}/metrics" for port in ports]
        self.headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}

    def counters(self) -> tuple[float, float, float]:
        """(handled, dropped, queue depth), summed over the server processes.

        Events are not shared: every server process handles each (and stores it once), so they
        count once here, as the most any one process handled.
        """
        handled = dropped = depth = events = 0.0
        for url in self.urls:
            text = httpx.get(url, headers=self.headers, timeout=5).text
            mine = metric(text, 'hallwatch_ingest_messages_total{kind="event"}')
            events = max(events, mine)
            handled += (
                metric(text, "hallwatch_ingest_messages_total")
                - mine
                + metric(text, "hallwatch_ingest_rejected_total")
                + metric(text, "hallwatch_ingest_duplicates_total")
            )
            dropped += metric(text, "hallwatch_ingest_dropped_total")
            depth += metric(text, "hallwatch_ingest_queue_depth")
        return handled + events, dropped, depth

    def settle(self, timeout_s: float = 120.0) -> None:
        """Wait until the servers' queues are empty and their counters stand still."""
        deadline = time.perf_counter() + timeout_s
        last = -1.0
        while time.perf_counter() < deadline:
            handled, _dropped, depth = self.counters()
            if depth == 0 and handled == last:
                return
            last = handled
            time.sleep(0.5)

    def phase(self, port: int, site: str, rate: float, seconds: float, publishers: int) -> dict[str, Any]:
        base, dropped0, _ = self.counters()
        procs, counter = start_publishers(port, site, rate, seconds, publishers)
        t0 = time.perf_counter()
        samples = []
        while any(p.is_alive() for p in procs):
            time.sleep(1.0)
            count, _dropped, depth = self.counters()
            samples.append((time.perf_counter() - t0, count - base, depth))
        for p in procs:
            p.join()
        published = int(counter.value)
        drain_start = time.perf_counter()
        while True:
            count, dropped, depth = self.counters()
            if count - base + dropped - dropped0 >= published or time.perf_counter() - drain_start > 120:
                break
            time.sleep(0.2)
        drained_after = time.perf_counter() - drain_start
        steady = [s for s in samples if 3 <= s[0] <= seconds - 1]
        if len(steady) >= 2:
            sampled = (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0])
        else:
            sampled = (count - base) / (time.perf_counter() - t0)
        offered = published / seconds
        max_depth = max((s[2] for s in samples), default=0)
        sustained = (
            dropped - dropped0 == 0
            and count - base >= published
            and drained_after < 1.0
            and max_depth < 2 * offered
        )
        return {
            "published": published,
            "offered": offered,
            "handled": count - base,
            "sampled": sampled,
            "dropped": dropped - dropped0,
            "max_depth": max_depth,
            "drained_after": drained_after,
            "sustained": sustained,
        }


def stored(stack: ServerStack, site: str) -> tuple[int, int]:
    with psycopg.connect(stack.database_url) as conn:
        events = conn.execute("SELECT count(*) FROM events WHERE site = %s", (site,)).fetchone()[0]  # type: ignore[index]
        states = conn.execute(
            "SELECT coalesce(sum(samples), 0) FROM occupancy_minute WHERE zone = 'hall' AND site = %s",
            (site,),
        ).fetchone()[0]  # type: ignore[index]
    return int(events), int(states)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rate", type=float, help="messages a second offered in phase 2 (default: --share of raw)"
    )
    parser.add_argument("--share", type=float, default=0.8, help="phase 2's rate as a share of the raw rate")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long phase 2 publishes")
    parser.add_argument("--flood", type=float, default=10000.0, help="messages a second offered in phase 1")
    parser.add_argument(
        "--probe-seconds", type=float, default=8.0, help="how long each slice of phase 1 publishes"
    )
    parser.add_argument("--slices", type=int, default=3, help="turns of raw paho and server in phase 1")
    parser.add_argument("--publishers", type=int, default=2, help="publishing processes")
    parser.add_argument("--replicas", type=int, default=1, help="server processes (shared subscription)")
    parser.add_argument("--no-raw", action="store_true", help="skip phase 1 (needs --rate)")
    parser.add_argument(
        "--relay", metavar="REDIS_URL", help="servers share their live stream through this Redis (issue 16)"
    )
    args = parser.parse_args()
    if args.no_raw and args.rate is None:
        parser.error("--no-raw needs --rate")

    # The servers listen to their own sites only: the raw subscriber's flood is not theirs.
    ceiling_site, site = f"ceil-{secrets.token_hex(3)}", f"bench-{secrets.token_hex(3)}"
    relay = (
        {"HALLWATCH_LIVE__REDIS_URL": args.relay, "HALLWATCH_LIVE__CHANNEL": f"bench-{secrets.token_hex(3)}"}
        if args.relay
        else {}
    )
    stack = ServerStack(
        {
            "HALLWATCH_HTTP__METRICS_TOKEN": METRICS_TOKEN,
            "HALLWATCH_MQTT__SITES": json.dumps([ceiling_site, site]),
        }
        | relay
    )
    port = stack.mqtt_port
    print(f"machine       : {cpu_model()}, {os.cpu_count()} cores; up to {args.replicas} server process(es)")
    try:
        stack.start_server()
        ports = [stack.http_port]
        run = Run(ports)
        time.sleep(1.0)
        raw = 0.0
        raws: list[float] = []
        if not args.no_raw:
            send_layouts(port, ceiling_site, args.publishers)
        # 1 server process, then one more at a time up to --replicas, each against raw paho
        for processes in range(1, args.replicas + 1):
            if processes > 1:
                ports.append(stack.start_replica())
                run = Run(ports)
                time.sleep(2.0)  # its subscriptions settle
            if args.no_raw:
                continue
            servers: list[float] = []
            for _ in range(args.slices):
                got, _received, _published = raw_rate(port, args.flood, args.probe_seconds, args.publishers)
                raws.append(got)
                run.settle()
                ceiling = run.phase(port, ceiling_site, args.flood, args.probe_seconds, args.publishers)
                servers.append(ceiling["sampled"])
                print(
                    f"  slice       : raw paho {got:,.0f}/s, {processes} server process(es) "
                    f"{ceiling['sampled']:,.0f}/s = {ceiling['sampled'] / max(got, 1.0):.2f} "
                    f"({ceiling['dropped']:.0f} dropped past its queue)"
                )
                run.settle()
            mine = statistics.median(raws[-args.slices :])
            server = statistics.median(servers)
            # each slice against the raw slice just before it: what the machine's load then allowed
            ratio = statistics.median(
                srv / max(r, 1.0) for srv, r in zip(servers, raws[-args.slices :], strict=True)
            )
            print(
                f"ceiling       : {processes} server process(es) {server:,.0f} msgs/s handled, raw paho "
                f"{mine:,.0f} msgs/s received and decoded (medians of {args.slices}, flood "
                f"{args.flood:,.0f}/s); median ratio of the slice pairs {ratio:.2f}"
            )
        if raws:
            raw = statistics.median(raws)
        rate = args.rate if args.rate is not None else args.share * raw
        send_layouts(port, site, args.publishers)
        time.sleep(1.0)
        r = run.phase(port, site, rate, args.seconds, args.publishers)
        time.sleep(2.0)  # the last occupancy aggregates are written every second
        events, states = stored(stack, site)
        cameras = CAMERAS * args.publishers
        print(
            f"offered       : {r['published']} messages in {args.seconds:.0f} s ({r['offered']:,.0f}/s"
            + (f" = {r['offered'] / raw:.2f} of raw paho" if raw else "")
            + f"), {cameras} cams, {args.replicas} server process(es)"
        )
        print(
            f"handled       : {r['handled']:.0f} ({r['sampled']:,.0f}/s sampled), {r['dropped']:.0f} dropped"
        )
        print(
            f"queue depth   : max {r['max_depth']:.0f}; "
            f"drained {r['drained_after']:.1f} s after the last publish"
        )
        print(f"stored        : {events} events, {states} camera states in the minute aggregates")
        print(f"sustained     : {'yes' if r['sustained'] else 'NO'} at {r['offered']:,.0f} msgs/s")
    finally:
        stack.close()


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    main()
