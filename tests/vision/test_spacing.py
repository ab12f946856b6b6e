"""Spacing: close pairs against a brute-force reference, and violation events over time."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vision.spacing import KDTREE_MIN_PEOPLE, SpacingMonitor, close_pairs
from vision.state import HallEvent, Violation


def brute_force(
    ids: list[int], floor_xy: list[tuple[float, float]], min_distance_m: float
) -> list[Violation]:
    """O(n^2) reference: every pair, compared directly."""
    pairs = []
    for (id_i, (xi, yi)), (id_j, (xj, yj)) in itertools.combinations(zip(ids, floor_xy, strict=True), 2):
        dx, dy = xi - xj, yi - yj
        distance_m = math.sqrt(dx * dx + dy * dy)
        if distance_m < min_distance_m:
            pairs.append(Violation(min(id_i, id_j), max(id_i, id_j), distance_m))
    return sorted(pairs, key=lambda v: (v.a, v.b))


CASES = [
    pytest.param([], [], [], id="nobody"),
    pytest.param([4], [(1.0, 1.0)], [], id="one person"),
    pytest.param([4, 2], [(0.0, 0.0), (1.0, 0.0)], [], id="two at exactly 1.0 m: not closer"),
    pytest.param([4, 2], [(0.0, 0.0), (0.0, 0.999)], [Violation(2, 4, 0.999)], id="two at 0.999 m"),
    pytest.param([4, 2], [(0.0, 0.0), (0.3, 0.4)], [Violation(2, 4, 0.5)], id="two at 0.5 m"),
    pytest.param([1, 2], [(0.0, 0.0), (3.0, 4.0)], [], id="two at 5 m"),
    pytest.param([1, 2], [(2.0, 2.0), (2.0, 2.0)], [Violation(1, 2, 0.0)], id="same spot"),
    pytest.param(
        [9, 5, 7],
        [(0.0, 0.0), (0.9, 0.0), (1.8, 0.0)],
        [Violation(5, 7, 0.9), Violation(5, 9, 0.9)],
        id="a chain of three: ends 1.8 m apart",
    ),
]


@pytest.mark.parametrize(("ids", "floor_xy", "expected"), CASES)
def test_close_pairs(ids: list[int], floor_xy: list[tuple[float, float]], expected: list[Violation]) -> None:
    found = close_pairs(np.array(ids, np.int64), np.array(floor_xy, float).reshape(-1, 2), 1.0)
    assert [(v.a, v.b) for v in found] == [(v.a, v.b) for v in expected]
    assert [v.distance_m for v in found] == pytest.approx([v.distance_m for v in expected])


@pytest.mark.parametrize("n", [0, 1, 2, 10, KDTREE_MIN_PEOPLE - 1, KDTREE_MIN_PEOPLE, 300, 2000])
def test_close_pairs_match_brute_force(n: int) -> None:
    rng = np.random.default_rng(n)
    side_m = math.sqrt(max(n, 1) * 1.5)  # a crowded hall: about 1.5 m^2 per person
    floor_xy = rng.uniform(0, side_m, size=(n, 2))
    ids = rng.permutation(10 * n + 1)[:n]
    found = close_pairs(ids, floor_xy, 1.0)
    expected = brute_force(ids.tolist(), [tuple(p) for p in floor_xy.tolist()], 1.0)
    assert found == expected
    if n >= 300:
        assert len(found) > n // 4  # the test does look at many pairs


@pytest.mark.parametrize(
    ("ids", "floor_xy", "message"),
    [
        ([1, 1], [(0, 0), (5, 5)], "ids must be unique"),
        ([1, 2], [(0, 0)], "ids has 2 entries but floor_xy has 1"),
        ([1, 2], [(0, 0), (np.nan, 0)], "floor_xy must be finite"),
    ],
)
def test_close_pairs_refuses_bad_input(
    ids: list[int], floor_xy: list[tuple[float, float]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        close_pairs(np.array(ids), np.array(floor_xy, float), 1.0)


coordinates = st.one_of(st.integers(-6, 6).map(float), st.floats(-6, 6))


@settings(max_examples=300, deadline=None)
@given(
    points=st.lists(st.tuples(coordinates, coordinates), min_size=0, max_size=80),
    min_distance_m=st.sampled_from([0.5, 1.0, 1.5, 2.0]),
)
def test_property_close_pairs_equal_brute_force(
    points: list[tuple[float, float]], min_distance_m: float
) -> None:
    ids = list(range(100, 100 + len(points)))[::-1]
    found = close_pairs(np.array(ids, np.int64), np.array(points, float).reshape(-1, 2), min_distance_m)
    assert found == brute_force(ids, points, min_distance_m)


# Frames at 5 fps: t = 0.0, 0.2, ...
FPS = 5.0


def times(start_s: float, end_s: float) -> list[float]:
    return [round(start_s + k / FPS, 6) for k in range(round((end_s - start_s) * FPS) + 1)]


def run(
    monitor: SpacingMonitor,
    frames: list[tuple[float, list[int], list[tuple[float, float]], list[str | None] | None]],
) -> list[HallEvent]:
    events: list[HallEvent] = []
    for t_s, ids, xy, windows in frames:
        events += monitor.update(
            t_s, np.array(ids, np.int64), np.array(xy, float).reshape(-1, 2), windows
        ).events
    return events


def pair_frames(
    t_values: list[float], distance_m: float, windows: list[str | None] | None = None
) -> list[tuple[float, list[int], list[tuple[float, float]], list[str | None] | None]]:
    return [(t, [3, 8], [(2.0, 1.0), (2.0 + distance_m, 1.0)], windows) for t in t_values]


def test_violation_starts_after_min_duration_and_ends_after_grace() -> None:
    monitor = SpacingMonitor(min_distance_m=1.0, min_duration_s=2.0, grace_s=1.0)
    close = pair_frames(times(0.0, 2.8), 0.6)
    close[5] = (close[5][0], [3, 8], [(2.0, 1.0), (2.4, 1.0)], None)  # 0.4 m at t = 1.0
    apart = pair_frames(times(3.0, 5.0), 3.0)
    started_at = ended_at = None
    events: list[HallEvent] = []
    for frame in close + apart:
        new = run(monitor, [frame])
        for event in new:
            if event.type == "spacing_violation_started":
                started_at = frame[0]
            else:
                ended_at = frame[0]
        events += new

    assert [e.type for e in events] == ["spacing_violation_started", "spacing_violation_ended"]
    started, ended = events
    assert started_at == 2.0 and started.t_s == 2.0
    assert started.people == (3, 8)
    assert started.distance_m == pytest.approx(0.4)  # closest so far
    assert started.floor == pytest.approx((2.3, 1.0))  # midpoint now
    assert started.zone is None
    assert ended_at == 4.0  # last close at 2.8; more than 1 s later
    assert ended.duration_s == pytest.approx(2.8)
    assert ended.distance_m == pytest.approx(0.4)
    assert ended.people == (3, 8)


def test_short_violation_leaves_no_event() -> None:
    monitor = SpacingMonitor(min_distance_m=1.0, min_duration_s=2.0, grace_s=0.5)
    events = run(monitor, pair_frames(times(0.0, 1.8), 0.5) + pair_frames(times(2.0, 4.0), 2.0))
    assert events == []


def test_zero_min_duration_starts_at_once() -> None:
    monitor = SpacingMonitor(min_distance_m=1.0, min_duration_s=0.0)
    update = monitor.update(0.0, np.array([1, 2]), np.array([[0.0, 0.0], [0.5, 0.0]]))
    assert [e.type for e in update.events] == ["spacing_violation_started"]
    assert update.violations == (Violation(1, 2, 0.5),)


@pytest.mark.parametrize("missing", ["pair apart", "person not detected"])
def test_one_missed_frame_does_not_end_and_restart(missing: str) -> None:
    monitor = SpacingMonitor(min_distance_m=1.0, min_duration_s=1.0, grace_s=0.5)
    frames = pair_frames(times(0.0, 4.0), 0.5)
    gap = 10  # t = 2.0
    if missing == "pair apart":
        frames[gap] = pair_frames([frames[gap][0]], 1.5)[0]
    else:
        frames[gap] = (frames[gap][0], [3], [(2.0, 1.0)], None)
    frames += pair_frames(times(4.2, 6.0), 4.0)
    events = run(monitor, frames)
    assert [e.type for e in events] == ["spacing_violation_started", "spacing_violation_ended"]
    assert events[1].duration_s == pytest.approx(4.0)


def test_distance_wavering_at_the_limit_holds_an_open_violation() -> None:
    monitor = SpacingMonitor(min_distance_m=1.0, min_duration_s=0.0, grace_s=0.3, release_margin_m=0.05)
    waver = [0.98 if k % 2 else 1.03 for k in range(20)]
    frames = [pair_frames([t], d)[0] for t, d in zip(times(0.0, 3.8), waver, strict=True)]
    events = run(monitor, frames)
    assert [e.type for e in events] == ["spacing_violation_started"]  # opened at 0.98, held at 1.03
    violations = monitor.update(4.0, np.array([3, 8]), np.array([[0.0, 0.0], [1.03, 0.0]])).violations
    assert violations == ()  # the frame's violations stay strict


def test_release_margin_never_opens_a_violation() -> None:
    monitor = SpacingMonitor(min_distance_m=1.0, min_duration_s=0.0, release_margin_m=0.05)
    assert run(monitor, pair_frames(times(0.0, 2.0), 1.02)) == []


@pytest.mark.parametrize(
    ("windows", "exempt", "zone", "violates"),
    [
        pytest.param(["window-1", "window-1"], False, "window-1", True, id="same window"),
        pytest.param(["window-1", "window-2"], False, None, True, id="different windows"),
        pytest.param(["window-1", None], False, None, True, id="one at a window"),
        pytest.param(["window-1", "window-1"], True, None, False, id="same window, exempt"),
        pytest.param(["window-1", "window-2"], True, None, True, id="different windows, exempt option"),
        pytest.param([None, None], True, None, True, id="no window, exempt option"),
    ],
)
def test_window_pairs(windows: list[str | None], exempt: bool, zone: str | None, violates: bool) -> None:
    monitor = SpacingMonitor(1.0, 0.0, exempt_window_pairs=exempt)
    update = monitor.update(0.0, np.array([3, 8]), np.array([[0.0, 0.0], [0.5, 0.0]]), windows)
    assert bool(update.violations) is violates
    assert [e.zone for e in update.events] == ([zone] if violates else [])
    ended = monitor.finish(1.0)
    assert [e.zone for e in ended] == ([zone] if violates else [])


def test_many_pairs_events_are_ordered_and_independent() -> None:
    monitor = SpacingMonitor(1.0, 0.0, grace_s=0.0)
    ids = np.array([5, 1, 3, 9])
    xy = np.array([[0.0, 0.0], [0.5, 0.0], [10.0, 0.0], [10.4, 0.0]])
    started = monitor.update(0.0, ids, xy).events
    assert [e.people for e in started] == [(1, 5), (3, 9)]
    xy[3] = [20.0, 0.0]
    ended = monitor.update(0.2, ids, xy).events
    assert [(e.type, e.people) for e in ended] == [("spacing_violation_ended", (3, 9))]


def test_nobody_and_restart() -> None:
    monitor = SpacingMonitor(1.0, 1.0)
    assert monitor.update(0.0, np.zeros(0, np.int64), np.zeros((0, 2))).events == ()
    run(monitor, pair_frames(times(0.0, 2.0), 0.5))
    # The source restarts at t = 0: the open violation is dropped, nothing is carried over.
    update = monitor.update(0.0, np.array([3, 8]), np.array([[0.0, 0.0], [0.5, 0.0]]))
    assert update.events == ()
    assert monitor.finish(0.2) == ()  # reopened at 0.0, not yet started


def test_finish_ends_open_violations() -> None:
    monitor = SpacingMonitor(1.0, 0.0)
    run(monitor, pair_frames(times(0.0, 1.0), 0.5))
    ended = monitor.finish(1.0)
    assert [(e.type, e.duration_s) for e in ended] == [("spacing_violation_ended", 1.0)]
    assert monitor.finish(1.0) == ()


@pytest.mark.parametrize(
    "kwargs", [{"min_distance_m": 0.0}, {"min_duration_s": -1.0}, {"grace_s": -0.1}, {"release_margin_m": -1}]
)
def test_bad_arguments_are_refused(kwargs: dict[str, float]) -> None:
    arguments = {"min_distance_m": 1.0, "min_duration_s": 1.0} | kwargs
    with pytest.raises(ValueError):
        SpacingMonitor(**arguments)  # type: ignore[arg-type]


def test_window_of_and_sigma_must_match_ids() -> None:
    with pytest.raises(ValueError, match="ids has 2 entries, window_of 1"):
        SpacingMonitor(1.0, 1.0).update(0.0, np.array([1, 2]), np.zeros((2, 2)), ["w"])
    with pytest.raises(ValueError, match="sigma_m 3"):
        SpacingMonitor(1.0, 1.0).update(0.0, np.array([1, 2]), np.zeros((2, 2)), sigma_m=np.zeros(3))


# Two people d metres apart, each placed with a 0.05 m standard deviation: sigma_d = 0.0707 m,
# band = 1.645 * 0.0707 = 0.116 m (no calibration error).
@pytest.mark.parametrize(
    ("distance_m", "violation", "certain", "possible"),
    [
        (0.80, True, True, False),  # 0.80 + 0.116 < 1: certain
        (0.92, True, False, False),  # under the limit, but the band reaches over it
        (1.05, False, False, True),  # over the limit, but the band reaches under it
        (1.20, False, False, False),  # clear of the limit, band and all
    ],
)
def test_pairs_are_certain_or_possible_by_their_band(
    distance_m: float, violation: bool, certain: bool, possible: bool
) -> None:
    update = SpacingMonitor(1.0, 0.0).update(
        0.0, np.array([1, 2]), np.array([[0.0, 0.0], [distance_m, 0.0]]), sigma_m=np.array([0.05, 0.05])
    )
    assert bool(update.violations) == violation
    assert bool(update.possible) == possible
    for pair in (*update.violations, *update.possible):
        assert pair.uncertainty_m == pytest.approx(1.645 * np.sqrt(2) * 0.05)
        assert pair.certain == certain


def test_calibration_scale_error_widens_the_band_with_distance() -> None:
    monitor = SpacingMonitor(1.0, 0.0, scale_error=0.05)  # 5 % of a distance
    (pair,) = monitor.update(0.0, np.array([1, 2]), np.array([[0.0, 0.0], [0.9, 0.0]])).violations
    assert pair.uncertainty_m == pytest.approx(1.645 * 0.9 * 0.05)
    assert pair.certain  # 0.9 + 0.074 < 1


@pytest.mark.parametrize(("alert_on", "started"), [("certain", False), ("likely", True), ("possible", True)])
def test_events_follow_the_alert_policy(alert_on: str, started: bool) -> None:
    monitor = SpacingMonitor(1.0, 0.0, alert_on=alert_on)  # type: ignore[arg-type]
    update = monitor.update(
        0.0, np.array([1, 2]), np.array([[0.0, 0.0], [0.95, 0.0]]), sigma_m=np.array([0.05, 0.05])
    )
    assert [e.type for e in update.events] == (["spacing_violation_started"] if started else [])
    assert monitor.alerting(update.violations) == int(started)


def test_an_open_violation_holds_while_the_pair_is_possible() -> None:
    monitor = SpacingMonitor(1.0, 0.0, grace_s=0.5)
    ids, sigma = np.array([1, 2]), np.array([0.05, 0.05])
    first = monitor.update(0.0, ids, np.array([[0.0, 0.0], [0.7, 0.0]]), sigma_m=sigma)
    assert [e.type for e in first.events] == ["spacing_violation_started"]
    # Drifting to 1.08 m: over the limit and its release margin, but still possible: no end.
    for k in range(1, 6):
        assert monitor.update(k * 0.2, ids, np.array([[0.0, 0.0], [1.08, 0.0]]), sigma_m=sigma).events == ()
    ended = [
        e.type
        for k in range(6, 10)
        for e in monitor.update(k * 0.2, ids, np.array([[0.0, 0.0], [1.5, 0.0]]), sigma_m=sigma).events
    ]
    assert ended == ["spacing_violation_ended"]
