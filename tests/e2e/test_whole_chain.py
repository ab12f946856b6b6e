"""The whole chain as separate processes — edge node, mosquitto, server — with each of them
stopped or killed mid-run: no event lost, none stored twice, one alert per crowd, none left open.

Timeline (seconds from the start; the node's processor follows the same clock, so a restarted
node carries on): window 1 holds 3 people (limit 2) from 6 s to 16 s.

    3 s   the broker is killed with SIGKILL, 5 s it is back with what it last saved to disk
          (it saves every second here, as deploy/mosquitto/hallwatch.conf has it save every few
          seconds: the server's subscription must survive, or the node's backlog is dropped)
    8 s   the edge node is killed with SIGKILL, 9 s it is started again
    11 s  the server stops, 13 s it is back
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from support.hallwatch_processes import EdgeProcess, ServerProcess, sleep_until
from support.processes import Mosquitto, unique, wait_until

HERE = Path(__file__).parent


def write_node_config(path: Path, site: str, node: str, broker_port: int, video: Path) -> Path:
    config = {
        "site": site,
        "node": {"id": node, "health_interval_s": 2},
        "mqtt": {"host": "127.0.0.1", "port": broker_port, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
        "outbox": {"path": str(path.parent / "outbox.sqlite")},
        "cameras": [
            {
                "id": f"{node}-cam",
                "source": str(video),
                "loop": True,
                "fps": 5,
                "calibration": {
                    "image_points": [[0, 0], [64, 0], [64, 48], [0, 48]],
                    "floor_points": [[0, 0], [10, 0], [10, 8], [0, 8]],
                },
            }
        ],
        "zones": [
            {"id": "hall", "kind": "hall", "capacity": 50, "polygon": [[0, 0], [10, 0], [10, 8], [0, 8]]},
            {
                "id": "window-1",
                "kind": "window",
                "max_people": 2,
                "polygon": [[0, 6], [4, 6], [4, 8], [0, 8]],
            },
            {"id": "door", "kind": "entrance", "line": [[4, 0.5], [6, 0.5]]},
        ],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def write_video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (64, 48))
    for i in range(20):
        writer.write(np.full((48, 64, 3), 10 * i, np.uint8))
    writer.release()
    return path


def received(server: ServerProcess, site: str) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    offset = 0
    while True:
        page = server.get("events", site=site, type="person_entered", limit=1000, offset=offset)
        pairs += [(e["people"][0], e["people"][1]) for e in page["items"]]
        offset += len(page["items"])
        if offset >= page["total"] or not page["items"]:
            return pairs


@pytest.mark.timeout(240)
def test_restarts_of_every_piece_lose_nothing_and_duplicate_no_alert(tmp_path: Path) -> None:
    site, node = unique("e2e"), unique("node")
    broker = Mosquitto(tmp_path / "broker", persistence=True, autosave_s=1).start()
    server = ServerProcess(
        tmp_path / "server",
        broker_port=broker.port,
        env={
            "HALLWATCH_ALERTS__WINDOW__TRIGGER_S": "1",
            "HALLWATCH_ALERTS__WINDOW__CLEAR_S": "2",
            "HALLWATCH_ALERTS__NODE_OFFLINE__SILENCE_S": "30",
        },
    ).start()
    config = write_node_config(
        tmp_path / "node.yaml", site, node, broker.port, write_video(tmp_path / "v.avi")
    )
    epoch = time.time()
    env = {"HALLWATCH_E2E_EPOCH": repr(epoch), "HALLWATCH_E2E_DIR": str(tmp_path)}
    edges: list[EdgeProcess] = []
    try:
        edges.append(
            EdgeProcess(config, "timeline_processor:factory", HERE, {**env, "HALLWATCH_E2E_RUN": "1"})
        )
        sleep_until(epoch, 3)
        broker.kill()
        sleep_until(epoch, 5)
        broker.start()
        sleep_until(epoch, 8)
        edges[0].kill()
        sleep_until(epoch, 9)
        edges.append(
            EdgeProcess(config, "timeline_processor:factory", HERE, {**env, "HALLWATCH_E2E_RUN": "2"})
        )
        sleep_until(epoch, 11)
        server.stop()
        sleep_until(epoch, 13)
        server.start()
        sleep_until(epoch, 24)  # the crowd left at 16 s; the alert clears 2 s later

        assert edges[1].stop() == 0, edges[1].log()
        made = {run: int((tmp_path / f"run-{run}.count").read_text()) for run in (1, 2)}

        def all_arrived() -> bool:
            got = received(server, site)
            return sum(1 for run, _ in got if run == 2) >= made[2]

        wait_until(
            all_arrived, 20.0, 0.5, explain=lambda: f"run 2 made {made[2]} events\n{server.log()[-3000:]}"
        )
        got = received(server, site)
        assert len(got) == len(set(got)), "an event was stored twice"
        by_run = {run: sorted(n for r, n in got if r == run) for run in (1, 2)}
        # The clean run delivered every event it made; the killed one every event it had
        # written to its outbox: all but at most the one it was handing over when killed.
        assert by_run[2] == list(range(made[2]))
        assert by_run[1] == list(range(len(by_run[1]))), "events of the killed run are missing"
        assert len(by_run[1]) >= made[1] - 1

        alerts = server.get("alerts", site=site, limit=100)["items"]
        window = [a for a in alerts if a["zone"] == "window-1"]
        assert len(window) == 1, window
        assert window[0]["rule"].startswith("window")
        assert window[0]["status"] == "resolved" and window[0]["resolved_by"] is None
        assert window[0]["peak"] == 3
        assert all(a["status"] == "resolved" for a in alerts), [(a["rule"], a["status"]) for a in alerts]
    finally:
        for edge in edges:
            edge.kill()
        if server.proc is not None:
            server.stop()
        broker.stop()
