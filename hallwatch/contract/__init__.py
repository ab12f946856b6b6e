"""The MQTT contract between edge nodes and the server, versions 1 to 4 (see docs/mqtt.md).

Both sides import these models: the edge builds its payloads with them and the server validates
every message it receives with `parse_payload`. No model here can carry image data: every field is
a number, a short string or a list of them.

Topics, all under ``hallwatch/{site}/``:

| topic                          | retained | QoS | payload          |
|--------------------------------|----------|-----|------------------|
| nodes/{node}/status            | yes      | 1   | `NodeStatus`     |
| nodes/{node}/health            | no       | 0   | `NodeHealth`     |
| nodes/{node}/layout            | yes      | 1   | `NodeLayout`     |
| nodes/{node}/config            | yes      | 1   | `NodeConfigPush` (server to node) |
| cameras/{camera}/state         | yes      | 0   | `CameraState`    |
| cameras/{camera}/events        | no       | 1   | `CameraEvent`    |
| cameras/{camera}/positions     | no       | 0   | `CameraPositions` |
| nodes/{node}/snapshot_request  | no       | 1   | `SnapshotRequest` (server to node, ops only) |
| nodes/{node}/snapshot          | no       | 1   | `NodeSnapshot`   |
| nodes/{node}/floor             | yes      | 0   | `FloorState` (version 2) |
| nodes/{node}/floor_events      | no       | 1   | `FloorEvent` (version 2) |
| nodes/{node}/floor_positions   | no       | 0   | `FloorPositions` (version 2) |

Versions: a payload says which version its reader must know (`schema_version`). Version 2 adds
the fused floor (a node's cameras merged into one floor: the `floor*` topics), the uncertainty of
each floor position, possible spacing pairs next to the certain ones, and each camera's coverage
and the node's way of fusing in its layout. A payload that uses any of these says 2; one that uses
none says 1, so a version-1 reader still takes it. A version-1 payload that carries a version-2
field is refused (`invalid`), and a reader that knows only version 1 refuses version 2 clearly.
Version 3 adds one event type, `queue_left` (a person's wait in a queue is over, and how long it
was), on the camera and floor event topics; an event of that type says 3, any other says what it
said before, and a reader that knows only versions 1 and 2 refuses it clearly.
Version 4 adds adaptive frame rates to a node's health: an adaptive camera's bounds (`min_fps`,
`max_fps`), its `target_fps` then being the rate the node aimed it at over the period; a health
message with any adaptive camera says 4, one without says what it said before.

The one exception to "no image": `NodeSnapshot` carries one JPEG, sent only in answer to a valid,
unexpired `SnapshotRequest` for one of the node's cameras (calibration), at most
`MAX_SNAPSHOT_JPEG_BYTES` and `MAX_SNAPSHOT_SIDE_PX` wide and high. Servers keep it in memory only.
"""

from __future__ import annotations

import base64
import binascii
import re
import typing
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

SCHEMA_VERSION: Literal[1] = 1
#: The fused floor, positions' uncertainty, possible pairs, coverage (see the module's docstring).
SCHEMA_VERSION_FLOOR: Literal[2] = 2
#: Waits in queues: the `queue_left` event type (see the module's docstring).
SCHEMA_VERSION_WAITS: Literal[3] = 3
#: Adaptive frame rates: a camera's rate bounds in health (see the module's docstring).
SCHEMA_VERSION_RATES: Literal[4] = 4
SchemaVersion = Literal[1, 2, 3, 4]
TOPIC_ROOT = "hallwatch"

TopicKind = Literal[
    "status",
    "health",
    "layout",
    "config",
    "snapshot_request",
    "snapshot",
    "stored",
    "floor",
    "floor_events",
    "floor_positions",
    "state",
    "events",
    "positions",
]
NodeTopicKind = Literal[
    "status",
    "health",
    "layout",
    "config",
    "snapshot_request",
    "snapshot",
    "stored",
    "floor",
    "floor_events",
    "floor_positions",
]
NODE_KINDS: frozenset[str] = frozenset(typing.get_args(NodeTopicKind))
#: Node topics the server writes and nodes read; `parse_payload` refuses them.
SERVER_TO_NODE_KINDS: frozenset[str] = frozenset({"config", "snapshot_request", "stored"})
CAMERA_KINDS: frozenset[str] = frozenset({"state", "events", "positions"})

#: Ids (track ids, frame numbers, seq) stay within what a JavaScript number holds exactly.
MAX_ID = 2**53
# Control characters (C0, DEL, C1), zero-width characters and bidirectional overrides: text with
# them can hide or reorder what ops read in a page, a log line or a CSV cell.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def _printable(text: str) -> str:
    match = _UNPRINTABLE.search(text)
    if match is not None:
        raise ValueError(f"control or formatting character U+{ord(match.group()):04X} at {match.start()}")
    return text


