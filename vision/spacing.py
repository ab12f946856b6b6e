"""Spacing: pairs of people closer than the minimum distance, and violations that last long enough."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

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
        [Violation(a=2, b=4, distance_m=0.6, uncertainty_m=0.0, certain=True)]
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
        violations: pairs whose estimated distance is under the minimum in this frame (exempt pairs
            left out), each marked certain or not.
        possible: pairs whose estimated distance is at or over the minimum but whose band reaches
            under it.
        events: `spacing_violation_started` / `spacing_violation_ended` events of this frame.
    """

    violations: tuple[Violation, ...]
    events: tuple[HallEvent, ...]
    possible: tuple[Violation, ...] = ()


AlertOn = Literal["certain", "likely", "possible"]


@dataclass(slots=True)
class _OpenPair:
    first_t_s: float
    last_close_t_s: float
    closest_m: float
    started: bool
    window: str | None = None


class SpacingMonitor:
    """Turns per-frame close pairs, with their uncertainty, into violation events that last.

    Each pair's distance `d` comes with an uncertainty: one standard deviation
    ``sigma_d = sqrt(sigma_a**2 + sigma_b**2 + (d * scale_error)**2)`` from each person's placement
    error and the calibration's relative scale error, and a band of `band_sigmas` of it either side.
    A pair is *certain* when even the far end of the band is under `min_distance_m` (``d + band <
    L``), *likely* when ``d < L``, and *possible* when the near end is (``d - band < L``).

    A pair becomes a violation event (`spacing_violation_started`) once it has qualified, by
    `alert_on`, for `min_duration_s`. Both events carry the closest distance seen so far
    (`distance_m`) and the pair (`people`); the started event also the pair's floor midpoint and,
    when both stand at the same window when it starts, that window (`zone`, repeated on the ended
    event); the ended event how long the pair was close (`duration_s`, from the first to the last
    frame it was close).

    While open, a pair stays close as long as it is possible or within `min_distance_m +
    release_margin_m` (so a distance wavering around the limit does not end it), and it ends
    (`spacing_violation_ended`) only after it has not been close for more than `grace_s`, so a
    missed detection for a frame does not end and restart it. Pairs that end before reaching
    `min_duration_s` leave no event.

    Args:
        min_distance_m: people closer than this violate.
        min_duration_s: how long a pair must qualify before its violation is an event.
        exempt_window_pairs: leave out two people standing at the same window.
        alert_on: which pairs raise events: certain (default), likely or possible.
        band_sigmas: the band's half width in standard deviations.
        scale_error: the calibration's relative scale error (share of a distance).
        grace_s: how long a pair may not be seen close before its violation ends.
        release_margin_m: extra distance an open pair may drift apart and still be close.

    Example:
        >>> monitor = SpacingMonitor(min_distance_m=1.0, min_duration_s=1.0)
        >>> ids, xy = np.array([1, 2]), np.array([[0.0, 0.0], [0.5, 0.0]])
        >>> [e.type for e in monitor.update(0.0, ids, xy).events]
        []
        >>> [e.type for e in monitor.update(1.0, ids, xy, sigma_m=np.array([0.1, 0.1])).events]
        ['spacing_violation_started']
    """

    def __init__(
        self,
        min_distance_m: float,
        min_duration_s: float,
        *,
        exempt_window_pairs: bool = False,
        alert_on: AlertOn = "certain",
        band_sigmas: float = 1.645,
        scale_error: float = 0.0,
        grace_s: float = 1.0,
        release_margin_m: float = 0.05,
    ) -> None:
        if min_distance_m <= 0:
            raise ValueError(f"min_distance_m must be > 0, got {min_distance_m}")
        if min(min_duration_s, grace_s, release_margin_m, band_sigmas, scale_error) < 0:
            raise ValueError("durations, margins, band_sigmas and scale_error must be >= 0")
        self.min_distance_m = min_distance_m
        self.min_duration_s = min_duration_s
        self.exempt_window_pairs = exempt_window_pairs
        self.alert_on = alert_on
        self.band_sigmas = band_sigmas
        self.scale_error = scale_error
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
        sigma_m: ArrayLike | None = None,
    ) -> SpacingUpdate:
        """Feed one frame of tracked people.

        Args:
            t_s: the frame's time in seconds; a time earlier than the last frame's restarts the monitor.
            ids: `(n,)` unique track ids.
            floor_xy: `(n, 2)` positions in metres.
            window_of: per person, the window zone they stand in, or None (for the event's zone and
                the window exemption).
            sigma_m: `(n,)` one standard deviation of each position's error in metres (default 0).

        Returns:
            This frame's violations, possible pairs and events.

        Example:
            >>> SpacingMonitor(1.0, 2.0).update(0.0, np.zeros(0, np.int64), np.zeros((0, 2)))
            SpacingUpdate(violations=(), events=(), possible=())
        """
        track_ids = np.asarray(ids, np.int64).reshape(-1)
        xy = np.asarray(floor_xy, np.float64).reshape(-1, 2)
        sigma = np.zeros(len(track_ids)) if sigma_m is None else np.asarray(sigma_m, np.float64).reshape(-1)
        windows = list(window_of) if window_of is not None else [None] * len(track_ids)
        if len(windows) != len(track_ids) or len(sigma) != len(track_ids):
            raise ValueError(
                f"ids has {len(track_ids)} entries, window_of {len(windows)} and sigma_m {len(sigma)}"
            )
        if self._last_t_s is not None and t_s < self._last_t_s:
            self._open.clear()  # the source restarted: nothing carries over
        self._last_t_s = t_s

        window_by_id = dict(zip(track_ids.tolist(), windows, strict=True))
        index_by_id = {track_id: i for i, track_id in enumerate(track_ids.tolist())}
        sigma = np.nan_to_num(sigma, nan=0.0)
        widest_band = self.band_sigmas * float(np.sqrt(2.0) * sigma.max(initial=0.0) + self.scale_error * 2.0)
        reach = self.min_distance_m + max(self.release_margin_m, widest_band)
        near: list[Violation] = []
        for found in close_pairs(track_ids, xy, reach):
            if self.exempt_window_pairs and _same_window(window_by_id, found.a, found.b):
                continue
            sigma_a, sigma_b = sigma[index_by_id[found.a]], sigma[index_by_id[found.b]]
            d = found.distance_m
            band = self.band_sigmas * float(np.sqrt(sigma_a**2 + sigma_b**2 + (d * self.scale_error) ** 2))
            near.append(Violation(found.a, found.b, d, band, d + band < self.min_distance_m))
        violations = tuple(v for v in near if v.distance_m < self.min_distance_m)
        possible = tuple(
            v
            for v in near
            if v.distance_m >= self.min_distance_m and v.distance_m - v.uncertainty_m < self.min_distance_m
        )

        events: list[HallEvent] = []
        for v in near:
            key = (v.a, v.b)
            pair = self._open.get(key)
            close = v.distance_m - v.uncertainty_m < self.min_distance_m
            if pair is None:
                if not self._qualifies(v):
                    continue  # only open pairs are held by the band and the release margin
                pair = self._open[key] = _OpenPair(t_s, t_s, v.distance_m, started=False)
            elif not close and v.distance_m >= self.min_distance_m + self.release_margin_m:
                continue
            pair.last_close_t_s = t_s
            pair.closest_m = min(pair.closest_m, v.distance_m)
            due = t_s - pair.first_t_s >= self.min_duration_s
            if not pair.started and due and self._qualifies(v):
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
        return SpacingUpdate(violations=violations, events=tuple(events), possible=possible)

    def alerting(self, violations: Sequence[Violation]) -> int:
        """How many of this frame's `violations` count under `alert_on` (what the state reports)."""
        return sum(1 for v in violations if self._qualifies(v))

    def _qualifies(self, pair: Violation) -> bool:
        if self.alert_on == "certain":
            return pair.certain
        if self.alert_on == "likely":
            return pair.distance_m < self.min_distance_m
        return pair.distance_m - pair.uncertainty_m < self.min_distance_m

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
