"""How many frames a second a camera needs: what its zones need now, within its bounds.

A camera whose `adaptive_fps` is set samples its source at a rate between `min_fps` and `max_fps`
that follows its latest state (`frame_need`, from 0 to 1):

- a window at its limit needs the most (1); one person under it, less (count / limit);
- a queue changes slowly: a full one needs a quarter (`QUEUE_WEIGHT`), the hall's occupancy half
  (`HALL_WEIGHT`) of its share of the capacity;
- two people approaching the minimum distance need more as they close in, and 1 once they are
  under it (a violation's duration is timed on frames);
- someone near an entrance line is about to cross it (1): a crossing is seen on frames each side;
- anyone in view needs a little (`PRESENCE_NEED`): tracks keep their ids on a few frames a second.

`RatePolicy` turns a camera's needs into its target rate: it rises at once and falls only when
nothing needed more for `hold_s` (a crowd that just thinned may be back). `share_budget` shares
a node's frames per second between its cameras when their targets together exceed it: each camera
keeps its minimum, and the rest goes to the neediest first.

Everything here is pure: states in, frames per second out; the node applies them (`edge.rates`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vision.config import AdaptiveRateConfig, EntranceLine, HallZone, QueueZone, WindowZone
from vision.state import HallState

QUEUE_WEIGHT = 0.25
HALL_WEIGHT = 0.5
PRESENCE_NEED = 0.2
ENTRANCE_NEAR_M = 1.5  # someone this close to an entrance line may cross it before the next frame
QUEUE_FULL = 10  # a queue without a limit counts as full with this many people in it

ZoneConfig = WindowZone | QueueZone | HallZone | EntranceLine


def frame_need(state: HallState, zones: Sequence[ZoneConfig], min_distance_m: float) -> float:
    """What a camera's latest state asks of its frame rate, from 0 (nothing to see) to 1 (its most).

    Args:
        state: the camera's state for its latest frame.
        zones: the zones this camera counts (`HallConfig.zones_for`).
        min_distance_m: the spacing rule's minimum distance.

    Example:
        >>> from vision.state import FloorPeople
        >>> window = WindowZone(id="w1", kind="window", polygon=[(0, 0), (1, 0), (1, 1)], max_people=2)
        >>> people = FloorPeople(np.array([1, 2]), np.array([[0.5, 0.3], [3.0, 3.0]]), np.zeros((2, 2)),
        ...                      np.ones(2, np.float32))
        >>> state = HallState("cam", 0, 0.0, people, {"w1": 1}, (), {})
        >>> frame_need(state, [window], 1.0)  # one of two at the window
        0.5
    """
    needs = [0.0]
    people = state.people
    if len(people):
        needs.append(PRESENCE_NEED)
    counts = state.zone_counts
    for zone in zones:
        count = counts.get(zone.id, 0)
        if isinstance(zone, WindowZone):
            needs.append(min(1.0, count / zone.max_people))
        elif isinstance(zone, QueueZone):
            needs.append(QUEUE_WEIGHT * min(1.0, count / (zone.max_people or QUEUE_FULL)))
        elif isinstance(zone, HallZone):
            needs.append(HALL_WEIGHT * min(1.0, count / zone.capacity))
        elif len(people) and _nearest_to_line_m(people.floor_xy, zone.line) < ENTRANCE_NEAR_M:
            needs.append(1.0)
    if state.violations:
        needs.append(1.0)
    elif len(people) >= 2:
        closest = _closest_pair_m(people.floor_xy)
        needs.append(float(np.clip((2.0 * min_distance_m - closest) / min_distance_m, 0.0, 1.0)))
    return max(needs)


def rate_for(need: float, config: AdaptiveRateConfig) -> float:
    """The frames per second a need asks for within the camera's bounds.

    >>> rate_for(0.5, AdaptiveRateConfig(min_fps=1.0, max_fps=9.0))
    5.0
    """
    return config.min_fps + float(np.clip(need, 0.0, 1.0)) * (config.max_fps - config.min_fps)


class RatePolicy:
    """One camera's target rate from its needs over time: up at once, down after `hold_s`.

    Times are the frames' own (`t_s`), so replaying a video at any speed gives the same rates.

    Example:
        >>> policy = RatePolicy(AdaptiveRateConfig(min_fps=1.0, max_fps=9.0, hold_s=10.0))
        >>> policy.update(0.0, 1.0), policy.update(5.0, 0.0), policy.update(10.5, 0.0)
        (9.0, 9.0, 1.0)
    """

    def __init__(self, config: AdaptiveRateConfig) -> None:
        self.config = config
        self._recent: deque[tuple[float, float]] = deque()  # (t_s, need), needs decreasing

    def update(self, t_s: float, need: float) -> float:
        """The target rate after a frame at `t_s` whose state needs `need`."""
        recent = self._recent
        if recent and t_s < recent[-1][0]:
            recent.clear()  # time went back (a source reopened from its start): start afresh
        while recent and recent[-1][1] <= need:
            recent.pop()  # a smaller need before a larger one can never be the largest again
        recent.append((t_s, need))
        while recent[0][0] < t_s - self.config.hold_s:
            recent.popleft()
        return rate_for(self.need, self.config)

    @property
    def need(self) -> float:
        """The largest need within the last `hold_s` (0 before the first frame)."""
        return self._recent[0][1] if self._recent else 0.0


@dataclass(frozen=True, slots=True)
class RateWant:
    """One camera's claim on a node's frames: at least `min_fps`, `target_fps` if it can have it.

    A fixed-rate camera claims its rate as both.
    """

    min_fps: float
    target_fps: float
    need: float = 0.0


def share_budget(wants: Sequence[RateWant], budget_fps: float | None) -> list[float]:
    """Frames per second for each camera when together they may take at most `budget_fps`.

    Every camera keeps its minimum (even over the budget: a camera never stops); what the budget
    leaves goes to the neediest cameras first, cameras of equal need sharing it evenly.

    Example:
        >>> wants = [RateWant(1.0, 8.0, 1.0), RateWant(1.0, 3.0, 0.3), RateWant(5.0, 5.0)]
        >>> share_budget(wants, None), share_budget(wants, 12.0), share_budget(wants, 6.0)
        ([8.0, 3.0, 5.0], [6.0, 1.0, 5.0], [1.0, 1.0, 5.0])
    """
    targets = [max(w.target_fps, w.min_fps) for w in wants]
    if budget_fps is None or sum(targets) <= budget_fps:
        return targets
    shares = [w.min_fps for w in wants]
    left = budget_fps - sum(shares)
    for need in sorted({w.need for w in wants}, reverse=True):
        group = [i for i, w in enumerate(wants) if w.need == need and targets[i] > shares[i]]
        while left > 1e-9 and group:
            each = left / len(group)
            for i in list(group):
                extra = min(each, targets[i] - shares[i])
                shares[i] += extra
                left -= extra
                if targets[i] - shares[i] <= 1e-9:
                    group.remove(i)
    return shares


def _closest_pair_m(floor_xy: np.ndarray) -> float:
    deltas = floor_xy[:, None, :] - floor_xy[None, :, :]
    distances = np.hypot(deltas[..., 0], deltas[..., 1])
    np.fill_diagonal(distances, np.inf)
    return float(distances.min())


def _nearest_to_line_m(floor_xy: np.ndarray, line: tuple[tuple[float, float], tuple[float, float]]) -> float:
    a, b = np.asarray(line[0], np.float64), np.asarray(line[1], np.float64)
    ab = b - a
    t = np.clip(((floor_xy - a) @ ab) / float(ab @ ab), 0.0, 1.0)
    nearest = a + t[:, None] * ab
    return float(np.hypot(*(floor_xy - nearest).T).min())
