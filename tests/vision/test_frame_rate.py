"""What a camera's zones ask of its frame rate, how a rate follows them, and a node's budget shared."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from vision.config import AdaptiveRateConfig, EntranceLine, HallZone, QueueZone, WindowZone
from vision.frame_rate import (
    HALL_WEIGHT,
    PRESENCE_NEED,
    QUEUE_WEIGHT,
    RatePolicy,
    RateWant,
    frame_need,
    rate_for,
    share_budget,
)
from vision.state import FloorPeople, HallState, Violation

SQUARE = [(0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0)]
WINDOW = WindowZone(id="w1", kind="window", polygon=SQUARE, max_people=2)
QUEUE = QueueZone(id="q1", kind="queue", window="w1", polygon=SQUARE, max_people=8)
OPEN_QUEUE = QueueZone(id="q2", kind="queue", window="w1", polygon=SQUARE)
HALL = HallZone(id="hall", kind="hall", polygon=[(0, 0), (20, 0), (20, 20)], capacity=40)
DOOR = EntranceLine(id="door", kind="entrance", line=((10.0, 0.0), (12.0, 0.0)))
ZONES = [WINDOW, QUEUE, OPEN_QUEUE, HALL, DOOR]


def state(floor_xy: list[tuple[float, float]], counts: dict[str, int], violations: int = 0) -> HallState:
    n = len(floor_xy)
    people = FloorPeople(
        ids=np.arange(n, dtype=np.int64),
        floor_xy=np.asarray(floor_xy, np.float64).reshape(n, 2),
        image_xy=np.zeros((n, 2)),
        scores=np.ones(n, np.float32),
    )
    pairs = tuple(Violation(0, 1, 0.5) for _ in range(violations))
    return HallState("cam-1", 0, 0.0, people, counts, pairs, {})


@pytest.mark.parametrize(
    ("people", "counts", "violations", "need"),
    [
        ([], {}, 0, 0.0),  # an empty view needs nothing
        ([(15.0, 15.0)], {"hall": 1}, 0, PRESENCE_NEED),  # someone in view, far from everything
        ([(1.0, 1.0)], {"w1": 1}, 0, 0.5),  # one of two at the window
        ([(0.5, 0.5), (1.8, 1.8)], {"w1": 2}, 0, 1.0),  # the window at its limit
        ([(0.5, 0.5), (1.6, 1.6), (1.9, 0.1)], {"w1": 3}, 0, 1.0),  # over it
        ([(4.0 + 2 * i, 8.0) for i in range(4)], {"q1": 8}, 0, QUEUE_WEIGHT),  # a full queue: slow
        ([], {"q1": 4}, 0, QUEUE_WEIGHT / 2),  # people counted while hidden from this frame
        ([(4.0 + 2 * i, 8.0) for i in range(4)], {"q2": 20}, 0, QUEUE_WEIGHT),  # no limit: 10 is full
        ([(3.0 + 2 * i, 5.0) for i in range(5)], {"hall": 40}, 0, HALL_WEIGHT),  # the hall at capacity
        ([(5.0, 5.0), (5.5, 5.0)], {}, 1, 1.0),  # a violation
        ([(5.0, 5.0), (6.5, 5.0)], {}, 0, 0.5),  # closing in: 1.5 m apart with a minimum of 1 m
        ([(5.0, 5.0), (6.2, 5.0)], {}, 0, pytest.approx(0.8)),
        ([(5.0, 5.0), (6.9, 5.0)], {}, 0, PRESENCE_NEED),  # 1.9 m: presence asks more than the pair
        ([(11.0, 1.2)], {}, 0, 1.0),  # at the door: about to cross
        ([(14.0, 2.0)], {}, 0, PRESENCE_NEED),  # 2.8 m from the door's end
    ],
)
def test_frame_need(
    people: list[tuple[float, float]], counts: dict[str, int], violations: int, need: float
) -> None:
    assert frame_need(state(people, counts, violations), ZONES, 1.0) == need


def test_zones_the_camera_does_not_count_ask_nothing() -> None:
    assert frame_need(state([(1.0, 1.0)], {"w1": 2}), [HALL], 1.0) == PRESENCE_NEED


def test_rate_for_spans_the_bounds() -> None:
    config = AdaptiveRateConfig(min_fps=2.0, max_fps=12.0)
    assert [rate_for(n, config) for n in (0.0, 0.25, 1.0, 1.5, -1.0)] == [2.0, 4.5, 12.0, 12.0, 2.0]


def test_bounds_in_the_wrong_order_are_refused() -> None:
    with pytest.raises(ValidationError, match="min_fps .* is larger than max_fps"):
        AdaptiveRateConfig(min_fps=8.0, max_fps=2.0)


def test_a_rate_rises_at_once_and_falls_after_its_hold() -> None:
    policy = RatePolicy(AdaptiveRateConfig(min_fps=1.0, max_fps=11.0, hold_s=5.0))
    assert policy.update(0.0, 0.0) == 1.0
    assert policy.update(1.0, 0.5) == 6.0  # up at once
    assert policy.update(2.0, 1.0) == 11.0
    assert policy.update(3.0, 0.2) == 11.0  # held: a crowd that just thinned may be back
    assert policy.update(6.9, 0.2) == 11.0
    assert policy.update(7.1, 0.2) == pytest.approx(3.0)  # 5 s after the last need of 1
    assert policy.need == pytest.approx(0.2)
    assert policy.update(20.0, 0.0) == 1.0


def test_a_rate_starts_over_when_time_goes_back() -> None:
    policy = RatePolicy(AdaptiveRateConfig(min_fps=1.0, max_fps=11.0, hold_s=60.0))
    assert policy.update(100.0, 1.0) == 11.0
    assert policy.update(0.5, 0.0) == 1.0  # a source reopened at its start: the old need is gone


def test_without_a_budget_every_camera_gets_its_target() -> None:
    wants = [RateWant(1.0, 10.0, 1.0), RateWant(1.0, 2.0, 0.1), RateWant(5.0, 5.0)]
    assert share_budget(wants, None) == [10.0, 2.0, 5.0]
    assert share_budget(wants, 17.0) == [10.0, 2.0, 5.0]


def test_a_budget_goes_to_the_neediest_first() -> None:
    wants = [RateWant(1.0, 2.0, 0.1), RateWant(1.0, 10.0, 1.0), RateWant(5.0, 5.0)]
    # 7 for the minimums, 5 left: all of it to the camera at a full window.
    assert share_budget(wants, 12.0) == [1.0, 6.0, 5.0]
    assert share_budget(wants, 16.5) == [1.5, 10.0, 5.0]


def test_cameras_of_equal_need_share_evenly_and_a_small_want_leaves_the_rest_to_others() -> None:
    wants = [RateWant(1.0, 10.0, 1.0), RateWant(1.0, 10.0, 1.0), RateWant(1.0, 2.0, 1.0)]
    shares = share_budget(wants, 12.0)
    assert shares[2] == pytest.approx(2.0)  # its whole want (1 more) fits in an even third
    assert shares[0] == pytest.approx(shares[1]) == pytest.approx(5.0)


def test_minimums_are_kept_even_over_the_budget() -> None:
    wants = [RateWant(2.0, 10.0, 1.0), RateWant(3.0, 3.0)]
    assert share_budget(wants, 4.0) == [2.0, 3.0]


@given(
    st.lists(
        st.tuples(st.floats(0.1, 10.0), st.floats(0.0, 30.0), st.sampled_from([0.0, 0.2, 0.5, 1.0])),
        min_size=1,
        max_size=8,
    ),
    st.one_of(st.none(), st.floats(0.1, 200.0)),
)
def test_shares_stay_within_each_camera_and_the_budget(
    cameras: list[tuple[float, float, float]], budget: float | None
) -> None:
    wants = [RateWant(low, low + extra, need) for low, extra, need in cameras]
    shares = share_budget(wants, budget)
    for want, share in zip(wants, shares, strict=True):
        assert want.min_fps - 1e-9 <= share <= want.target_fps + 1e-9
    floor = sum(w.min_fps for w in wants)
    if budget is not None:
        assert sum(shares) <= max(budget, floor) + 1e-6
        if budget >= sum(w.target_fps for w in wants):
            assert shares == pytest.approx([w.target_fps for w in wants])
        elif budget > floor:
            assert sum(shares) == pytest.approx(budget)  # nothing of the budget is left unused
    # No camera gets more than its minimum while a needier one still wants more.
    for a, (wa, sa) in enumerate(zip(wants, shares, strict=True)):
        for b, (wb, sb) in enumerate(zip(wants, shares, strict=True)):
            if a != b and wa.need > wb.need and sb > wb.min_fps + 1e-6:
                assert sa >= wa.target_fps - 1e-6
