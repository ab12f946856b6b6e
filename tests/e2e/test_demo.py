"""`hallwatch demo` (what `make demo` runs): a whole hall comes up, reports, raises window alerts from
its footage, and Ctrl-C stops it all."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.processes import REPO, free_port, wait_until

from hallwatch.demo import DEMO_RULE_TIMINGS

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
VTEST_PASS_S = 795 / 10  # vtest.avi: 795 frames at 10 frames/s, played in real time
ARTIFACTS = REPO / "test-artifacts"


@dataclass
class Demo:
    proc: subprocess.Popen[bytes]
    port: int
    output: Callable[[], str]

    def get(self, path: str, role: str = "manager", **params: Any) -> Any:
        """GET an API path (below /api/v1/) as a demo user; None until it answers 200."""
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10) as client:
            login = client.post("/api/v1/auth/login", json={"username": role, "password": role})
            if login.status_code != 200:
                return None
            response = client.get(f"/api/v1/{path}", params=params)
            return response.json() if response.status_code == 200 else None


@contextmanager
def running_demo(tmp_path: Path) -> Iterator[Demo]:
    """`hallwatch demo` on free ports, until it printed its welcome; Ctrl-C (SIGINT) at the end."""
    if not VTEST.is_file():
        pytest.fail("Debian's opencv-doc (vtest.avi) is not installed; .ci/run installs it")
    port, broker_port = free_port(), free_port()
    log_path = tmp_path / "demo.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hallwatch.cli", "demo", "--port", str(port),
         "--broker-port", str(broker_port), "--data-dir", str(tmp_path / "demo")],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    demo = Demo(proc, port, lambda: log_path.read_text(errors="replace"))
    try:
        wait_until(lambda: "hallwatch demo is running" in demo.output(), 90, 0.5, explain=demo.output)
        yield demo
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        finally:
            log.close()


@pytest.mark.timeout(240)
def test_the_demo_runs_a_whole_hall_and_stops_cleanly(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        for page in ("/guide", "/dashboard", "/ops/nodes", "/report"):
            assert f"http://127.0.0.1:{demo.port}{page}" in demo.output()
        # The edge node plays vtest.avi: the site reports people in its hall.
        wait_until(lambda: demo.get("sites/demo-hall/occupancy"), 120, 1.0, explain=demo.output)
        state = demo.get("sites/demo-hall/occupancy")
        assert state is not None
        assert state["hall"]["capacity"] == 5
        wait_until(lambda: (demo.get("sites/demo-hall/occupancy") or {}).get("cameras"), 60, 1.0)
    assert demo.proc.returncode == 0, demo.output()
    assert "demo stopped" in demo.output()
    assert "Traceback" not in demo.output()
    # Both children are gone: nothing answers on the demo's ports any more.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{demo.port}/healthz", timeout=2)


def _time(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@pytest.mark.timeout(360)
def test_the_demo_footage_raises_window_alerts(tmp_path: Path) -> None:
    """Issue 13: windows over their limit in vtest.avi never alerted (crowds of 1.6-1.8 s, a node at
    1.4 frames/s, a 2 s trigger). The demo as `make demo` runs it (its rule timings, the real
    detector in its node process, its server and broker), over one pass of the footage: every
    window crowd the node reports is measured, and window alerts must open from them."""
    trigger_s = float(next(v for rule, key, v in DEMO_RULE_TIMINGS if (rule, key) == ("WINDOW", "TRIGGER_S")))
    with running_demo(tmp_path) as demo:
        wait_until(lambda: demo.get("sites/demo-hall/occupancy"), 120, 1.0, explain=demo.output)
        started = time.time()
        rates: list[tuple[float, float]] = []  # (frames/s, configured) from the node's health
        outbox: list[tuple[int, int]] = []  # (events waiting in the node's outbox, published so far)
        while time.time() - started < VTEST_PASS_S + 10:  # one pass of the footage, then its last alert
            for node in demo.get("nodes", "ops") or []:
                rates += [(c["fps"], c["target_fps"]) for c in node["cameras"] if c.get("fps") is not None]
                if node.get("published") is not None:
                    outbox.append((node["outbox_depth"], node["published"]))
            time.sleep(10)
        crowds = demo.get("events", type="window_over_limit_started", site="demo-hall", limit=1000)
        ends = demo.get("events", type="window_over_limit_ended", site="demo-hall", limit=1000)
        alerts = demo.get("alerts", site="demo-hall", rule="window_over_limit", limit=100)
        waits = demo.get("events", type="queue_left", site="demo-hall", limit=1000)
    assert crowds is not None and ends is not None and alerts is not None and waits is not None
    opened = sorted(_time(a["opened_at"]) for a in alerts["items"])
    first_crowds = sorted(_time(e["ts"]) for e in crowds["items"])
    figures = {
        "node_frames_per_s": [r for r, _ in rates],
        "node_frames_per_s_median": statistics.median(r for r, _ in rates) if rates else None,
        "configured_frames_per_s": rates[0][1] if rates else None,
        "window_crowds": len(first_crowds),
        "crowd_durations_s": sorted(e["duration_s"] for e in ends["items"] if e["duration_s"] is not None),
        "window_alerts": len(opened),
        "window_alert_openings": sum(1 + a["reopen_count"] for a in alerts["items"]),
        "first_crowd_to_alert_s": opened[0] - first_crowds[0] if opened and first_crowds else None,
        "queue_waits_s": sorted(e["duration_s"] for e in waits["items"]),
        "trigger_s": trigger_s,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "demo-alerts.json").write_text(json.dumps(figures, indent=2))
    assert first_crowds, f"the node saw no window over its limit in one pass of vtest.avi: {figures}"
    # A crowd that lasts past the rule's trigger opens an alert, after it, within the trigger and
    # the way. How long the node sees a crowd depends on its frame rate, so on a slow machine (2.2
    # frames/s on a 2-vCPU AVX2 EPYC) every crowd may stay under the trigger: then none is due.
    lasting = [e for e in ends["items"] if (e["duration_s"] or 0) >= trigger_s + 0.5]
    if lasting:
        assert opened, f"no window alert opened: {figures}"
        assert any(0 <= t - c <= trigger_s + 5 for t in opened for c in first_crowds), figures
    # The demo node keeps events until the server confirms storing them (outbox.confirm: server):
    # had no confirmation arrived, every event it published would still be waiting.
    assert outbox and outbox[-1][1] > 0 and outbox[-1][0] < outbox[-1][1], outbox
    # How close the node comes to its configured rate is in the figures (node_frames_per_s), not
    # asserted: it is a speed, and depends on the machine (5 of 5 frames/s on the Intel Xeon of the
    # README, 2.2 on a 2-vCPU AMD EPYC with AVX2 only); benchmarks/edge_cameras.py measures it.
    assert rates, figures
