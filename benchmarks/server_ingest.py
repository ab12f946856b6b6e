"""Sustained MQTT ingest into PostgreSQL: how many messages a second `hallwatch server run` keeps up with.

Starts a private mosquitto, a temporary PostgreSQL database and the real server (a subprocess),
then publishes camera states (QoS 0) and events (QoS 1) from 100 cameras at a fixed rate from
separate processes, and reads the server's own counters from /metrics. "Sustained" means the
server handled what was offered for the whole run, with its queue not growing and nothing dropped.

    .venv/bin/python benchmarks/server_ingest.py --rate 6000 --seconds 30
    .venv/bin/python benchmarks/server_ingest.py --rate 12000 --seconds 20   # look for the ceiling

Needs mosquitto on PATH and PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
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


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith(name + "_created"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rate", type=float, default=6000.0, help="messages a second offered (all publishers)"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to publish")
    parser.add_argument("--publishers", type=int, default=2, help="publishing processes")
    args = parser.parse_args()

    stack = ServerStack({"HALLWATCH_HTTP__METRICS_TOKEN": METRICS_TOKEN})
    mqtt_port, site = stack.mqtt_port, f"bench-{secrets.token_hex(3)}"
    url = f"http://127.0.0.1:{stack.http_port}/metrics"
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    try:
        stack.start_server()
        time.sleep(1.0)
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        setup = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-setup")
        setup.connect("127.0.0.1", mqtt_port)
        setup.loop_start()
        for worker in range(args.publishers):
            setup.publish(
                f"hallwatch/{site}/nodes/edge-{worker}/layout", layout(site, f"edge-{worker}", 1), qos=1
            ).wait_for_publish()
        setup.loop_stop()
        setup.disconnect()
        time.sleep(1.0)

        def handled() -> tuple[float, float, float, float]:
            text = httpx.get(url, headers=headers, timeout=5).text
            return (
                metric(text, "hallwatch_ingest_messages_total")
                + metric(text, "hallwatch_ingest_rejected_total")
                + metric(text, "hallwatch_ingest_duplicates_total"),
                metric(text, "hallwatch_ingest_dropped_total"),
                metric(text, "hallwatch_ingest_queue_depth"),
                metric(text, "hallwatch_store_batch_seconds_count"),
            )

        base, _, _, batches0 = handled()
        counter = multiprocessing.Value("q", 0)
        ready, go = multiprocessing.Semaphore(0), multiprocessing.Event()
        rate_each = args.rate / args.publishers
        procs = [
            multiprocessing.Process(
                target=publisher, args=(mqtt_port, site, rate_each, args.seconds, i, counter, ready, go)
            )
            for i in range(args.publishers)
        ]
        for p in procs:
            p.start()
        for _ in procs:
            ready.acquire()
        go.set()
        t0 = time.perf_counter()
        samples = []
        while any(p.is_alive() for p in procs):
            time.sleep(1.0)
            count, dropped, depth, _ = handled()
            samples.append((time.perf_counter() - t0, count - base, depth))
        for p in procs:
            p.join()
        published = counter.value
        # wait for the server to drain
        drain_start = time.perf_counter()
        while True:
            count, dropped, depth, batches = handled()
            if count - base >= published or time.perf_counter() - drain_start > 60:
                break
            time.sleep(0.2)
        drained_after = time.perf_counter() - drain_start
        total_s = time.perf_counter() - t0
        time.sleep(2.0)  # the last occupancy aggregates are written every second
        with psycopg.connect(stack.database_url) as conn:
            events = conn.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
            states = conn.execute(
                "SELECT coalesce(sum(samples), 0) FROM occupancy_minute WHERE zone = 'hall'"
            ).fetchone()[0]  # type: ignore[index]
        steady = [s for s in samples if 3 <= s[0] <= args.seconds - 1]
        if len(steady) >= 2:
            rate = (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0])
        else:
            rate = (count - base) / total_s
        max_depth = max((s[2] for s in samples), default=0)
        offered = published / args.seconds
        # sustained: nothing dropped, the queue never held more than 2 s of messages, and the backlog
        # was gone within a second of the last publish (so the server kept pace the whole run)
        sustained = (
            dropped == 0 and count - base >= published and drained_after < 1.0 and max_depth < 2 * offered
        )
        overall = (count - base) / (args.seconds + drained_after)
        cameras = CAMERAS * args.publishers
        print(
            f"offered       : {published} messages in {args.seconds:.0f} s ({offered:,.0f}/s), {cameras} cams"
        )
        print(
            f"handled       : {count - base:.0f} ({overall:,.0f}/s overall, {rate:,.0f}/s sampled), "
            f"{dropped:.0f} dropped"
        )
        print(f"queue depth   : max {max_depth:.0f}; drained {drained_after:.1f} s after the last publish")
        print(f"stored        : {events} events, {states} camera states in the minute aggregates")
        print(f"write batches : {batches - batches0:.0f}")
        print(f"sustained     : {'yes' if sustained else 'NO'} at {offered:,.0f} msgs/s (target 5,000)")
    finally:
        stack.close()


if __name__ == "__main__":
    main()