def clean_text(text: str, max_length: int) -> str:
    """``text`` as the contract accepts it: control and formatting characters replaced by spaces,
    then cut to ``max_length`` (what a node does with an exception's message before sending it).

    >>> clean_text("stream\\nstopped\\x1b[31m", 40)
    'stream stopped [31m'
    """
    return _UNPRINTABLE.sub(" ", text)[:max_length]


Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Text = Annotated[str, AfterValidator(_printable)]  # bounded where used (max_length)
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Metres = Annotated[float, Field(ge=-10_000.0, le=10_000.0, allow_inf_nan=False)]
Pixels = Annotated[float, Field(ge=-100_000.0, le=100_000.0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0.0, le=10_000_000.0, allow_inf_nan=False)]
Total = Annotated[int, Field(ge=0, lt=2**63)]  # a running total since the node started
Id = Annotated[int, Field(ge=0, le=MAX_ID)]
#: Every contract model: unknown fields refused, finite numbers only.
_MODEL = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------- topics
def node_topic(site: str, node: str, kind: NodeTopicKind) -> str:
    return f"{TOPIC_ROOT}/{site}/nodes/{node}/{kind}"


def camera_topic(site: str, camera: str, kind: Literal["state", "events", "positions"]) -> str:
    return f"{TOPIC_ROOT}/{site}/cameras/{camera}/{kind}"


@dataclass(frozen=True, slots=True)
class Topic:
    site: str
    scope: Literal["nodes", "cameras"]
    name: str
    kind: TopicKind


_TOPIC_RE = re.compile(
    rf"^{TOPIC_ROOT}/(?P<site>[A-Za-z0-9][A-Za-z0-9_.-]{{0,63}})/(?P<scope>nodes|cameras)/"
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})/(?P<kind>[a-z_]+)$"
)


def parse_topic(topic: str) -> Topic | None:
    """Split a topic into its parts; None when it is not a hallwatch topic.

    >>> parse_topic("hallwatch/hall-a/cameras/cam-1/events")
    Topic(site='hall-a', scope='cameras', name='cam-1', kind='events')
    """
    m = _TOPIC_RE.match(topic)
    if m is None:
        return None
    scope, kind = m["scope"], m["kind"]
    if (scope == "nodes" and kind not in NODE_KINDS) or (scope == "cameras" and kind not in CAMERA_KINDS):
        return None
    return Topic(site=m["site"], scope=scope, name=m["name"], kind=kind)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------- payloads
def _to_utc(ts: datetime) -> datetime:
    try:
        return ts.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset: no UTC time exists
        raise ValueError("the time is out of range once converted to UTC") from None


class Envelope(BaseModel):
    """Fields every payload carries.

    `schema_version` is the latest version whose additions the payload uses (`_version_2_fields`,
    `_version_3_fields` and `_version_4_fields` name them), else 1. A payload that uses what a later
    version added than the one it says is refused.
    """

    model_config = _MODEL

    schema_version: SchemaVersion = SCHEMA_VERSION
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="unique; used to drop duplicates")
    site: Name
    node: Name
    camera: Name | None = None
    seq: int = Field(ge=0, le=MAX_ID, description="per node, strictly increasing across restarts")
    ts: AwareDatetime = Field(description="UTC time the payload describes (frame capture time for events)")

    @field_validator("ts")
    @classmethod
    def _utc(cls, ts: datetime) -> datetime:
        return _to_utc(ts)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    def _version_2_fields(self) -> list[str]:
        """The version-2 fields this payload sets (none by default)."""
        return []

    def _version_3_fields(self) -> list[str]:
        """What of version 3 this payload uses (nothing by default)."""
        return []

    def _version_4_fields(self) -> list[str]:
        """What of version 4 this payload uses (nothing by default)."""
        return []

    @model_validator(mode="after")
    def _version_says_what_it_holds(self) -> Envelope:
        added = ((2, self._version_2_fields()), (3, self._version_3_fields()), (4, self._version_4_fields()))
        for version, used in added:
            if used and self.schema_version < version:
                raise ValueError(f"{', '.join(used)} need schema_version {version}")
        return self


class NodeStatus(Envelope):
    kind: Literal["status"] = "status"
    status: Literal["online", "offline", "stopped"]
    version: Text = Field(max_length=40)


class CameraHealth(BaseModel):
    model_config = _MODEL

    camera: Name
    connected: bool
    fps: float = Field(ge=0.0, le=1000.0, description="frames processed per second over the last period")
    latency_ms: float = Field(ge=0.0, le=600_000.0, description="capture to state, mean over the period")
    frames_dropped: Total = Field(description="frames skipped because processing fell behind, since start")
    reconnects: Total = Field(description="times the source was reopened, since start")
    last_frame_ts: AwareDatetime | None = None
    target_fps: float | None = Field(
        default=None,
        ge=0.0,
        le=1000.0,
        allow_inf_nan=False,
        description="the frames per second the camera is meant to give, to judge `fps` against: its "
        "configured rate, or for an adaptive camera the mean of the rates the node aimed it at over the "
        "period (null: not known)",
    )
    min_fps: float | None = Field(
        default=None,
        gt=0.0,
        le=1000.0,
        allow_inf_nan=False,
        description="version 4: an adaptive camera's lowest rate (null: a fixed rate)",
    )
    max_fps: float | None = Field(
        default=None,
        gt=0.0,
        le=1000.0,
        allow_inf_nan=False,
        description="version 4: an adaptive camera's highest rate (null: a fixed rate)",
    )

    @field_validator("last_frame_ts")
    @classmethod
    def _utc(cls, ts: datetime | None) -> datetime | None:
        return None if ts is None else _to_utc(ts)


