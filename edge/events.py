"""From what the pipeline saw to what the node says: `HallState` → contract payloads.

Pure functions and one small throttle; nothing here does I/O. Only counts, ids, floor positions in
metres and times go out: never pixels.

- `camera_state`: one frame's state → `CameraState` (sent about once a second and on every change,
  decided by `StateThrottle`);
- `camera_event`: one `HallEvent` → `CameraEvent`, timed at the moment it happened;
- `camera_positions`: anonymous floor positions with their uncertainty (off by default);
- `camera_lost` / `camera_recovered`: the node's own events about its sources;
- `floor_state`, `floor_event`, `floor_positions`: the same for the node's cameras fused into one
  floor (`vision.site_pipeline.SiteFloor`), whose times are the frames' capture times.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from hallwatch.contract import (
    EVENT_TYPE_VERSIONS,
    SCHEMA_VERSION,
    SCHEMA_VERSION_FLOOR,
    CameraEvent,
    CameraPositions,
    CameraState,
    FloorEvent,
    FloorPair,
    FloorPosition,
    FloorPositions,
    FloorState,
    FusedPosition,
    clean_text,
)
from vision.state import HallEvent, HallState

#: A floor state lists at most this many pairs (the contract's bound); the counts hold them all.
MAX_FLOOR_PAIRS = 200


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
    return CameraState(
        schema_version=SCHEMA_VERSION_FLOOR,
        site=origin.site,
        node=origin.node,
        camera=state.camera,
        seq=seq,
        ts=ts,
        frame=max(0, int(state.frame)),
        people=len(state.people),
        zones={zone: int(n) for zone, n in state.zone_counts.items()},
        violations=state.alerting_pairs,
        possible_violations=possible_pairs(state),
        crossings=_crossings(state),
    )


def possible_pairs(state: HallState) -> int:
    """Pairs whose distance may be under the minimum but that do not alert (`spacing.alert_on`)."""
    return max(0, len(state.violations) + len(state.possible) - state.alerting_pairs)


def _crossings(state: HallState) -> dict[str, dict[Literal["in", "out"], int]]:
    return {
        line: {"in": int(c.get("in", 0)), "out": int(c.get("out", 0))} for line, c in state.crossings.items()
    }


def floor_time(t_s: float) -> datetime:
    """A fused floor's time (the frames' capture time, seconds since the epoch) as UTC."""
    return datetime.fromtimestamp(t_s, UTC)


def floor_state(origin: Origin, state: HallState, cameras: Iterable[str], *, seq: int) -> FloorState:
    """The node's fused floor after one step; `ts` is the step's frame time, `cameras` the floor's.

    Example:
        >>> floor_state(Origin("hall", "edge-1"), fused, ["cam-1", "cam-2"], seq=8).zones  # doctest: +SKIP
        {'hall': 7, 'window-1': 2}
    """
    pairs = sorted((*state.violations, *state.possible), key=lambda v: v.distance_m)[:MAX_FLOOR_PAIRS]
    return FloorState(
        site=origin.site,
        node=origin.node,
        seq=seq,
        ts=floor_time(state.t_s),
        frame=max(0, int(state.frame)),
        people=len(state.people),
        zones={zone: int(n) for zone, n in state.zone_counts.items()},
        uncovered=list(state.uncovered),
        violations=state.alerting_pairs,
        possible_violations=possible_pairs(state),
        pairs=[
            FloorPair(a=int(p.a), b=int(p.b), distance_m=round(float(p.distance_m), 3), certain=p.certain)
            for p in pairs
            if math.isfinite(p.distance_m)
        ],
        crossings=_crossings(state),
        cameras=sorted(set(cameras) - set(state.left_out)),
        left_out=list(state.left_out),
        seen_by_several=sum(len(cams) > 1 for cams in state.seen_by.values()),
    )


def floor_event(origin: Origin, event: HallEvent, *, seq: int) -> FloorEvent:
    """One event of the fused floor, timed at the frame time it happened."""
    return FloorEvent(
        schema_version=EVENT_TYPE_VERSIONS.get(event.type, SCHEMA_VERSION_FLOOR),
        site=origin.site,
        node=origin.node,
        seq=seq,
        ts=floor_time(event.t_s),
        type=event.type,
        zone=event.zone,
        count=event.count,
        limit=event.limit,
        people=[int(p) for p in event.people[:2]],
        distance_m=_finite(event.distance_m),
        floor=(float(event.floor[0]), float(event.floor[1])) if event.floor is not None else None,
        duration_s=_finite(event.duration_s),
    )


def floor_positions(origin: Origin, state: HallState, *, seq: int) -> FloorPositions:
    """The fused floor's people (id, metres, uncertainty, the cameras that saw them)."""
    people = state.people
    return FloorPositions(
        site=origin.site,
        node=origin.node,
        seq=seq,
        ts=floor_time(state.t_s),
        people=[
            FusedPosition(
                id=int(track), x=float(x), y=float(y), sigma_m=min(float(sigma), 100.0), cameras=list(cams)
            )
            for track, (x, y), sigma in zip(
                people.ids.tolist(), people.floor_xy.tolist(), people.sigma_m.tolist(), strict=True
            )
            if (cams := state.seen_by.get(int(track)))
            and math.isfinite(x)
            and math.isfinite(y)
            and math.isfinite(sigma)
        ],
    )


def event_time(event: HallEvent, state: HallState, frame_captured_at: datetime) -> datetime:
    """When an event happened on the wall clock: the frame's capture time, moved back by how much
    earlier (in the source's time) the event took place than the frame that reported it."""
    lag_s = state.t_s - event.t_s
    if not math.isfinite(lag_s) or lag_s <= 0.0:
        return frame_captured_at
    return frame_captured_at - timedelta(seconds=lag_s)


def camera_event(origin: Origin, camera: str, event: HallEvent, *, seq: int, ts: datetime) -> CameraEvent:
    """One pipeline event as a contract event (version 3 for `queue_left`, 1 otherwise)."""
    return CameraEvent(
        schema_version=EVENT_TYPE_VERSIONS.get(event.type, SCHEMA_VERSION),
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
    """Anonymous floor positions (track id, metres, one standard deviation) of the people in view,
    at the frame's capture time `ts`; untracked ones left out. What the server fuses a floor from
    when a site's cameras span nodes."""
    people = [
        FloorPosition(id=int(track), x=float(x), y=float(y), sigma_m=round(min(float(sigma), 100.0), 4))
        for track, (x, y), sigma in zip(
            state.people.ids.tolist(),
            state.people.floor_xy.tolist(),
            state.people.sigma_m.tolist(),
            strict=True,
        )
        if track >= 0 and math.isfinite(x) and math.isfinite(y) and math.isfinite(sigma)
    ]
    return CameraPositions(
        schema_version=SCHEMA_VERSION_FLOOR,
        site=origin.site,
        node=origin.node,
        camera=state.camera,
        seq=seq,
        ts=ts,
        people=people,
    )


StateKey = tuple[object, ...]


def state_key(state: HallState) -> StateKey:
    """What a state says, without its time: two frames with equal keys need not both be sent."""
    return (
        len(state.people),
        tuple(sorted((z, int(n)) for z, n in state.zone_counts.items())),
        state.alerting_pairs,
        possible_pairs(state),
        tuple(
            sorted((line, int(c.get("in", 0)), int(c.get("out", 0))) for line, c in state.crossings.items())
        ),
        state.uncovered,
        state.left_out,
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
