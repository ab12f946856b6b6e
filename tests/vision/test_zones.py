"""Zones: point in polygon (concave, boundary rule, invariances) and per-zone counts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vision.config import EntranceLine, HallConfig, HallZone, QueueZone, WindowZone
from vision.zones import ZoneIndex, points_in_polygon, polygon_centroid

SQUARE = [(0, 0), (4, 0), (4, 4), (0, 4)]
TRIANGLE = [(0, 0), (6, 0), (3, 3)]
# A "U": the notch between x = 1..3, y = 1..4 is outside.
U_SHAPE = [(0, 0), (4, 0), (4, 4), (3, 4), (3, 1), (1, 1), (1, 4), (0, 4)]
# An "L" given clockwise.
L_SHAPE = [(0, 0), (0, 4), (1, 4), (1, 1), (4, 1), (4, 0)]
# A bow-tie: the two triangles are inside (even-odd rule), the crossing point region outside.
BOW_TIE = [(0, 0), (4, 4), (4, 0), (0, 4)]

CASES = [
    pytest.param(SQUARE, (2, 2), True, id="square centre"),
    pytest.param(SQUARE, (5, 2), False, id="square right of it"),
    pytest.param(SQUARE, (-0.001, 2), False, id="square just left"),
    pytest.param(TRIANGLE, (3, 1), True, id="triangle inside"),
    pytest.param(TRIANGLE, (1, 2), False, id="triangle outside the slanted edge"),
    pytest.param(U_SHAPE, (2, 2), False, id="U notch is outside"),
    pytest.param(U_SHAPE, (2, 0.5), True, id="U bottom bar"),
    pytest.param(U_SHAPE, (0.5, 3.5), True, id="U left arm"),
    pytest.param(U_SHAPE, (3.5, 3.5), True, id="U right arm"),
    pytest.param(U_SHAPE, (2, 5), False, id="U above the notch"),
    pytest.param(L_SHAPE, (0.5, 3), True, id="L clockwise arm"),
    pytest.param(L_SHAPE, (3, 3), False, id="L clockwise outside corner"),
    pytest.param(BOW_TIE, (1, 2), True, id="bow-tie left triangle"),
    pytest.param(BOW_TIE, (2, 1), False, id="bow-tie lower gap"),
    # Boundary rule: left and bottom edges inside, right and top edges outside.
    pytest.param(SQUARE, (0, 2), True, id="left edge inside"),
    pytest.param(SQUARE, (2, 0), True, id="bottom edge inside"),
    pytest.param(SQUARE, (4, 2), False, id="right edge outside"),
    pytest.param(SQUARE, (2, 4), False, id="top edge outside"),
    pytest.param(SQUARE, (0, 0), True, id="bottom-left corner inside"),
    pytest.param(SQUARE, (4, 4), False, id="top-right corner outside"),
]


@pytest.mark.parametrize(("polygon", "point", "inside"), CASES)
def test_point_in_polygon(
    polygon: list[tuple[float, float]], point: tuple[float, float], inside: bool
) -> None:
    assert points_in_polygon(np.array([point], float), np.array(polygon, float)).tolist() == [inside]


@pytest.mark.parametrize("polygon", [SQUARE, TRIANGLE, U_SHAPE, L_SHAPE])
def test_orientation_does_not_matter(polygon: list[tuple[float, float]]) -> None:
    points = np.random.default_rng(0).uniform(-1, 7, size=(500, 2))
    forward = points_in_polygon(points, polygon)
    backward = points_in_polygon(points, polygon[::-1])
    np.testing.assert_array_equal(forward, backward)
    assert 0 < forward.sum() < len(points)


def test_no_points() -> None:
    out = points_in_polygon(np.zeros((0, 2)), SQUARE)
    assert out.shape == (0,)
    assert out.dtype == np.bool_


def test_polygon_needs_three_vertices() -> None:
    with pytest.raises(ValueError, match="at least 3 vertices"):
        points_in_polygon(np.zeros((1, 2)), [(0, 0), (1, 1)])


def test_zones_that_tile_the_floor_share_their_edges_without_double_counting() -> None:
    left = [(0, 0), (2, 0), (2, 2), (0, 2)]
    right = [(2, 0), (4, 0), (4, 2), (2, 2)]
    on_shared_edge = np.array([[2.0, y] for y in np.linspace(0, 1.75, 8)])
    in_left = points_in_polygon(on_shared_edge, left)
    in_right = points_in_polygon(on_shared_edge, right)
    np.testing.assert_array_equal(in_left ^ in_right, True)


@pytest.mark.parametrize(
    ("polygon", "centroid"),
    [
        (SQUARE, (2.0, 2.0)),
        (TRIANGLE, (3.0, 1.0)),
        # Two rectangles: 1 x 4 centred at (0.5, 2) and 3 x 1 centred at (2.5, 0.5); area 7.
        (L_SHAPE, ((4 * 0.5 + 3 * 2.5) / 7, (4 * 2 + 3 * 0.5) / 7)),
    ],
    ids=["square", "triangle", "L"],
)
def test_polygon_centroid(polygon: list[tuple[float, float]], centroid: tuple[float, float]) -> None:
    assert polygon_centroid(polygon) == pytest.approx(centroid)


integers = st.integers(-50, 50)


@st.composite
def star_polygons(draw: st.DrawFn) -> np.ndarray:
    """Simple, often concave polygons on an integer grid: vertices sorted by angle around a centre."""
    n = draw(st.integers(3, 10))
    angles = np.sort(
        draw(st.lists(st.floats(0, 2 * np.pi, exclude_max=True), min_size=n, max_size=n, unique=True))
    )
    radii = np.array(draw(st.lists(st.integers(2, 30), min_size=n, max_size=n)), float)
    polygon = np.round(np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1))
    area2 = np.sum(polygon[:, 0] * np.roll(polygon[:, 1], -1) - np.roll(polygon[:, 0], -1) * polygon[:, 1])
    if abs(area2) < 1 or len(np.unique(polygon, axis=0)) < len(polygon):
        polygon = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    return polygon


@settings(max_examples=200, deadline=None)
@given(
    polygon=star_polygons(),
    points=st.lists(st.tuples(integers, integers), min_size=0, max_size=30),
    dx=st.integers(-10_000, 10_000),
    dy=st.integers(-10_000, 10_000),
)
def test_property_translating_both_changes_nothing(
    polygon: np.ndarray, points: list[tuple[int, int]], dx: int, dy: int
) -> None:
    pts = np.array(points, float).reshape(-1, 2)
    shift = np.array([dx, dy], float)
    np.testing.assert_array_equal(
        points_in_polygon(pts, polygon), points_in_polygon(pts + shift, polygon + shift)
    )


@settings(max_examples=200, deadline=None)
@given(polygon=star_polygons(), points=st.lists(st.tuples(integers, integers), min_size=1, max_size=30))
def test_property_agrees_with_opencv_off_the_boundary(
    polygon: np.ndarray, points: list[tuple[int, int]]
) -> None:
    pts = np.array(points, float)
    ours = points_in_polygon(pts, polygon)
    contour = polygon.astype(np.float32).reshape(-1, 1, 2)
    for point, inside in zip(pts, ours, strict=True):
        theirs = cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False)
        if theirs != 0:  # on the boundary OpenCV says 0; our rule there is tested above
            assert inside == (theirs > 0)


WINDOW_1 = WindowZone(id="window-1", kind="window", polygon=[(0, 0), (2, 0), (2, 1), (0, 1)])
WINDOW_2 = WindowZone(id="window-2", kind="window", polygon=[(3, 0), (5, 0), (5, 1), (3, 1)], max_people=1)
# The queue overlaps window-1 between y = 0.5 and 1: people there stand at the window.
QUEUE_1 = QueueZone(
    id="queue-1", kind="queue", window="window-1", polygon=[(0, 0.5), (2, 0.5), (2, 5), (0, 5)]
)
HALL = HallZone(id="hall", kind="hall", polygon=[(-1, -1), (10, -1), (10, 10), (-1, 10)], capacity=20)
DOOR = EntranceLine(id="door", kind="entrance", line=((4, 10), (6, 10)))


def test_zone_index_counts_and_finds_each_persons_zone() -> None:
    index = ZoneIndex([HALL, WINDOW_1, QUEUE_1, WINDOW_2, DOOR])
    floor_xy = np.array(
        [
            [1.0, 0.2],  # window-1 only
            [1.0, 0.8],  # window-1 and queue-1: the window wins
            [1.0, 3.0],  # queue-1
            [4.0, 0.5],  # window-2
            [8.0, 8.0],  # hall only
            [20.0, 20.0],  # outside everything
        ]
    )
    hits = index.locate(floor_xy)
    assert hits.counts == {"window-1": 2, "window-2": 1, "queue-1": 2, "hall": 5}
    assert hits.zone_of == ("window-1", "window-1", "queue-1", "window-2", None, None)
    assert hits.window_of == ("window-1", "window-1", None, "window-2", None, None)
    assert index.zone_ids == ("window-1", "window-2", "queue-1", "hall")
    assert index.entrances == (DOOR,)
    assert index.hall == HALL
    assert index.counts(floor_xy) == hits.counts


def test_zone_index_with_nobody() -> None:
    hits = ZoneIndex([HALL, WINDOW_1, QUEUE_1]).locate(np.zeros((0, 2)))
    assert hits.counts == {"window-1": 0, "queue-1": 0, "hall": 0}
    assert hits.zone_of == ()
    assert hits.window_of == ()


def test_zone_index_without_zones() -> None:
    hits = ZoneIndex([]).locate(np.array([[1.0, 1.0]]))
    assert hits.counts == {}
    assert hits.zone_of == (None,)


def test_overlapping_windows_first_in_config_order_wins() -> None:
    wide = WindowZone(id="wide", kind="window", polygon=[(0, 0), (10, 0), (10, 10), (0, 10)])
    hits = ZoneIndex([WINDOW_1, wide]).locate(np.array([[1.0, 0.5], [5.0, 5.0]]))
    assert hits.zone_of == ("window-1", "wide")
    assert hits.counts == {"window-1": 1, "wide": 2}


def test_zone_index_takes_a_cameras_zones_from_the_hall_config() -> None:
    hall = HallConfig.model_validate(
        {
            "site": "s",
            "cameras": [
                {
                    "id": cam,
                    "source": "x.mp4",
                    "calibration": {"image_points": SQUARE, "floor_points": SQUARE},
                }
                for cam in ("cam-1", "cam-2")
            ],
            "zones": [
                WINDOW_1.model_dump(),
                {**WINDOW_2.model_dump(), "cameras": ["cam-2"]},
                HALL.model_dump(),
            ],
        }
    )
    assert ZoneIndex(hall.zones_for("cam-1")).zone_ids == ("window-1", "hall")
    assert ZoneIndex(hall.zones_for("cam-2")).zone_ids == ("window-1", "window-2", "hall")


def test_two_hall_zones_are_refused() -> None:
    other = HallZone(id="hall-2", kind="hall", polygon=[(0, 0), (1, 0), (1, 1)], capacity=3)
    with pytest.raises(ValueError, match="only one hall zone"):
        ZoneIndex([HALL, other])


@settings(max_examples=100, deadline=None)
@given(points=st.lists(st.tuples(st.floats(-2, 12), st.floats(-2, 12)), min_size=0, max_size=40))
def test_property_counts_match_memberships(points: list[tuple[float, float]]) -> None:
    index = ZoneIndex([HALL, WINDOW_1, QUEUE_1, WINDOW_2])
    floor_xy = np.array(points, float).reshape(-1, 2)
    hits = index.locate(floor_xy)
    assert all(count >= 0 for count in hits.counts.values())
    assert sum(hits.counts[z] for z in ("window-1", "window-2")) == sum(w is not None for w in hits.window_of)
    for zone, count in hits.counts.items():
        polygon = next(z.polygon for z in (HALL, WINDOW_1, QUEUE_1, WINDOW_2) if z.id == zone)
        assert count == int(points_in_polygon(floor_xy, polygon).sum())
