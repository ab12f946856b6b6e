"""The batch writer: stores what the ingest worker collected, on its own thread.

A commit waits for the database to flush its log, which on a busy or virtual disk can take
hundreds of milliseconds now and then. Writing here keeps that wait off the worker, so alerts and
live messages never queue behind history. While one batch is being written the next ones are
merged into a single pending batch; QoS 1 messages are acknowledged once the batch holding them is
committed.

Two kinds of failure (issue 11: one bad message never stops the hall):

- **the data**: the database refuses something in the batch (a value it cannot hold, a constraint).
  The batch is written again part by part, each part in its own transaction; a part that is
  refused again is set aside as a dead letter (counted, logged with its topic and event id), and
  everything else is stored and acknowledged.
- **the database**: it is down, unreachable, locked, or its schema is wrong. Nothing in the batch
  is to blame, so nothing is set aside: the write is retried with backoff (1/2 s doubling to 30 s),
  keeping the data and holding the acknowledgements, so the broker keeps the messages; `healthy`
  is false (``/healthz`` says degraded) until a write succeeds again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import exc as sa_exc

from server.logs import RateLimitedLog
from server.metrics import Metrics
from server.store.ingest_writes import BatchPart, DeadLetterRow, IngestBatch

log = logging.getLogger(__name__)

MAX_PENDING_EVENTS = 200_000
Acker = Callable[[int, int], None]
#: Told, after a batch is written, each node's event seqs it stored: (site, node) -> seqs.
Confirmer = Callable[[dict[tuple[str, str], list[int]]], None]


def about_the_data(error: BaseException) -> bool:
    """Whether the database refused a write because of what was in it (not because it is unwell).

    Refusals of a value (`DataError`: out of range, a NUL in text, invalid JSON), of a constraint
    (`IntegrityError`), or a value the driver could not even send (`StatementError` without a
    database error, `ValueError`, `TypeError`) are about the data. Everything else (connection
    lost, database locked or read-only, a missing table) is not, and must not cost any message.
    """
    if isinstance(error, sa_exc.DBAPIError):
        return (
            isinstance(error, sa_exc.DataError | sa_exc.IntegrityError) and not error.connection_invalidated
        )
    if isinstance(error, sa_exc.StatementError):
        return isinstance(error.orig, ValueError | TypeError | OverflowError)
    return isinstance(error, ValueError | TypeError | OverflowError)


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
        self.confirmer: Confirmer | None = None
        self.healthy = True  # False while the database fails writes for reasons not in the data
        self.failing_since: float | None = None
        self._oldest: float | None = None  # when the oldest message not yet stored was received

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hallwatch-writer", daemon=True)
        self._thread.start()

    def submit(self, batch: IngestBatch, acks: list[tuple[int, int]], oldest: float | None = None) -> None:
        """Hand over a batch (merged with any still waiting); returns at once.

        ``oldest`` is when the oldest message in it was received (for the ingest lag).
        """
        if batch.is_empty() and not acks:
            return
        with self._lock:
            if oldest is not None and (self._oldest is None or oldest < self._oldest):
                self._oldest = oldest
            self._pending.merge(batch)
            self._pending_acks.extend(acks)
            dropped = self._drop_overflow()
            self._ready.notify()
        self._count_dropped(dropped)

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

    @property
    def oldest_unstored(self) -> float | None:
        """When the oldest message handed over but not stored yet was received (None: all stored)."""
        with self._lock:
            return self._oldest

    def _drop_overflow(self) -> int:
        """Keep at most MAX_PENDING_EVENTS waiting (called under the lock); how many went."""
        overflow = len(self._pending.events) - MAX_PENDING_EVENTS
        if overflow <= 0:
            return 0
        del self._pending.events[:overflow]
        # Which seqs went is not worth working out: confirm none of what waits, and the nodes send
        # those events again later (the repeats are dropped by event_id).
        self._pending.confirms.clear()
        return overflow

    def _count_dropped(self, dropped: int) -> None:
        if dropped > 0:
            self._metrics.dropped.labels(reason="store_unavailable").inc(dropped)
            self._bad.error(
                "store_unavailable",
                "dropped the %d oldest unstored events: the database has been unreachable too long",
                dropped,
            )

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
                oldest, self._oldest = self._oldest, None
            left = self._store(batch, acks)
            ok = left is None
            dropped = 0
            with self._lock:
                self._busy = False
                if left is not None:  # put what is left back in front of whatever came meanwhile
                    left.merge(self._pending)
                    self._pending, self._pending_acks = left, acks + self._pending_acks
                    # What came during the failed write and what is put back may together pass
                    # the cap: the oldest go, so that the cap holds for every batch written.
                    dropped = self._drop_overflow()
                    if oldest is not None and (self._oldest is None or oldest < self._oldest):
                        self._oldest = oldest
                self._ready.notify_all()
            self._count_dropped(dropped)
            if not ok:
                if stopping:
                    log.error("could not store the last ingest data before stopping; it is lost")
                    return
                time.sleep(self._backoff_s)
                self._backoff_s = min(self._backoff_s * 2, 30.0)

    def _store(self, batch: IngestBatch, acks: list[tuple[int, int]]) -> IngestBatch | None:
        """Write a batch; None when all of it is stored or set aside (then its messages are
        acknowledged), else what is left to retry."""
        started = time.perf_counter()
        try:
            self._write(batch)
        except Exception as exc:
            if not about_the_data(exc):
                self._unwell(exc)
                return batch
            self._metrics.store_errors.labels(what="data").inc()
            log.warning("the database refused a batch (%s); writing it part by part", _short(exc))
            left = self._store_parts(batch)
            if left is not None:
                return left
        self._metrics.batch_seconds.observe(time.perf_counter() - started)
        self._backoff_s = 0.5
        if not self.healthy:
            log.info("the database takes writes again")
        self.healthy, self.failing_since = True, None
        self._metrics.store_healthy.set(1)
        acker = self.acker
        if acker is not None:
            for mid, qos in acks:
                acker(mid, qos)
        confirmer = self.confirmer
        if confirmer is not None and batch.confirms:
            try:
                confirmer(batch.confirms)
            except Exception:  # a confirmation not sent is sent again when the node repeats the event
                log.exception("could not confirm stored events to their nodes")
        return None

    def _store_parts(self, batch: IngestBatch) -> IngestBatch | None:
        """Write each part alone; a part refused for its data becomes a dead letter. None when
        every part is stored or set aside, else the parts not written (the database failed)."""
        parts = list(batch.parts())
        for i, part in enumerate(parts):
            try:
                self._write(part.batch)
            except Exception as exc:
                if not about_the_data(exc):
                    self._unwell(exc)
                    left = IngestBatch()
                    for rest in parts[i:]:
                        left.merge(rest.batch)
                    return left
                if part.batch.dead_letters:  # even the dead letter is refused: log it, drop it
                    log.error("could not keep a dead letter for %s: %s", part.topic[:200], _short(exc))
                    continue
                self._set_aside(part, exc)
        return None

    def _set_aside(self, part: BatchPart, error: BaseException) -> None:
        self._metrics.rejected.labels(reason="store").inc()
        self._metrics.dead_letters.labels(reason="store").inc()
        log.error(
            "the database refused a message on %s (event %s): %s; kept as a dead letter",
            part.topic[:200],
            part.event_id,
            _short(error),
        )
        letter = DeadLetterRow(
            received_at=datetime.now(UTC),
            topic=part.topic,
            site=part.site,
            node=part.node,
            event_id=part.event_id,
            reason="store",
            detail=f"the database refused it: {_short(error)}",
            payload=part.payload,
        )
        try:
            self._write(IngestBatch(dead_letters=[letter]))
        except Exception as exc:
            log.error("could not keep the dead letter either: %s", _short(exc))

    def _unwell(self, error: BaseException) -> None:
        self._metrics.store_errors.labels(what="ingest").inc()
        self._metrics.store_healthy.set(0)
        if self.healthy:
            self.healthy, self.failing_since = False, time.time()
        self._bad.error(
            "write",
            "could not store ingest data (%s); keeping it and retrying in %.1f s. "
            "Is the database reachable and not full?",
            _short(error),
            self._backoff_s,
        )


def _short(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
