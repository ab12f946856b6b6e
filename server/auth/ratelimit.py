"""A sliding-window limit on failed logins, per user name and per client address.

`LoginRateLimiter` keeps the failures in memory (one replica); `SharedLoginRateLimiter` keeps them
in Redis, so that replicas behind a load balancer count them together (an attacker spreading
attempts over replicas gets no more of them). While Redis cannot be reached it counts in memory,
so a login is never refused or let through unlimited because Redis is down.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from typing import Protocol

import redis

log = logging.getLogger(__name__)


class LoginLimiter(Protocol):
    def retry_after(self, keys: list[str], now: float) -> float | None: ...

    def fail(self, keys: list[str], now: float) -> None: ...

    def reset(self, key: str) -> None: ...


class LoginRateLimiter:
    """Allows ``max_failures`` failed logins per key within ``window_s``.

    >>> limiter = LoginRateLimiter(max_failures=2, window_s=60)
    >>> limiter.fail(["user:ann"], now=0.0); limiter.fail(["user:ann"], now=1.0)
    >>> limiter.retry_after(["user:ann"], now=2.0)
    58.0
    """

    def __init__(self, max_failures: int, window_s: float) -> None:
        self._max = max_failures
        self._window = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, keys: list[str], now: float) -> float | None:
        """Seconds until the next attempt is allowed, or None when it is allowed now."""
        with self._lock:
            wait = 0.0
            for key in keys:
                times = self._trim(key, now)
                limit = self._max if key.startswith("user:") else self._max * 4
                if len(times) >= limit:
                    wait = max(wait, times[0] + self._window - now)
            return wait if wait > 0 else None

    def fail(self, keys: list[str], now: float) -> None:
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 100_000:  # bound memory under a spray of names
                for key in list(self._failures):
                    self._trim(key, now)

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _trim(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times


class SharedLoginRateLimiter:
    """The same limit, counted in Redis for every replica (a sorted set of failure times per key)."""

    def __init__(
        self, max_failures: int, window_s: float, url: str, prefix: str = "hallwatch-live:login:"
    ) -> None:
        self._max = max_failures
        self._window = window_s
        self._prefix = prefix
        self._client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._local = LoginRateLimiter(max_failures, window_s)
        self._retry_at = 0.0

    def retry_after(self, keys: list[str], now: float) -> float | None:
        local = self._local.retry_after(keys, now)
        if not self._reachable():
            return local
        try:
            pipe = self._client.pipeline()
            for key in keys:
                pipe.zremrangebyscore(self._prefix + key, "-inf", now - self._window)
                pipe.zcard(self._prefix + key)
                pipe.zrange(self._prefix + key, 0, 0, withscores=True)
            replies = pipe.execute()
        except redis.RedisError as exc:
            self._lost(exc)
            return local
        wait = 0.0
        for k, key in enumerate(keys):
            count, oldest = replies[3 * k + 1], replies[3 * k + 2]
            limit = self._max if key.startswith("user:") else self._max * 4
            if count >= limit and oldest:
                wait = max(wait, float(oldest[0][1]) + self._window - now)
        return wait if wait > 0 else None

    def fail(self, keys: list[str], now: float) -> None:
        self._local.fail(keys, now)
        if not self._reachable():
            return
        try:
            pipe = self._client.pipeline()
            for key in keys:
                # a unique member per failure: two failures in the same instant both count
                pipe.zadd(self._prefix + key, {f"{now!r}:{secrets.token_hex(4)}": now})
                pipe.expire(self._prefix + key, int(self._window) + 1)
            pipe.execute()
        except redis.RedisError as exc:
            self._lost(exc)

    def reset(self, key: str) -> None:
        self._local.reset(key)
        if not self._reachable():
            return
        try:
            self._client.delete(self._prefix + key)
        except redis.RedisError as exc:
            self._lost(exc)

    def _reachable(self) -> bool:
        return time.monotonic() >= self._retry_at

    def _lost(self, exc: redis.RedisError) -> None:
        log.warning(
            "login limits: Redis unreachable (%s); counting failed logins on this replica only for 10 s "
            "(check live.redis_url)",
            exc,
        )
        self._retry_at = time.monotonic() + 10.0
