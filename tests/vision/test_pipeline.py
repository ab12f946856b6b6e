"""The frame pipeline on scripted scenes: detections built directly, no model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vision.calibration import CalibrationError, calibrate
from vision.config import HallConfig
from vision.detections import KEYPOINTS, NOSE, UNTRACKED, Detections
from vision.pipeline import HallPipeline
from vision.spacing import close_pairs
from vision.state import HallState
from vision.zones import signed_distance_m

PX_PER_M = 100.0
FPS = 5.0

# Floor (metres): a 10 x 10 m hall above the door at y = 1; window-1 and its queue on the left.
HALL_POLYGON = [(0, 1), (10, 1), (10, 11), (0, 11)]
WINDOW_POLYGON = [(1, 2), (3, 2), (3, 3), (1, 3)]
QUEUE_POLYGON = [(1, 3), (3, 3), (3, 7), (1, 7)]


def hall_config(**overrides: Any) -> HallConfig:
    config: dict[str, Any] = {
        "site": "test-hall",
        "cameras": [
            {
                "id": "cam-1",
                "source": "hall.mp4",
                "anchor": "feet",
                "calibration": {  # image pixels = floor metres x 100
                    "image_points": [(0, 0), (1000, 0), (1000, 1200), (0, 1200)],
                    "floor_points": [(0, 0), (10, 0), (10, 12), (0, 12)],
                },
            }
        ],
        "zones": [
            {"id": "hall", "kind": "hall", "polygon": HALL_POLYGON, "capacity": 4},
            {"id": "window-1", "kind": "window", "polygon": WINDOW_POLYGON, "max_people": 2},
            {
                "id": "queue-1",
                "kind": "queue",
                "window": "window-1",
                "polygon": QUEUE_POLYGON,
                "max_people": 3,
            },
            {"id": "door", "kind": "entrance", "line": [(4, 1), (6, 1)]},  # inside: the hall's centroid
        ],
        "spacing": {"min_distance_m": 1.0, "min_duration_s": 1.0},
        "tracking": {"min_track_frames": 1, "zone_settle_s": 0.0, "hidden_hold_s": 1.0},
    }
    config.update(overrides)
    return HallConfig.model_validate(config)


def people(*where: tuple[int, float, float]) -> Detections:
    """People standing at floor (x, y) metres: boxes whose bottom centre is their feet, no keypoints."""
    n = len(where)
    boxes = np.array(
        [[x * PX_PER_M - 20, y * PX_PER_M - 170, x * PX_PER_M + 20, y * PX_PER_M] for _, x, y in where],
        np.float32,
    ).reshape(n, 4)
    return Detections.from_boxes(
        boxes, np.full(n, 0.9, np.float32), track_ids=np.array([i for i, _, _ in where], np.int64)
    )


def run(pipeline: HallPipeline, frames: list[Detections]) -> list[HallState]:
    return [pipeline.step(k, k / FPS, d) for k, d in enumerate(frames)]


def events_of(states: list[HallState], prefix: str) -> list[tuple[float, str, Any]]:
    return [(s.t_s, e.type, e) for s in states for e in s.events if e.type.startswith(prefix)]


@pytest.fixture
def pipeline() -> HallPipeline:
    return HallPipeline.from_config(hall_config(), "cam-1")


def test_empty_hall(pipeline: HallPipeline) -> None:
    state = pipeline.step(0, 0.0, Detections.empty())
    assert state.camera == "cam-1" and state.frame == 0 and state.t_s == 0.0
    assert len(state.people) == 0
    assert state.zone_counts == {"window-1": 0, "queue-1": 0, "hall": 0}
    assert state.violations == ()
    assert state.crossings == {"door": {"in": 0, "out": 0}}
    assert state.events == ()
    assert state.zone_of == {} and state.dwell_s == {}


def test_people_are_placed_on_the_floor(pipeline: HallPipeline) -> None:
    state = pipeline.step(0, 0.0, people((4, 2.0, 2.5), (9, 8.0, 9.0)))
    np.testing.assert_array_equal(state.people.ids, [4, 9])
    np.testing.assert_allclose(state.people.floor_xy, [[2.0, 2.5], [8.0, 9.0]], atol=1e-6)
    np.testing.assert_allclose(state.people.image_xy, [[200.0, 250.0], [800.0, 900.0]], atol=1e-3)
    np.testing.assert_allclose(state.people.scores, [0.9, 0.9])
    assert state.zone_counts == {"window-1": 1, "queue-1": 0, "hall": 2}
    assert state.zone_of == {4: "window-1"}


def test_window_over_limit_starts_at_once_and_ends_when_the_third_walks_away(pipeline: HallPipeline) -> None:
    three = people((1, 1.2, 2.5), (2, 2.0, 2.5), (3, 2.8, 2.5))
    away = people((1, 1.2, 2.5), (2, 2.0, 2.5), (3, 5.0, 2.5))
    states = run(pipeline, [three] * 10 + [away] * 6)  # the third steps out at t = 2.0

    assert [s.zone_counts["window-1"] for s in states] == [3] * 10 + [2] * 6
    window_events = events_of(states, "window_over_limit")
    assert [(t, kind) for t, kind, _ in window_events] == [
        (0.0, "window_over_limit_started"),
        (2.0, "window_over_limit_ended"),
    ]
    started, ended = (e for _, _, e in window_events)
    assert (started.zone, started.count, started.limit) == ("window-1", 3, 2)
    assert (ended.count, ended.limit, ended.duration_s) == (3, 2, pytest.approx(2.0))


def test_one_frame_dropout_does_not_empty_the_window(pipeline: HallPipeline) -> None:
    two = people((1, 1.5, 2.5), (2, 2.5, 2.5))
    one = people((1, 1.5, 2.5))
    states = run(pipeline, [two, two, one, two, two, one, one, two])
    assert [s.zone_counts["window-1"] for s in states] == [2] * 8


def test_someone_who_vanishes_inside_the_hall_is_counted_for_the_hold_only(pipeline: HallPipeline) -> None:
    three = people((1, 1.2, 2.5), (2, 2.0, 2.5), (3, 2.8, 2.5))
    two = people((1, 1.2, 2.5), (2, 2.0, 2.5))
    states = run(pipeline, [three] * 5 + [two] * 10)  # the third is hidden from t = 1.0 on

    assert [s.zone_counts["window-1"] for s in states] == [3] * 10 + [2] * 5  # hidden_hold_s 1.0
    hidden = states[6].hidden
    np.testing.assert_array_equal(hidden.ids, [3])
    np.testing.assert_allclose(hidden.floor_xy, [[2.8, 2.5]], atol=1e-9)  # standing still: stays put
    assert 3 not in states[6].zone_of  # the zones of people seen only


def test_someone_who_vanishes_near_the_door_is_not_kept(pipeline: HallPipeline) -> None:
    at_door = people((1, 5.0, 1.5))
    states = run(pipeline, [at_door] * 3 + [Detections.empty()] * 2)
    assert [s.zone_counts["hall"] for s in states] == [1, 1, 1, 0, 0]


def test_someone_who_vanishes_at_the_image_edge_is_not_kept(pipeline: HallPipeline) -> None:
    at_edge = people((1, 0.1, 8.0))  # box from x = -10 px: cut by the image's left edge
    states = [
        pipeline.step(k, k / FPS, d, (1000, 1200)) for k, d in enumerate([at_edge] * 3 + [people()] * 2)
    ]
    assert [s.zone_counts["hall"] for s in states] == [1, 1, 1, 0, 0]


def test_a_new_track_near_a_hidden_person_takes_their_place(pipeline: HallPipeline) -> None:
    states = run(pipeline, [people((1, 2.0, 2.5))] * 3 + [Detections.empty()] + [people((9, 2.1, 2.5))] * 3)
    assert [s.zone_counts["window-1"] for s in states] == [1] * 7  # never 2, never 0
    assert [len(s.hidden) for s in states] == [0, 0, 0, 1, 0, 0, 0]


def test_edge_jitter_does_not_flip_the_count() -> None:
    pipeline = HallPipeline.from_config(
        hall_config(tracking={"min_track_frames": 1, "zone_settle_s": 0.0, "zone_margin_m": 0.2}), "cam-1"
    )
    # Standing on the window's right edge (x = 3), placed 5 cm either side of it frame by frame.
    states = run(pipeline, [people((1, 3.0 + (0.05 if k % 2 else -0.05), 2.5)) for k in range(10)])
    assert [s.zone_counts["window-1"] for s in states] == [1] * 10


def test_new_tracks_count_after_min_track_frames() -> None:
    pipeline = HallPipeline.from_config(
        hall_config(tracking={"min_track_frames": 3, "zone_settle_s": 0.0}), "cam-1"
    )
    states = run(pipeline, [people((1, 2.0, 2.5))] * 4)
    assert [s.zone_counts["window-1"] for s in states] == [0, 0, 1, 1]


def test_settling_delays_entering_and_leaving_alike() -> None:
    pipeline = HallPipeline.from_config(
        hall_config(tracking={"min_track_frames": 1, "zone_settle_s": 0.4}), "cam-1"
    )
    outside, inside = people((1, 5.0, 2.5)), people((1, 2.0, 2.5))
    states = run(pipeline, [outside] * 3 + [inside] * 5 + [outside] * 5)
    counts = [s.zone_counts["window-1"] for s in states]
    assert counts == [0] * 5 + [1] * 5 + [0] * 3  # in for 5 frames, counted for 5 frames, 2 frames late
    assert sum(counts) == 5  # no bias: as many person-frames counted as were stood there


def test_hall_over_capacity(pipeline: HallPipeline) -> None:
    crowd = people(*[(i, 1.0 + 1.5 * i, 9.0) for i in range(5)])  # 5 > capacity 4, 1.5 m apart
    state = pipeline.step(0, 0.0, crowd)
    assert [(e.type, e.zone, e.count, e.limit) for e in state.events] == [
        ("hall_over_capacity_started", "hall", 5, 4)
    ]


def test_queue_over_limit_and_dwell(pipeline: HallPipeline) -> None:
    queue = people(*[(10 + i, 2.0, 3.5 + 1.1 * i) for i in range(4)])  # 4 > max_people 3, 1.1 m apart
    states = run(pipeline, [queue] * 16)
    assert [kind for _, kind, _ in events_of(states, "queue_")] == ["queue_over_limit_started"]
    assert states[-1].zone_of == {10: "queue-1", 11: "queue-1", 12: "queue-1", 13: "queue-1"}
    assert states[-1].dwell_s == pytest.approx({i: 3.0 for i in range(10, 14)})
    assert states[-1].violations == ()


def test_moving_from_queue_to_window_restarts_the_dwell_clock(pipeline: HallPipeline) -> None:
    states = run(pipeline, [people((5, 2.0, 5.0))] * 10 + [people((5, 2.0, 2.5))] * 5)
    assert states[9].zone_of == {5: "queue-1"} and states[9].dwell_s == pytest.approx({5: 1.8})
    assert states[-1].zone_of == {5: "window-1"} and states[-1].dwell_s == pytest.approx({5: 0.8})


def test_a_wait_in_the_queue_is_reported_when_it_is_over(pipeline: HallPipeline) -> None:
    # 5 waits 2 s and reaches the window; 6 waits 8 s and walks away; 7 walks through the queue.
    frames = (
        [people((5, 2.0, 5.0), (6, 1.5, 6.0))] * 11
        + [people((5, 2.0, 2.5), (6, 1.5, 6.0), (7, 2.5, 4.0))] * 2
        + [people((5, 2.0, 2.5), (6, 1.5, 6.0), (7, 5.0, 4.0))] * 28
        + [people((5, 2.0, 2.5), (6, 5.0, 6.0))] * 15
    )
    states = run(pipeline, frames)
    waits = [(e.zone, e.people, round(e.t_s, 2), e.duration_s) for _, _, e in events_of(states, "queue_left")]
    assert waits == [("queue-1", (5,), 2.0, pytest.approx(2.0)), ("queue-1", (6,), 8.0, pytest.approx(8.0))]


@pytest.mark.parametrize(
    ("start_y", "end_y", "event", "totals"),
    [
        (0.0, 3.0, "person_entered", {"in": 1, "out": 0}),
        (3.0, 0.0, "person_left", {"in": 0, "out": 1}),
    ],
)
def test_entrance_crossings(
    pipeline: HallPipeline, start_y: float, end_y: float, event: str, totals: dict[str, int]
) -> None:
    path = [people((7, 5.0, y)) for y in np.linspace(start_y, end_y, 16)]
    states = run(pipeline, path)
    crossing_events = [e for s in states for e in s.events if e.type.startswith("person_")]
    assert [(e.type, e.zone, e.people) for e in crossing_events] == [(event, "door", (7,))]
    floor = crossing_events[0].floor
    assert floor is not None and floor[0] == pytest.approx(5.0)
    assert abs(floor[1] - 1.0) > 0.15  # reported once settled past the line's margin
    assert states[-1].crossings == {"door": totals}


def test_spacing_violation_becomes_an_event_after_min_duration(pipeline: HallPipeline) -> None:
    pair = people((1, 6.0, 8.0), (2, 6.5, 8.0))
    apart = people((1, 6.0, 8.0), (2, 9.0, 8.0))
    states = run(pipeline, [pair] * 10 + [apart] * 10)
    assert all(s.violations and s.violations[0].a == 1 and s.violations[0].b == 2 for s in states[:10])
    assert all(not s.violations for s in states[10:])
    spacing = events_of(states, "spacing_")
    assert [(t, kind) for t, kind, _ in spacing] == [
        (1.0, "spacing_violation_started"),
        (3.0, "spacing_violation_ended"),  # last close at 1.8, ended once 1 s of grace has passed
    ]
    started, ended = (e for _, _, e in spacing)
    assert started.people == (1, 2) and started.distance_m == pytest.approx(0.5)
    assert started.floor == pytest.approx((6.25, 8.0))
    assert ended.duration_s == pytest.approx(1.8)


def test_exempt_window_pairs_from_config() -> None:
    exempt = HallPipeline.from_config(
        hall_config(spacing={"min_distance_m": 1.0, "min_duration_s": 0.0, "exempt_window_pairs": True}),
        "cam-1",
    )
    strict = HallPipeline.from_config(
        hall_config(spacing={"min_distance_m": 1.0, "min_duration_s": 0.0}), "cam-1"
    )
    at_window = people((1, 1.8, 2.5), (2, 2.3, 2.5))
    assert exempt.step(0, 0.0, at_window).violations == ()
    state = strict.step(0, 0.0, at_window)
    assert [(v.a, v.b) for v in state.violations] == [(1, 2)]
    assert [(e.type, e.zone) for e in state.events if e.type.startswith("spacing")] == [
        ("spacing_violation_started", "window-1")
    ]


def test_untracked_people_are_counted_but_not_followed(pipeline: HallPipeline) -> None:
    detections = people((UNTRACKED, 1.5, 2.5), (UNTRACKED, 1.9, 2.5), (3, 2.6, 2.5))
    states = run(pipeline, [detections] * 10)
    state = states[-1]
    assert state.zone_counts["window-1"] == 3
    np.testing.assert_array_equal(state.people.ids, [UNTRACKED, UNTRACKED, 3])
    assert state.zone_of == {3: "window-1"}
    assert set(state.dwell_s) == {3}
    assert state.violations == ()  # the untracked pair is 0.4 m apart but has no ids to name
    assert not any(e.type.startswith("spacing") for s in states for e in s.events)


def test_head_anchor_uses_head_keypoints() -> None:
    hall = hall_config()
    camera = hall.cameras[0].model_copy(update={"anchor": "head"})
    pipeline = HallPipeline.from_config(hall.model_copy(update={"cameras": [camera]}), "cam-1")
    keypoints_xy = np.zeros((2, KEYPOINTS, 2), np.float32)
    keypoints_conf = np.zeros((2, KEYPOINTS), np.float32)
    keypoints_xy[0, NOSE] = (250.0, 270.0)
    keypoints_conf[0, NOSE] = 0.9  # the second person's head is not confident: box centre
    boxes = np.array([[200, 200, 300, 400], [700, 700, 800, 900]], np.float32)
    detections = Detections.from_boxes(
        boxes, np.array([0.9, 0.8]), keypoints_xy, keypoints_conf, np.array([1, 2])
    )
    with pytest.raises(CalibrationError, match="mounting_height_m"):  # it looks straight down, no lens
        pipeline.step(0, 0.0, detections, (1000, 1200))
    calibration = camera.calibration.model_copy(update={"mounting_height_m": 4.0})
    camera = camera.model_copy(update={"calibration": calibration})
    pipeline = HallPipeline.from_config(hall.model_copy(update={"cameras": [camera]}), "cam-1")
    state = pipeline.step(0, 0.0, detections, (1000, 1200))
    np.testing.assert_allclose(state.people.image_xy, [[250, 270], [750, 800]])
    # Through the plane at head height (93 % of 1.65 m), under a camera 4 m above pixel (500, 600).
    shrink = (4.0 - 0.93 * 1.65) / 4.0
    np.testing.assert_allclose(state.people.floor_xy[0], [5.0 - 2.5 * shrink, 6.0 - 3.3 * shrink], atol=0.01)
    assert np.all(np.isfinite(state.people.floor_xy[1]))


def test_only_the_cameras_zones_are_counted() -> None:
    hall = hall_config()
    cam_2 = hall.cameras[0].model_copy(update={"id": "cam-2"})
    zones = [*hall.zones, hall.zones[1].model_copy(update={"id": "window-2", "cameras": ["cam-2"]})]
    hall = hall.model_copy(update={"cameras": [hall.cameras[0], cam_2], "zones": zones})
    assert set(HallPipeline.from_config(hall, "cam-1").step(0, 0.0, Detections.empty()).zone_counts) == {
        "window-1",
        "queue-1",
        "hall",
    }
    assert "window-2" in HallPipeline.from_config(hall, "cam-2").step(0, 0.0, Detections.empty()).zone_counts


def test_people_beyond_the_horizon_are_left_out() -> None:
    # An oblique camera: the floor's far edge (y = 12 m) is a short line high in the image.
    image_px = np.array([[100.0, 700.0], [900.0, 700.0], [600.0, 300.0], [400.0, 300.0]])
    floor_m = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 12.0], [0.0, 12.0]])
    calibration = calibrate(image_px, floor_m)
    sky = np.array([[500.0, 10.0]])
    assert np.all(np.isnan(calibration.floor_from_image(sky)))  # the premise: above the horizon
    pipeline = HallPipeline(hall_config(), "cam-1", calibration)
    boxes = np.array([[480, -100, 520, 10], [480, 500, 520, 650]], np.float32)  # feet at v = 10 and 650
    state = pipeline.step(
        0, 0.0, Detections.from_boxes(boxes, np.array([0.9, 0.9]), track_ids=np.array([1, 2]))
    )
    np.testing.assert_array_equal(state.people.ids, [2])
    assert np.all(np.isfinite(state.people.floor_xy))


def test_finish_ends_what_is_open(pipeline: HallPipeline) -> None:
    three = people((1, 1.2, 2.5), (2, 2.0, 2.5), (3, 2.8, 2.5))
    run(pipeline, [three] * 10)
    ended = pipeline.finish(1.8)
    assert sorted(e.type for e in ended) == [
        "spacing_violation_ended",
        "spacing_violation_ended",
        "window_over_limit_ended",
    ]


def test_durations_follow_frame_time_not_call_speed() -> None:
    pair = people((1, 6.0, 8.0), (2, 6.5, 8.0))
    slow = HallPipeline.from_config(hall_config(), "cam-1")
    fast = HallPipeline.from_config(hall_config(), "cam-1")
    # Same frames, times twice as far apart: the violation starts after half as many frames.
    slow_states = [slow.step(k, k / FPS, pair) for k in range(10)]
    fast_states = [fast.step(k, 2 * k / FPS, pair) for k in range(10)]
    assert [s.frame for s in slow_states if s.events] == [5]
    assert [s.frame for s in fast_states if s.events] == [3]  # t = 1.2 is the first frame >= 1.0 s


floor_points = st.tuples(st.floats(-1, 11), st.floats(-1, 12))


@settings(max_examples=50, deadline=None)
@given(
    frames=st.lists(
        st.lists(st.tuples(st.integers(0, 30), floor_points), max_size=25, unique_by=lambda p: p[0]),
        min_size=1,
        max_size=12,
    )
)
def test_property_counts_lie_between_who_is_clearly_in_and_who_may_be(
    frames: list[list[tuple[int, tuple[float, float]]]],
) -> None:
    pipeline = HallPipeline.from_config(hall_config(), "cam-1")
    polygons = {"hall": HALL_POLYGON, "window-1": WINDOW_POLYGON, "queue-1": QUEUE_POLYGON}
    half_margin = pipeline.counter.half_margin_m
    for k, frame in enumerate(frames):
        state = pipeline.step(k, k / FPS, people(*[(i, x, y) for i, (x, y) in frame]))
        xy = state.people.floor_xy
        for zone, polygon in polygons.items():
            depth = signed_distance_m(xy, polygon)
            hidden_near = int((signed_distance_m(state.hidden.floor_xy, polygon) > -half_margin - 1e-9).sum())
            clearly_in = int((depth > half_margin + 1e-9).sum())
            maybe_in = int((depth > -half_margin - 1e-9).sum())
            assert clearly_in <= state.zone_counts[zone] <= maybe_in + hidden_near
        assert [(v.a, v.b, v.distance_m) for v in state.violations] == [
            (v.a, v.b, v.distance_m) for v in close_pairs(state.people.ids, xy, 1.0)
        ]


def test_only_certain_pairs_alert_by_default(pipeline: HallPipeline) -> None:
    close = pipeline.step(0, 0.0, people((1, 6.0, 8.0), (2, 6.5, 8.0)))
    assert close.violations[0].certain and close.alerting_pairs == 1
    edge = HallPipeline.from_config(hall_config(), "cam-1")
    unsure = edge.step(0, 0.0, people((1, 6.0, 8.0), (2, 6.98, 8.0)))  # 0.98 m, each placed +-2 cm
    assert len(unsure.violations) == 1 and not unsure.violations[0].certain
    assert unsure.alerting_pairs == 0
    likely = HallPipeline.from_config(
        hall_config(spacing={"min_distance_m": 1.0, "min_duration_s": 1.0, "alert_on": "likely"}), "cam-1"
    )
    assert likely.step(0, 0.0, people((1, 6.0, 8.0), (2, 6.98, 8.0))).alerting_pairs == 1
