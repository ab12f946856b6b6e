"""The whole chain on one machine, for measuring what a floor guide sees and when.

A synthetic hall video (`edge.scene`), whose truth says in which frame window 1 goes over its
limit, is played by a real `hallwatch edge run` with the real detector; a mosquitto of its own, a
real `hallwatch server run`, and the guide's page in Debian's chromium. The latency is measured from
the moment the over-limit frame reached the pipeline (before detection) to the moment the guide's
page drew the alert card.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from playwright.sync_api import Browser, Page

from edge import scene
from support.hallwatch_processes import EdgeProcess, ServerProcess
from support.pages import open_guide_page
from support.processes import Mosquitto, unique, wait_until

HERE = Path(__file__).parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ZONE, LIMIT = "window-1", 2

# When each window-over-limit card for a zone was first drawn on the guide's page (the animation
# frame after it entered the page); other alerts at the window (e.g. spacing) are not counted.
RECORD_CARDS = """
(zone) => {
  window.__seen = {};
  const look = () => {
    for (const card of document.querySelectorAll(".alert-card[data-alert-id]")) {
      const id = card.dataset.alertId;
      if (card.dataset.zone === zone && card.dataset.rule === "window_over_limit" && !(id in window.__seen)) {
        window.__seen[id] = null;
        requestAnimationFrame(() => { window.__seen[id] = Date.now(); });
      }
    }
  };
  new MutationObserver(look).observe(document.body, { childList: true, subtree: true, attributes: true });
  look();
}
"""


@dataclass
class Chain:
    hall: scene.Scene
    site: str
    server: ServerProcess
    edge: EdgeProcess
    probe_log: Path


@contextmanager
def running_chain(workdir: Path, hall: scene.Scene, *, imgsz: int = 1280) -> Iterator[Chain]:
    """Broker, server and an edge node playing `hall`, all as processes; stopped on exit."""
    video = workdir / "hall.mp4"
    scene.write_video(hall, video)
    site = unique("chain")
    broker = Mosquitto(workdir / "broker").start()
    server = ServerProcess(
        workdir / "server",
        broker_port=broker.port,
        env={
            # Alert as soon as the window is over its limit, so the latency is the system's own.
            "HALLWATCH_ALERTS__WINDOW__TRIGGER_S": "0",
            "HALLWATCH_ALERTS__WINDOW__CLEAR_S": "1",
            "HALLWATCH_ALERTS__COOLDOWN_S": "0",
        },
    ).start()
    config = scene.hall_config(str(video), imgsz=imgsz, backend="openvino")
    config["site"] = site
    config["node"] = {"id": unique("node")}
    config["mqtt"] = {"host": "127.0.0.1", "port": broker.port}
    config["outbox"] = {"path": str(workdir / "outbox.sqlite")}
    node_yaml = workdir / "node.yaml"
    node_yaml.write_text(yaml.safe_dump(config))
    probe_log = workdir / "probe.jsonl"
    edge = EdgeProcess(node_yaml, "chain_probe:factory", HERE, {"HALLWATCH_PROBE_LOG": str(probe_log)})
    try:
        yield Chain(hall, site, server, edge, probe_log)
    finally:
        edge.stop()
        server.stop()
        broker.stop()


def open_guide(browser: Browser, chain: Chain) -> Page:
    """The guide's page at phone size, logged in, recording when each window-1 alert card appears."""
    wait_until(lambda: chain.probe_log.exists(), 120.0, 0.2)  # the node's pipeline is running
    wait_until(lambda: _has_layout(chain), 30.0, 0.2)
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=chain.server.url)
    page = open_guide_page(context.new_page(), chain.site)
    page.evaluate(RECORD_CARDS, ZONE)
    return page


def _has_layout(chain: Chain) -> bool:
    try:
        chain.server.get(f"sites/{chain.site}/layout")
        return True
    except Exception:  # 404 until the node's layout has arrived
        return False


def cards_seen(page: Page) -> list[float]:
    """Wall times (s) at which new window-1 alert cards were drawn, in order."""
    seen: dict[str, float | None] = page.evaluate("window.__seen")
    return sorted(ms / 1000 for ms in seen.values() if ms is not None)


def frame_arrivals(chain: Chain) -> dict[int, tuple[float, int | None]]:
    lines = chain.probe_log.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return {r["frame"]: (r["arrived"], r["count"]) for r in records}


@dataclass(frozen=True)
class Crowd:
    frame: int  # the first frame the pipeline counted over the limit (or the truth's, if it never did)
    arrived: float  # when that frame reached the pipeline (wall clock, s)
    latency_s: float | None  # to the first card drawn after it; None: no card, or the pipeline missed it


def crowds(chain: Chain, page_ready: float, seen: list[float]) -> list[Crowd]:
    """Each crowd the truth shows after the page was ready, with its latency to the guide's page.

    The crowd's frame is the first frame the pipeline counted over the limit within two seconds of
    the truth's start (the third person crosses the window's edge then; the node samples the video
    at its own rate, and counts someone after two of its frames: on a slow two-core machine, with
    frames dropped, that is more than a second); its latency runs from that frame's arrival at the
    pipeline to the first card drawn after it. A crowd the pipeline did not count within those two
    seconds has no latency.
    """
    arrivals = frame_arrivals(chain)
    slack = 2 * int(round(chain.hall.fps))
    out: list[Crowd] = []
    for truth_frame in scene.over_limit_starts(chain.hall, ZONE, LIMIT):
        near = [f for f in sorted(arrivals) if truth_frame - slack <= f <= truth_frame + slack]
        if not near or arrivals[near[0]][0] < page_ready:
            continue
        over = next((f for f in near if (arrivals[f][1] or 0) > LIMIT), None)
        if over is None:
            out.append(Crowd(truth_frame, arrivals[near[0]][0], None))
            continue
        arrived = arrivals[over][0]
        card = next((t for t in seen if t >= arrived), None)
        out.append(Crowd(over, arrived, None if card is None else card - arrived))
    return out


def wait_for_video_end(chain: Chain, timeout_s: float) -> None:
    last = chain.hall.frame_count - 3
    wait_until(lambda: max(frame_arrivals(chain), default=-1) >= last, timeout_s, 0.5)
    time.sleep(2.0)  # the last alert's way to the page
