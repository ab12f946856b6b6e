"""Which server replicas are alive, through Redis (issue 16, `mqtt.split: site`).

The replicas of a service share one sorted set, ``{channel}:replicas``: each replica's id, scored
with the Redis server's clock at its last renewal. Every ``every_s`` a replica renews its entry
while it is ready (connected to the broker: a replica that reaches Redis but not the broker must
not keep sites it cannot take), removes entries older than ``ttl_s`` and reads the rest, in one
script (one round trip, Redis's clock, so the replicas' clocks need not agree). A replica that
stops, or loses the broker, removes its entry at once; one that dies is gone ``ttl_s`` after its
last renewal.

While Redis is unreachable the last view is kept: no site changes hands on a guess (a replica that
died meanwhile keeps its sites, unread, until Redis is back), and the log says so. A replica that
starts without Redis takes every site until it sees the others.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import redis

log = logging.getLogger(__name__)

_TIMEOUT_S = 0.5

# KEYS[1]: the set; ARGV: this replica, ttl in seconds, 1 to renew it (0 to leave the set).
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 10000))
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


class RedisMembership:
    """Registers this replica while ``ready()`` and tells ``on_change`` the ids of all replicas
    alive (this one included)."""

    def __init__(
        self,
        url: str,
        channel: str,
        me: str,
        on_change: Callable[[frozenset[str]], object],
        *,
        ready: Callable[[], bool] = lambda: True,
        every_s: float = 0.5,
        ttl_s: float = 2.0,
    ) -> None:
        if ttl_s <= every_s:
            raise ValueError("a replica's entry must outlive the time between two renewals")
        self.me = me
        self._key = f"{channel}:replicas"
        self._on_change = on_change
        self._ready = ready
        self._every_s = every_s
        self._ttl_s = ttl_s
        self._client = redis.Redis.from_url(url, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S)
        self._script = self._client.register_script(_RENEW)
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
        with contextlib.suppress(redis.RedisError):  # else the entry expires by itself
            self._client.zrem(self._key, self.me)
        self._client.close()

    def renew(self) -> bool:
        """Renew (or, not ready, withdraw) this replica's entry and read everyone's; False (the
        last view kept) when Redis fails."""
        ready = self._ready()
        try:
            names = self._script(keys=[self._key], args=[self.me, self._ttl_s, "1" if ready else "0"])
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
            log.info("replicas: Redis is back")
        self._failing = False
        alive = frozenset(n.decode() if isinstance(n, bytes) else str(n) for n in names) | {self.me}
        if alive != self.members:
            log.info("replicas alive now: %s (this one: %s)", ", ".join(sorted(alive)), self.me)
            self._on_change(alive)  # the split first: whoever reads `members` sees it in force
            self.members = alive
        return True

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self.renew()
            except Exception:  # a bug here must not end membership: the entry would expire
                log.exception("replicas: could not renew this replica's entry")
