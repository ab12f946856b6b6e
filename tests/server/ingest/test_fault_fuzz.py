"""Fault and fuzz suite (issue 11): a real mosquitto of its own, PostgreSQL, the server's ingest.

10,000 mutated payloads and the stall cases go in among valid events; the broker is SIGKILLed and
restarted mid-stream. At the end every valid event is stored (stored / expected = 1.0), nothing
stored is something the contract refuses, and /healthz says ok. The figures go to
``test-artifacts/reliability.json`` (quoted in the README's "Reliability" section).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from server_support import make_settings, running
from support.contract import Node, topic_of
from support.mqtt import Publisher
from support.processes import REPO, Mosquitto, unique, wait_until

from hallwatch.contract import CameraEvent, camera_topic, parse_payload
from server.store.history import EventFilter

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow, pytest.mark.services]
MUTATED = 10_000
VALID = 600
HOSTILE: list[Any] = [
    None,
    -1,
    2**53 + 1,
    2**64,
    10**40,
    1e308,
    True,
    "",
    "\x00",
    "\x1b[2J",
    "\u202e",
    "x" * 400,
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    [],
    {},
    [[1, 2]],
    {"a": {"b": [1]}},
]


def mutate(rng: random.Random, payload: dict[str, Any]) -> bytes:
    """One to three random edits of a valid payload (replace a value, drop or add a key)."""
    data = json.loads(json.dumps(payload))
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(sorted(data))
        action = rng.random()
        if action < 0.7:
            data[key] = rng.choice(HOSTILE)
        elif action < 0.85:
            data.pop(key)
        else:
            data[rng.choice(["extra", "x\x00", "kind2"])] = rng.choice(HOSTILE)
        if not data:
            break
    raw = json.dumps(data)
    if rng.random() < 0.1:
        raw = raw.replace("1", rng.choice(["NaN", "Infinity", "1e999"]), 1)
    return raw.encode()


def test_hostile_traffic_and_a_broker_crash_cost_no_valid_event(tmp_path: Path, pg_url: str) -> None:
    site = unique("fuzz")
    rng = random.Random(11)
    broker = Mosquitto(tmp_path / "broker", persistence=True, autosave_s=1).start()
    settings = make_settings(
        pg_url,
        site,
        mqtt={"url": f"mqtt://127.0.0.1:{broker.port}", "session_expiry_s": 600},
        ingest={"clock_window_s": 3600.0},
    )
    node = Node(site, "edge-1", "cam-1")
    templates = [
        json.loads(m.to_json()) for m in (node.event("camera_lost", reason="x"), node.state({"hall": 2}))
    ]
    stall = json.loads(node.event("camera_lost", reason="x").to_json())
    started = time.monotonic()
    figures: dict[str, Any] = {"mutated_payloads": MUTATED, "valid_events": VALID}
    with running(settings) as (server, client):
        assert server.ingest is not None
        pub = Publisher(port=broker.port)
        try:
            pub.send(node.layout())
            pub.send(node.health(), qos=1)
            events = topic_of(node.event("camera_lost", reason="x"))
            # The stall cases first: before issue 11 nothing after them was ever stored.
            for ts in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
                pub.raw(events, json.dumps(stall | {"ts": ts}).encode(), qos=1)
            valid: list[CameraEvent] = []
            fuzz_started = time.monotonic()
            for i in range(MUTATED):
                template = rng.choice(templates)
                topic = events if template["kind"] == "event" else camera_topic(site, "cam-1", "state")
                pub.client.publish(topic, mutate(rng, template), qos=rng.choice([0, 1]))
                if i % (MUTATED // (VALID // 2)) == 0:
                    msg = node.event("person_entered", zone="door", people=[len(valid)])
                    valid.append(msg)
                    pub.client.publish(topic_of(msg), msg.to_json(), qos=1)
                if i % 250 == 0:
                    time.sleep(0.05)  # within what the broker queues for a server that acks after storing
            wait_until(lambda: server.ingest is not None and server.ingest.queue_depth == 0, 60)
            figures["fuzz_seconds"] = round(time.monotonic() - fuzz_started, 1)
            # The broker crashes mid-stream and comes back from its last save.
            half = VALID // 2
            for i in range(half):
                msg = node.event("person_entered", zone="door", people=[len(valid)])
                valid.append(msg)
                pub.send(msg, qos=1)
                if i == half // 2:
                    broker.save()
                    wait_until(
                        lambda: len(server.store.history.all_events(EventFilter(site=site))) >= len(valid),
                        30,
                    )
                    broker.kill()
                    pub.client.loop_stop()  # the broker is private: nothing of it to clean up
                    crash = time.monotonic()
                    broker.start()
                    pub = Publisher(port=broker.port)
                    wait_until(lambda: server.ingest is not None and server.ingest.mqtt_connected, 30)
                    figures["broker_restart_to_reconnect_s"] = round(time.monotonic() - crash, 1)
            expected = {m.event_id for m in valid}

            def all_stored() -> list[Any] | None:
                rows = server.store.history.all_events(EventFilter(site=site))
                return rows if expected <= {r.id for r in rows} else None

            stored = wait_until(
                all_stored,
                60,
                explain=lambda: f"{len(server.store.history.all_events(EventFilter(site=site)))} stored",
            )
            figures["stored_over_expected"] = len(expected & {r.id for r in stored}) / len(expected)
            health = client.get("/healthz").json()
            assert health["status"] == "ok", health
            assert health["store_ok"] is True and health["dead_letters"] > 0
            figures["dead_letters_kept"] = health["dead_letters"]
            metrics = server.metrics.registry
            figures["rejected_by_reason"] = {
                s.labels["reason"]: int(s.value)
                for m in metrics.collect()
                if m.name == "hallwatch_ingest_rejected"
                for s in m.samples
                if s.name.endswith("_total")
            }
            # Nothing stored is something the contract refuses.
            for row in stored:
                payload = {
                    "event_id": str(row.id),
                    "site": row.site,
                    "node": row.node,
                    "camera": row.camera,
                    "seq": row.seq,
                    "ts": row.ts.isoformat(),
                    "kind": "event",
                    "type": row.type,
                    "zone": row.zone,
                    "count": row.count,
                    "limit": row.limit,
                    "people": row.people or [],
                    "distance_m": row.distance_m,
                    "floor": [row.floor_x, row.floor_y] if row.floor_x is not None else None,
                    "duration_s": row.duration_s,
                    "reason": row.reason,
                }
                parse_payload(camera_topic(site, row.camera, "events"), json.dumps(payload).encode())
            assert {r.node for r in server.store.nodes.nodes(site)} == {"edge-1"}, "no ghost nodes"
        finally:
            pub.close()
            broker.kill()
    figures["total_seconds"] = round(time.monotonic() - started, 1)
    assert figures["stored_over_expected"] == 1.0
    out = REPO / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "reliability.json").write_text(json.dumps(figures, indent=2) + "\n")


def test_a_server_killed_mid_stream_loses_no_event_and_stays_unstuck(tmp_path: Path) -> None:
    """SIGKILL the server while a node publishes, with a poison message among the events: after the
    restart the broker delivers what the server had not acknowledged, and every valid event is stored."""
    from support.hallwatch_processes import ServerProcess

    site = unique("kill")
    broker = Mosquitto(tmp_path / "broker").start()
    server = ServerProcess(
        tmp_path / "server", [site], broker_port=broker.port, env={"HALLWATCH_MQTT__SESSION_EXPIRY_S": "600"}
    ).start()
    node = Node(site, "edge-1", "cam-1")
    pub = Publisher(port=broker.port)
    sent: set[str] = set()
    try:
        pub.send(node.layout())
        poison = json.loads(node.event("camera_lost", reason="x").to_json()) | {
            "ts": "0001-01-01T00:00:00+01:00"
        }
        for i in range(300):
            if i == 100:
                assert server.proc is not None
                server.proc.kill()  # SIGKILL: nothing acknowledged after its last commit
                server.proc.wait(10)
                server.proc = None
                pub.raw(topic_of(node.event("camera_lost", reason="x")), json.dumps(poison).encode(), qos=1)
            if i == 200:
                server.start()
            msg = node.event("person_entered", zone="door", people=[i])
            sent.add(str(msg.event_id))
            pub.send(msg, qos=1)
        wait_until(
            lambda: server.get("events", "ops", site=site, limit=1)["total"] >= len(sent),
            60,
            explain=server.log,
        )
        stored = {e["id"] for e in server.get("events", "ops", site=site, limit=1000)["items"]}
        assert sent <= stored and len(stored) == len(sent)
        letters = server.get("dead-letters", "ops", site=site)
        assert [d["reason"] for d in letters["items"]] == ["invalid"], "the poison was set aside once"
    finally:
        pub.close()
        server.stop()
        broker.kill()
