"""Floor calibration: homographies recovered, round trips, lens undistortion, degenerate point sets."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

import vision.calibration
from vision.calibration import CalibrationError, FloorCalibration, Lens, calibrate, calibration_from_config
from vision.config import CalibrationConfig, LensConfig

# Undistorted image pixels -> floor metres, as a ceiling or wall camera sees a hall floor.
KNOWN_HOMOGRAPHIES = {
    "scale and shift": np.array([[0.01, 0.0, -2.0], [0.0, 0.02, -3.0], [0.0, 0.0, 1.0]]),
    "rotated": np.array([[0.008, -0.006, 1.0], [0.006, 0.008, 0.5], [0.0, 0.0, 1.0]]),
    "oblique": np.array([[0.012, 0.002, -4.0], [0.0005, 0.03, -6.0], [1e-5, 8e-4, 1.0]]),
    "mirrored": np.array([[-0.01, 0.0, 12.0], [0.0, 0.01, 0.0], [2e-5, -1e-4, 1.0]]),
}

GRID_PX = np.array([[u, v] for v in (100.0, 380.0, 660.0) for u in (150.0, 640.0, 1130.0)])
QUAD_PX = np.array([[200.0, 150.0], [1100.0, 180.0], [1180.0, 650.0], [120.0, 600.0]])

K = np.array([[900.0, 0.0, 640.0], [0.0, 880.0, 360.0], [0.0, 0.0, 1.0]])


def apply_h(h: NDArray[np.float64], points: NDArray[np.float64]) -> NDArray[np.float64]:
    out = cv2.perspectiveTransform(np.asarray(points, np.float64).reshape(-1, 1, 2), h)
    return np.asarray(out, np.float64).reshape(-1, 2)


def distort_with_cv2(lens: LensConfig, undistorted_px: NDArray[np.float64]) -> NDArray[np.float64]:
    """Distort undistorted pixels with OpenCV directly (independent of vision.calibration)."""
    k = np.asarray(lens.camera_matrix, np.float64)
    d = np.asarray(lens.distortion, np.float64)
    normalized = (undistorted_px - k[:2, 2]) / np.diag(k)[:2]
    if lens.model == "fisheye":
        out = cv2.fisheye.distortPoints(normalized.reshape(-1, 1, 2), k, d)
    else:
        rays = np.hstack([normalized, np.ones((len(normalized), 1))]).reshape(-1, 1, 3)
        out, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), k, d)
    return np.asarray(out, np.float64).reshape(-1, 2)


def same_up_to_scale(a: NDArray[np.float64], b: NDArray[np.float64]) -> bool:
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    return bool(np.allclose(a, b, atol=1e-9) or np.allclose(a, -b, atol=1e-9))


@pytest.mark.parametrize("name", sorted(KNOWN_HOMOGRAPHIES))
@pytest.mark.parametrize("image_px", [QUAD_PX, GRID_PX], ids=["4 points", "9 points"])
def test_known_homography_is_recovered(name: str, image_px: NDArray[np.float64]) -> None:
    truth = KNOWN_HOMOGRAPHIES[name]
    floor_m = apply_h(truth, image_px)

    cal = calibrate(image_px, floor_m)

    assert same_up_to_scale(cal.homography, truth)
    assert cal.reprojection_error_cm < 1e-6
    assert cal.max_error_cm < 1e-6
    assert cal.errors_m.shape == (len(image_px),)
    np.testing.assert_allclose(cal.floor_from_image(image_px), floor_m, atol=1e-9)


@pytest.mark.parametrize("name", sorted(KNOWN_HOMOGRAPHIES))
def test_image_floor_image_round_trip(name: str) -> None:
    truth = KNOWN_HOMOGRAPHIES[name]
    cal = calibrate(QUAD_PX, apply_h(truth, QUAD_PX))
    pixels = np.random.default_rng(1).uniform([0, 0], [1280, 720], size=(200, 2))

    back = cal.image_from_floor(cal.floor_from_image(pixels))

    np.testing.assert_allclose(back, pixels, atol=1e-6)


def test_errors_are_per_point_floor_distances_in_cm() -> None:
    truth = KNOWN_HOMOGRAPHIES["oblique"]
    floor_m = apply_h(truth, GRID_PX)
    noisy_m = floor_m + np.random.default_rng(7).normal(0.0, 0.02, floor_m.shape)

    cal = calibrate(GRID_PX, noisy_m)

    expected = np.linalg.norm(cal.floor_from_image(GRID_PX) - noisy_m, axis=1)
    np.testing.assert_allclose(cal.errors_m, expected, atol=1e-12)
    assert cal.reprojection_error_cm == pytest.approx(100 * np.sqrt(np.mean(expected**2)))
    assert cal.max_error_cm == pytest.approx(100 * expected.max())
    assert 0.3 < cal.reprojection_error_cm < 5.0  # 2 cm noise, fitted with 8 degrees of freedom
    assert cal.max_error_cm >= cal.reprojection_error_cm


def test_least_squares_beats_any_four_points() -> None:
    truth = KNOWN_HOMOGRAPHIES["oblique"]
    floor_m = apply_h(truth, GRID_PX) + np.random.default_rng(3).normal(0.0, 0.01, (len(GRID_PX), 2))
    all_points = calibrate(GRID_PX, floor_m)
    corners = [0, 2, 8, 6]
    four_points = calibrate(GRID_PX[corners], floor_m[corners])
    rms_all = np.sqrt(np.mean(np.sum((all_points.floor_from_image(GRID_PX) - floor_m) ** 2, axis=1)))
    rms_four = np.sqrt(np.mean(np.sum((four_points.floor_from_image(GRID_PX) - floor_m) ** 2, axis=1)))
    assert rms_all < rms_four


LENSES = {
    "pinhole k1 k2 p1 p2": LensConfig(
        model="pinhole", camera_matrix=tuple(map(tuple, K)), distortion=(-0.28, 0.09, 0.001, -0.0015)
    ),
    "pinhole k1 k2 p1 p2 k3": LensConfig(
        model="pinhole", camera_matrix=tuple(map(tuple, K)), distortion=(-0.3, 0.1, 0.0008, -0.001, -0.02)
    ),
    "pinhole rational 8": LensConfig(
        model="pinhole",
        camera_matrix=tuple(map(tuple, K)),
        distortion=(-0.25, 0.05, 0.001, 0.0005, 0.0, 0.02, 0.01, 0.0),
    ),
    "fisheye": LensConfig(
        model="fisheye", camera_matrix=tuple(map(tuple, K)), distortion=(0.06, -0.02, 0.004, -0.001)
    ),
}


@pytest.mark.parametrize("name", sorted(LENSES))
def test_lens_distortion_is_undone_before_the_homography(name: str) -> None:
    lens = LENSES[name]
    truth = KNOWN_HOMOGRAPHIES["oblique"]
    floor_m = apply_h(truth, GRID_PX)  # GRID_PX are the undistorted pixels
    recorded_px = distort_with_cv2(lens, GRID_PX)  # what the camera records
    assert np.abs(recorded_px - GRID_PX).max() > 5.0  # the lens matters in this test

    cal = calibrate(recorded_px, floor_m, lens)

    assert cal.lens is not None and cal.lens.model == lens.model
    assert cal.max_error_cm < 1e-4
    np.testing.assert_allclose(cal.floor_from_image(recorded_px), floor_m, atol=1e-6)
    np.testing.assert_allclose(cal.image_from_floor(floor_m), recorded_px, atol=1e-6)
    # Ignoring the lens fits worse: the distortion bends the floor's straight lines.
    assert calibrate(recorded_px, floor_m).max_error_cm > 100 * cal.max_error_cm + 1.0


@pytest.mark.parametrize("name", sorted(LENSES))
def test_lens_undistort_inverts_distort(name: str) -> None:
    lens = Lens.from_config(LENSES[name])
    pixels = np.random.default_rng(5).uniform([100, 60], [1180, 660], size=(50, 2))
    np.testing.assert_allclose(lens.undistort(lens.distort(pixels)), pixels, atol=1e-6)
    np.testing.assert_allclose(lens.distort(pixels), distort_with_cv2(LENSES[name], pixels), atol=1e-9)


def test_calibration_from_config_uses_the_lens() -> None:
    lens = LENSES["fisheye"]
    truth = KNOWN_HOMOGRAPHIES["rotated"]
    floor_m = apply_h(truth, GRID_PX)
    recorded_px = distort_with_cv2(lens, GRID_PX)
    cfg = CalibrationConfig(
        image_points=[tuple(p) for p in recorded_px.tolist()],
        floor_points=[tuple(p) for p in floor_m.tolist()],
        lens=lens,
    )
    cal = calibration_from_config(cfg)
    assert isinstance(cal, FloorCalibration)
    np.testing.assert_allclose(cal.floor_from_image(recorded_px), floor_m, atol=1e-6)


@pytest.mark.parametrize("with_lens", [False, True])
def test_empty_input_gives_empty_output(with_lens: bool) -> None:
    floor_m = apply_h(KNOWN_HOMOGRAPHIES["oblique"], QUAD_PX)
    cal = calibrate(QUAD_PX, floor_m, LENSES["fisheye"] if with_lens else None)
    assert cal.floor_from_image(np.zeros((0, 2))).shape == (0, 2)
    assert cal.image_from_floor(np.zeros((0, 2))).shape == (0, 2)


def test_points_beyond_the_horizon_are_not_on_the_floor() -> None:
    # Camera looking at the floor obliquely: the floor's horizon is the image row where w = 0.
    h = np.array([[0.01, 0.0, -6.4], [0.0, 0.02, 0.0], [0.0, 0.004, -0.4]])  # w = 0.004 v - 0.4: v = 100
    image_px = np.array([[300.0, 300.0], [900.0, 320.0], [950.0, 700.0], [250.0, 650.0]])
    cal = calibrate(image_px, apply_h(h, image_px))

    floor_m = cal.floor_from_image(np.array([[640.0, 500.0], [640.0, 50.0]]))

    assert np.all(np.isfinite(floor_m[0]))
    assert np.all(np.isnan(floor_m[1]))  # above the horizon: the sky, or a wall, never the floor
    # Floor y = 5 v / (v - 100): the camera sees the floor beyond y = 5 m; nearer is behind it.
    image_px = cal.image_from_floor(np.array([[0.0, 6.0], [0.0, 3.0]]))
    np.testing.assert_allclose(image_px[0], [640.0, 600.0], atol=1e-6)
    assert np.all(np.isnan(image_px[1]))


DEGENERATE = [
    pytest.param(
        [[0, 0], [10, 0], [10, 10]],
        [[0, 0], [1, 0], [1, 1]],
        "a homography needs at least 4 point pairs, got 3",
        id="too few",
    ),
    pytest.param(
        [[0, 0], [10, 0], [10, 10], [0, 10], [5, 7]],
        [[0, 0], [1, 0], [1, 1], [0, 1]],
        "image_points has 5 points but floor_points has 4",
        id="mismatched lengths",
    ),
    pytest.param(
        [[0, 0], [10, 0], [10, 10], [0, 0]],
        [[0, 0], [1, 0], [1, 1], [0, 1]],
        "image points 0 and 3 are the same pixel",
        id="duplicated image point",
    ),
    pytest.param(
        [[0, 0], [10, 0], [10, 10], [0, 10], [5, 3]],
        [[0, 0], [1, 0], [1, 0], [0, 1], [0.5, 0.3]],
        "floor points 1 and 2 are the same floor point",
        id="duplicated floor point",
    ),
    pytest.param(
        [[0, 0], [10, 10], [20, 20], [30, 30], [45, 45]],
        [[0, 0], [1, 0], [1, 1], [0, 1], [2, 3]],
        "all image points (0, 1, 2, 3 and 4) lie on one line",
        id="all image points collinear",
    ),
    pytest.param(
        [[0, 0], [10, 0], [10, 10], [0, 10]],
        [[0, 0], [1, 1], [2, 2], [3, 3]],
        "all floor points (0, 1, 2 and 3) lie on one line",
        id="all floor points collinear",
    ),
    pytest.param(
        [[0, 0], [100, 0], [100, 100], [0, 100]],
        [[0, 0], [4, 1], [4, 2], [4, 3]],
        "floor points 1, 2 and 3 lie on one line: a homography needs 4 points with no 3 in line",
        id="3 of 4 floor points collinear",
    ),
    pytest.param(
        [[0, 0], [100, 0], [50, 0.01], [0, 100]],
        [[0, 0], [1, 0], [0.5, 0.3], [0, 1]],
        "image points 0, 1 and 2 lie on one line",
        id="3 of 4 image points nearly collinear",
    ),
    pytest.param(
        [[0, 0], [100, 0], [200, 0], [80, 90], [300, 0]],
        [[0, 0], [1, 0], [2, 0.5], [1, 1], [3, 2]],
        "image points 0, 1, 2 and 4 lie on one line and only image point 3 is off it",
        id="all but one collinear",
    ),
    pytest.param(
        [[0, 0], [100, 0], [100, 100], [0, 100]],
        [[0, 0], [1, 0], [0, 1], [1, 1]],
        "beyond the horizon of the fitted floor: check that the image and floor points are listed in "
        "the same order",
        id="points in a crossed order",
    ),
    pytest.param(
        [[0, 0], [100, 0], [float("nan"), 100], [0, 100]],
        [[0, 0], [1, 0], [1, 1], [0, 1]],
        "image_points: image point 2 not finite numbers",
        id="not a number",
    ),
    pytest.param(
        [[0, 0, 1], [100, 0, 1], [100, 100, 1], [0, 100, 1]],
        [[0, 0], [1, 0], [1, 1], [0, 1]],
        "image_points must have shape (n, 2), got (4, 3)",
        id="not 2-d points",
    ),
]


@pytest.mark.parametrize(("image_px", "floor_m", "message"), DEGENERATE)
def test_degenerate_point_sets_are_refused_naming_the_points(
    image_px: list[list[float]], floor_m: list[list[float]], message: str
) -> None:
    with pytest.raises(CalibrationError, match=re.escape(message)):
        calibrate(image_px, floor_m)


def test_calibration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        calibrate([[0, 0]], [[0, 0]])


def test_ill_conditioned_homography_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    image_px = np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0]])
    floor_m = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.2]])
    calibrate(image_px, floor_m)  # fine with the real threshold
    monkeypatch.setattr(vision.calibration, "MAX_CONDITION", 1.0001)
    with pytest.raises(CalibrationError, match="singular or ill-conditioned"):
        calibrate(image_px, floor_m)


@st.composite
def homographies(draw: st.DrawFn) -> NDArray[np.float64]:
    """Image px -> floor m maps as cameras see floors: any rotation, scale, shift, mild perspective."""
    angle = draw(st.floats(-np.pi, np.pi))
    scale = draw(st.floats(0.002, 0.05))
    aspect = draw(st.floats(0.5, 2.0))
    shear = draw(st.floats(-0.3, 0.3))
    tx, ty = draw(st.floats(-20, 20)), draw(st.floats(-20, 20))
    gx, gy = draw(st.floats(-5e-4, 5e-4)), draw(st.floats(-5e-4, 5e-4))  # w >= 0.36 over 1280 x 720
    c, s = np.cos(angle), np.sin(angle)
    linear = scale * np.array([[c, -s], [s, c]]) @ np.array([[aspect, shear], [0.0, 1.0]])
    return np.array([[*linear[0], tx], [*linear[1], ty], [gx, gy, 1.0]])


pixels = st.tuples(st.floats(0, 1280), st.floats(0, 720))


@settings(max_examples=200, deadline=None)
@given(h=homographies(), points=st.lists(pixels, min_size=0, max_size=20))
def test_property_homography_round_trips(h: NDArray[np.float64], points: list[tuple[float, float]]) -> None:
    try:
        cal = calibrate(QUAD_PX, apply_h(h, QUAD_PX))
    except CalibrationError:
        assume(False)  # a draw that folds the quad onto a line (strong shear and perspective) is refused
        raise
    image_px = np.array(points, np.float64).reshape(-1, 2)
    back = cal.image_from_floor(cal.floor_from_image(image_px))
    np.testing.assert_allclose(back, image_px, atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(h=homographies(), points=st.lists(pixels, min_size=4, max_size=12, unique=True))
def test_property_calibrate_recovers_exact_floor_points(
    h: NDArray[np.float64], points: list[tuple[float, float]]
) -> None:
    image_px = np.array(points)
    floor_m = apply_h(h, image_px)
    try:
        cal = calibrate(image_px, floor_m)
    except CalibrationError:
        assume(False)  # a degenerate draw (e.g. 3 of 4 in line) is refused, as the tests above check
        raise
    spread_m = float(np.ptp(floor_m, axis=0).max())
    assert cal.max_error_cm < 1e-5 * max(spread_m, 1.0)


def test_four_points_leave_the_error_unknown() -> None:
    """A homography fits any 4 pairs exactly: 0.0 cm says nothing, even with a point 30 px off."""
    floor_m = apply_h(KNOWN_HOMOGRAPHIES["oblique"], QUAD_PX)
    dragged = QUAD_PX.copy()
    dragged[2] += (30.0, 0.0)
    cal = calibrate(dragged, floor_m)
    assert cal.reprojection_error_cm < 1e-6  # the fit's own error: meaningless here
    assert cal.holdout_error_cm is None and cal.scale_error is None
    assert np.all(np.isnan(cal.holdout_errors_m))


def test_leave_one_out_finds_the_dragged_point() -> None:
    truth = KNOWN_HOMOGRAPHIES["oblique"]
    floor_m = apply_h(truth, GRID_PX)
    clean = calibrate(GRID_PX, floor_m)
    assert clean.holdout_error_cm is not None and clean.holdout_error_cm < 1e-4

    dragged = GRID_PX.copy()
    dragged[4] += (0.0, 30.0)  # the middle mark clicked 30 px off
    cal = calibrate(dragged, floor_m)

    assert int(np.nanargmax(cal.holdout_errors_m)) == 4
    assert cal.holdout_error_cm is not None and cal.holdout_error_cm > 1.2 * cal.reprojection_error_cm
    # Each holdout error is the floor distance under a fit that never saw the point.
    rest = np.arange(len(GRID_PX)) != 4
    alone = calibrate(dragged[rest], floor_m[rest])
    predicted = alone.floor_from_image(dragged[4:5])[0]
    assert cal.holdout_errors_m[4] == pytest.approx(np.linalg.norm(predicted - floor_m[4]), rel=1e-6)


def test_a_point_without_which_the_rest_is_degenerate_has_an_unknown_holdout() -> None:
    # Four marks on one line plus two off it: dropping either of those leaves 3 + 1 in line... unknown.
    image_px = np.array([[100, 100], [300, 100], [500, 100], [700, 100], [200, 400], [600, 420]], np.float64)
    floor_m = apply_h(KNOWN_HOMOGRAPHIES["rotated"], image_px)
    cal = calibrate(image_px, floor_m)
    assert np.isnan(cal.holdout_errors_m[4]) and np.isnan(cal.holdout_errors_m[5])
    assert np.all(np.isfinite(cal.holdout_errors_m[:4]))
    assert cal.holdout_error_cm is None
