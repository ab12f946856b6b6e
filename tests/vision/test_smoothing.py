"""Limit events and time in zone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vision.config import EntranceLine, HallZone, QueueZone, WindowZone
from vision.smoothing import DwellClock, LimitMonitor, ZoneLimit, zone_limits

FPS = 5.0


@pytest.mark.parametrize(
    ("limit", "started", "ended"),
    [
        (
            ZoneLimit("window-1", 2, "window_over_limit"),
            "window_over_limit_started",
            "window_over_limit_ended",
        ),
        (ZoneLimit("queue-1", 2, "queue_over_limit"), "queue_over_limit_started", "queue_over_limit_ended"),
        (
            ZoneLimit("hall", 2, "hall_over_capacity"),
            "hall_over_capacity_started",
            "hall_over_capacity_ended",
        ),
    ],
)
def test_limit_monitor_events(limit: ZoneLimit, started: str, ended: str) -> None:
    monitor = LimitMonitor([limit])
    counts = [2, 3, 3, 5, 4, 2, 2, 3]
    events = [(k, e) for k, c in enumerate(counts) for e in monitor.update(k * 0.5, {limit.zone: c})]
    assert [(k, e.type) for k, e in events] == [(1, started), (5, ended), (7, started)]
    first, last, again = (e for _, e in events)
    assert (first.zone, first.count, first.limit, first.t_s) == (limit.zone, 3, 2, 0.5)
    assert (last.zone, last.count, last.limit, last.t_s) == (limit.zone, 5, 2, 2.5)  # count: the peak
    assert last.duration_s == pytest.approx(2.0)
    assert first.duration_s is None
    assert again.count == 3
    assert [e.type for e in monitor.finish(4.0)] == [ended]
    assert monitor.finish(4.0) == ()


def test_limit_monitor_at_the_limit_is_fine_and_missing_zone_counts_zero() -> None:
    monitor = LimitMonitor([ZoneLimit("w", 2, "window_over_limit"), ZoneLimit("h", 10, "hall_over_capacity")])
    assert monitor.update(0.0, {"w": 2, "h": 10}) == []
    assert [e.type for e in monitor.update(0.2, {"w": 3})] == ["window_over_limit_started"]
    assert [e.type for e in monitor.update(0.4, {})] == ["window_over_limit_ended"]


def test_limit_monitor_drops_open_episodes_when_time_goes_back() -> None:
    monitor = LimitMonitor([ZoneLimit("w", 1, "window_over_limit")])
    monitor.update(3.0, {"w": 2})
    assert monitor.update(0.0, {"w": 2})[0].type == "window_over_limit_started"


def test_zone_limits_from_config() -> None:
    zones: list[WindowZone | QueueZone | HallZone | EntranceLine] = [
        WindowZone(id="w1", kind="window", polygon=[(0, 0), (1, 0), (1, 1)], max_people=1),
        QueueZone(id="q1", kind="queue", window="w1", polygon=[(0, 1), (1, 1), (1, 2)], max_people=6),
        QueueZone(id="q2", kind="queue", window="w1", polygon=[(0, 1), (1, 1), (1, 2)]),
        HallZone(id="hall", kind="hall", polygon=[(0, 0), (9, 0), (9, 9)], capacity=40),
        EntranceLine(id="door", kind="entrance", line=((0, 0), (1, 0))),
    ]
    assert zone_limits(zones) == [
        ZoneLimit("w1", 1, "window_over_limit"),
        ZoneLimit("q1", 6, "queue_over_limit"),
        ZoneLimit("hall", 40, "hall_over_capacity"),
    ]


def dwell_run(clock: DwellClock, frames: list[tuple[float, dict[int, str | None]]]) -> list[dict[int, float]]:
    return [clock.update(t, np.array(list(people), np.int64), list(people.values())) for t, people in frames]


def test_dwell_accumulates_and_resets_on_zone_change() -> None:
    out = dwell_run(
        DwellClock(grace_s=2.0),
        [
            (0.0, {1: "queue-1", 2: None}),
            (1.0, {1: "queue-1", 2: "queue-1"}),
            (2.0, {1: "window-1", 2: "queue-1"}),
            (3.5, {1: "window-1", 2: "queue-1"}),
        ],
    )
    assert out == [{1: 0.0}, {1: 1.0, 2: 0.0}, {1: 0.0, 2: 1.0}, {1: 1.5, 2: 2.5}]


@pytest.mark.parametrize(
    ("gap", "expected"),
    [
        pytest.param({}, 2.0, id="missing for one frame: kept"),
        pytest.param({3: None}, 2.0, id="outside every zone for one frame: kept"),
    ],
)
def test_dwell_survives_a_short_dropout(gap: dict[int, str | None], expected: float) -> None:
    clock = DwellClock(grace_s=1.0)
    out = dwell_run(clock, [(0.0, {3: "q"}), (1.0, {3: "q"}), (1.5, gap), (2.0, {3: "q"})])
    assert out[2] == {}
    assert out[-1] == {3: expected}


def test_dwell_forgets_after_grace() -> None:
    clock = DwellClock(grace_s=1.0)
    out = dwell_run(clock, [(0.0, {3: "q"}), (1.0, {3: "q"}), (2.5, {}), (3.0, {3: "q"})])
    assert out[-1] == {3: 0.0}


def ended_run(clock: DwellClock, frames: list[tuple[float, dict[int, str | None]]]) -> list[tuple[Any, ...]]:
    out = []
    for t, people in frames:
        step = clock.step(t, np.array(list(people), np.int64), list(people.values()))
        out += [(t, s.track_id, s.zone, s.since_t_s, s.left_t_s, s.next_zone) for s in step.ended]
    return out


def test_a_stay_ends_where_its_person_is_seen_next_or_when_they_are_forgotten() -> None:
    ended = ended_run(
        DwellClock(grace_s=1.0),
        [
            (0.0, {1: "q", 2: "q"}),
            (1.0, {1: "q", 2: "q"}),
            (1.5, {1: None, 2: "q"}),  # 1 steps out of every zone: still their stay (grace)
            (2.0, {1: "w", 2: "q"}),  # ... and is next seen at the window
            (2.5, {1: "w"}),  # 2 is missing ...
            (3.5, {1: "w"}),  # ... for longer than the grace: forgotten, their stay is over
        ],
    )
    assert ended == [(2.0, 1, "q", 0.0, 1.0, "w"), (3.5, 2, "q", 0.0, 2.0, None)]


def test_a_person_back_after_the_grace_starts_a_new_stay_and_time_going_back_ends_none() -> None:
    clock = DwellClock(grace_s=0.5)
    ended = ended_run(clock, [(0.0, {7: "q"}), (0.4, {7: "q"}), (2.0, {7: "q"})])
    assert ended == [(2.0, 7, "q", 0.0, 0.4, None)]
    assert clock.step(1.0, np.array([7]), ["w"]).ended == ()  # a restarted source


def test_dwell_with_nobody_and_bad_input() -> None:
    assert DwellClock().update(0.0, np.zeros(0, np.int64), []) == {}
    with pytest.raises(ValueError, match="zone_of has 0 entries but ids has 1"):
        DwellClock().update(0.0, np.array([1]), [])
    with pytest.raises(ValueError, match="grace_s"):
        DwellClock(grace_s=-1)


def test_dwell_restarts_when_time_goes_back() -> None:
    clock = DwellClock()
    dwell_run(clock, [(10.0, {1: "q"}), (11.0, {1: "q"})])
    assert clock.update(0.0, np.array([1]), ["q"]) == {1: 0.0}


@settings(max_examples=100, deadline=None)
@given(
    frames=st.lists(
        st.dictionaries(st.integers(0, 5), st.sampled_from(["w", "q", None]), max_size=6),
        min_size=1,
        max_size=40,
    )
)
def test_property_dwell_is_never_negative_nor_longer_than_the_run(
    frames: list[dict[int, str | None]],
) -> None:
    clock = DwellClock(grace_s=0.5)
    for k, people in enumerate(frames):
        t = k * 0.2
        dwell = clock.update(t, np.array(list(people), np.int64), list(people.values()))
        assert set(dwell) == {i for i, zone in people.items() if zone is not None}
        assert all(0.0 <= d <= t + 1e-9 for d in dwell.values())
