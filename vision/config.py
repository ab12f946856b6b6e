"""The hall as the vision core sees it: cameras, their floor calibration, zones and rules.

These pydantic models describe the YAML a site is configured with. Unknown keys are refused
everywhere, so a typo fails at start with the field's path instead of being silently ignored.
Node-level settings (MQTT, outbox) extend this in `edge.config`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Anchor = Literal["feet", "head", "center"]
Backend = Literal["auto", "openvino", "openvino-int8", "pytorch"]

FloorPoint = Annotated[tuple[float, float], Field(description="A point on the floor in metres: (x, y)")]
ImagePoint = Annotated[tuple[float, float], Field(description="A point in the image in pixels: (u, v)")]
Identifier = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Letters, digits, '.', '_' and '-': it becomes part of MQTT topics and URLs",
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LensConfig(Strict):
    """Lens intrinsics; distortion is undone before the floor homography is applied."""

    model: Literal["pinhole", "fisheye"] = Field(
        description="pinhole: OpenCV's radial-tangential model (k1 k2 p1 p2 [k3]); fisheye: OpenCV's "
        "equidistant model (k1 k2 k3 k4)"
    )
    camera_matrix: tuple[
        tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]
    ] = Field(description="3x3 intrinsic matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] in pixels")
    distortion: tuple[float, ...] = Field(description="distortion coefficients for the chosen model")

    @model_validator(mode="after")
    def _check_coefficients(self) -> LensConfig:
        allowed = {"pinhole": (4, 5, 8), "fisheye": (4,)}[self.model]
        if len(self.distortion) not in allowed:
            raise ValueError(
                f"a {self.model} lens takes {' or '.join(map(str, allowed))} distortion coefficients, "
                f"got {len(self.distortion)}"
            )
        fx, fy = self.camera_matrix[0][0], self.camera_matrix[1][1]
        if fx <= 0 or fy <= 0:
            raise ValueError("camera_matrix focal lengths fx and fy must be positive")
        return self


class CalibrationConfig(Strict):
    """Pairs of matching points: where a floor mark appears in the image, and where it is in metres."""

    image_points: list[ImagePoint] = Field(min_length=4, description="pixels, in the camera's full frame")
    floor_points: list[FloorPoint] = Field(min_length=4, description="metres, same order as image_points")
    lens: LensConfig | None = Field(default=None, description="optional intrinsics to undistort first")
    mounting_height_m: float | None = Field(
        default=None,
        gt=0.5,
        le=30.0,
        description="the lens's height over the floor in metres, measured; needed for the head and center "
        "anchors of a camera without a lens model that looks almost straight down (a tilted camera's height "
        "follows from its floor marks, and is then only checked against this)",
    )

    @model_validator(mode="after")
    def _same_length(self) -> CalibrationConfig:
        if len(self.image_points) != len(self.floor_points):
            raise ValueError(
                f"image_points has {len(self.image_points)} points but floor_points has "
                f"{len(self.floor_points)}: they are pairs, one floor point per image point"
            )
        return self


class DetectorConfig(Strict):
    """How people are detected in one camera's frames."""

    model: str = Field(default="yolo11n-pose", description="a name from `hallwatch models`")
    backend: Backend = Field(
        default="auto",
        description="auto: OpenVINO when it exports, else PyTorch; openvino-int8: the model quantized to "
        "INT8 with NNCF (faster on CPUs with VNNI; see the README for its accuracy)",
    )
    imgsz: int = Field(
        default=960,
        ge=160,
        le=2048,
        multiple_of=32,
        description="inference size in pixels; elevated views with small people need 960-1280",
    )
    confidence: float = Field(default=0.25, gt=0.0, lt=1.0, description="minimum person score")
    keypoint_confidence: float = Field(
        default=0.5,
        gt=0.0,
        lt=1.0,
        description="minimum keypoint score for the feet (ankles) and head anchors; "
        "below it they fall back to the box",
    )


class TrackingConfig(Strict):
    """ByteTrack settings and how zone counts are taken from tracks."""

    track_buffer_frames: int = Field(default=30, ge=1, le=600, description="frames a lost track is kept")
    match_threshold: float = Field(default=0.8, gt=0.0, le=1.0, description="ByteTrack association threshold")
    steady_positions: bool = Field(
        default=True,
        description="steady each tracked person's floor position with a constant-velocity Kalman filter "
        "(causal: it adds no delay)",
    )
    zone_margin_m: float = Field(
        default=0.15,
        ge=0.0,
        le=2.0,
        description="width of the band around a zone's edge in which a person's membership does not "
        "change: they enter half of it inside the edge and leave half of it outside",
    )
    zone_settle_s: float = Field(
        default=0.2,
        ge=0.0,
        le=10.0,
        description="a person's entering or leaving a zone counts once it has held this long "
        "(the same delay both ways, so counts are not biased up or down)",
    )
    min_track_frames: int = Field(
        default=2, ge=1, le=100, description="frames a new track must be seen in before it is counted"
    )
    hidden_hold_s: float = Field(
        default=2.0,
        ge=0.0,
        le=30.0,
        description="a tracked person who vanishes inside the hall, away from entrances and the image's "
        "edges (hidden behind someone), is counted at their predicted position this long",
    )

    @model_validator(mode="before")
    @classmethod
    def _replaced_keys(cls, data: object) -> object:
        if isinstance(data, dict) and "count_hold_s" in data:
            raise ValueError(
                "count_hold_s was removed: counts now come from tracks; use zone_settle_s (a delay applied "
                "to entering and leaving alike) and hidden_hold_s (people hidden behind others)"
            )
        return data


