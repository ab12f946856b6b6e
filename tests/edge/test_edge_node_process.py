"""The node as a real process (`hallwatch edge run`), killed and restarted, with its broker too.

The node runs the scripted processor (tests/edge/scripted_processor.py): one `person_entered` event
per frame, numbered from 0 in `people[0]`, so a receiver can tell a lost event from a repeated one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_support import Capture, NodeProcess, camera_entry, make_video, node_config, write_yaml
from support.processes import Mosquitto, wait_until


def first_arrivals(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The receiver's de-duplication: keep the first copy of each event_id."""
    seen: set[str] = set()
    out = []
    for e in events:
        if e["event_id"] not in seen:
            seen.add(e["event_id"])
            out.append(e)
    return out


def start_config(tmp_path: Path, site: str, node_id: str, port: int) -> Path:
    video = make_video(tmp_path / "v.avi", frames=30, fps=30.0)
    cfg = node_config(
        tmp_path,
        site=site,
        node=node_id,
        port=port,
        cameras=[camera_entry("cam-1", str(video), fps=30.0, loop=True)],
    )
    return write_yaml(tmp_path / "node.yaml", cfg)


def test_broker_killed_mid_stream_every_event_arrives_once_and_in_order(
    tmp_path: Path,
    make_broker: Callable[..., Mosquitto],
    site: str,
    node_id: str,
    capture: Callable[..., Capture],
) -> None:
    broker = make_broker(persistence=True)
    cap = capture(
        broker.port, f"hallwatch/{site}/cameras/+/events", client_id=f"server-{site}", persistent=True
    )
    broker.save()  # the receiver's session and subscription survive the broker's death
    node = NodeProcess(start_config(tmp_path, site, node_id, broker.port), tmp_path / "node.log")
    try:
        cap.wait_for(lambda ms: len(ms) >= 30, 15.0, explain=node.log)
        broker.kill()
        before = len(cap.snapshot())
        time.sleep(2.0)  # about 60 events wait in the node's outbox meanwhile
        broker.start()
        cap.wait_for(lambda ms: len(ms) >= before + 90, 15.0, explain=node.log)
        assert node.terminate() == 0, node.log()
    finally:
        node.kill()
    log = node.log()
    assert "lost the broker" in log and "reconnected to the broker" in log
    with sqlite3.connect(tmp_path / f"{node_id}-outbox.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0, "a clean stop sends everything"
    events = first_arrivals(cap.events())
    counters = [e["people"][0] for e in events]
    assert counters == list(range(len(counters))), "every event, exactly once, in order"
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len(events) >= before + 90


def test_node_killed_its_will_fires_and_its_outbox_is_sent_after_restart(
    tmp_path: Path,
    make_broker: Callable[..., Mosquitto],
    site: str,
    node_id: str,
    capture: Callable[..., Capture],
) -> None:
    broker = make_broker()
    config = start_config(tmp_path, site, node_id, broker.port)
    cap = capture(broker.port, f"hallwatch/{site}/#")

    def statuses() -> list[str]:
        return [m.json()["status"] for m in cap.on(f"/nodes/{node_id}/status")]

    def run_events(zone: str) -> list[dict[str, Any]]:
        return [e for e in cap.events() if e["zone"] == zone]

    # 1) SIGKILL while connected: the broker publishes the last will, retained.
    node = NodeProcess(config, tmp_path / "node-1.log")
    cap.wait_for(lambda ms: len(cap.events()) >= 10, 15.0, explain=node.log)
    node.kill()
    wait_until(lambda: statuses()[-1:] == ["offline"], 5.0, explain=statuses)
    late = capture(broker.port, f"hallwatch/{site}/nodes/{node_id}/status")
    assert late.wait_for(
        lambda ms: [m.retain for m in ms] == [True] and ms[0].json()["status"] == "offline", 5.0
    )

    # 2) the broker hangs (its process frozen, the connection open): events wait for PUBACKs that
    #    never come; the node is killed, then the frozen broker too.
    node = NodeProcess(config, tmp_path / "node-2.log", zone="run-2")
    wait_until(lambda: statuses()[-1:] == ["online"], 15.0, explain=node.log)
    assert wait_until(lambda: len(run_events("run-2")) >= 10, 10.0)
    broker.freeze()
    time.sleep(1.5)
    node.kill()
    broker.kill()
    with sqlite3.connect(tmp_path / f"{node_id}-outbox.sqlite") as db:
        rows = db.execute("SELECT seq, payload FROM events ORDER BY seq").fetchall()
    assert len(rows) >= 30, "what was not acknowledged waits in the outbox, in flight or not"
    waiting = [json.loads(payload)["event_id"] for _, payload in rows]
    subscribed = cap.subscriptions
    broker.start()
    wait_until(lambda: cap.subscriptions > subscribed, 10.0, explain="the receiver is back")

    # 3) restarted, the node sends them first, in seq order; its new events come after them.
    mark = cap.mark()
    node = NodeProcess(config, tmp_path / "node-3.log", zone="run-3")

    def run3_events() -> list[dict[str, Any]]:
        return [m.json() for m in cap.since(mark) if m.topic.endswith("/events")]

    try:
        wait_until(lambda: set(waiting) <= {e["event_id"] for e in run3_events()}, 15.0, explain=node.log)
        assert wait_until(lambda: len(run3_events()) >= len(waiting) + 10, 10.0)
        assert node.terminate() == 0, node.log()
    finally:
        node.kill()
    events = first_arrivals(run3_events())
    assert [e["event_id"] for e in events[: len(waiting)]] == waiting
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert min(e["seq"] for e in events[len(waiting) :]) > rows[-1][0], "seq goes on above the old run's"
    assert statuses()[0] == "online" and statuses()[-1] == "stopped"
    run2 = [e["people"][0] for e in first_arrivals(run_events("run-2"))]
    assert sorted(run2) == list(range(len(run2))), "no event of the killed run is missing"
    assert "events from an earlier run" in node.log()
