"""Logging helpers: a rate-limited logger for things that can repeat thousands of times a second."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class RateLimitedLog:
    """Logs the first message per key, then at most one summary per ``interval_s``.

    Example:
        >>> bad = RateLimitedLog(logging.getLogger("x"), interval_s=10)
        >>> bad.warning("rejected", "message on %s refused: %s", "hallwatch/a/...", "bad JSON")
    """

    def __init__(
        self, logger: logging.Logger, interval_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._logger = logger
        self._interval = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, msg: str, *args: object) -> None:
        self._log(logging.WARNING, key, msg, *args)

    def error(self, key: str, msg: str, *args: object) -> None:
        self._log(logging.ERROR, key, msg, *args)

    def _log(self, level: int, key: str, msg: str, *args: object) -> None:
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            self._last[key] = now
            suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            msg = f"{msg} (and {suppressed} more like it in the last {self._interval:g} s)"
        self._logger.log(level, msg, *args)