class NodeHealth(Envelope):
    kind: Literal["health"] = "health"
    version: Text = Field(max_length=40)
    uptime_s: Seconds
    cameras: list[CameraHealth] = Field(max_length=256)
    outbox_depth: Count = Field(description="events waiting for their PUBACK")
    outbox_dropped: Total = Field(description="events dropped because the outbox was full, since start")
    published: Total = Field(description="events acknowledged by the broker since start")
    rejected_config: Total = Field(default=0, description="config pushes refused since start")
    refused: Total = Field(
        default=0, description="events the broker refused (PUBACK with an error, e.g. its ACL), since start"
    )
    last_config_error: Text | None = Field(
        default=None, max_length=500, description="why the last refused config push was refused"
    )

    def _version_4_fields(self) -> list[str]:
        return [
            f"cameras[].{name}"
            for name in ("min_fps", "max_fps")
            if any(getattr(camera, name) is not None for camera in self.cameras)
        ]


class LayoutZone(BaseModel):
    model_config = _MODEL

    id: Name
    kind: Literal["window", "queue", "hall", "entrance"]
    name: Text | None = Field(default=None, max_length=120)
    polygon: list[tuple[Metres, Metres]] = Field(default_factory=list, max_length=256)
    line: tuple[tuple[Metres, Metres], tuple[Metres, Metres]] | None = None
    limit: Count | None = Field(
        default=None, description="max_people for windows/queues, capacity for the hall"
    )
    window: Name | None = Field(default=None, description="for a queue: its window")
    cameras: list[Name] | None = Field(default=None, max_length=256)
    inside: tuple[Metres, Metres] | None = Field(
        default=None, description="entrance: the floor point on the hall's side, when the config sets one"
    )


class LayoutLens(BaseModel):
    """A camera's lens intrinsics, as in its config (`calibration.lens`)."""

    model_config = _MODEL

    model: Literal["pinhole", "fisheye"]
    camera_matrix: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
    distortion: list[float] = Field(max_length=14)

    @field_validator("camera_matrix", "distortion")
    @classmethod
    def _moderate(cls, value: Any) -> Any:
        flat = [v for row in value for v in row] if value and isinstance(value[0], tuple) else value
        if any(abs(v) > 1e7 for v in flat):
            raise ValueError("lens values must lie within ±1e7")
        return value


class LayoutCamera(BaseModel):
    model_config = _MODEL

    id: Name
    anchor: Literal["feet", "head", "center"]
    reprojection_error_cm: float = Field(ge=0.0, le=1e9, allow_inf_nan=False)
    image_points: list[tuple[Pixels, Pixels]] = Field(max_length=64)
    floor_points: list[tuple[Metres, Metres]] = Field(max_length=64)
    lens: LayoutLens | None = Field(
        default=None, description="the lens undistorted before the homography, if the camera has one"
    )
    coverage: list[tuple[Metres, Metres]] | None = Field(
        default=None,
        max_length=256,
        description="version 2: the floor this camera sees well, an outline in metres (null: not known yet)",
    )


class LayoutSpacing(BaseModel):
    """Version 2: the node's distancing rule beyond `min_distance_m`, for a floor the server fuses."""

    model_config = _MODEL

    min_duration_s: Seconds
    exempt_window_pairs: bool
    alert_on: Literal["certain", "likely", "possible"]
    band_sigmas: float = Field(ge=0.0, le=5.0)


class LayoutCounting(BaseModel):
    """Version 2: how the node counts zones from tracks, for a floor the server fuses."""

    model_config = _MODEL

    zone_margin_m: float = Field(ge=0.0, le=2.0)
    zone_settle_s: float = Field(ge=0.0, le=10.0)
    min_track_frames: int = Field(ge=1, le=100)
    hidden_hold_s: float = Field(ge=0.0, le=30.0)


#: How a node's cameras are counted: each on its own (`camera`), fused by the node (`node`: the
#: `floor*` topics), or fused by the server with other nodes' cameras (`server`: positions only).
Fusion = Literal["camera", "node", "server"]


class NodeLayout(Envelope):
    """The zones and cameras a node works with; retained so the server learns them on subscribe."""

    kind: Literal["layout"] = "layout"
    zones: list[LayoutZone] = Field(max_length=512)
    cameras: list[LayoutCamera] = Field(max_length=256)
    min_distance_m: float = Field(gt=0.0, le=10.0)
    config_id: uuid.UUID | None = Field(
        default=None, description="event_id of the config push this layout comes from, if any"
    )
    fusion: Fusion | None = Field(
        default=None, description="version 2: how the node's cameras are counted (null: camera, version 1)"
    )
    spacing: LayoutSpacing | None = Field(default=None, description="version 2: the rest of the spacing rule")
    counting: LayoutCounting | None = Field(default=None, description="version 2: counting from tracks")

    def _version_2_fields(self) -> list[str]:
        used = [name for name in ("fusion", "spacing", "counting") if getattr(self, name) is not None]
        if any(c.coverage is not None for c in self.cameras):
            used.append("cameras[].coverage")
        return used


