"""Spacing: pairs of people closer than the minimum distance, and violations that last long enough."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from vision.state import HallEvent, Violation

#: Below this many people all pairs are compared directly; above, a k-d tree finds the candidates.
KDTREE_MIN_PEOPLE = 32


def close_pairs(ids: ArrayLike, floor_xy: ArrayLike, min_distance_m: float) -> list[Violation]:
    """Pairs of people strictly closer than `min_distance_m` on the floor.

    Args:
        ids: `(n,)` unique track ids.
        floor_xy: `(n, 2)` positions in metres.
        min_distance_m: people closer than this (not equal) violate.

    Returns:
        One `Violation` per pair with `a < b`, sorted by `(a, b)`.

    Example:
        >>> close_pairs(np.array([4, 2, 9]), np.array([[0.0, 0.0], [0.6, 0.0], [5.0, 5.0]]), 1.0)
        [Violation(a=2, b=4, distance_m=0.6)]
    """
    track_ids = np.asarray(ids, np.int64).reshape(-1)
    xy = np.asarray(floor_xy, np.float64).reshape(-1, 2)
    if len(track_ids) != len(xy):
        raise ValueError(f"ids has {len(track_ids)} entries but floor_xy has {len(xy)} points")
    if len(np.unique(track_ids)) != len(track_ids):
        raise ValueError("ids must be unique: a pair is named by its two ids")
    if not np.all(np.isfinite(xy)):
        raise ValueError("floor_xy must be finite")
    first, second = _candidate_pairs(xy, min_distance_m)
    delta = xy[first] - xy[second]
    distance_m = np.sqrt(delta[:, 0] * delta[:, 0] + delta[:, 1] * delta[:, 1])
    keep = distance_m < min_distance_m
    a = np.minimum(track_ids[first], track_ids[second])[keep]
    b = np.maximum(track_ids[first], track_ids[second])[keep]
    distance_m = distance_m[keep]
    order = np.lexsort((b, a))
    return [Violation(a=int(a[k]), b=int(b[k]), distance_m=float(distance_m[k])) for k in order.tolist()]


def _candidate_pairs(xy: NDArray[np.float64], radius_m: float) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Index pairs `i < j` that may be within `radius_m` (every pair within it is included)."""
    if len(xy) < KDTREE_MIN_PEOPLE:
        first, second = np.triu_indices(len(xy), k=1)
        return first.astype(np.intp), second.astype(np.intp)
    # A hair wider than the radius, so the tree's own rounding never drops a pair; the caller filters.
    pairs = cKDTree(xy).query_pairs(r=radius_m * (1.0 + 1e-9) + 1e-12, output_type="ndarray")
    return pairs[:, 0].astype(np.intp), pairs[:, 1].astype(np.intp)


@dataclass(frozen=True, slots=True)
class SpacingUpdate:
    """One frame of spacing.

    Attributes:
        violations: pairs closer than the minimum distance in this frame (exempt pairs left out).
        events: `spacing_violation_started` / `spacing_violation_ended` events of this frame.
    """

    violations: tuple[Violation, ...]
    events: tuple[HallEvent, ...]


@dataclass(slots=True)
class _OpenPair:
    first_t_s: float
    last_close_t_s: float
    closest_m: float
    started: bool
    window: str | None = None


