"""Placing people on the floor, checked against exact geometry: ceiling and tilted cameras, pinhole and
fisheye, statures other than the assumed one, and boxes cut by the image's edge."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from vision.calibration import CalibrationError, calibrate
from vision.camera import CameraPose
from vision.detections import Detections
from vision.placement import FloorPlacer
from vision.synthetic import (
    StandingPerson,
    calibrate_camera,
    detect,
    fisheye_camera,
    grid_marks,
    pinhole_camera,
)

ASSUMED_STATURE = 1.65


def isolated_people(
    pose: CameraPose, image_size: tuple[int, int], stature_m: float, count: int, seed: int
) -> tuple[Detections, NDArray[np.float64]]:
    """People standing one at a time wholly in view (none cut by the image's edge), and their floor truth."""
    rng = np.random.default_rng(seed)
    reach = 3.0 * pose.height_m
    parts, truth = [], []
    while len(truth) < count:
        x, y = rng.uniform(-reach, reach, 2) + pose.centre_m[:2]
        found, _ = detect(pose, [StandingPerson(1, x, y, stature_m, rng.uniform(0, 2 * np.pi))], image_size)
        if len(found) == 0:
            continue
        x1, y1, x2, y2 = found.boxes_xyxy[0]
        if x1 <= 1 or y1 <= 1 or x2 >= image_size[0] - 1 or y2 >= image_size[1] - 1:
            continue
        parts.append(found)
        truth.append((x, y))
    return _stack(parts), np.array(truth)


def _stack(parts: list[Detections]) -> Detections:
    return Detections.from_boxes(
        np.vstack([d.boxes_xyxy for d in parts]),
        np.concatenate([d.scores for d in parts]),
        np.vstack([d.keypoints_xy for d in parts]),
        np.vstack([d.keypoints_conf for d in parts]),
    )


CAMERAS = [
    *(
        pytest.param("pinhole", height, tilt, id=f"pinhole {height} m tilt {tilt}")
        for height in (2.8, 3.5, 5.0, 8.0)
        for tilt in (0, 30, 60)
    ),
    *(pytest.param("fisheye", height, 0, id=f"fisheye {height} m") for height in (2.8, 3.5, 5.0, 8.0)),
]


def camera(kind: str, height_m: float, tilt_deg: float) -> tuple[CameraPose, tuple[int, int]]:
    if kind == "pinhole":
        size = (1280, 720)
        return pinhole_camera(height_m=height_m, tilt_deg=tilt_deg, image_size=size, hfov_deg=90), size
    size = (1536, 1536)
    return fisheye_camera(height_m=height_m, image_size=size), size


def placer_for(pose: CameraPose, size: tuple[int, int], height_m: float) -> FloorPlacer:
    # Floor marks on a grid over what the camera sees, as an installer would lay them.
    centre = pose.floor_at_height([[size[0] / 2, size[1] / 2]], 0.0)[0]
    calibration = calibrate_camera(pose, grid_marks(height_m, height_m / 2, tuple(centre)), size)
    # The mounting height is only needed where the pose cannot come from the floor marks alone.
    return FloorPlacer(
        "head", calibration, keypoint_conf=0.5, stature_m=ASSUMED_STATURE, mounting_height_m=height_m
    )


@pytest.mark.parametrize(("kind", "height_m", "tilt_deg"), CAMERAS)
def test_a_person_of_the_assumed_stature_is_placed_within_5_cm(
    kind: str, height_m: float, tilt_deg: float
) -> None:
    pose, size = camera(kind, height_m, tilt_deg)
    placer = placer_for(pose, size, height_m)
    detections, truth = isolated_people(pose, size, ASSUMED_STATURE, 60, seed=1)

    placed = placer.place(detections, size)

    error_m = np.hypot(*(placed.floor_xy - truth).T)
    assert error_m.max() < 0.05, f"worst {error_m.max():.3f} m at {truth[np.argmax(error_m)]}"


@pytest.mark.parametrize(("kind", "height_m", "tilt_deg"), CAMERAS)
@pytest.mark.parametrize("stature_m", [ASSUMED_STATURE - 0.2, ASSUMED_STATURE + 0.2])
def test_other_statures_are_placed_within_15_cm(
    kind: str, height_m: float, tilt_deg: float, stature_m: float
) -> None:
    pose, size = camera(kind, height_m, tilt_deg)
    placer = placer_for(pose, size, height_m)
    detections, truth = isolated_people(pose, size, stature_m, 60, seed=2)

    placed = placer.place(detections, size)

    error_m = np.hypot(*(placed.floor_xy - truth).T)
    assert error_m.max() < 0.15, f"worst {error_m.max():.3f} m at {truth[np.argmax(error_m)]}"
    seen_whole = np.all(detections.keypoints_conf[:, [0, 15]] > 0, axis=1)  # head and an ankle seen
    if np.any(seen_whole):  # their own stature, pulled a little towards the assumed one
        assert np.median(np.abs(placed.stature_m[seen_whole] - stature_m)) < 0.1


def test_the_head_plane_matters_under_a_ceiling_camera() -> None:
    """The mistake this fixes: a head taken as a floor point lands r * H / (H - h) from below the camera."""
    pose, size = camera("pinhole", 3.5, 0)
    calibration = calibrate_camera(pose, grid_marks(3.0, 1.0), size)
    detections, truth = isolated_people(pose, size, ASSUMED_STATURE, 30, seed=3)
    head_as_floor = calibration.floor_from_image(
        FloorPlacer("head", calibration, keypoint_conf=0.5, mounting_height_m=3.5)
        .place(detections, size)
        .image_xy
    )
    placed = FloorPlacer("head", calibration, keypoint_conf=0.5, mounting_height_m=3.5).place(
        detections, size
    )
    naive = np.hypot(*(head_as_floor - truth).T)
    assert np.median(naive) > 0.5  # metres off, growing with the distance from below the camera
    assert np.hypot(*(placed.floor_xy - truth).T).max() < 0.05


@pytest.mark.parametrize("anchor", ["head", "center"])
def test_no_keypoints_falls_back_to_the_box_centre(anchor: str) -> None:
    pose, size = camera("pinhole", 5.0, 30)
    placer = FloorPlacer(anchor, calibrate_camera(pose, grid_marks(6.0, 1.0), size), keypoint_conf=0.5)  # type: ignore[arg-type]
    detections, truth = isolated_people(pose, size, ASSUMED_STATURE, 30, seed=4)
    boxes_only = Detections.from_boxes(detections.boxes_xyxy, detections.scores)

    placed = placer.place(boxes_only, size)

    # A box centre is a rough stand-in for the body: placed within half a metre, with a wide sigma.
    error_m = np.hypot(*(placed.floor_xy - truth).T)
    assert np.median(error_m) < 0.3 and error_m.max() < 0.5
    assert np.all(placed.sigma_m > np.median(error_m) / 2)


def test_feet_are_the_box_bottom_through_the_homography() -> None:
    # A 60-degree lens: with wider ones, upright people lean in the image's corners and the box's
    # bottom centre slides sideways off the feet (a known limit of the feet anchor).
    size = (1280, 720)
    pose = pinhole_camera(height_m=6.0, tilt_deg=55, image_size=size, hfov_deg=60)
    calibration = calibrate_camera(pose, grid_marks(10.0, 2.0, (0, 8)), size)
    detections, truth = isolated_people(pose, size, ASSUMED_STATURE, 40, seed=5)

    placed = FloorPlacer("feet", calibration, keypoint_conf=0.5).place(detections, size)

    # The box's bottom is the near edge of the feet (0.14 m from the body's axis in these people),
    # plus a lean where people stand off the image's centre line.
    error_m = np.hypot(*(placed.floor_xy - truth).T)
    assert 0.13 < np.median(error_m) < 0.2 and error_m.max() < 0.3
    np.testing.assert_allclose(placed.floor_xy, calibration.floor_from_image(placed.image_xy))
    assert np.all(placed.sigma_m > 0) and np.all(np.isnan(placed.stature_m))


def test_feet_below_the_image_are_extrapolated_from_head_and_knees() -> None:
    size = (1280, 720)
    pose = pinhole_camera(height_m=6.0, tilt_deg=55, image_size=size, hfov_deg=60)
    calibration = calibrate_camera(pose, grid_marks(10.0, 2.0, (0, 8)), size)
    whole, truth = isolated_people(pose, size, ASSUMED_STATURE, 30, seed=6)
    feet_y = whole.boxes_xyxy[:, 3]
    cut_at = (feet_y - 0.25 * (whole.boxes_xyxy[:, 3] - whole.boxes_xyxy[:, 1])).astype(np.float32)
    placer = FloorPlacer("feet", calibration, keypoint_conf=0.5)
    cut_errors, box_errors = [], []
    for i in range(len(whole)):
        # The same person in a frame whose bottom edge cuts off the lowest quarter of their box.
        height = int(cut_at[i])
        box = whole.boxes_xyxy[i : i + 1].copy()
        box[0, 3] = height
        keypoints_conf = whole.keypoints_conf[i : i + 1] * (whole.keypoints_xy[i : i + 1, :, 1] < height)
        cut = Detections.from_boxes(
            box, whole.scores[i : i + 1], whole.keypoints_xy[i : i + 1], keypoints_conf
        )
        placed = placer.place(cut, (size[0], height))
        cut_errors.append(float(np.hypot(*(placed.floor_xy[0] - truth[i]))))
        box_errors.append(
            float(
                np.hypot(
                    *(calibration.floor_from_image([[box[0, 0] / 2 + box[0, 2] / 2, height]])[0] - truth[i])
                )
            )
        )
    assert np.median(cut_errors) < 0.5 * np.median(box_errors)


def test_a_camera_looking_down_without_lens_or_height_is_refused_with_advice() -> None:
    pose, size = camera("pinhole", 3.0, 0)
    calibration = calibrate_camera(pose, grid_marks(2.0, 1.0), size)
    placer = FloorPlacer("head", calibration, keypoint_conf=0.5)
    with pytest.raises(CalibrationError, match="mounting_height_m"):
        placer.place(Detections.empty(), size)


def test_empty_frames_are_fine() -> None:
    calibration = calibrate([[0, 0], [100, 0], [100, 100], [0, 100]], [[0, 0], [1, 0], [1, 1], [0, 1]])
    for anchor in ("feet", "center"):
        placed = FloorPlacer(anchor, calibration, keypoint_conf=0.5, mounting_height_m=3.0).place(  # type: ignore[arg-type]
            Detections.empty(), (100, 100)
        )
        assert placed.floor_xy.shape == (0, 2) and placed.sigma_m.shape == (0,)


def test_people_cut_by_the_image_side_are_placed_from_their_body_axis() -> None:
    size = (1280, 720)
    pose = pinhole_camera(height_m=6.0, tilt_deg=55, image_size=size, hfov_deg=60)
    calibration = calibrate_camera(pose, grid_marks(10.0, 2.0, (0, 8)), size)
    whole, truth = isolated_people(pose, size, ASSUMED_STATURE, 30, seed=7)
    placer = FloorPlacer("feet", calibration, keypoint_conf=0.5)
    whole_error = np.hypot(*(placer.place(whole, size).floor_xy - truth).T)
    cut_errors, box_errors = [], []
    for i in range(len(whole)):
        # The same person in a frame whose right edge cuts through their box, a third of its width in.
        x1, y1, x2, y2 = whole.boxes_xyxy[i]
        width = int(x2 - (x2 - x1) / 3)
        box = np.array([[x1, y1, width, y2]], np.float32)
        seen = whole.keypoints_conf[i : i + 1] * (whole.keypoints_xy[i : i + 1, :, 0] < width)
        cut = Detections.from_boxes(box, whole.scores[i : i + 1], whole.keypoints_xy[i : i + 1], seen)
        cut_errors.append(float(np.hypot(*(placer.place(cut, (width, size[1])).floor_xy[0] - truth[i]))))
        box_errors.append(
            float(np.hypot(*(calibration.floor_from_image([[(x1 + width) / 2, y2]])[0] - truth[i])))
        )
    assert np.median(cut_errors) < np.median(box_errors)
    assert np.median(cut_errors) < np.median(whole_error) + 0.1