class AdaptiveRateConfig(Strict):
    """A frame rate that follows what the camera's zones need (`vision.frame_rate`), within bounds."""

    # 5 by default: on vtest.avi at imgsz 960 the tracker loses walking people between frames further
    # apart (hall count against every frame: -0.81 at 5 frames/s, -2.23 at 2; benchmarks/adaptive_rate.py).
    min_fps: float = Field(
        default=5.0,
        gt=0.0,
        le=60.0,
        description="frames per second when nothing in view needs more (empty, or far under every limit); "
        "below 5 the tracker loses walking people between frames",
    )
    max_fps: float = Field(
        default=10.0,
        gt=0.0,
        le=60.0,
        description="frames per second when a window is at its limit, people are under the minimum distance "
        "or someone is at an entrance line",
    )
    hold_s: float = Field(
        default=10.0,
        ge=0.0,
        le=3600.0,
        description="the rate comes down only once nothing needed more for this long (a crowd that just "
        "thinned may be back); it goes up at once",
    )

    @model_validator(mode="after")
    def _bounds_in_order(self) -> AdaptiveRateConfig:
        if self.min_fps > self.max_fps:
            raise ValueError(f"min_fps ({self.min_fps:g}) is larger than max_fps ({self.max_fps:g})")
        return self


class CameraConfig(Strict):
    """One camera: where its frames come from and how its image maps onto the floor."""

    id: Identifier
    source: str | int = Field(description="video file, rtsp:// or http(s):// URL, or a device index")
    anchor: Anchor = Field(
        default="feet",
        description="feet for oblique views; head or center for cameras looking straight down",
    )
    imgsz: int | None = Field(default=None, ge=160, le=2048, multiple_of=32, description="overrides detector")
    fps: float = Field(
        default=5.0,
        gt=0.0,
        le=60.0,
        description="frames per second sampled from the source (with adaptive_fps, the rate it starts at)",
    )
    adaptive_fps: AdaptiveRateConfig | None = Field(
        default=None,
        description="let the frame rate follow what this camera's zones need, between min_fps and max_fps "
        "(see node.fps_budget to share a node's frames); unset: always fps",
    )
    loop: bool = Field(default=False, description="restart a video file at its end (demos)")
    calibration: CalibrationConfig = Field(description="image to floor point pairs")
    coverage: list[FloorPoint] | None = Field(
        default=None,
        min_length=3,
        description="the floor this camera sees well, an outline in metres; default: worked out from the "
        "calibration and the image's borders (where a standing person is at least 40 pixels tall)",
    )
    detector: DetectorConfig = Field(default_factory=DetectorConfig, description="the person detector")

    @property
    def effective_imgsz(self) -> int:
        return self.imgsz if self.imgsz is not None else self.detector.imgsz


class _ZoneBase(Strict):
    id: Identifier
    name: str | None = Field(default=None, max_length=120, description="label shown on the pages")
    cameras: list[Identifier] | None = Field(
        default=None, description="cameras that count this zone (default: every camera)"
    )


def _check_polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {len(points)}")
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True))
    if abs(area2) < 1e-6:
        raise ValueError("the polygon has no area (its points are on one line)")
    return points


class WindowZone(_ZoneBase):
    """A service window: the floor area where visitors stand while served."""

    kind: Literal["window"]
    polygon: list[FloorPoint] = Field(description="floor outline in metres, 3 or more [x, y] points")
    max_people: int = Field(default=2, ge=1, le=50, description="people allowed at the window at once")

    _polygon = field_validator("polygon")(_check_polygon)


class QueueZone(_ZoneBase):
    """The waiting line painted in front of a window."""

    kind: Literal["queue"]
    window: Identifier = Field(description="the window zone this line waits for")
    polygon: list[FloorPoint] = Field(description="floor outline in metres, 3 or more [x, y] points")
    max_people: int | None = Field(
        default=None, ge=1, le=500, description="queue length that raises an event"
    )

    _polygon = field_validator("polygon")(_check_polygon)


