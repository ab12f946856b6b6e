"""Events the broker has taken but the server has not yet confirmed storing (`outbox.confirm: server`).

A PUBACK only says the broker holds an event. With end-to-end acknowledgements the node keeps the
event in its outbox until the server's `nodes/{node}/stored` names its `seq`; until then it is
here, with the time it is due to be sent again: after `resend_after_s`, then twice as long each
time up to `MAX_RESEND_S` (a server that is down for hours must not receive a copy of every event
every few minutes when it returns), and at once after every reconnection to the broker (a broker
that crashed or failed over has lost what it held but not yet delivered).

A confirmation can overtake the PUBACK (the server stores an event before the node has handled
the broker's acknowledgement): such a seq is remembered as confirmed early and never waits here.

Example:
    >>> clock = iter([0.0, 0.0, 10.0, 10.0]).__next__
    >>> waiting = Unconfirmed(resend_after_s=5.0, clock=clock)
    >>> waiting.acked(7); waiting.acked(8)
    >>> waiting.confirm([(8, 8)], in_flight=set())
    >>> waiting.take_due(), len(waiting)
    ([7], 1)
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Callable, Iterable, Sequence

MAX_RESEND_S = 3600.0


class Unconfirmed:
    """Seqs waiting for the server's confirmation, each with when to send it again; one thread's."""

    def __init__(self, resend_after_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.resend_after_s = resend_after_s
        self._clock = clock
        self._due: dict[int, tuple[float, float]] = {}  # seq -> (due at, current interval)
        self._early: set[int] = set()  # confirmed while still in flight to the broker

    def __len__(self) -> int:
        return len(self._due)

    def acked(self, seq: int) -> None:
        """The broker acknowledged `seq`: it waits for the server now (unless already confirmed)."""
        if seq in self._early:
            self._early.discard(seq)
            return
        self._due[seq] = (self._clock() + self.resend_after_s, self.resend_after_s)

    def confirm(self, ranges: Sequence[tuple[int, int]], *, in_flight: set[int]) -> None:
        """The server stored the seqs of these inclusive ranges; those still `in_flight` to the
        broker are confirmed early. Ranges are not expanded: one may span millions of seqs."""
        merged = sorted(ranges)
        starts = [first for first, _last in merged]
        ends = list(itertools.accumulate((last for _first, last in merged), max))

        def covered(seq: int) -> bool:
            i = bisect.bisect_right(starts, seq) - 1
            return i >= 0 and ends[i] >= seq

        for seq in [seq for seq in self._due if covered(seq)]:
            del self._due[seq]
        self._early |= {seq for seq in in_flight if covered(seq)}

    def forget(self, seqs: Iterable[int]) -> None:
        """These seqs left the outbox another way (dropped, refused): stop waiting for them."""
        for seq in seqs:
            self._due.pop(seq, None)
            self._early.discard(seq)

    def take_due(self) -> list[int]:
        """The seqs due to be sent again now, oldest first; each is due again after twice as long."""
        now = self._clock()
        due = sorted(seq for seq, (at, _interval) in self._due.items() if at <= now)
        for seq in due:
            self._resend_later(seq, now)
        return due

    def take_all(self) -> list[int]:
        """Every waiting seq, oldest first (after a reconnection: the broker may have lost them)."""
        now = self._clock()
        every = sorted(self._due)
        for seq in every:
            self._resend_later(seq, now)
        return every

    def _resend_later(self, seq: int, now: float) -> None:
        interval = min(2.0 * self._due[seq][1], MAX_RESEND_S)
        self._due[seq] = (now + interval, interval)