#: What a config push may replace, and how large the server lets one be (a hall's cameras and zones).
CONFIG_PUSH_KEYS: frozenset[str] = frozenset({"cameras", "zones", "spacing"})
MAX_CONFIG_PUSH_BYTES = 128 * 1024


class NodeConfigPush(BaseModel):
    """Server to node, retained: new calibration and zones for the node to apply (issue 5).

    `config` may hold `cameras` (entries matched by `id`; the fields given replace the camera's,
    an unknown id adds a complete camera), `zones` (the whole list, replaced) and `spacing` (the
    fields given replace the current ones); anything else is refused. The node answers with a new
    retained `NodeLayout` whose `config_id` is this push's `event_id`; a refused push is counted in
    `NodeHealth.rejected_config` with the reason in `last_config_error`. See docs/mqtt.md.
    """

    model_config = _MODEL

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    ts: AwareDatetime = Field(default_factory=utc_now)
    issued_by: Text = Field(max_length=120)
    config: dict[str, Any] = Field(
        description="the parts of the node config to replace: cameras, zones, spacing"
    )


# ------------------------------------------------------------------------------------ snapshots
#: The largest JPEG a snapshot may carry, in bytes (before base64).
MAX_SNAPSHOT_JPEG_BYTES = 1_000_000
#: A snapshot is at most this many pixels wide and high (the node downscales larger frames).
MAX_SNAPSHOT_SIDE_PX = 1280
#: A request may live at most this long; a node ignores one whose `expires_at` has passed.
MAX_SNAPSHOT_REQUEST_TTL_S = 300.0
#: The JPEG as base64 (4 characters per 3 bytes, padded).
MAX_SNAPSHOT_BASE64_CHARS = 4 * -(-MAX_SNAPSHOT_JPEG_BYTES // 3)
#: A whole `NodeSnapshot` message: the base64 JPEG and a few hundred bytes of fields.
MAX_SNAPSHOT_PAYLOAD_BYTES = MAX_SNAPSHOT_BASE64_CHARS + 4096
MAX_SNAPSHOT_REQUEST_BYTES = 4096
JPEG_MAGIC = b"\xff\xd8\xff"


class SnapshotRequest(BaseModel):
    """Server to node, QoS 1, never retained: ops ask for one picture of one camera (calibration).

    The node answers on `nodes/{node}/snapshot` with a `NodeSnapshot` whose `request_id` is this
    request's `event_id`, from the camera's latest processed frame, with people blurred when
    `blur` is set. It ignores a request that is invalid, for another node, or past `expires_at`.
    """

    model_config = _MODEL

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["snapshot_request"] = "snapshot_request"
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="the request id")
    site: Name
    node: Name
    camera: Name
    blur: bool = Field(default=True, description="blur the people in the picture")
    requested_by: Text = Field(max_length=120, description="who asked (a user name)")
    ts: AwareDatetime = Field(default_factory=utc_now, description="when it was asked")
    expires_at: AwareDatetime = Field(description="the node ignores the request after this time")

    @field_validator("ts", "expires_at")
    @classmethod
    def _utc(cls, ts: datetime) -> datetime:
        return _to_utc(ts)

    @model_validator(mode="after")
    def _short_lived(self) -> SnapshotRequest:
        ttl = (self.expires_at - self.ts).total_seconds()
        if not 0 < ttl <= MAX_SNAPSHOT_REQUEST_TTL_S:
            raise ValueError(
                f"expires_at must be after ts and at most {MAX_SNAPSHOT_REQUEST_TTL_S:g} s later, "
                f"got {ttl:g} s"
            )
        return self

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


