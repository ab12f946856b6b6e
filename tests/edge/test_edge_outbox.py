"""The SQLite outbox: order, bounds, seq across restarts, and surviving SIGKILL."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.processes import PYTHON, REPO

from edge.outbox import Outbox, OutboxError


def payload(seq: int) -> bytes:
    return f'{{"seq": {seq}}}'.encode()


def test_events_come_out_in_seq_order_and_leave_only_when_deleted(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_events=100)
    seqs = [box.enqueue(f"t/{i}", payload) for i in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    rows = box.pending()
    assert [r.seq for r in rows] == seqs
    assert [r.topic for r in rows] == [f"t/{i}" for i in range(5)]
    assert rows[2].payload == payload(seqs[2])
    assert [r.seq for r in box.pending(after_seq=seqs[1], limit=2)] == seqs[2:4]
    assert box.delete([seqs[0], seqs[3], 10**9]) == 2
    assert box.depth == 3
    assert [r.seq for r in box.pending()] == [seqs[1], seqs[2], seqs[4]]


def test_wal_journal(tmp_path: Path) -> None:
    Outbox(tmp_path / "o.sqlite", max_events=100).close()
    with sqlite3.connect(tmp_path / "o.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_seq_keeps_increasing_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_events=100, seq_block=10)
    used = [box.next_seq() for _ in range(25)] + [box.enqueue("t", payload)]
    box.close()
    box = Outbox(path, max_events=100, seq_block=10)
    after = box.next_seq()
    assert after > max(used)
    box.delete([used[-1]])  # an empty outbox must not bring seq back down
    box.close()
    assert Outbox(path, max_events=100, seq_block=10).next_seq() > after


def test_full_outbox_drops_the_oldest_and_counts_every_drop(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_events=10)
    seqs = [box.enqueue("t", payload) for _ in range(15)]
    assert box.depth == 10
    assert box.dropped == 5
    assert [r.seq for r in box.pending(limit=100)] == seqs[5:]
    box.close()
    again = Outbox(path, max_events=10)
    assert again.dropped == 0 and again.dropped_total == 5
    assert again.depth == 10


def _refuse_writes(key: str, value: int) -> None:
    raise OutboxError("outbox o.sqlite: cannot write (database or disk is full)")


def test_a_drop_that_cannot_be_written_keeps_the_events_and_counts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_events=5)
    seqs = [box.enqueue("t", payload) for _ in range(5)]
    monkeypatch.setattr(box, "_write_meta", _refuse_writes)
    with pytest.raises(OutboxError, match="disk is full"):
        box.enqueue("t", payload)  # full: it must drop the oldest, and that write fails
    assert (box.dropped, box.dropped_total, box.depth) == (0, 0, 5)
    assert [r.seq for r in box.pending(limit=100)] == seqs
    monkeypatch.undo()
    box.enqueue("t", payload)
    assert (box.dropped, box.depth) == (1, 5)


def test_a_seq_block_that_cannot_be_reserved_is_never_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_events=100, seq_block=2)
    handed_out = [box.next_seq(), box.next_seq()]  # the first block, used up
    monkeypatch.setattr(box, "_write_meta", _refuse_writes)
    with pytest.raises(OutboxError):
        box.next_seq()
    monkeypatch.undo()
    handed_out += [box.next_seq(), box.next_seq()]
    box.close()  # as after a crash: only what is on disk counts
    assert Outbox(path, max_events=100, seq_block=2).next_seq() > max(handed_out)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(OutboxError, match=r"cannot open it as a SQLite database.*outbox\.path"):
        Outbox(path, max_events=10)


def test_events_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from edge.outbox import Outbox
        box = Outbox(Path({str(path)!r}), max_events=1000)
        for i in range(50):
            box.enqueue("t/%d" % i, lambda seq: b"event %d" % seq)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([str(PYTHON), "-c", script], cwd=REPO, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    box = Outbox(path, max_events=1000)
    rows = box.pending(limit=1000)
    assert len(rows) == 50
    assert [r.topic for r in rows] == [f"t/{i}" for i in range(50)]
    assert all(r.payload == b"event %d" % r.seq for r in rows)
    assert box.next_seq() > rows[-1].seq


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 4)),
        st.tuples(st.just("ack"), st.integers(0, 5)),
        st.tuples(st.just("reopen"), st.just(0)),
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_any_sequence_of_operations_keeps_order_bounds_and_seq(
    tmp_path_factory: pytest.TempPathFactory, ops
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("prop") / "o.sqlite"
    box = Outbox(path, max_events=6, seq_block=3)
    handed_out: list[int] = []
    for op, n in ops:
        if op == "add":
            handed_out += [box.enqueue("t", payload) for _ in range(n)]
        elif op == "ack":
            box.delete([r.seq for r in box.pending(limit=n)])
        else:
            box.close()
            box = Outbox(path, max_events=6, seq_block=3)
        rows = [r.seq for r in box.pending(limit=100)]
        assert rows == sorted(rows)
        assert len(rows) == box.depth <= 6
        assert set(rows) <= set(handed_out)
    assert handed_out == sorted(handed_out) and len(set(handed_out)) == len(handed_out)
    assert box.next_seq() > max(handed_out, default=-1)
    box.close()
