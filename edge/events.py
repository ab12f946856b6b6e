"""From what the pipeline saw to what the node says: `HallState` → contract payloads.

Pure functions and one small throttle; nothing here does I/O. Only counts, ids, floor positions in
metres and times go out: never pixels.

- `camera_state`: one frame's state → `CameraState` (sent about once a second and on every change,
  decided by `StateThrottle`);
- `camera_event`: one `HallEvent` → `CameraEvent`, timed at the moment it happened;
- `camera_positions`: anonymous floor positions (off by default);
- `camera_lost` / `camera_recovered`: the node's own events about its sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from hallwatch.contract import CameraEvent, CameraPositions, CameraState, FloorPosition, clean_text
from vision.state import HallEvent, HallState


@dataclass(frozen=True, slots=True)
class Origin:
    """Who speaks: the site and node every payload names."""

    site: str
    node: str


def camera_state(origin: Origin, state: HallState, *, seq: int, ts: datetime) -> CameraState:
    """The camera's state after one frame; `ts` is the frame's capture time (UTC).

    Example:
        >>> camera_state(Origin("hall", "edge-1"), state, seq=7, ts=captured_at).zones  # doctest: +SKIP
        {'hall': 3, 'window-1': 1}
    """
    crossings: dict[str, dict[Literal["in", "out"], int]] = {
        line: {"in": int(c.get("in", 0)), "out": int(c.get("out", 0))} for line, c in state.crossings.items()
    }
    return CameraState(
        site=origin.site,
        node=origin.node,
        camera=state.camera,
        seq=seq,
        ts=ts,
        frame=max(0, int(state.frame)),
        people=len(state.people),
        zones={zone: int(n) for zone, n in state.zone_counts.items()},
        violations=state.alerting_pairs,
        crossings=crossings,
    )


def event_time(event: HallEvent, state: HallState, frame_captured_at: datetime) -> datetime:
    """When an event happened on the wall clock: the frame's capture time, moved back by how much
    earlier (in the source's time) the event took place than the frame that reported it."""
    lag_s = state.t_s - event.t_s
    if not math.isfinite(lag_s) or lag_s <= 0.0:
        return frame_captured_at
    return frame_captured_at - timedelta(seconds=lag_s)


def camera_event(origin: Origin, camera: str, event: HallEvent, *, seq: int, ts: datetime) -> CameraEvent:
    """One pipeline event as a contract event."""
    return CameraEvent(
        site=origin.site,
        node=origin.node,
        camera=camera,
        seq=seq,
        ts=ts,
        type=event.type,
        zone=event.zone,
        count=event.count,
        limit=event.limit,
        people=[int(p) for p in event.people[:2]],
        distance_m=_finite(event.distance_m),
        floor=(float(event.floor[0]), float(event.floor[1])) if event.floor is not None else None,
        duration_s=_finite(event.duration_s),
    )


def camera_lost(origin: Origin, camera: str, reason: str, *, seq: int, ts: datetime) -> CameraEvent:
    return CameraEvent(
        site=origin.site,
        node=origin.node,
        camera=camera,
        seq=seq,
        ts=ts,
        type="camera_lost",
        reason=clean_text(reason, 300),
    )


def camera_recovered(
    origin: Origin, camera: str, down_s: float, *, seq: int, ts: datetime, reason: str | None = None
) -> CameraEvent:
    return CameraEvent(
        site=origin.site,
        node=origin.node,
        camera=camera,
        seq=seq,
        ts=ts,
        type="camera_recovered",
        duration_s=max(0.0, down_s),
        reason=clean_text(reason, 300) if reason else None,
    )


def camera_positions(origin: Origin, state: HallState, *, seq: int, ts: datetime) -> CameraPositions:
    """Anonymous floor positions (track id, metres) of the people in view; untracked ones left out."""
    people = [
        FloorPosition(id=int(track), x=float(x), y=float(y))
        for track, (x, y) in zip(state.people.ids.tolist(), state.people.floor_xy.tolist(), strict=True)
        if track >= 0 and math.isfinite(x) and math.isfinite(y)
    ]
    return CameraPositions(
        site=origin.site, node=origin.node, camera=state.camera, seq=seq, ts=ts, people=people
    )


StateKey = tuple[int, tuple[tuple[str, int], ...], int, tuple[tuple[str, int, int], ...]]


def state_key(state: HallState) -> StateKey:
    """What a state says, without its time: two frames with equal keys need not both be sent."""
    return (
        len(state.people),
        tuple(sorted((z, int(n)) for z, n in state.zone_counts.items())),
        state.alerting_pairs,
        tuple(
            sorted((line, int(c.get("in", 0)), int(c.get("out", 0))) for line, c in state.crossings.items())
        ),
    )


class StateThrottle:
    """Send a camera's state when it changed, and at least every `interval_s` otherwise.

    >>> t = StateThrottle(1.0)
    >>> [t.should_send(k, now) for k, now in [("a", 0.0), ("a", 0.5), ("b", 0.6), ("b", 1.7)]]
    [True, False, True, True]
    """

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last_key: object = None
        self._last_sent = -math.inf

    def should_send(self, key: object, now_mono: float) -> bool:
        if key != self._last_key or now_mono - self._last_sent >= self.interval_s:
            self._last_key = key
            self._last_sent = now_mono
            return True
        return False

    def force(self) -> None:
        """Send the next state whatever it says (after a reconnection, a new processor)."""
        self._last_sent = -math.inf


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
