"""The node's SQLite outbox: events wait here from before they are published until their PUBACK.

Guarantees (see docs/mqtt.md):
- an event is committed to the file before anyone tries to publish it, so a crash (SIGKILL, power
  loss with `synchronous=FULL`) never loses an event that was accepted;
- events leave in `seq` order and are deleted only when the broker acknowledged them: delivery is
  at least once, and consumers drop repeats by `event_id`;
- the file is bounded (`outbox.max_events`): when it is full the oldest event is dropped to make
  room, and every drop is counted (`dropped`, shown in the node's health);
- `seq` is per node and strictly increasing across restarts: the high-water mark is reserved in the
  file in blocks before any number of that block is used.

Example:
    >>> box = Outbox(Path("var/outbox.sqlite"), max_events=100_000)  # doctest: +SKIP
    >>> seq = box.enqueue("hallwatch/h/cameras/c/events", lambda seq: payload(seq))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
SEQ_BLOCK = 1000


class OutboxError(Exception):
    """The outbox file cannot be opened or written; the text says which file and why."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    topic: str
    payload: bytes


class Outbox:
    """A bounded, crash-safe queue of events in one SQLite file (WAL), shared by the node's threads."""

    def __init__(self, path: Path, max_events: int, *, seq_block: int = SEQ_BLOCK) -> None:
        self.path = path
        self.max_events = max_events
        self._seq_block = seq_block
        self._lock = threading.Lock()
        self._dropped = 0
        db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            reserved = self._meta("seq_reserved")
            (max_row,) = self._db.execute("SELECT COALESCE(MAX(seq), -1) FROM events").fetchone()
            self._depth = int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
            self._dropped_before = self._meta("dropped_total")
        except sqlite3.DatabaseError as exc:
            _close(db)
            raise OutboxError(
                f"outbox {path}: cannot open it as a SQLite database ({exc}); move the file aside "
                "or fix outbox.path"
            ) from None
        except OSError as exc:
            _close(db)
            raise OutboxError(f"outbox {path}: cannot create it ({exc.strerror or exc})") from None
        # Everything up to `reserved` may have been used before a crash: start above it.
        self._next_seq = max(reserved, int(max_row) + 1)
        self._reserved = self._next_seq
        if self._depth:
            log.info("outbox %s holds %d unsent events from an earlier run", path, self._depth)

    # ------------------------------------------------------------------------------------ seq
    def next_seq(self) -> int:
        """A new per-node sequence number, never handed out before (also across restarts)."""
        with self._lock:
            return self._take_seq()

    def _take_seq(self) -> int:
        if self._next_seq >= self._reserved:
            reserved = self._next_seq + self._seq_block
            self._write_meta("seq_reserved", reserved)  # on disk first: a crash never reuses a seq
            self._reserved = reserved
        seq = self._next_seq
        self._next_seq += 1
        return seq

    # --------------------------------------------------------------------------------- events
    def enqueue(self, topic: str, build: Callable[[int], bytes]) -> int:
        """Give `build` a fresh seq, store what it returns, and return that seq.

        The seq is taken and the row written under one lock, so rows are stored in seq order
        even when several cameras add events at once.

        Raises:
            OutboxError: the file cannot be written (disk full, read-only).
        """
        with self._lock:
            seq = self._take_seq()
            payload = build(seq)
            try:
                if self._depth >= self.max_events:
                    self._drop_oldest(self._depth - self.max_events + 1)
                self._db.execute(
                    "INSERT INTO events (seq, topic, payload, created_s) VALUES (?, ?, ?, ?)",
                    (seq, topic, payload, time.time()),
                )
            except sqlite3.Error as exc:
                raise OutboxError(f"outbox {self.path}: cannot store an event ({exc})") from None
            self._depth += 1
            return seq

    def _drop_oldest(self, n: int) -> None:
        rows = self._db.execute("SELECT seq FROM events ORDER BY seq LIMIT ?", (n,)).fetchall()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("DELETE FROM events WHERE seq = ?", rows)
            self._write_meta("dropped_total", self._dropped_before + self._dropped + len(rows))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        # Counted only once the rows are gone: a failed drop leaves both the events and the count.
        self._dropped += len(rows)
        self._depth -= len(rows)
        log.warning(
            "outbox full (%d events): dropped the oldest (seq %s); %d dropped since start",
            self.max_events,
            ", ".join(str(r[0]) for r in rows[:5]) + (" ..." if len(rows) > 5 else ""),
            self._dropped,
        )

    def pending(self, after_seq: int = -1, limit: int = 100) -> list[OutboxRow]:
        """Up to `limit` waiting events with a seq above `after_seq`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [OutboxRow(int(seq), str(topic), bytes(payload)) for seq, topic, payload in rows]

    def rows(self, seqs: Iterable[int]) -> list[OutboxRow]:
        """The events of these seqs still in the outbox, oldest first."""
        wanted = sorted(set(seqs))
        found: list[OutboxRow] = []
        with self._lock:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ",".join("?" * len(chunk))
                found += [
                    OutboxRow(int(seq), str(topic), bytes(payload))
                    for seq, topic, payload in self._db.execute(
                        f"SELECT seq, topic, payload FROM events WHERE seq IN ({marks}) ORDER BY seq", chunk
                    ).fetchall()
                ]
        return found

    def delete(self, seqs: Iterable[int]) -> int:
        """Remove acknowledged events (in one transaction); returns how many were still there."""
        return self._delete("DELETE FROM events WHERE seq = ?", [(s,) for s in seqs])

    def delete_ranges(self, ranges: Iterable[tuple[int, int]]) -> int:
        """Remove the events of these inclusive seq ranges (the server stored them); returns how many."""
        return self._delete("DELETE FROM events WHERE seq BETWEEN ? AND ?", list(ranges))

    def _delete(self, sql: str, keys: list[tuple[int]] | list[tuple[int, int]]) -> int:
        if not keys:
            return 0
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                before = self._db.total_changes
                self._db.executemany(sql, keys)
                removed = self._db.total_changes - before
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                log.error(
                    "outbox %s: cannot delete acknowledged events (%s); they stay in the outbox and are "
                    "sent again (the server drops repeats)",
                    self.path,
                    exc,
                )
                return 0
            self._depth -= removed
            return removed

    # --------------------------------------------------------------------------------- status
    @property
    def depth(self) -> int:
        """Events in the outbox: not acknowledged yet (by the broker, or by the server: `confirm: server`)."""
        return self._depth

    @property
    def dropped(self) -> int:
        """Events dropped because the outbox was full, since this process opened it."""
        return self._dropped

    @property
    def dropped_total(self) -> int:
        """Events dropped over the file's whole life."""
        return self._dropped_before + self._dropped

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ----------------------------------------------------------------------------------- meta
    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _write_meta(self, key: str, value: int) -> None:
        try:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path}: cannot write ({exc})") from None


def _close(db: sqlite3.Connection | None) -> None:
    if db is not None:
        db.close()
