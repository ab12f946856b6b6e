"""Which server replicas are alive, through Redis (issue 16, `mqtt.split: site`).

Each replica keeps a key of its own, ``{channel}:replica:{id}``, that expires ``ttl_s`` after its
last renewal, renews it every ``every_s``, and reads the others' keys at the same time. A replica
that stops deletes its key (the others take its sites at their next renewal); one that dies is gone
when its key expires. Keys expire in Redis's own clock, so replicas' clocks need not agree.

While Redis is unreachable the last view is kept: no site changes hands on a guess (a replica that
died meanwhile keeps its sites, unread, until Redis is back), and the log says so.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

_TIMEOUT_S = 0.5


class RedisMembership:
    """Registers this replica and tells ``on_change`` the ids of all replicas alive (this one included)."""

    def __init__(
        self,
        url: str,
        channel: str,
        me: str,
        on_change: Callable[[frozenset[str]], object],
        *,
        every_s: float = 0.5,
        ttl_s: float = 2.0,
    ) -> None:
        if ttl_s <= every_s:
            raise ValueError("a replica's key must outlive the time between two renewals")
        self.me = me
        self._prefix = f"{channel}:replica:"
        self._on_change = on_change
        self._every_s = every_s
        self._ttl_ms = int(ttl_s * 1000)
        self._client = redis.Redis.from_url(url, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self.members: frozenset[str] = frozenset({me})

    def start(self) -> None:
        self.renew()
        self._thread = threading.Thread(target=self._run, name="replica-membership", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with contextlib.suppress(redis.RedisError):  # else the key expires by itself
            self._client.delete(self._prefix + self.me)
        self._client.close()

    def renew(self) -> bool:
        """Renew this replica's key and read everyone's; False (the last view kept) when Redis fails."""
        try:
            self._client.set(self._prefix + self.me, b"1", px=self._ttl_ms)
            keys = self._client.scan_iter(match=self._prefix + "*", count=1000)
            alive = frozenset(k.decode()[len(self._prefix) :] for k in keys) | {self.me}
        except redis.RedisError as exc:
            if not self._failing:
                log.warning(
                    "replicas: cannot reach Redis (%s); keeping the sites as they were split until it "
                    "is back (a replica that dies meanwhile keeps its sites). Check live.redis_url",
                    exc,
                )
            self._failing = True
            return False
        if self._failing:
            log.info("replicas: Redis is back; %d replicas alive", len(alive))
        self._failing = False
        if alive != self.members:
            log.info("replicas alive now: %s (this one: %s)", ", ".join(sorted(alive)), self.me)
            self.members = alive
            self._on_change(alive)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self.renew()
            except Exception:  # a bug here must not end membership: the key would expire
                log.exception("replicas: could not renew this replica's key")
