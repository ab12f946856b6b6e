"""Helpers for the page tests: the hall a test publishes, and a server set up for pages.

Everything here is real: `web_server` is a `support.hallwatch_processes.ServerProcess` (``hallwatch server
run --demo`` as a subprocess) against the shared mosquitto on 127.0.0.1:1883; `Hall` publishes
contract payloads for one site to that broker, as an edge node would. Each test uses its own site,
so tests (and other test folders using the broker) never mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from support.contract import Node
from support.hallwatch_processes import ServerProcess
from support.mqtt import Publisher
from support.processes import REPO, SHARED_BROKER, unique

from hallwatch.contract import CameraState, Envelope

ARTIFACTS = REPO / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
DOCS_IMG = REPO / "docs" / "img"


def utc_now() -> datetime:
    return datetime.now(UTC)


def _afternoon_zone(now: datetime) -> str:
    """A fixed-offset zone in which it is mid-afternoon at `now`.

    The pages show "today" in the hall's zone, and the tests publish today's opening hours; in a
    fixed zone a run just after the hall's midnight (a CI run at 23:30 UTC is 00:30 in Vienna) has
    no "today" to show. The browser stays in Europe/Vienna, so the pages are also checked to use the
    hall's zone, not the browser's.
    """
    offset = (15 - now.hour + 12) % 24 - 12  # hours east of UTC, -12..+11
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3 (POSIX signs)


TIMEZONE = _afternoon_zone(utc_now())


# ------------------------------------------------------------------------------------ the hall
def hall_zones(
    windows: int = 6, capacity: int = 60, window_limit: int = 2, queue_limit: int = 6
) -> list[dict[str, Any]]:
    """A service hall 20 m x 14 m: numbered windows along the back wall, a queue in front of each,
    the whole hall with its capacity, and the entrance line in the front wall."""
    zones: list[dict[str, Any]] = [
        {
            "id": "hall",
            "kind": "hall",
            "name": "Hall",
            "polygon": [(0.0, 0.0), (20.0, 0.0), (20.0, 14.0), (0.0, 14.0)],
            "limit": capacity,
        },
        {"id": "door", "kind": "entrance", "name": "Entrance", "line": ((8.5, 14.0), (11.5, 14.0))},
    ]
    for i in range(windows):
        x0 = 1.0 + i * 3.1
        zones.append(
            {
                "id": f"w{i + 1}",
                "kind": "window",
                "name": f"Window {i + 1}",
                "polygon": [(x0, 0.4), (x0 + 2.5, 0.4), (x0 + 2.5, 2.2), (x0, 2.2)],
                "limit": window_limit,
            }
        )
        zones.append(
            {
                "id": f"q{i + 1}",
                "kind": "queue",
                "name": f"Queue {i + 1}",
                "polygon": [(x0 + 0.3, 2.6), (x0 + 2.2, 2.6), (x0 + 2.2, 7.0), (x0 + 0.3, 7.0)],
                "limit": queue_limit,
                "window": f"w{i + 1}",
            }
        )
    return zones


def hall_node(site: str) -> Node:
    """The payloads of a site's one edge node and camera, over `hall_zones`."""
    return Node(site, zones=hall_zones(), version="web-test")


class Hall(Publisher):
    """One site on the shared broker: publishes what its edge node would, and cleans up after itself.

    `publish` sends with QoS 1 and returns when the broker acknowledged, so a test's clock starts
    when the broker has the message. Retained messages (layout, status) are cleared by `close`.
    """

    def __init__(self, site: str) -> None:
        super().__init__(SHARED_BROKER[1], client_prefix="web-pub")
        self.site = site
        self.node = hall_node(site)

    def publish(self, msg: Envelope, *, retain: bool | None = None) -> float:
        """Send ``msg``; returns the time (``time.time()``) the broker acknowledged it."""
        return self.send(msg, qos=1, retain=retain)

    # what tests say most often
    def layout(self, zones: list[dict[str, Any]] | None = None) -> float:
        return self.publish(self.node.layout(zones))

    def counts(self, *, violations: int = 0, ts: datetime | None = None, **zones: int) -> float:
        return self.publish(self.node.state(zones, ts=ts, violations=violations))

    def event(self, type_: str, **fields: Any) -> float:
        return self.publish(self.node.event(type_, **fields))


def hourly_states(node: Node, hours: Mapping[datetime, Mapping[str, int]]) -> list[CameraState]:
    """Two states ten minutes into each hour, four seconds apart, with the hour's counts, oldest first.

    The server weights each count by how long it was shown (at most 5 s), so every minute these
    fall in has a mean and a max of exactly the published count: a test can check the history to
    the decimal. End with an all-zero state an hour after the last (it closes the last minute).
    """
    states: list[CameraState] = []
    last: datetime | None = None
    for hour in sorted(hours):
        t = hour.replace(minute=10, second=0, microsecond=0)
        states.append(node.state(hours[hour], ts=t))
        states.append(node.state(hours[hour], ts=t + timedelta(seconds=4)))
        last = t
    if last is not None:
        zeros = dict.fromkeys(next(iter(hours.values())), 0)
        states.append(node.state(zeros, ts=last + timedelta(minutes=57)))
    return states


# ------------------------------------------------------------------------------------ the server
# Alerts open on the first over-limit count and the server flushes often, so a test measures the
# pages, not the rules or the batching.
WEB_SERVER_ENV = {
    "HALLWATCH_MQTT__SESSION_EXPIRY_S": "60",
    # The page tests publish a week of history now (states and positions dated days ago); a
    # server takes such old camera states only with a clock window that wide (default: 1 day).
    "HALLWATCH_INGEST__CLOCK_WINDOW_S": str(30 * 86400),
    "HALLWATCH_TIMEZONE": TIMEZONE,
    "HALLWATCH_ALERTS__WINDOW__TRIGGER_S": "0",
    "HALLWATCH_ALERTS__WINDOW__CLEAR_S": "3",
    "HALLWATCH_ALERTS__QUEUE__TRIGGER_S": "0",
    "HALLWATCH_ALERTS__QUEUE__CLEAR_S": "3",
    "HALLWATCH_ALERTS__HALL__TRIGGER_S": "0",
    "HALLWATCH_ALERTS__HALL__CLEAR_S": "3",
    "HALLWATCH_ALERTS__SPACING__TRIGGER_S": "0",
    "HALLWATCH_ALERTS__SPACING__CLEAR_S": "1",
    "HALLWATCH_INGEST__FLUSH_INTERVAL_S": "0.4",
    "HALLWATCH_INGEST__ALERT_SYNC_S": "0.5",
    "HALLWATCH_INGEST__POSITIONS_INTERVAL_S": "0",
}


def web_server(folder: Path, sites: list[str]) -> ServerProcess:
    """A demo server (not yet started) for the page tests, listening to ``sites`` on the shared broker."""
    return ServerProcess(folder, sites, env=WEB_SERVER_ENV, group=unique("web-group"))
