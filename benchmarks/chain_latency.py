"""Frame to the guide's phone: from the frame in which a window goes over its limit to the alert
card drawn on the floor guide's page, through every real piece, as separate processes.

A synthetic hall (edge/scene.py: window 1 goes over its limit once every 10 s) is played by a real
edge node with the real detector (OpenVINO, imgsz 1280, 5 frames/s), through a mosquitto of its
own and the real server (SQLite, alert rule trigger 0 s so that only the system's own delay is
measured) to the guide's page in Debian's chromium at phone size. Latency runs from the moment the
over-limit frame reached the pipeline (before detection) to the card's first drawing.

    .venv/bin/python benchmarks/chain_latency.py [--crowds 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from playwright.sync_api import sync_playwright
from support.chain import CHROMIUM_ARGS, cards_seen, crowds, open_guide, running_chain, wait_for_video_end

from edge import scene


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--crowds", type=int, default=30, help="crowds to measure (10 s each)")
    args = parser.parse_args()
    hall = scene.crowding_cycles(cycles=args.crowds + 2, period_s=10.0)
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_chain(Path(tmp), hall) as chain,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = open_guide(browser, chain)
        ready = time.time()
        wait_for_video_end(chain, timeout_s=hall.duration_s + 60)
        measured = crowds(chain, ready, cards_seen(page))
        browser.close()
    latencies = sorted(c.latency_s for c in measured if c.latency_s is not None)
    missed = sum(c.latency_s is None for c in measured)
    if not latencies:
        raise SystemExit("no crowd reached the page")
    p99 = latencies[min(len(latencies) - 1, int(round(0.99 * (len(latencies) - 1))))]
    print(f"crowds measured: {len(measured)}, reached the page: {len(latencies)}, missed: {missed}")
    print(
        f"frame -> guide's page: p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