class HallZone(_ZoneBase):
    """The whole hall, whose occupancy is held against its capacity (one per site)."""

    kind: Literal["hall"]
    polygon: list[FloorPoint] = Field(description="floor outline in metres, 3 or more [x, y] points")
    capacity: int = Field(ge=1, le=100_000, description="people allowed inside the hall")

    _polygon = field_validator("polygon")(_check_polygon)


class EntranceLine(_ZoneBase):
    """A line across a door; people crossing it are counted in and out."""

    kind: Literal["entrance"]
    line: tuple[FloorPoint, FloorPoint] = Field(description="two floor points in metres")
    inside: FloorPoint | None = Field(
        default=None,
        description="a floor point on the hall's side of the line; crossing towards it counts as 'in'. "
        "Default: the hall zone's centroid, or the left of the line from its first to its second point",
    )

    @field_validator("line")
    @classmethod
    def _not_a_point(cls, line: tuple[FloorPoint, FloorPoint]) -> tuple[FloorPoint, FloorPoint]:
        (x0, y0), (x1, y1) = line
        if abs(x0 - x1) + abs(y0 - y1) < 1e-6:
            raise ValueError("an entrance line needs two different points")
        return line


Zone = Annotated[WindowZone | QueueZone | HallZone | EntranceLine, Field(discriminator="kind")]


class SpacingConfig(Strict):
    """The 1-metre rule."""

    min_distance_m: float = Field(default=1.0, gt=0.0, le=10.0, description="people closer than this violate")
    min_duration_s: float = Field(
        default=2.0, ge=0.0, le=600.0, description="a violation becomes an event only when it lasts this long"
    )
    exempt_window_pairs: bool = Field(
        default=False,
        description="do not count two people standing at the same window (an applicant and a companion)",
    )
    alert_on: Literal["certain", "likely", "possible"] = Field(
        default="certain",
        description="which pairs raise events and alerts: certain (even the far end of the distance's "
        "uncertainty band is under the minimum), likely (the estimate is), possible (the near end is)",
    )
    band_sigmas: float = Field(
        default=1.645,
        ge=0.0,
        le=5.0,
        description="half width of a distance's uncertainty band, in standard deviations "
        "(1.645: one-sided 95 %)",
    )


class PeopleConfig(Strict):
    """Who walks the hall: what places a person seen from above, by the head, on the floor."""

    stature_m: float = Field(
        default=1.65,
        ge=1.0,
        le=2.2,
        description="typical standing height; a person seen by the head is placed through the plane "
        "at 93 % of it",
    )
    stature_sd_m: float = Field(
        default=0.1,
        gt=0.0,
        le=0.5,
        description="how much statures vary; where a person's ankles are seen too, their own stature is "
        "estimated and this says how far from stature_m it may go",
    )


class HallConfig(Strict):
    """Everything the vision pipeline needs about one site."""

    site: Identifier
    cameras: list[CameraConfig] = Field(min_length=1, description="the cameras of this site or node")
    zones: list[Zone] = Field(default_factory=list, description="windows, queues, the hall, entrance lines")
    spacing: SpacingConfig = Field(default_factory=SpacingConfig, description="the distancing rule")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="tracking and smoothing")
    people: PeopleConfig = Field(default_factory=PeopleConfig, description="statures, for the head anchor")

    @model_validator(mode="after")
    def _check_references(self) -> HallConfig:
        _unique("cameras", [c.id for c in self.cameras])
        _unique("zones", [z.id for z in self.zones])
        camera_ids = {c.id for c in self.cameras}
        windows = {z.id for z in self.zones if isinstance(z, WindowZone)}
        halls = [z.id for z in self.zones if isinstance(z, HallZone)]
        if len(halls) > 1:
            raise ValueError(f"zones: only one hall zone is allowed, got {halls}")
        for i, zone in enumerate(self.zones):
            if isinstance(zone, QueueZone) and zone.window not in windows:
                raise ValueError(
                    f"zones[{i}] ({zone.id}): window {zone.window!r} is not a window zone; "
                    f"known windows: {sorted(windows) or 'none'}"
                )
            for cam in zone.cameras or []:
                if cam not in camera_ids:
                    raise ValueError(f"zones[{i}] ({zone.id}): camera {cam!r} is not among cameras")
        return self

    def camera(self, camera_id: str) -> CameraConfig:
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        raise KeyError(f"no camera {camera_id!r}; cameras: {[c.id for c in self.cameras]}")

    def zones_for(self, camera_id: str) -> list[WindowZone | QueueZone | HallZone | EntranceLine]:
        return [z for z in self.zones if z.cameras is None or camera_id in z.cameras]


def _unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"{what}: id {item!r} is used twice")
        seen.add(item)