class SpacingMonitor:
    """Turns per-frame close pairs into violation events that last.

    A pair becomes a violation event (`spacing_violation_started`) once it has been closer than
    `min_distance_m` for `min_duration_s`. Both events carry the closest distance seen so far
    (`distance_m`) and the pair (`people`); the started event also the pair's floor midpoint and, when
    both stand at the same window when it starts, that window (`zone`, repeated on the ended event);
    the ended event how long the pair was close
    (`duration_s`, from the first to the last frame it was close).

    While open, a pair stays close as long as it is within `min_distance_m + release_margin_m` (so a
    distance wavering around the limit does not end it), and it ends (`spacing_violation_ended`) only
    after it has not been close for more than `grace_s`, so a missed detection for a frame does not
    end and restart it. Pairs that end before reaching `min_duration_s` leave no event.

    Args:
        min_distance_m: people closer than this violate.
        min_duration_s: how long a pair must stay close before its violation is an event.
        exempt_window_pairs: leave out two people standing at the same window.
        grace_s: how long a pair may not be seen close before its violation ends.
        release_margin_m: extra distance an open pair may drift apart and still be close.

    Example:
        >>> monitor = SpacingMonitor(min_distance_m=1.0, min_duration_s=1.0)
        >>> ids, xy = np.array([1, 2]), np.array([[0.0, 0.0], [0.5, 0.0]])
        >>> [e.type for e in monitor.update(0.0, ids, xy).events]
        []
        >>> [e.type for e in monitor.update(1.0, ids, xy).events]
        ['spacing_violation_started']
    """

    def __init__(
        self,
        min_distance_m: float,
        min_duration_s: float,
        *,
        exempt_window_pairs: bool = False,
        grace_s: float = 1.0,
        release_margin_m: float = 0.05,
    ) -> None:
        if min_distance_m <= 0:
            raise ValueError(f"min_distance_m must be > 0, got {min_distance_m}")
        if min_duration_s < 0 or grace_s < 0 or release_margin_m < 0:
            raise ValueError("min_duration_s, grace_s and release_margin_m must be >= 0")
        self.min_distance_m = min_distance_m
        self.min_duration_s = min_duration_s
        self.exempt_window_pairs = exempt_window_pairs
        self.grace_s = grace_s
        self.release_margin_m = release_margin_m
        self._open: dict[tuple[int, int], _OpenPair] = {}
        self._last_t_s: float | None = None

    def update(
        self,
        t_s: float,
        ids: ArrayLike,
        floor_xy: ArrayLike,
        window_of: Sequence[str | None] | None = None,
    ) -> SpacingUpdate:
        """Feed one frame of tracked people.

        Args:
            t_s: the frame's time in seconds; a time earlier than the last frame's restarts the monitor.
            ids: `(n,)` unique track ids.
            floor_xy: `(n, 2)` positions in metres.
            window_of: per person, the window zone they stand in, or None (for the event's zone and
                the window exemption).

        Returns:
            This frame's violations and events.

        Example:
            >>> SpacingMonitor(1.0, 2.0).update(0.0, np.zeros(0, np.int64), np.zeros((0, 2)))
            SpacingUpdate(violations=(), events=())
        """
        track_ids = np.asarray(ids, np.int64).reshape(-1)
        xy = np.asarray(floor_xy, np.float64).reshape(-1, 2)
        windows = list(window_of) if window_of is not None else [None] * len(track_ids)
        if len(windows) != len(track_ids):
            raise ValueError(f"window_of has {len(windows)} entries but ids has {len(track_ids)}")
        if self._last_t_s is not None and t_s < self._last_t_s:
            self._open.clear()  # the source restarted: nothing carries over
        self._last_t_s = t_s

        window_by_id = dict(zip(track_ids.tolist(), windows, strict=True))
        index_by_id = {track_id: i for i, track_id in enumerate(track_ids.tolist())}
        near = close_pairs(track_ids, xy, self.min_distance_m + self.release_margin_m)
        if self.exempt_window_pairs:
            near = [v for v in near if not _same_window(window_by_id, v.a, v.b)]
        violations = tuple(v for v in near if v.distance_m < self.min_distance_m)

        events: list[HallEvent] = []
        for v in near:
            key = (v.a, v.b)
            pair = self._open.get(key)
            if pair is None:
                if v.distance_m >= self.min_distance_m:
                    continue  # only open pairs are held by the release margin
                pair = self._open[key] = _OpenPair(t_s, t_s, v.distance_m, started=False)
            pair.last_close_t_s = t_s
            pair.closest_m = min(pair.closest_m, v.distance_m)
            due = t_s - pair.first_t_s >= self.min_duration_s
            if not pair.started and due and v.distance_m < self.min_distance_m:
                pair.started = True
                pair.window = window_by_id[v.a] if _same_window(window_by_id, v.a, v.b) else None
                midpoint = (xy[index_by_id[v.a]] + xy[index_by_id[v.b]]) / 2.0
                events.append(
                    HallEvent(
                        type="spacing_violation_started",
                        t_s=t_s,
                        zone=pair.window,
                        people=key,
                        distance_m=pair.closest_m,
                        floor=(float(midpoint[0]), float(midpoint[1])),
                    )
                )
        expired = [key for key, pair in self._open.items() if t_s - pair.last_close_t_s > self.grace_s]
        for key in sorted(expired):
            pair = self._open.pop(key)
            if pair.started:
                events.append(_ended(t_s, key, pair))
        return SpacingUpdate(violations=violations, events=tuple(events))

    def finish(self, t_s: float) -> tuple[HallEvent, ...]:
        """End every open violation (at the end of a stream), returning their ended events.

        Example:
            >>> SpacingMonitor(1.0, 2.0).finish(10.0)
            ()
        """
        events = tuple(_ended(t_s, key, pair) for key, pair in sorted(self._open.items()) if pair.started)
        self._open.clear()
        return events


def _same_window(window_by_id: dict[int, str | None], a: int, b: int) -> bool:
    return window_by_id[a] is not None and window_by_id[a] == window_by_id[b]


def _ended(t_s: float, key: tuple[int, int], pair: _OpenPair) -> HallEvent:
    return HallEvent(
        type="spacing_violation_ended",
        t_s=t_s,
        zone=pair.window,
        people=key,
        distance_m=pair.closest_m,
        duration_s=pair.last_close_t_s - pair.first_t_s,
    )