class NodeSnapshot(Envelope):
    """Node to server, QoS 1, never retained: the answer to one `SnapshotRequest`.

    Either a picture (`jpeg_base64` with its sizes) or, when the node cannot take one, `error` in
    plain words. `ts` is the capture time of the frame (the reply time for an error). The picture is
    at most `MAX_SNAPSHOT_SIDE_PX` on each side; image points for a calibration are in the camera's
    full frame, `frame_width` x `frame_height`: scale by `frame_width / width`.
    """

    kind: Literal["snapshot"] = "snapshot"
    camera: Name
    request_id: uuid.UUID = Field(description="the request's event_id")
    width: int | None = Field(default=None, ge=1, le=MAX_SNAPSHOT_SIDE_PX, description="JPEG width, pixels")
    height: int | None = Field(default=None, ge=1, le=MAX_SNAPSHOT_SIDE_PX, description="JPEG height")
    frame_width: int | None = Field(default=None, ge=1, le=16384, description="the camera frame's width")
    frame_height: int | None = Field(default=None, ge=1, le=16384, description="the camera frame's height")
    jpeg_base64: str | None = Field(default=None, max_length=MAX_SNAPSHOT_BASE64_CHARS)
    blurred: bool = Field(default=False, description="whether people (or the frame) were blurred")
    blur_method: Literal["people", "frame"] | None = Field(
        default=None,
        description="people: the boxes of the people tracked in that frame; frame: the whole picture "
        "(the node had no person boxes)",
    )
    people_blurred: int | None = Field(default=None, ge=0, le=10_000, description="boxes blurred")
    error: Text | None = Field(default=None, max_length=300, description="why there is no picture")

    @model_validator(mode="after")
    def _picture_or_error(self) -> NodeSnapshot:
        if (self.jpeg_base64 is None) == (self.error is None):
            raise ValueError("a snapshot carries either jpeg_base64 or error, not both or neither")
        if self.jpeg_base64 is not None:
            if None in (self.width, self.height, self.frame_width, self.frame_height):
                raise ValueError("a picture needs width, height, frame_width and frame_height")
            jpeg = self.jpeg()
            if len(jpeg) > MAX_SNAPSHOT_JPEG_BYTES:
                raise ValueError(f"the JPEG has {len(jpeg)} bytes, more than {MAX_SNAPSHOT_JPEG_BYTES}")
            if not jpeg.startswith(JPEG_MAGIC):
                raise ValueError("jpeg_base64 is not a JPEG")
        if self.blurred != (self.blur_method is not None):
            raise ValueError("blur_method is set exactly when blurred is true")
        return self

    def jpeg(self) -> bytes:
        """The JPEG's bytes (empty for an error reply)."""
        if self.jpeg_base64 is None:
            return b""
        try:
            return base64.b64decode(self.jpeg_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("jpeg_base64 is not valid base64") from None


class CameraState(Envelope):
    """What one camera sees now; sent about once a second and on every change, retained."""

    kind: Literal["state"] = "state"
    camera: Name
    frame: Id
    people: Count = Field(description="people in view")
    zones: dict[Name, Count] = Field(
        max_length=512, description="smoothed count per zone (windows, queues, hall)"
    )
    violations: Count = Field(description="spacing violations active now (pairs)")
    crossings: dict[Name, dict[Literal["in", "out"], Count]] = Field(
        default_factory=dict,
        max_length=512,
        description="entrance line -> people in/out since the node started",
    )
    possible_violations: Count | None = Field(
        default=None,
        description="version 2: pairs whose distance may be under the minimum (its uncertainty band "
        "reaches under it) but that are not in `violations` (null: not reported, version 1)",
    )

    def _version_2_fields(self) -> list[str]:
        return ["possible_violations"] if self.possible_violations is not None else []


# What the vision pipeline reports, spelled out here so that the contract needs nothing of the
# project (tests/contract checks it equals `vision.state.HallEventType`), plus what only the node knows.
PipelineEventType = Literal[
    "window_over_limit_started",
    "window_over_limit_ended",
    "hall_over_capacity_started",
    "hall_over_capacity_ended",
    "queue_over_limit_started",
    "queue_over_limit_ended",
    "spacing_violation_started",
    "spacing_violation_ended",
    "person_entered",
    "person_left",
    "queue_left",
]
EventType = Literal[PipelineEventType, "camera_lost", "camera_recovered"]
#: Event types a version added, and that version: an event of one of them must say it.
EVENT_TYPE_VERSIONS: dict[str, Literal[3]] = {"queue_left": SCHEMA_VERSION_WAITS}


def _event_type_version(event_type: str) -> list[str]:
    return [f"type {event_type}"] if EVENT_TYPE_VERSIONS.get(event_type) == SCHEMA_VERSION_WAITS else []


ZONE_EVENT_TYPES: frozenset[str] = frozenset(
    t for t in typing.get_args(EventType) if t.startswith(("window_", "hall_", "queue_"))
)


class CameraEvent(Envelope):
    """Something that happened in front of one camera. Sent with QoS 1 through the node's outbox.

    Which optional fields are set depends on `type`:
    - zone events: `zone`, `count`, `limit`; the `_ended` ones also `duration_s`;
    - spacing events: `people` (the two track ids), `distance_m` (closest seen), `zone` (a window, if
      the pair stood at one), `floor` (the pair's midpoint); `_ended` also `duration_s`;
    - person_entered / person_left: `zone` (the entrance line), `people` (one track id);
    - queue_left (version 3): a wait in a queue is over: `zone` (the queue), `people` (one track
      id), `duration_s` (how long they stood in it); `ts` is when they were last seen in it;
    - camera_lost / camera_recovered: `reason`; `camera_recovered` also `duration_s` (time it was down).
    """

    kind: Literal["event"] = "event"
    camera: Name
    type: EventType
    zone: Name | None = None
    count: Count | None = None
    limit: Count | None = None
    people: list[Id] = Field(default_factory=list, max_length=2)
    distance_m: float | None = Field(default=None, ge=0.0, le=1000.0, allow_inf_nan=False)
    floor: tuple[Metres, Metres] | None = None
    duration_s: Seconds | None = None
    reason: Text | None = Field(default=None, max_length=300)

    def _version_3_fields(self) -> list[str]:
        return _event_type_version(self.type)


SigmaMetres = Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]


