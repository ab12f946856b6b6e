"""Latency from an MQTT publish to the alert on the live stream, under a steady background load.

Starts a private mosquitto, a temporary PostgreSQL database and the real server (a subprocess,
window rule with no trigger delay so that the latency measured is the server's own), publishes
1,000 camera states a second in the background from another process, and from this process
publishes a probe window going over its limit, then back under, over and over. Each time it
measures how long the "open" alert takes to reach a WebSocket client of /api/v1/live.

    .venv/bin/python benchmarks/alert_latency.py --probes 300 --rate 1000

Needs mosquitto on PATH and PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth).
"""

from __future__ import annotations

import argparse
import asyncio
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
import websockets

sys.path.insert(0, str(Path(__file__).parent))
from _server import ServerStack
from server_ingest import layout

HALLWATCH = str(Path(sys.executable).parent / "hallwatch")


def state(site: str, node: str, camera: str, zones: dict[str, int]) -> bytes:
    return json.dumps(
        {"kind": "state", "site": site, "node": node, "camera": camera, "event_id": str(uuid.uuid4()),
         "seq": int(time.time() * 1e6), "ts": datetime.now(UTC).isoformat(), "frame": 1,
         "people": sum(zones.values()), "zones": zones, "violations": 0}
    ).encode()  # fmt: skip


def background(port: int, site: str, rate: float, seconds: float, go: Any) -> None:
    """Camera states of 100 cameras, never over a limit, at ``rate`` a second."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-load-{secrets.token_hex(3)}")
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    total = int(rate * seconds)
    payloads = [
        (
            f"hallwatch/{site}/cameras/cam-{i % 100}/state",
            state(site, "edge-0", f"cam-{i % 100}", {"w0": i % 2, "hall": i % 7}),
        )
        for i in range(total)
    ]
    go.wait()
    start, sent = time.perf_counter(), 0
    while sent < total:
        due = min(int((time.perf_counter() - start) * rate) + 1, total)
        while sent < due:
            client.publish(*payloads[sent], qos=0)
            sent += 1
        time.sleep(0.001)
    client.loop_stop()
    client.disconnect()


async def probe(
    args: argparse.Namespace, http_port: int, mqtt_port: int, site: str, token: str
) -> list[float]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-probe-{secrets.token_hex(3)}")
    client.connect("127.0.0.1", mqtt_port)
    client.loop_start()
    topic = f"hallwatch/{site}/cameras/probe-cam/state"
    latencies: list[float] = []
    url = f"ws://127.0.0.1:{http_port}/api/v1/live?topics=alerts&site={site}"
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello", hello

        async def wait_for(status: str) -> float:
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if (
                    msg["type"] == "alert"
                    and msg["alert"]["subject"] == "pw"
                    and msg["alert"]["status"] == status
                ):
                    return time.perf_counter()

        for _ in range(args.probes):
            sent = time.perf_counter()
            client.publish(topic, state(site, "edge-probe", "probe-cam", {"pw": 3}), qos=0)
            latencies.append((await wait_for("open")) - sent)
            client.publish(topic, state(site, "edge-probe", "probe-cam", {"pw": 0}), qos=0)
            await wait_for("resolved")
            await asyncio.sleep(args.gap_s)
    client.loop_stop()
    client.disconnect()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--probes", type=int, default=300, help="alerts to measure")
    parser.add_argument("--rate", type=float, default=1000.0, help="background messages a second")
    parser.add_argument("--gap-s", type=float, default=0.05, help="pause between probes")
    args = parser.parse_args()

    stack = ServerStack(
        {
            "HALLWATCH_ALERTS__WINDOW__TRIGGER_S": "0",
            "HALLWATCH_ALERTS__WINDOW__CLEAR_S": "0",
            "HALLWATCH_ALERTS__COOLDOWN_S": "0",
            **{
                k.removeprefix("BENCH_"): v for k, v in os.environ.items() if k.startswith("BENCH_HALLWATCH_")
            },
        }
    )
    mqtt_port, http_port, site = stack.mqtt_port, stack.http_port, f"lat-{secrets.token_hex(3)}"
    load: multiprocessing.Process | None = None
    try:
        stack.hallwatch(
            "server", "create-user", "bench", "--role", "guide", "--password-stdin", stdin="bench-password\n"
        )
        stack.start_server()
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        setup = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-setup")
        setup.connect("127.0.0.1", mqtt_port)
        setup.loop_start()
        zones = [{"id": "pw", "kind": "window", "polygon": [[0, 0], [1, 0], [1, 1]], "limit": 2}]
        probe_layout = json.loads(layout(site, "edge-probe", 1))
        probe_layout["zones"] = zones
        setup.publish(
            f"hallwatch/{site}/nodes/edge-probe/layout", json.dumps(probe_layout), qos=1
        ).wait_for_publish()
        setup.publish(
            f"hallwatch/{site}/nodes/edge-0/layout", layout(site, "edge-0", 1), qos=1
        ).wait_for_publish()
        setup.loop_stop()
        setup.disconnect()
        token = httpx.post(
            f"http://127.0.0.1:{http_port}/api/v1/auth/login",
            json={"username": "bench", "password": "bench-password"},
        ).json()["access_token"]
        time.sleep(1.0)
        seconds = args.probes * (args.gap_s + 0.05) + 30
        go = multiprocessing.Event()
        load = multiprocessing.Process(target=background, args=(mqtt_port, site, args.rate, seconds, go))
        load.start()
        time.sleep(min(10.0, seconds / 10))  # the load builds its payloads first
        go.set()
        time.sleep(2.0)
        latencies = asyncio.run(probe(args, http_port, mqtt_port, site, token))
        ms = sorted(x * 1000 for x in latencies)
        q = statistics.quantiles(ms, n=100)
        print(
            f"background    : {args.rate:,.0f} camera states/s, 100 cameras, PostgreSQL, MQTT 5 (mosquitto)"
        )
        print(f"probes        : {len(ms)} alerts (publish -> 'open' alert on the WebSocket)")
        print(f"latency (ms)  : p50 {q[49]:.1f}  p90 {q[89]:.1f}  p99 {q[98]:.1f}  max {ms[-1]:.1f}")
        print(f"p99 < 250 ms  : {'yes' if q[98] < 250 else 'NO'}")
    finally:
        if load is not None:
            load.terminate()
        stack.close()


if __name__ == "__main__":
    main()
