"""Fan-out of live messages from the ingest thread to every connected page.

`LiveHub.publish` may be called from any thread; messages are serialised once and handed to the
event loop, which copies them into each subscriber's bounded queue. A subscriber that falls behind
by more than its queue is cut off (counted), so one slow phone never holds the others back; pages
reconnect and re-read the snapshot.

Alert messages carry the alert's ``version``; the hub passes each (alert id, version) on once, so an
alert changed here and re-read from the database by the sync loop reaches pages once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel

from server.metrics import Metrics
from server.schemas.live import LiveAlert

log = logging.getLogger(__name__)

TOPICS = ("alerts", "occupancy", "positions", "nodes", "events")


@dataclass(frozen=True, slots=True)
class LiveMessage:
    topic: str
    site: str | None
    text: str
    alert_version: tuple[int, int] | None = None  # (alert id, version) for alert messages


def message(topic: str, site: str | None, payload: BaseModel) -> LiveMessage:
    """A live message for ``topic``'s subscribers, serialised once (`server.schemas.live` models)."""
    version = None
    if isinstance(payload, LiveAlert):
        version = (payload.alert.id, payload.alert.version)
    return LiveMessage(topic, site, payload.model_dump_json(), version)


@dataclass(eq=False)
class Subscription:
    """One connected client: what it wants and the queue it reads from."""

    topics: frozenset[str]
    sites: frozenset[str] | None
    queue: asyncio.Queue[LiveMessage | None] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    overflowed: bool = False

    def wants(self, msg: LiveMessage) -> bool:
        if msg.topic not in self.topics:
            return False
        return self.sites is None or msg.site in self.sites


class LiveHub:
    """Subscribers live on the event loop; publishers call from anywhere."""

    def __init__(self, metrics: Metrics, queue_size: int = 1000) -> None:
        self._metrics = metrics
        self._queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subs: set[Subscription] = set()
        self._alert_versions: OrderedDict[int, int] = OrderedDict()
        self._lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the loop the subscribers run on (the web server's)."""
        self._loop = loop

    def publish(self, msgs: Iterable[LiveMessage]) -> None:
        """Hand messages to the subscribers; safe from any thread, never blocks."""
        batch = list(msgs)
        loop = self._loop
        if not batch or loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            loop.call_soon_threadsafe(self._fan_out, batch)

    def subscribe(self, topics: Iterable[str], sites: Iterable[str] | None) -> Subscription:
        """Register a subscriber; call on the event loop."""
        sub = Subscription(
            topics=frozenset(topics),
            sites=frozenset(sites) if sites is not None else None,
            queue=asyncio.Queue(maxsize=self._queue_size),
        )
        self._subs.add(sub)
        self._metrics.live_clients.set(len(self._subs))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)
        self._metrics.live_clients.set(len(self._subs))

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    def wants(self, topic: str) -> bool:
        """Whether anyone listens to ``topic`` now (so publishers can skip building messages)."""
        return any(topic in sub.topics for sub in list(self._subs))

    def _fan_out(self, batch: list[LiveMessage]) -> None:
        for msg in batch:
            if msg.alert_version is not None and not self._first_time(*msg.alert_version):
                continue
            for sub in list(self._subs):
                if sub.overflowed or not sub.wants(msg):
                    continue
                try:
                    sub.queue.put_nowait(msg)
                except asyncio.QueueFull:
                    sub.overflowed = True
                    self._metrics.live_dropped.inc()
                    log.warning(
                        "a live-stream client fell %d messages behind and was cut off", self._queue_size
                    )
                    _drain(sub.queue)
                    sub.queue.put_nowait(None)

    def _first_time(self, alert_id: int, version: int) -> bool:
        with self._lock:
            known = self._alert_versions.get(alert_id)
            if known is not None and known >= version:
                return False
            self._alert_versions[alert_id] = version
            self._alert_versions.move_to_end(alert_id)
            while len(self._alert_versions) > 50_000:
                self._alert_versions.popitem(last=False)
            return True


def _drain(queue: asyncio.Queue[LiveMessage | None]) -> None:
    while not queue.empty():
        queue.get_nowait()
