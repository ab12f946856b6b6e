"""Over time: floor positions steadied per track, zone limits crossed and cleared (events), and how
long each person has stood in a zone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vision.config import EntranceLine, HallZone, QueueZone, WindowZone
from vision.state import HallEvent, HallEventType

#: Slack for comparing frame times (seconds), so 1.6 - 0.6 still reaches 1.0.
_TIME_EPS_S = 1e-9


class PositionFilter:
    """Floor positions steadied per track: a constant-velocity Kalman filter, causal (no delay added).

    Each position comes with its standard deviation (from the placement); the filter weighs it
    against where the person's recent walk says they should be. On vtest.avi (real people walking,
    yolo11n-pose at imgsz 1280, the demo calibration) raw box-bottom positions lie a median 5.6 cm
    from a centred 9-frame quadratic fit of their own track, filtered ones 3.8 cm (acceleration noise
    0.5 m^2/s^3; 0.25 and 1.0 gave 3.7 and 4.0 cm). A track not seen for `forget_s` starts afresh.

    Args:
        acceleration_noise: the process noise's spectral density, m^2/s^3: how briskly people change pace.
        forget_s: how long a track's filter is kept after it was last seen.

    Example:
        >>> steady = PositionFilter()
        >>> for k, x in enumerate([0.0, 0.1, -0.1, 0.05]):
        ...     xy, sigma = steady.update(k * 0.1, np.array([7]), np.array([[x, 0.0]]), np.array([0.1]))
        >>> abs(float(xy[0, 0])) < 0.05 and float(sigma[0]) < 0.1
        True
    """

    def __init__(self, acceleration_noise: float = 0.5, forget_s: float = 2.0) -> None:
        if acceleration_noise <= 0 or forget_s < 0:
            raise ValueError("acceleration_noise must be > 0 and forget_s >= 0")
        self.acceleration_noise = acceleration_noise
        self.forget_s = forget_s
        self._state: dict[int, tuple[float, NDArray[np.float64], NDArray[np.float64]]] = {}
        self._last_t_s: float | None = None

    def update(
        self, t_s: float, ids: ArrayLike, floor_xy: ArrayLike, sigma_m: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Feed one frame's measured positions `(n, 2)` and their standard deviations `(n,)`.

        Returns:
            The filtered positions `(n, 2)` and their standard deviations `(n,)`.
        """
        track_ids = np.asarray(ids, np.int64).reshape(-1).tolist()
        xy = np.asarray(floor_xy, np.float64).reshape(-1, 2)
        sigma = np.maximum(np.nan_to_num(np.asarray(sigma_m, np.float64).reshape(-1), nan=0.1), 1e-3)
        if self._last_t_s is not None and t_s < self._last_t_s:
            self._state.clear()
        self._last_t_s = t_s
        out_xy, out_sigma = xy.copy(), sigma.copy()
        for row, track_id in enumerate(track_ids):
            known = self._state.get(track_id)
            if known is None or t_s - known[0] > self.forget_s:
                state = np.array([xy[row, 0], xy[row, 1], 0.0, 0.0])
                covariance = np.diag([sigma[row] ** 2, sigma[row] ** 2, 1.0, 1.0])
            else:
                state, covariance = self._filtered(t_s - known[0], known[1], known[2], xy[row], sigma[row])
            self._state[track_id] = (t_s, state, covariance)
            out_xy[row] = state[:2]
            out_sigma[row] = float(np.sqrt(max(covariance[0, 0], covariance[1, 1])))
        for track_id in [i for i, (seen, _, _) in self._state.items() if t_s - seen > self.forget_s]:
            del self._state[track_id]
        return out_xy, out_sigma

    def _filtered(
        self,
        dt: float,
        state: NDArray[np.float64],
        covariance: NDArray[np.float64],
        measured: NDArray[np.float64],
        sigma: float,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        move = np.eye(4)
        move[0, 2] = move[1, 3] = dt
        q = self.acceleration_noise
        noise = q * np.array(
            [
                [dt**3 / 3, 0, dt**2 / 2, 0],
                [0, dt**3 / 3, 0, dt**2 / 2],
                [dt**2 / 2, 0, dt, 0],
                [0, dt**2 / 2, 0, dt],
            ]
        )
        state = move @ state
        covariance = move @ covariance @ move.T + noise
        innovation_cov = covariance[:2, :2] + np.eye(2) * sigma**2
        gain = covariance[:, :2] @ np.linalg.inv(innovation_cov)
        state = state + gain @ (measured - state[:2])
        covariance = covariance - gain @ covariance[:2, :]
        return state, covariance


LimitKind = Literal["window_over_limit", "queue_over_limit", "hall_over_capacity"]

_EVENT_TYPES: dict[LimitKind, tuple[HallEventType, HallEventType]] = {
    "window_over_limit": ("window_over_limit_started", "window_over_limit_ended"),
    "queue_over_limit": ("queue_over_limit_started", "queue_over_limit_ended"),
    "hall_over_capacity": ("hall_over_capacity_started", "hall_over_capacity_ended"),
}


@dataclass(frozen=True, slots=True)
class ZoneLimit:
    """A zone whose count is watched: over `limit` people (strictly more) is over the limit."""

    zone: str
    limit: int
    kind: LimitKind


def zone_limits(zones: Sequence[WindowZone | QueueZone | HallZone | EntranceLine]) -> list[ZoneLimit]:
    """The limits the zones set: each window's `max_people`, each queue's `max_people` when set, and
    the hall's `capacity`.

    Example:
        >>> zone_limits([WindowZone(id="w1", kind="window", polygon=[(0, 0), (1, 0), (1, 1)])])
        [ZoneLimit(zone='w1', limit=2, kind='window_over_limit')]
    """
    limits: list[ZoneLimit] = []
    for zone in zones:
        if isinstance(zone, WindowZone):
            limits.append(ZoneLimit(zone.id, zone.max_people, "window_over_limit"))
        elif isinstance(zone, QueueZone) and zone.max_people is not None:
            limits.append(ZoneLimit(zone.id, zone.max_people, "queue_over_limit"))
        elif isinstance(zone, HallZone):
            limits.append(ZoneLimit(zone.id, zone.capacity, "hall_over_capacity"))
    return limits


@dataclass(slots=True)
class _OverLimit:
    started_t_s: float
    peak: int


class LimitMonitor:
    """Emits `*_over_limit_started` / `*_ended` events from (smoothed) zone counts.

    The started event carries the count and the limit; the ended event carries the highest count
    seen while over the limit (`count`), the limit, and how long it lasted (`duration_s`). A frame
    time earlier than the last one (a restarted source) drops open episodes without events.

    Example:
        >>> monitor = LimitMonitor([ZoneLimit("w1", 2, "window_over_limit")])
        >>> [e.type for e in monitor.update(0.0, {"w1": 3})]
        ['window_over_limit_started']
        >>> [(e.type, e.count, e.duration_s) for e in monitor.update(4.5, {"w1": 2})]
        [('window_over_limit_ended', 3, 4.5)]
    """

    def __init__(self, limits: Sequence[ZoneLimit]) -> None:
        self.limits = tuple(limits)
        self._open: dict[str, _OverLimit] = {}
        self._last_t_s: float | None = None

    def update(self, t_s: float, counts: Mapping[str, int]) -> list[HallEvent]:
        """Feed one frame's counts (a zone missing from `counts` counts 0); returns its events.

        Example:
            >>> LimitMonitor([]).update(0.0, {})
            []
        """
        if self._last_t_s is not None and t_s < self._last_t_s:
            self._open.clear()
        self._last_t_s = t_s
        events: list[HallEvent] = []
        for limit in self.limits:
            count = int(counts.get(limit.zone, 0))
            started_type, ended_type = _EVENT_TYPES[limit.kind]
            episode = self._open.get(limit.zone)
            if count > limit.limit:
                if episode is None:
                    self._open[limit.zone] = _OverLimit(t_s, count)
                    events.append(
                        HallEvent(started_type, t_s, zone=limit.zone, count=count, limit=limit.limit)
                    )
                else:
                    episode.peak = max(episode.peak, count)
            elif episode is not None:
                del self._open[limit.zone]
                events.append(_ended(ended_type, t_s, limit, episode))
        return events

    def finish(self, t_s: float) -> tuple[HallEvent, ...]:
        """End every open episode (at the end of a stream), returning their ended events.

        Example:
            >>> LimitMonitor([]).finish(1.0)
            ()
        """
        events = tuple(
            _ended(_EVENT_TYPES[limit.kind][1], t_s, limit, self._open[limit.zone])
            for limit in self.limits
            if limit.zone in self._open
        )
        self._open.clear()
        return events


def _ended(event_type: HallEventType, t_s: float, limit: ZoneLimit, episode: _OverLimit) -> HallEvent:
    return HallEvent(
        event_type,
        t_s,
        zone=limit.zone,
        count=episode.peak,
        limit=limit.limit,
        duration_s=t_s - episode.started_t_s,
    )


@dataclass(slots=True)
class _Stay:
    zone: str
    since_t_s: float
    last_seen_t_s: float


@dataclass(frozen=True, slots=True)
class EndedStay:
    """A person's stay in a window or queue zone that is over.

    Attributes:
        track_id: the person.
        zone: where they stood.
        since_t_s: when they were first seen there.
        left_t_s: when they were last seen there.
        next_zone: the zone they were seen in next, or None (they left every zone, or were lost).
    """

    track_id: int
    zone: str
    since_t_s: float
    left_t_s: float
    next_zone: str | None

    @property
    def duration_s(self) -> float:
        return self.left_t_s - self.since_t_s


@dataclass(frozen=True, slots=True)
class DwellStep:
    """One frame of a `DwellClock`: seconds in zone now, and the stays that ended in this frame."""

    dwell_s: dict[int, float]
    ended: tuple[EndedStay, ...]


class DwellClock:
    """Seconds each person has stood in their current window or queue zone, and the stays that end.

    The clock restarts when a person changes zone. A person missing from a frame, or outside every
    zone, keeps their clock for up to `grace_s` (a missed detection must not reset a long wait); after
    that they are forgotten. A stay ends when its person is seen in another zone, or is forgotten; it
    lasted from the first to the last frame they were seen in the zone. A frame time earlier than the
    last one (a restarted source) starts afresh, ending no stay.

    Args:
        grace_s: how long a person may be missing or out of their zone and keep their clock.

    Example:
        >>> clock = DwellClock()
        >>> clock.update(10.0, np.array([3]), ["queue-1"])
        {3: 0.0}
        >>> clock.update(11.5, np.array([3]), ["queue-1"])
        {3: 1.5}
        >>> [(s.zone, s.duration_s, s.next_zone) for s in clock.step(12.0, np.array([3]), ["window-1"]).ended]
        [('queue-1', 1.5, 'window-1')]
    """

    def __init__(self, grace_s: float = 2.0) -> None:
        if grace_s < 0:
            raise ValueError(f"grace_s must be >= 0, got {grace_s}")
        self.grace_s = grace_s
        self._stays: dict[int, _Stay] = {}
        self._last_t_s: float | None = None

    def update(self, t_s: float, ids: ArrayLike, zone_of: Sequence[str | None]) -> dict[int, float]:
        """Feed one frame; returns seconds in zone for the people in a zone in this frame.

        Args:
            t_s: the frame's time in seconds.
            ids: `(n,)` track ids.
            zone_of: per person, their window or queue zone, or None.

        Example:
            >>> DwellClock().update(0.0, np.zeros(0, np.int64), [])
            {}
        """
        return self.step(t_s, ids, zone_of).dwell_s

    def step(self, t_s: float, ids: ArrayLike, zone_of: Sequence[str | None]) -> DwellStep:
        """Feed one frame (as `update`); returns seconds in zone now and the stays that ended.

        Example:
            >>> DwellClock().step(0.0, np.zeros(0, np.int64), [])
            DwellStep(dwell_s={}, ended=())
        """
        track_ids = np.asarray(ids, np.int64).reshape(-1).tolist()
        if len(track_ids) != len(zone_of):
            raise ValueError(f"zone_of has {len(zone_of)} entries but ids has {len(track_ids)}")
        if self._last_t_s is not None and t_s < self._last_t_s:
            self._stays.clear()
        self._last_t_s = t_s
        dwell_s: dict[int, float] = {}
        ended: list[EndedStay] = []
        for track_id, zone in zip(track_ids, zone_of, strict=True):
            if zone is None:
                continue
            stay = self._stays.get(track_id)
            if stay is not None and (stay.zone != zone or t_s - stay.last_seen_t_s > self.grace_s):
                lost = t_s - stay.last_seen_t_s > self.grace_s  # gone too long: not seen moving on
                ended.append(
                    EndedStay(track_id, stay.zone, stay.since_t_s, stay.last_seen_t_s, None if lost else zone)
                )
                stay = None
            if stay is None:
                stay = self._stays[track_id] = _Stay(zone, t_s, t_s)
            stay.last_seen_t_s = t_s
            dwell_s[track_id] = t_s - stay.since_t_s
        for track_id in [i for i, stay in self._stays.items() if t_s - stay.last_seen_t_s > self.grace_s]:
            stay = self._stays.pop(track_id)
            ended.append(EndedStay(track_id, stay.zone, stay.since_t_s, stay.last_seen_t_s, None))
        return DwellStep(dwell_s, tuple(ended))
