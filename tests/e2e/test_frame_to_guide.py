"""From the frame in which a window goes over its limit to the alert on the guide's phone.

Real footage of a known hall (edge/scene.py), the real detector in a real edge node process, a
mosquitto of the test's own, the real server, and the guide's page in Debian's chromium. Every time
the truth says window 1 went over its limit, one alert card must appear on the guide's page. The
latencies are written to test-artifacts/frame-to-guide.json; benchmarks/chain_latency.py measures
them over many more crowds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from support.chain import LIMIT, ZONE, cards_seen, crowds, open_guide, running_chain, wait_for_video_end

from edge import scene

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.mark.timeout(300)
def test_every_crowd_at_a_window_reaches_the_guides_phone(tmp_path: Path, browser: Browser) -> None:
    hall = scene.crowding_cycles(cycles=5, period_s=10.0)
    with running_chain(tmp_path, hall) as chain:
        page = open_guide(browser, chain)
        ready = time.time()
        wait_for_video_end(chain, timeout_s=hall.duration_s + 30)
        seen = cards_seen(page)
        # The node is still loading the detector and confirming its first tracks during the first
        # crowd; with the session's browser already running, the page can be ready before that
        # crowd, so it is left out explicitly. Every later one must give exactly one card.
        first_start = scene.over_limit_starts(hall, ZONE, LIMIT)[0]
        measured = [c for c in crowds(chain, ready, seen) if c.frame > first_start + round(hall.fps)]
        page.context.close()

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "frame-to-guide.json").write_text(
        json.dumps({"crowds": [vars(c) for c in measured], "cards": seen}, indent=2)
    )
    assert len(measured) >= 3, (measured, seen)
    assert all(c.latency_s is not None for c in measured), measured
    cards_for_measured = [t for t in seen if t >= measured[0].arrived]
    assert len(cards_for_measured) == len(measured), (
        f"{len(cards_for_measured)} cards for {len(measured)} crowds"
    )
    # Generous: the assertion is that it arrives; benchmarks/chain_latency.py reports how fast.
    assert all(0 < (c.latency_s or 0) < 5.0 for c in measured), measured
