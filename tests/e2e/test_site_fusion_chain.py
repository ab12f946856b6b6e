"""A hall whose cameras span two nodes, as separate processes: two edge nodes (`fusion: server`),
mosquitto and the server, which fuses the four cameras' positions into one floor (issue 12).

The nodes see the generated site (`vision.synthetic_site`: four ceiling fisheyes, two per node,
overlapping down the middle) through `site_scene_processor` (their real tracker and floor pipeline,
a scripted detector). The server's counts, read over its API, are held against the scene's truth:
the hall counted once however many cameras see a person, people crossing the entrance, and, when
node edge-b is killed mid-scene, its cameras left out and the windows only they see reported as
unknown rather than as empty.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from support.hallwatch_processes import EdgeProcess, ServerProcess
from support.processes import Mosquitto, unique, wait_until

from vision.synthetic_site import generated_site
from vision.zones import points_in_polygon

HERE = Path(__file__).parent
DURATION_S = 36.0
KILL_AT_S = 20.0
SITE = generated_site(duration_s=DURATION_S)
HALL = np.array(next(z.polygon for z in SITE.hall.zones if z.id == "hall"), np.float64)
WINDOWS = ("w1", "w2", "w3", "w4")  # along the back wall: only edge-b's cameras see them


def write_video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (64, 48))
    for i in range(20):
        writer.write(np.full((48, 64, 3), 10 * i, np.uint8))
    writer.release()
    return path


def node_config(folder: Path, site: str, node: str, broker_port: int, video: Path) -> Path:
    hall: dict[str, Any] = SITE.hall.model_dump(mode="json", exclude_none=True)
    cameras = [
        c | {"source": str(video), "loop": True, "fps": 5}
        for c in hall["cameras"]
        if c["id"] in SITE.nodes[node]
    ]
    config = hall | {
        "site": site,
        "cameras": cameras,
        "node": {"id": node, "health_interval_s": 2},
        "mqtt": {"host": "127.0.0.1", "port": broker_port, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
        "outbox": {"path": str(folder / f"{node}-outbox.sqlite")},
        "fusion": {"mode": "server"},
    }
    path = folder / f"{node}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def true_hall(moment: float) -> int:
    people = SITE.truth(moment)
    xy = np.array([(p.x_m, p.y_m) for p in people], np.float64).reshape(-1, 2)
    return int(points_in_polygon(xy, HALL).sum())


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_hall_across_two_nodes_is_fused_by_the_server(tmp_path: Path) -> None:
    site = unique("fused")
    broker = Mosquitto(tmp_path / "broker").start()
    server = ServerProcess(
        tmp_path / "server",
        broker_port=broker.port,
        env={"HALLWATCH_ALERTS__NODE_OFFLINE__SILENCE_S": "60"},
    ).start()
    video = write_video(tmp_path / "v.avi")
    epoch_file = tmp_path / "epoch"
    env = {"HALLWATCH_E2E_EPOCH_FILE": str(epoch_file), "HALLWATCH_E2E_DURATION_S": str(DURATION_S)}
    edges = {
        node: EdgeProcess(
            node_config(tmp_path, site, node, broker.port, video),
            "site_scene_processor:factory",
            HERE,
            env,
            log_path=tmp_path / f"{node}.log",
        )
        for node in SITE.nodes
    }

    def logs() -> str:
        return (
            "\n".join(f"--- {n}\n{e.log()[-2000:]}" for n, e in edges.items())
            + f"\n--- server\n{server.log()[-3000:]}"
        )

    def occupancy() -> dict[str, Any]:
        body: dict[str, Any] = server.get(f"sites/{site}/occupancy")
        return body

    try:
        # Both nodes running and the server fusing their (empty) floor: then the scene starts.
        def fusing() -> bool:
            try:
                cameras = server.get(f"sites/{site}/cameras", "ops")["cameras"]
                fused = [c for c in occupancy()["cameras"] if c["camera"] == "fused"]
            except Exception:  # 404 until the site's first message
                return False
            return len(cameras) == 4 and all(c["coverage"] for c in cameras) and bool(fused)

        wait_until(fusing, 120, 0.5, explain=logs)
        epoch = time.time() + 1.0
        epoch_file.write_text(repr(epoch))

        polls: list[tuple[float, int | None]] = []
        while time.time() < epoch + KILL_AT_S:
            now = occupancy()
            hall = next(z for z in now["zones"] if z["zone"] == "hall")
            polls.append((time.time() - epoch, hall["count"]))
            assert [c["camera"] for c in now["cameras"]] == ["fused"], "no camera counts on its own"
            time.sleep(0.5)
        # The hall counted once: each poll within one person of the truth of the last 2 s (the
        # count takes 0.2 s to settle and a new track two frames to count), and never above it by more.
        checked = [(t, n) for t, n in polls if t >= 3.0]
        assert len(checked) >= 20 and all(n is not None for _, n in checked), polls
        misses = []
        for t, n in checked:
            window = [true_hall(t - back) for back in np.arange(0.0, 2.01, 0.2)]
            assert n is not None and n <= max(window) + 2, (t, n, window)
            if not min(window) - 1 <= n <= max(window) + 1:
                misses.append((t, n, window))
        assert len(misses) <= 0.1 * len(checked), misses
        entries = occupancy()
        assert entries["entries_today"] == SITE.crossings_until(KILL_AT_S - 1)["in"] >= 1

        # edge-b dies: its cameras are left out, the windows only they see become unknown.
        edges["edge-b"].kill()

        def windows_unknown() -> bool:
            zones = {z["zone"]: z for z in occupancy()["zones"]}
            return all(zones[w]["count"] is None and zones[w]["level"] == "unknown" for w in WINDOWS)

        wait_until(windows_unknown, 10, 0.3, explain=logs)
        after = occupancy()
        fused = next(c for c in after["cameras"] if c["camera"] == "fused")
        assert set(WINDOWS) <= set(fused["uncovered"])
        assert next(z for z in after["zones"] if z["zone"] == "hall")["count"] is not None, (
            "the hall is still seen"
        )

        # edge-a sees the entrance: every crossing of the scene is counted once.
        time.sleep(max(0.0, epoch + DURATION_S + 2.0 - time.time()))
        final = SITE.crossings_until(DURATION_S)
        wait_until(
            lambda: (o := occupancy())["entries_today"] == final["in"] and o["exits_today"] == final["out"],
            10,
            0.5,
            explain=lambda: f"{occupancy()}\n{logs()}",
        )
        events = server.get("events", site=site, type="person_entered", limit=100)["items"]
        assert {(e["camera"], e["node"]) for e in events} == {("fused", "fused")}
        assert edges["edge-a"].stop() == 0, edges["edge-a"].log()
    finally:
        for edge in edges.values():
            edge.kill()
        server.stop()
        broker.stop()
