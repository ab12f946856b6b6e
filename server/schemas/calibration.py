"""Ops' snapshots, calibration previews, zone edits and config views (see server/api/calibration.py)."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from server.schemas.base import In, Out
from vision.config import LensConfig, Zone

Pixel = tuple[
    float,
    float,
]
ImagePointIn = tuple[
    float,
    float,
]


class ProblemOut(Out):
    """An error: `detail` is a sentence for people (or FastAPI's list of field errors)."""

    detail: str | list[dict[str, Any]]


# ------------------------------------------------------------------------------------ snapshots
class SnapshotRequestIn(In):
    camera: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="one of the node's cameras")
    blur: bool = Field(default=True, description="blur the people in the picture (on the node)")


class SnapshotRequestOut(Out):
    request_id: uuid.UUID
    site: str
    node: str
    camera: str
    blur: bool
    requested_by: str
    expires_at: datetime = Field(description="the node ignores the request after this")
    status_url: str
    image_url: str


class SnapshotStatusOut(Out):
    request_id: uuid.UUID | None
    site: str
    node: str
    camera: str
    status: Literal["waiting", "ready", "failed", "expired", "none"] = Field(
        description="waiting for the node; ready (a picture); failed (the node said why); expired (no "
        "answer); none (no recent snapshot of the camera)"
    )
    message: str = Field(description="the status in words, for the page")
    error: str | None = Field(default=None, description="the node's reason when it sent no picture")
    captured_at: datetime | None = None
    received_at: datetime | None = None
    width: int | None = Field(default=None, description="the picture's width in pixels")
    height: int | None = None
    frame_width: int | None = Field(
        default=None, description="the camera frame's width: image points are in these pixels"
    )
    frame_height: int | None = None
    blurred: bool | None = None
    blur_method: str | None = Field(default=None, description="people (their boxes) or frame (everything)")
    people_blurred: int | None = None
    image_url: str | None = None


# ---------------------------------------------------------------------------------- calibration
class CalibrationIn(In):
    """Image↔floor point pairs for one camera, in the camera's full frame and in metres."""

    image_points: list[tuple[float, float]] = Field(
        max_length=64, description="pixels of the camera's full frame (not of a downscaled snapshot)"
    )
    floor_points: list[tuple[float, float]] = Field(max_length=64, description="metres, same order")
    lens: LensConfig | None = Field(
        default=None,
        description="lens intrinsics; leave the field out to keep the camera's current lens, "
        "send null for none",
    )

    @field_validator("lens")
    @classmethod
    def _finite_lens(cls, lens: LensConfig | None) -> LensConfig | None:
        if lens is not None:
            values = [float(v) for v in np.asarray(lens.camera_matrix, dtype=float).ravel()]
            values += [float(v) for v in lens.distortion]
            if not all(math.isfinite(v) and abs(v) <= 1e7 for v in values):
                raise ValueError("lens values must be finite numbers within ±1e7")
        return lens


class CalibrationPointOut(Out):
    index: int
    image: Pixel
    floor: tuple[float, float]
    error_cm: float = Field(description="distance on the floor between the point and where the fit puts it")
    holdout_cm: float | None = Field(
        description="distance on the floor between the point and where a fit of the other points puts it "
        "(leave-one-out): the honest error; null when it cannot be known (fewer than 5 points)"
    )
    floor_fitted: tuple[float, float] | None = Field(description="where the fit puts the image point, metres")
    image_fitted: Pixel | None = Field(description="where the fit puts the floor point in the image, pixels")


class ProjectedZoneOut(Out):
    id: str
    kind: str
    name: str | None
    image_path: list[Pixel | None] = Field(
        description="the outline (or entrance line) in image pixels, densified to follow the lens; "
        "null where a floor point is beyond the camera's horizon"
    )
    closed: bool = Field(description="a polygon (true) or an entrance line (false)")


class CalibrationPreviewOut(Out):
    site: str
    node: str
    camera: str
    homography: list[list[float]] = Field(description="3x3, undistorted image pixels to floor metres")
    rms_error_cm: float = Field(description="RMS of the fit's own errors (0 with any 4 points)")
    max_error_cm: float
    holdout_error_cm: float | None = Field(
        description="RMS leave-one-out error: each point against a fit of the others; null when unknown"
    )
    worst_point: int | None = Field(description="index of the point with the largest leave-one-out error")
    quality: Literal["unknown", "good", "fair", "poor"] = Field(
        description="by the leave-one-out error: good up to 5 cm, fair up to 15 cm, else poor; "
        "unknown below 5 points"
    )
    advice: str
    camera_height_m: float | None = Field(description="the camera's height the calibration implies, if known")
    camera_tilt_deg: float | None = Field(description="its tilt from straight down, if known")
    points: list[CalibrationPointOut]
    zones: list[ProjectedZoneOut]
    grid: list[list[Pixel | None]] = Field(description="1 m floor grid lines, in image pixels")
    lens: LensConfig | None
    yaml: str = Field(description="the camera's calibration section, for its node's YAML file")


class CalibrationSaveOut(Out):
    topic: str
    event_id: str = Field(description="the node's layout carries this config_id once it applied the push")
    issued_by: str
    rms_error_cm: float


# ------------------------------------------------------------------------------------ zones
class ZonesIn(In):
    zones: list[Zone] = Field(max_length=512, description="the node's whole zone list, in its config format")


class NodeConfigOut(Out):
    """The parts of a node's config that ops can push, as its last layout reported them."""

    site: str
    node: str
    layout_at: datetime | None
    config_id: str | None = Field(description="the config push the node runs with, if any")
    cameras: list[dict[str, Any]]
    zones: list[dict[str, Any]]
    spacing: dict[str, Any]
