"""The batch writer: stores what the ingest worker collected, on its own thread.

A commit waits for the database to flush its log, which on a busy or virtual disk can take
hundreds of milliseconds now and then. Writing here keeps that wait off the worker, so alerts and
live messages never queue behind history. While one batch is being written the next ones are
merged into a single pending batch; QoS 1 messages are acknowledged once the batch holding them is
committed. A failed write is retried with backoff (1/2 s doubling to 30 s), keeping the data and
holding the acknowledgements, so the broker slows down instead of the server losing events.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from server.logs import RateLimitedLog
from server.metrics import Metrics
from server.store.ingest_writes import IngestBatch

log = logging.getLogger(__name__)

MAX_PENDING_EVENTS = 200_000
Acker = Callable[[int, int], None]


class BatchWriter:
    """Owns the pending batch and the thread that writes it."""

    def __init__(self, write: Callable[[IngestBatch], None], metrics: Metrics) -> None:
        self._write = write
        self._metrics = metrics
        self._bad = RateLimitedLog(log)
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._pending = IngestBatch()
        self._pending_acks: list[tuple[int, int]] = []
        self._busy = False
        self._stop = False
        self._thread: threading.Thread | None = None
        self._backoff_s = 0.5
        self.acker: Acker | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hallwatch-writer", daemon=True)
        self._thread.start()

    def submit(self, batch: IngestBatch, acks: list[tuple[int, int]]) -> None:
        """Hand over a batch (merged with any still waiting); returns at once."""
        if batch.is_empty() and not acks:
            return
        with self._lock:
            self._pending.merge(batch)
            self._pending_acks.extend(acks)
            overflow = len(self._pending.events) - MAX_PENDING_EVENTS
            if overflow > 0:
                del self._pending.events[:overflow]
            self._ready.notify()
        if overflow > 0:
            self._metrics.dropped.labels(reason="store_unavailable").inc(overflow)
            self._bad.error(
                "store_unavailable",
                "dropped the %d oldest unstored events: the database has been unreachable too long",
                overflow,
            )

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything submitted so far is written; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._busy or not self._empty():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._ready.wait(min(remaining, 0.1))
        return True

    def stop(self, timeout_s: float = 10.0) -> None:
        """Write what is pending (one last try) and stop the thread."""
        with self._lock:
            self._stop = True
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error(
                    "the writer did not finish within %.0f s; the last data may not be stored", timeout_s
                )
            self._thread = None

    @property
    def backlog_events(self) -> int:
        with self._lock:
            return len(self._pending.events)

    def _empty(self) -> bool:
        return self._pending.is_empty() and not self._pending_acks

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._empty() and not self._stop:
                    self._ready.wait()
                if self._empty() and self._stop:
                    return
                batch, acks = self._pending, self._pending_acks
                self._pending, self._pending_acks = IngestBatch(), []
                self._busy = True
                stopping = self._stop
            ok = self._store(batch, acks)
            with self._lock:
                self._busy = False
                if not ok:  # put it back in front of whatever came meanwhile
                    batch.merge(self._pending)
                    self._pending, self._pending_acks = batch, acks + self._pending_acks
                self._ready.notify_all()
            if not ok:
                if stopping:
                    log.error("could not store the last ingest data before stopping; it is lost")
                    return
                time.sleep(self._backoff_s)
                self._backoff_s = min(self._backoff_s * 2, 30.0)

    def _store(self, batch: IngestBatch, acks: list[tuple[int, int]]) -> bool:
        started = time.perf_counter()
        try:
            self._write(batch)
        except Exception as exc:
            self._metrics.store_errors.labels(what="ingest").inc()
            self._bad.error(
                "write",
                "could not store ingest data (%s); keeping it and retrying in %.1f s. "
                "Is the database reachable and not full?",
                exc,
                self._backoff_s,
            )
            return False
        self._metrics.batch_seconds.observe(time.perf_counter() - started)
        self._backoff_s = 0.5
        acker = self.acker
        if acker is not None:
            for mid, qos in acks:
                acker(mid, qos)
        return True
