"""A sliding-window limit on failed logins, per user name and per client address (in memory)."""

from __future__ import annotations

import threading
from collections import deque


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
