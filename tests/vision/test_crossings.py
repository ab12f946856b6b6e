"""Entrance crossings: in and out, once per crossing, within the line's extent, jitter on the line."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vision.config import EntranceLine, HallZone
from vision.crossings import EntranceCounter, inside_point
from vision.state import Crossing

# A door 2 m wide along y = 0 from x = 4 to 6; the hall is above it (y > 0).
DOOR = EntranceLine(id="door", kind="entrance", line=((4, 0), (6, 0)), inside=(5, 3))


def walk(counter: EntranceCounter, track_id: int, path: Sequence[tuple[float, float]]) -> list[Crossing]:
    crossings: list[Crossing] = []
    for xy in path:
        crossings += counter.update(np.array([track_id]), np.array([xy], float))
    return crossings


def straight(
    start: tuple[float, float], end: tuple[float, float], steps: int = 10
) -> list[tuple[float, float]]:
    return [tuple(p) for p in np.linspace(start, end, steps + 1).tolist()]


PATHS = [
    pytest.param(straight((5, -2), (5, 2)), [("door", 1, "in")], {"in": 1, "out": 0}, id="walk in"),
    pytest.param(straight((5, 2), (5, -2)), [("door", 1, "out")], {"in": 0, "out": 1}, id="walk out"),
    pytest.param(straight((4.1, -1), (5.9, 1)), [("door", 1, "in")], {"in": 1, "out": 0}, id="diagonal in"),
    pytest.param(
        straight((5, -2), (5, 2)) + straight((5, 2), (5, -2)),
        [("door", 1, "in"), ("door", 1, "out")],
        {"in": 1, "out": 1},
        id="in then out",
    ),
    pytest.param(straight((5, -2), (5, -0.5)), [], {"in": 0, "out": 0}, id="approach and stop"),
    pytest.param(straight((8, -2), (8, 2)), [], {"in": 0, "out": 0}, id="beside the door (outside segment)"),
    pytest.param(straight((2, 2), (2, -2)), [], {"in": 0, "out": 0}, id="beside the door, other end"),
    pytest.param(
        # Round the end of the line from outside to inside, then out through the door: one 'out'.
        straight((7, -2), (7, 2)) + straight((7, 2), (5, 2)) + straight((5, 2), (5, -2)),
        [("door", 1, "out")],
        {"in": 0, "out": 1},
        id="round the end then out through it",
    ),
    pytest.param([(5, -1), (5, 1)], [("door", 1, "in")], {"in": 1, "out": 0}, id="one big step across"),
    pytest.param(
        [(5, -1)] + [(5, 0.1 * (-1) ** k) for k in range(40)] + [(5, 1)],
        [("door", 1, "in")],
        {"in": 1, "out": 0},
        id="jitter on the line then in: once",
    ),
    pytest.param(
        [(5, -1)] + [(5, 0.12 * (-1) ** k) for k in range(40)] + [(5, -1)],
        [],
        {"in": 0, "out": 0},
        id="jitter on the line then back: never",
    ),
    pytest.param(
        [(5, 0.05 * (-1) ** k) for k in range(40)], [], {"in": 0, "out": 0}, id="stands on the line jittering"
    ),
    pytest.param([(5, 2), (5, 1)], [], {"in": 0, "out": 0}, id="first seen inside: not a crossing"),
    pytest.param(
        [(5, 0.0), (5, 1), (5, 2)], [], {"in": 0, "out": 0}, id="first seen on the line: not a crossing"
    ),
    pytest.param(
        straight((4, -1), (4, 1)), [("door", 1, "in")], {"in": 1, "out": 0}, id="through the end point"
    ),
]


@pytest.mark.parametrize(("path", "expected", "totals"), PATHS)
def test_one_person_walking(
    path: list[tuple[float, float]], expected: list[tuple[str, int, str]], totals: dict[str, int]
) -> None:
    counter = EntranceCounter([DOOR], margin_m=0.15)
    crossings = walk(counter, 1, path)
    assert [(c.line, c.track_id, c.direction) for c in crossings] == expected
    assert counter.totals() == {"door": totals}


HALL_ABOVE = HallZone(id="hall", kind="hall", polygon=[(0, 0), (10, 0), (10, 8), (0, 8)], capacity=5)
HALL_BELOW = HallZone(id="hall", kind="hall", polygon=[(0, 0), (10, 0), (10, -8), (0, -8)], capacity=5)


@pytest.mark.parametrize(
    ("line", "inside", "hall", "direction"),
    [
        pytest.param(((4, 0), (6, 0)), None, None, "in", id="left of first to second point"),
        pytest.param(((6, 0), (4, 0)), None, None, "out", id="reversed line: left is below"),
        pytest.param(((6, 0), (4, 0)), None, HALL_ABOVE, "in", id="hall centroid above"),
        pytest.param(((4, 0), (6, 0)), None, HALL_BELOW, "out", id="hall centroid below"),
        pytest.param(((4, 0), (6, 0)), (5, -3), HALL_ABOVE, "out", id="inside point wins over the hall"),
    ],
)
def test_which_way_is_in(
    line: tuple[tuple[float, float], tuple[float, float]],
    inside: tuple[float, float] | None,
    hall: HallZone | None,
    direction: str,
) -> None:
    door = EntranceLine(id="door", kind="entrance", line=line, inside=inside)
    counter = EntranceCounter([door], hall)
    crossings = walk(counter, 7, straight((5, -2), (5, 2)))  # walking towards +y
    assert [c.direction for c in crossings] == [direction]


def test_inside_point_defaults() -> None:
    door = EntranceLine(id="door", kind="entrance", line=((0, 0), (0, 4)))  # going up: left is -x
    assert inside_point(door) == pytest.approx((-1.0, 2.0))
    assert inside_point(door, HALL_ABOVE) == pytest.approx((5.0, 4.0))


def test_inside_point_on_the_line_is_refused() -> None:
    door = EntranceLine(id="door", kind="entrance", line=((0, 0), (2, 0)), inside=(7, 0))
    with pytest.raises(ValueError, match="lies on the line"):
        EntranceCounter([door])


def test_many_people_and_lines_at_once() -> None:
    side_door = EntranceLine(id="side", kind="entrance", line=((10, 2), (10, 4)), inside=(5, 3))
    counter = EntranceCounter([DOOR, side_door])
    ids = np.array([3, 1, 2, -1])  # -1: untracked, ignored
    before = np.array([[5, -1], [10.5, 3], [5, 1], [5, -1]], float)
    after = np.array([[5, 1], [9.5, 3], [5, -1], [5, 1]], float)
    assert counter.update(ids, before) == []
    crossings = counter.update(ids, after)
    assert crossings == [
        Crossing("door", 2, "out"),
        Crossing("door", 3, "in"),
        Crossing("side", 1, "in"),
    ]
    assert counter.totals() == {"door": {"in": 1, "out": 1}, "side": {"in": 1, "out": 0}}


def test_nobody() -> None:
    counter = EntranceCounter([DOOR])
    assert counter.update(np.zeros(0, np.int64), np.zeros((0, 2))) == []
    assert counter.totals() == {"door": {"in": 0, "out": 0}}
    assert EntranceCounter([]).update(np.array([1]), np.array([[0.0, 0.0]])) == []


def test_positions_off_the_floor_are_ignored() -> None:
    counter = EntranceCounter([DOOR])
    walk(counter, 1, [(5, -1)])
    assert walk(counter, 1, [(np.nan, np.nan), (5, 1)]) == [Crossing("door", 1, "in")]


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="ids has 2 entries"):
        EntranceCounter([DOOR]).update(np.array([1, 2]), np.zeros((1, 2)))


def test_a_track_unseen_for_long_is_forgotten() -> None:
    counter = EntranceCounter([DOOR], forget_after_updates=5)
    walk(counter, 1, [(5, -1)])
    for _ in range(4):
        counter.update(np.zeros(0, np.int64), np.zeros((0, 2)))
    assert walk(counter, 1, [(5, 1)]) == [Crossing("door", 1, "in")]  # 4 updates away: remembered

    walk(counter, 2, [(5, -1)])
    for _ in range(5):
        counter.update(np.zeros(0, np.int64), np.zeros((0, 2)))
    assert walk(counter, 2, [(5, 1)]) == []  # 5 updates away: forgotten, so a new start


def test_memory_stays_bounded() -> None:
    counter = EntranceCounter([DOOR], forget_after_updates=10)
    for frame in range(1000):  # a new id every frame, as after many track losses
        counter.update(np.array([frame]), np.array([[5.0, -1.0 if frame % 2 else 1.0]]))
    assert counter.tracks_remembered <= 10


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="margin_m"):
        EntranceCounter([DOOR], margin_m=-0.1)
    with pytest.raises(ValueError, match="forget_after_updates"):
        EntranceCounter([DOOR], forget_after_updates=0)


@settings(max_examples=200, deadline=None)
@given(ys=st.lists(st.floats(-3, 3), min_size=1, max_size=60), margin_m=st.floats(0.0, 0.5))
def test_property_crossings_alternate_and_match_the_side(ys: list[float], margin_m: float) -> None:
    # A line far longer than the walk: every change of side is a crossing through it.
    long_door = EntranceLine(id="door", kind="entrance", line=((-1000, 0), (1000, 0)), inside=(0, 1))
    counter = EntranceCounter([long_door], margin_m=margin_m)
    crossings = walk(counter, 1, [(0.0, y) for y in ys])
    directions = [c.direction for c in crossings]
    assert all(a != b for a, b in zip(directions, directions[1:], strict=False))  # in, out, in, ...
    settled = [1 if y > margin_m else -1 for y in ys if abs(y) > margin_m]
    totals = counter.totals()["door"]
    if settled:
        assert totals["in"] - totals["out"] == (settled[-1] - settled[0]) // 2
        assert len(crossings) == sum(a != b for a, b in zip(settled, settled[1:], strict=False))
    else:
        assert crossings == []