class FloorPosition(BaseModel):
    model_config = _MODEL

    id: Id = Field(description="track id, anonymous and reused after a restart")
    x: Metres
    y: Metres
    sigma_m: SigmaMetres | None = Field(
        default=None, description="version 2: one standard deviation of the position, metres"
    )


class CameraPositions(Envelope):
    """One camera's people on the floor at one frame; `ts` is the frame's capture time."""

    kind: Literal["positions"] = "positions"
    camera: Name
    people: list[FloorPosition] = Field(max_length=1000)

    def _version_2_fields(self) -> list[str]:
        return ["people[].sigma_m"] if any(p.sigma_m is not None for p in self.people) else []


# ------------------------------------------------------------------------------ the fused floor
class FloorPair(BaseModel):
    """Two people of the fused floor closer than the minimum distance, or possibly so."""

    model_config = _MODEL

    a: Id
    b: Id
    distance_m: float = Field(ge=0.0, le=1000.0, allow_inf_nan=False)
    certain: bool = Field(
        description="even the far end of the distance's uncertainty band is under the minimum"
    )


class FloorState(Envelope):
    """Version 2: a node's cameras fused into one floor (`nodes/{node}/floor`, retained, QoS 0).

    Sent on every change and at least every `node.state_interval_s`; `ts` is the step's frame time.
    Counts come from the fused people: someone two cameras see is one person.
    """

    schema_version: Literal[2] = SCHEMA_VERSION_FLOOR
    camera: None = None  # a node topic: the floor is the node's, not a camera's
    kind: Literal["floor"] = "floor"
    frame: Id = Field(description="the fusion step's number since the node started")
    people: Count = Field(description="people on the fused floor")
    zones: dict[Name, Count] = Field(max_length=512, description="count per zone the step's cameras cover")
    uncovered: list[Name] = Field(
        default_factory=list,
        max_length=512,
        description="zones none of the step's cameras covers: not counted",
    )
    violations: Count = Field(description="spacing pairs that alert (spacing.alert_on) now")
    possible_violations: Count = Field(description="the other pairs whose distance may be under the minimum")
    pairs: list[FloorPair] = Field(default_factory=list, max_length=200, description="those pairs")
    crossings: dict[Name, dict[Literal["in", "out"], Count]] = Field(default_factory=dict, max_length=512)
    cameras: list[Name] = Field(max_length=256, description="the cameras fused in this step")
    left_out: list[Name] = Field(
        default_factory=list,
        max_length=256,
        description="cameras whose frames were too old (lagging or silent)",
    )
    seen_by_several: Count = Field(default=0, description="people seen by more than one camera")


class FloorEvent(Envelope):
    """Version 2: something that happened on a node's fused floor (`nodes/{node}/floor_events`).

    Through the node's outbox, like `CameraEvent`, with the same fields by `type`; `people` are the
    floor's person ids (one id per person across the node's cameras).
    """

    schema_version: Literal[2, 3] = SCHEMA_VERSION_FLOOR  # 3 for the types version 3 added
    camera: None = None  # a node topic: the floor is the node's, not a camera's
    kind: Literal["floor_event"] = "floor_event"
    type: PipelineEventType
    zone: Name | None = None
    count: Count | None = None
    limit: Count | None = None
    people: list[Id] = Field(default_factory=list, max_length=2)
    distance_m: float | None = Field(default=None, ge=0.0, le=1000.0, allow_inf_nan=False)
    floor: tuple[Metres, Metres] | None = None
    duration_s: Seconds | None = None

    def _version_3_fields(self) -> list[str]:
        return _event_type_version(self.type)


class FusedPosition(BaseModel):
    model_config = _MODEL

    id: Id = Field(description="the floor's person id, anonymous")
    x: Metres
    y: Metres
    sigma_m: SigmaMetres
    cameras: list[Name] = Field(min_length=1, max_length=16, description="the cameras that saw them")


class FloorPositions(Envelope):
    """Version 2: the fused floor's people at one step (`nodes/{node}/floor_positions`, QoS 0)."""

    schema_version: Literal[2] = SCHEMA_VERSION_FLOOR
    camera: None = None  # a node topic: the floor is the node's, not a camera's
    kind: Literal["floor_positions"] = "floor_positions"
    people: list[FusedPosition] = Field(max_length=1000)


Payload = Annotated[
    NodeStatus
    | NodeHealth
    | NodeLayout
    | NodeSnapshot
    | CameraState
    | CameraEvent
    | CameraPositions
    | FloorState
    | FloorEvent
    | FloorPositions,
    Field(discriminator="kind"),
]
_PAYLOAD: TypeAdapter[Payload] = TypeAdapter(Payload)

