"""`hallwatch demo` (what `make demo` runs): a whole hall comes up, reports, and Ctrl-C stops it all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from support.processes import free_port, wait_until

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def occupancy(port: int) -> dict[str, object] | None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        login = client.post("/api/v1/auth/login", json={"username": "manager", "password": "manager"})
        if login.status_code != 200:
            return None
        response = client.get("/api/v1/sites/demo-hall/occupancy")
        return response.json() if response.status_code == 200 else None


@pytest.mark.timeout(240)
def test_the_demo_runs_a_whole_hall_and_stops_cleanly(tmp_path: Path) -> None:
    if not VTEST.is_file():
        pytest.fail("Debian's opencv-doc (vtest.avi) is not installed; .ci/run installs it")
    port, broker_port = free_port(), free_port()
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen(
        [sys.executable, "-m", "hallwatch.cli", "demo", "--port", str(port),
         "--broker-port", str(broker_port), "--data-dir", str(tmp_path / "demo")],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    output = lambda: (tmp_path / "demo.log").read_text(errors="replace")  # noqa: E731
    try:
        wait_until(lambda: "hallwatch demo is running" in output(), 90, 0.5, explain=output)
        for page in ("/guide", "/dashboard", "/ops/nodes", "/report"):
            assert f"http://127.0.0.1:{port}{page}" in output()
        # The edge node plays vtest.avi: the site reports people in its hall.
        wait_until(lambda: occupancy(port) is not None, 120, 1.0, explain=output)
        state = occupancy(port)
        assert state is not None
        assert state["hall"]["capacity"] == 5  # type: ignore[index]
        wait_until(lambda: (occupancy(port) or {}).get("cameras"), 60, 1.0, explain=output)
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(60)
        log.close()
    assert code == 0, output()
    assert "demo stopped" in output()
    assert "Traceback" not in output()
    # Both children are gone: nothing answers on the demo's ports any more.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
