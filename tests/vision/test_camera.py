"""The camera's pose recovered from its floor calibration: height, tilt, focal length, rays."""

from __future__ import annotations

import numpy as np
import pytest

from vision.calibration import CalibrationError, calibrate
from vision.camera import camera_pose, focal_from_homography
from vision.synthetic import calibrate_camera, fisheye_camera, grid_marks, pinhole_camera


@pytest.mark.parametrize("tilt_deg", [15, 30, 45, 60])
@pytest.mark.parametrize("height_m", [2.8, 4.0, 8.0])
def test_a_tilted_camera_gives_its_height_tilt_and_focal_length(height_m: float, tilt_deg: float) -> None:
    size = (1280, 720)
    truth = pinhole_camera(height_m=height_m, tilt_deg=tilt_deg, image_size=size, hfov_deg=70, yaw_deg=25)
    centre = truth.floor_at_height([[640, 360]], 0.0)[0]
    calibration = calibrate_camera(truth, grid_marks(height_m, height_m / 3, tuple(centre)), size)

    pose = camera_pose(calibration, size)  # no lens and no mounting height: all from the marks

    assert pose.height_m == pytest.approx(height_m, rel=1e-6)
    assert pose.tilt_deg == pytest.approx(tilt_deg, abs=1e-4)
    assert pose.focal_px == pytest.approx(truth.focal_px, rel=1e-6)
    np.testing.assert_allclose(pose.centre_m, truth.centre_m, atol=1e-6)


def test_a_camera_looking_down_needs_its_height_and_then_matches() -> None:
    size = (1280, 720)
    truth = pinhole_camera(height_m=3.2, tilt_deg=0, image_size=size)
    calibration = calibrate_camera(truth, grid_marks(2.0, 1.0), size)
    assert focal_from_homography(np.linalg.inv(calibration.homography), (640, 360)) is None
    with pytest.raises(CalibrationError, match="mounting_height_m"):
        camera_pose(calibration, size)

    pose = camera_pose(calibration, size, mounting_height_m=3.2)

    assert pose.focal_px == pytest.approx(truth.focal_px, rel=1e-6)
    head = np.array([[1.3, -0.7, 1.55]])
    np.testing.assert_allclose(pose.floor_at_height(truth.project(head), 1.55), head[:, :2], atol=1e-6)


def test_a_fisheye_pose_comes_from_its_lens() -> None:
    size = (2048, 2048)
    truth = fisheye_camera(height_m=3.0, image_size=size, yaw_deg=40)
    calibration = calibrate_camera(truth, grid_marks(4.0, 1.0), size)

    pose = camera_pose(calibration)

    assert pose.height_m == pytest.approx(3.0, rel=1e-6) and pose.tilt_deg < 1e-3
    far_head = np.array([[3.5, -2.5, 1.5]])  # 60 degrees off the axis
    np.testing.assert_allclose(pose.floor_at_height(truth.project(far_head), 1.5), far_head[:, :2], atol=1e-6)


def test_mirrored_floor_axes_still_put_the_camera_above_the_floor() -> None:
    size = (1280, 720)
    truth = pinhole_camera(height_m=4.0, tilt_deg=40, image_size=size)
    marks = grid_marks(4.0, 1.0, (0, 4))
    mirrored = marks * [-1.0, 1.0]  # x runs the other way: floor axes and up are left-handed
    image = truth.project(np.column_stack([marks, np.zeros(len(marks))]))
    seen = (
        np.all(np.isfinite(image), axis=1)
        & (image[:, 0] > 0)
        & (image[:, 0] < 1280)
        & (image[:, 1] > 0)
        & (image[:, 1] < 720)
    )
    pose = camera_pose(calibrate(image[seen], mirrored[seen]), size)

    assert pose.height_m == pytest.approx(4.0, rel=1e-6)
    np.testing.assert_allclose(pose.centre_m[:2], [0.0, 0.0], atol=1e-6)


def test_rays_above_the_camera_never_reach_the_plane() -> None:
    pose = pinhole_camera(height_m=3.0, tilt_deg=80, image_size=(1280, 720))
    sky = pose.floor_at_height([[640, 0]], 1.5)  # the top of the image looks up past the horizon
    assert np.all(np.isnan(sky))