_KIND_FOR_TOPIC: dict[str, str] = {
    "status": "status",
    "health": "health",
    "layout": "layout",
    "snapshot": "snapshot",
    "floor": "floor",
    "floor_events": "floor_event",
    "floor_positions": "floor_positions",
    "state": "state",
    "events": "event",
    "positions": "positions",
}

MAX_PAYLOAD_BYTES = 256 * 1024


#: Why a message was refused: the label ingest counts rejections by.
RejectReason = Literal["topic", "config_topic", "too_large", "invalid", "mismatch", "stale", "future"]


class PayloadError(ValueError):
    """A message that does not follow the contract; the text says why, ``reason`` in one word."""

    def __init__(self, message: str, reason: RejectReason = "invalid") -> None:
        super().__init__(message)
        self.reason: RejectReason = reason


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """How far a payload's times may lie from the receiver's clock.

    ``past_s`` and ``future_s`` bound every payload; events, statuses and layouts may be older, up
    to ``replay_past_s``: events wait in a node's outbox while the broker is away and are sent late,
    a status `offline` (the last will) carries the time its connection opened, and a retained layout
    the time it was published.
    """

    past_s: float = 86_400.0
    future_s: float = 86_400.0
    replay_past_s: float = 30 * 86_400.0


#: Payload kinds that may arrive long after their `ts` (outbox replay, last will, retained layout).
REPLAYED_KINDS: frozenset[str] = frozenset({"event", "floor_event", "status", "layout"})


def parse_payload(
    topic: str, payload: bytes, *, now: datetime | None = None, window: TimeWindow | None = None
) -> Payload:
    """Validate one MQTT message against the contract.

    Checks the topic, the payload's size and JSON, its schema (strictly: a number where a number
    belongs, a time as an ISO 8601 string, finite numbers, no control characters in text), and
    that the topic's site, node or camera and kind agree with the payload's own fields. Snapshots
    may be larger (`MAX_SNAPSHOT_PAYLOAD_BYTES`); the server-to-node topics (config,
    snapshot_request) are refused. Given ``now``, its times must also lie within ``window`` of it.

    Raises:
        PayloadError: for anything that is not a valid message, with its ``reason``; never any
            other exception.
    """
    parsed = parse_topic(topic)
    if parsed is None:
        raise PayloadError(f"not a hallwatch topic: {topic[:200]!r}", "topic")
    if parsed.kind == "config":
        raise PayloadError(
            "config pushes go from the server to nodes; parse them with NodeConfigPush", "config_topic"
        )
    if parsed.kind == "snapshot_request":
        raise PayloadError(
            "snapshot requests go from the server to nodes; parse them with parse_snapshot_request",
            "config_topic",
        )
    if parsed.kind == "stored":
        raise PayloadError(
            "storage confirmations go from the server to nodes; parse them with parse_stored", "config_topic"
        )
    limit = MAX_SNAPSHOT_PAYLOAD_BYTES if parsed.kind == "snapshot" else MAX_PAYLOAD_BYTES
    if len(payload) > limit:
        raise PayloadError(f"payload of {len(payload)} bytes exceeds {limit}", "too_large")
    try:
        message = _PAYLOAD.validate_json(payload, strict=True)
    except Exception as exc:  # ValidationError, and whatever else a validator may raise: all refusals
        raise PayloadError(f"invalid payload on {topic}: {_short(exc)}", "invalid") from None
    expected_kind = _KIND_FOR_TOPIC[parsed.kind]
    if message.kind != expected_kind:
        raise PayloadError(f"a {message.kind!r} payload on a {parsed.kind!r} topic", "mismatch")
    if message.site != parsed.site:
        raise PayloadError(
            f"payload site {message.site!r} does not match topic site {parsed.site!r}", "mismatch"
        )
    owner = message.node if parsed.scope == "nodes" else message.camera
    if owner != parsed.name:
        raise PayloadError(
            f"payload {parsed.scope[:-1]} {owner!r} does not match topic {parsed.name!r}", "mismatch"
        )
    if now is not None:
        check_times(message, now, window or TimeWindow())
    return message


def check_times(message: Payload, now: datetime, window: TimeWindow) -> None:
    """Refuse a payload whose times lie outside ``window`` around ``now``.

    Raises:
        PayloadError: ``stale`` (too old) or ``future``.
    """
    past = window.replay_past_s if message.kind in REPLAYED_KINDS else window.past_s
    times: list[tuple[str, datetime | None, float]] = [("ts", message.ts, past)]
    if isinstance(message, NodeHealth):
        # A camera that has been dead for a while reports its last frame's old time.
        times += [
            (f"{c.camera}.last_frame_ts", c.last_frame_ts, window.replay_past_s) for c in message.cameras
        ]
    for name, ts, past_s in times:
        if ts is None:
            continue
        ahead = (ts - now).total_seconds()
        if ahead > window.future_s:
            raise PayloadError(
                f"{name} {ts.isoformat()} is {ahead:.0f} s ahead of this server's clock "
                f"(at most {window.future_s:.0f} s): check the node's clock",
                "future",
            )
        if -ahead > past_s:
            raise PayloadError(
                f"{name} {ts.isoformat()} is {-ahead:.0f} s old (at most {past_s:.0f} s)", "stale"
            )


