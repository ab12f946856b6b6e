"""People entering and leaving through entrance lines, counted from tracks, once per crossing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vision.config import EntranceLine, HallZone
from vision.state import Crossing
from vision.zones import polygon_centroid


def inside_point(line: EntranceLine, hall: HallZone | None = None) -> tuple[float, float]:
    """A floor point on the hall's side of an entrance line, in metres.

    The line's own `inside` point, else the hall zone's centroid, else a point to the left of the
    line going from its first to its second point (x to the right, y up).

    Example:
        >>> door = EntranceLine(id="door", kind="entrance", line=((0, 0), (2, 0)))
        >>> inside_point(door)
        (1.0, 1.0)
    """
    if line.inside is not None:
        return line.inside
    if hall is not None:
        return polygon_centroid(hall.polygon)
    (x0, y0), (x1, y1) = line.line
    dx, dy = x1 - x0, y1 - y0
    length = float(np.hypot(dx, dy))
    return (x0 + x1) / 2.0 - dy / length, (y0 + y1) / 2.0 + dx / length


@dataclass(slots=True)
class _TrackSide:
    side: int  # +1 inside, -1 outside: the last side the track settled on
    s_m: float  # signed distance (positive inside) where it was last seen settled on that side
    along_m: float  # position along the line there
    last_update: int


class _LineGeometry:
    def __init__(self, line: EntranceLine, inside_xy: tuple[float, float]) -> None:
        start = np.asarray(line.line[0], np.float64)
        end = np.asarray(line.line[1], np.float64)
        self.id = line.id
        self.start = start
        self.length_m = float(np.linalg.norm(end - start))
        self.unit = (end - start) / self.length_m
        normal = np.array([-self.unit[1], self.unit[0]])  # left of start -> end
        inside_s = float((np.asarray(inside_xy, np.float64) - start) @ normal)
        if abs(inside_s) < 1e-9:
            raise ValueError(
                f"entrance {line.id!r}: its inside point {inside_xy} lies on the line itself; "
                "set `inside` to a point on the hall's side"
            )
        self.normal = normal if inside_s > 0 else -normal  # points to the inside

    def project(self, floor_xy: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Signed distance from the line (positive inside) and position along it, both `(n,)` metres."""
        offset = floor_xy - self.start
        return offset @ self.normal, offset @ self.unit


class EntranceCounter:
    """Counts tracked people crossing entrance lines.

    A crossing is a track moving from one side of a line to the other through the line's segment
    (not its extension beyond the two end points). Each side starts `margin_m` away from the line: a
    person standing on the line and jittering stays in the band between the sides and is not counted,
    and a person who crosses is counted once, when they settle on the other side. A track's first
    settled side is where it starts: appearing on one side is never a crossing.

    Args:
        lines: the entrance lines.
        hall: the hall zone, whose centroid is the inside of lines without an `inside` point.
        margin_m: half-width of the band around each line, in metres.
        forget_after_updates: a track not seen for this many updates is forgotten (bounded memory).

    Example:
        >>> door = EntranceLine(id="door", kind="entrance", line=((0, 0), (2, 0)), inside=(1, 5))
        >>> counter = EntranceCounter([door])
        >>> counter.update(np.array([7]), np.array([[1.0, -1.0]]))
        []
        >>> counter.update(np.array([7]), np.array([[1.0, 1.0]]))
        [Crossing(line='door', track_id=7, direction='in')]
        >>> counter.totals()
        {'door': {'in': 1, 'out': 0}}
    """

    def __init__(
        self,
        lines: Sequence[EntranceLine],
        hall: HallZone | None = None,
        *,
        margin_m: float = 0.15,
        forget_after_updates: int = 300,
    ) -> None:
        if margin_m < 0:
            raise ValueError(f"margin_m must be >= 0, got {margin_m}")
        if forget_after_updates < 1:
            raise ValueError(f"forget_after_updates must be >= 1, got {forget_after_updates}")
        self._lines = [_LineGeometry(line, inside_point(line, hall)) for line in lines]
        self.margin_m = margin_m
        self.forget_after_updates = forget_after_updates
        self._sides: dict[str, dict[int, _TrackSide]] = {line.id: {} for line in self._lines}
        self._totals: dict[str, dict[str, int]] = {line.id: {"in": 0, "out": 0} for line in self._lines}
        self._updates = 0

    def update(self, ids: ArrayLike, floor_xy: ArrayLike) -> list[Crossing]:
        """Feed one frame's tracked people; returns the crossings completed in it.

        Args:
            ids: `(n,)` track ids; negative ids (untracked) are ignored.
            floor_xy: `(n, 2)` positions in metres; non-finite positions are ignored.

        Returns:
            Crossings ordered by line (config order), then track id.

        Example:
            >>> EntranceCounter([]).update(np.zeros(0, np.int64), np.zeros((0, 2)))
            []
        """
        track_ids = np.asarray(ids, np.int64).reshape(-1)
        xy = np.asarray(floor_xy, np.float64).reshape(-1, 2)
        if len(track_ids) != len(xy):
            raise ValueError(f"ids has {len(track_ids)} entries but floor_xy has {len(xy)} points")
        self._updates += 1
        usable = (track_ids >= 0) & np.all(np.isfinite(xy), axis=1)
        track_ids, xy = track_ids[usable], xy[usable]
        order = np.argsort(track_ids, kind="stable")
        track_ids, xy = track_ids[order], xy[order]

        crossings: list[Crossing] = []
        for line in self._lines:
            signed_m, along_m = line.project(xy)
            sides = self._sides[line.id]
            for track_id, s_m, a_m in zip(
                track_ids.tolist(), signed_m.tolist(), along_m.tolist(), strict=True
            ):
                crossing = self._step(line, sides, track_id, s_m, a_m)
                if crossing is not None:
                    crossings.append(crossing)
            self._forget(sides)
        return crossings

    @property
    def tracks_remembered(self) -> int:
        """How many (line, track) sides are held in memory now; bounded by `forget_after_updates`."""
        return sum(len(sides) for sides in self._sides.values())

    def totals(self) -> dict[str, dict[str, int]]:
        """Crossings so far per line: `{line_id: {"in": n, "out": m}}`, every line included.

        Example:
            >>> EntranceCounter([]).totals()
            {}
        """
        return {line_id: dict(counts) for line_id, counts in self._totals.items()}

    def _step(
        self, line: _LineGeometry, sides: dict[int, _TrackSide], track_id: int, s_m: float, along_m: float
    ) -> Crossing | None:
        state = sides.get(track_id)
        if state is not None:
            state.last_update = self._updates
        if abs(s_m) <= self.margin_m:
            return None  # in the band: no side yet
        side = 1 if s_m > 0 else -1
        if state is None:
            sides[track_id] = _TrackSide(side, s_m, along_m, self._updates)
            return None
        crossed_side = side != state.side
        # Where the path from the last settled point to this one meets the line.
        t = state.s_m / (state.s_m - s_m) if crossed_side else 0.0
        crossing_along_m = state.along_m + t * (along_m - state.along_m)
        state.side, state.s_m, state.along_m = side, s_m, along_m
        if not crossed_side or not 0.0 <= crossing_along_m <= line.length_m:
            return None  # same side, or went round the end of the line
        direction: Literal["in", "out"] = "in" if side > 0 else "out"
        self._totals[line.id][direction] += 1
        return Crossing(line=line.id, track_id=track_id, direction=direction)

    def _forget(self, sides: dict[int, _TrackSide]) -> None:
        oldest = self._updates - self.forget_after_updates
        for track_id in [t for t, state in sides.items() if state.last_update <= oldest]:
            del sides[track_id]