def parse_snapshot_request(topic: str, payload: bytes) -> SnapshotRequest:
    """Validate a message from a node's `snapshot_request` topic (what a node does with it).

    Raises:
        PayloadError: not a snapshot request topic, too large, invalid, or its site or node differs
            from the topic's; never any other exception.
    """
    return _parse_to_node(topic, payload, SnapshotRequest, MAX_SNAPSHOT_REQUEST_BYTES, "snapshot request")


_ToNode = typing.TypeVar("_ToNode", SnapshotRequest, "StoredEvents")


def _parse_to_node(topic: str, payload: bytes, model: type[_ToNode], limit: int, what: str) -> _ToNode:
    """A server-to-node message of `model`'s kind, for the node the topic names."""
    kind = model.model_fields["kind"].default
    parsed = parse_topic(topic)
    if parsed is None or parsed.kind != kind:
        raise PayloadError(f"not a {what} topic: {topic[:200]!r}", "topic")
    if len(payload) > limit:
        raise PayloadError(f"payload of {len(payload)} bytes exceeds {limit}", "too_large")
    try:
        message = model.model_validate_json(payload, strict=model is SnapshotRequest)
    except Exception as exc:  # every refusal is a PayloadError
        raise PayloadError(f"invalid {what} on {topic}: {_short(exc)}") from None
    if (message.site, message.node) != (parsed.site, parsed.name):
        raise PayloadError(
            f"{what} for {message.site}/{message.node} on the topic of {parsed.site}/{parsed.name}",
            "mismatch",
        )
    return message


# ------------------------------------------------------------------------- end-to-end acknowledgements
#: At most this many seq ranges in one confirmation (the server sends more in several).
MAX_STORED_RANGES = 500
MAX_STORED_BYTES = 64 * 1024


class StoredEvents(BaseModel):
    """Server to node, QoS 1, never retained, on `nodes/{node}/stored`: the node's events (by `seq`,
    in inclusive ranges) that the server has stored, found already stored, or set aside for good
    (a dead letter): the node may now delete them from its outbox (`outbox.confirm: server`).

    A broker's PUBACK only says the broker has an event; an event the broker loses before the
    server stores it (a crash, a lost disk, a failover) is still in the node's outbox and is sent
    again, and the server drops the repeat by `event_id` and confirms it again.
    """

    model_config = _MODEL

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["stored"] = "stored"
    site: Name
    node: Name
    seqs: list[tuple[int, int]] = Field(
        default_factory=list, max_length=MAX_STORED_RANGES, description="[first, last] seq ranges, inclusive"
    )
    resend: bool = Field(
        default=False,
        description="the server has a new session at the broker (the broker lost the old one, or it "
        "expired): what it queued may be gone, so send again every event not confirmed yet",
    )
    ts: AwareDatetime = Field(default_factory=utc_now, description="when the server stored them")

    @field_validator("ts")
    @classmethod
    def _utc(cls, ts: datetime) -> datetime:
        return _to_utc(ts)

    @field_validator("seqs")
    @classmethod
    def _ranges(cls, seqs: list[tuple[int, int]]) -> list[tuple[int, int]]:
        for first, last in seqs:
            if not 0 <= first <= last <= MAX_ID:
                raise ValueError(f"seq range [{first}, {last}] is not 0 <= first <= last <= {MAX_ID}")
        return seqs

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


def seq_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Seqs as sorted, merged inclusive ranges.

    >>> seq_ranges([7, 3, 4, 5, 9, 8, 4])
    [(3, 5), (7, 9)]
    """
    ranges: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


def stored_messages(site: str, node: str, seqs: Iterable[int]) -> list[StoredEvents]:
    """The confirmations for a node's stored seqs, at most `MAX_STORED_RANGES` ranges each."""
    ranges = seq_ranges(seqs)
    return [
        StoredEvents(site=site, node=node, seqs=ranges[i : i + MAX_STORED_RANGES])
        for i in range(0, len(ranges), MAX_STORED_RANGES)
    ]


def parse_stored(topic: str, payload: bytes) -> StoredEvents:
    """Validate a message from a node's `stored` topic (what a node does with it).

    Raises:
        PayloadError: not a `stored` topic, too large, invalid, or for another site or node than
            the topic's; never any other exception.
    """
    return _parse_to_node(topic, payload, StoredEvents, MAX_STORED_BYTES, "storage confirmation")


def _short(exc: Exception, limit: int = 300) -> str:
    if isinstance(exc, ValidationError):
        # Field by field: pydantic's own first line names the whole union of payloads, which says nothing.
        errors = exc.errors(include_url=False, include_input=False)
        text = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in errors[:5])
        if len(errors) > 5:
            text += f"; and {len(errors) - 5} more"
    else:
        text = str(exc)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
