"""The MQTT contract between edge nodes and the server, version 1 (see docs/mqtt.md).

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
"""

from __future__ import annotations

import re
import typing
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

SCHEMA_VERSION: Literal[1] = 1
TOPIC_ROOT = "hallwatch"

TopicKind = Literal["status", "health", "layout", "config", "state", "events", "positions"]
NODE_KINDS: frozenset[str] = frozenset({"status", "health", "layout", "config"})
CAMERA_KINDS: frozenset[str] = frozenset({"state", "events", "positions"})

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Metres = Annotated[float, Field(ge=-10_000.0, le=10_000.0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0.0, le=10_000_000.0, allow_inf_nan=False)]
Total = Annotated[int, Field(ge=0, lt=2**63)]  # a running total since the node started


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------- topics
def node_topic(site: str, node: str, kind: Literal["status", "health", "layout", "config"]) -> str:
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
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})/(?P<kind>[a-z]+)$"
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
class Envelope(BaseModel):
    """Fields every payload carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="unique; used to drop duplicates")
    site: Name
    node: Name
    camera: Name | None = None
    seq: int = Field(ge=0, lt=2**63, description="per node, strictly increasing across restarts")
    ts: AwareDatetime = Field(description="UTC time the payload describes (frame capture time for events)")

    @field_validator("ts")
    @classmethod
    def _utc(cls, ts: datetime) -> datetime:
        return ts.astimezone(UTC)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


class NodeStatus(Envelope):
    kind: Literal["status"] = "status"
    status: Literal["online", "offline", "stopped"]
    version: str = Field(max_length=40)


class CameraHealth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    camera: Name
    connected: bool
    fps: float = Field(ge=0.0, le=1000.0, description="frames processed per second over the last period")
    latency_ms: float = Field(ge=0.0, le=600_000.0, description="capture to state, mean over the period")
    frames_dropped: Total = Field(description="frames skipped because processing fell behind, since start")
    reconnects: Total = Field(description="times the source was reopened, since start")
    last_frame_ts: AwareDatetime | None = None


class NodeHealth(Envelope):
    kind: Literal["health"] = "health"
    version: str = Field(max_length=40)
    uptime_s: Seconds
    cameras: list[CameraHealth] = Field(max_length=256)
    outbox_depth: Count = Field(description="events waiting for their PUBACK")
    outbox_dropped: Total = Field(description="events dropped because the outbox was full, since start")
    published: Total = Field(description="events acknowledged by the broker since start")
    rejected_config: Total = Field(default=0, description="config pushes refused since start")
    refused: Total = Field(
        default=0, description="events the broker refused (PUBACK with an error, e.g. its ACL), since start"
    )
    last_config_error: str | None = Field(
        default=None, max_length=500, description="why the last refused config push was refused"
    )


class LayoutZone(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name
    kind: Literal["window", "queue", "hall", "entrance"]
    name: str | None = Field(default=None, max_length=120)
    polygon: list[tuple[Metres, Metres]] = Field(default_factory=list, max_length=256)
    line: tuple[tuple[Metres, Metres], tuple[Metres, Metres]] | None = None
    limit: Count | None = Field(
        default=None, description="max_people for windows/queues, capacity for the hall"
    )
    window: Name | None = Field(default=None, description="for a queue: its window")
    cameras: list[Name] | None = None


class LayoutCamera(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name
    anchor: Literal["feet", "head", "center"]
    reprojection_error_cm: float = Field(ge=0.0, allow_inf_nan=False)
    image_points: list[tuple[float, float]] = Field(max_length=64)
    floor_points: list[tuple[Metres, Metres]] = Field(max_length=64)


class NodeLayout(Envelope):
    """The zones and cameras a node works with; retained so the server learns them on subscribe."""

    kind: Literal["layout"] = "layout"
    zones: list[LayoutZone] = Field(max_length=512)
    cameras: list[LayoutCamera] = Field(max_length=256)
    min_distance_m: float = Field(gt=0.0, le=10.0)
    config_id: uuid.UUID | None = Field(
        default=None, description="event_id of the config push this layout comes from, if any"
    )


class NodeConfigPush(BaseModel):
    """Server to node, retained: new calibration and zones for the node to apply (issue 5).

    `config` may hold `cameras` (entries matched by `id`; the fields given replace the camera's,
    an unknown id adds a complete camera), `zones` (the whole list, replaced) and `spacing` (the
    fields given replace the current ones); anything else is refused. The node answers with a new
    retained `NodeLayout` whose `config_id` is this push's `event_id`; a refused push is counted in
    `NodeHealth.rejected_config` with the reason in `last_config_error`. See docs/mqtt.md.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    ts: AwareDatetime = Field(default_factory=utc_now)
    issued_by: str = Field(max_length=120)
    config: dict[str, Any] = Field(
        description="the parts of the node config to replace: cameras, zones, spacing"
    )


class CameraState(Envelope):
    """What one camera sees now; sent about once a second and on every change, retained."""

    kind: Literal["state"] = "state"
    camera: Name
    frame: int = Field(ge=0)
    people: Count = Field(description="people in view")
    zones: dict[Name, Count] = Field(description="smoothed count per zone (windows, queues, hall)")
    violations: Count = Field(description="spacing violations active now (pairs)")
    crossings: dict[Name, dict[Literal["in", "out"], Count]] = Field(
        default_factory=dict, description="entrance line -> people in/out since the node started"
    )


EventType = Literal[
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
    "camera_lost",
    "camera_recovered",
]

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
    - camera_lost / camera_recovered: `reason`; `camera_recovered` also `duration_s` (time it was down).
    """

    kind: Literal["event"] = "event"
    camera: Name
    type: EventType
    zone: Name | None = None
    count: Count | None = None
    limit: Count | None = None
    people: list[int] = Field(default_factory=list, max_length=2)
    distance_m: float | None = Field(default=None, ge=0.0, le=1000.0, allow_inf_nan=False)
    floor: tuple[Metres, Metres] | None = None
    duration_s: Seconds | None = None
    reason: str | None = Field(default=None, max_length=300)


class FloorPosition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = Field(ge=0, description="track id, anonymous and reused after a restart")
    x: Metres
    y: Metres


class CameraPositions(Envelope):
    kind: Literal["positions"] = "positions"
    camera: Name
    people: list[FloorPosition] = Field(max_length=1000)


Payload = Annotated[
    NodeStatus | NodeHealth | NodeLayout | CameraState | CameraEvent | CameraPositions,
    Field(discriminator="kind"),
]
_PAYLOAD: TypeAdapter[Payload] = TypeAdapter(Payload)

_KIND_FOR_TOPIC: dict[str, str] = {
    "status": "status",
    "health": "health",
    "layout": "layout",
    "state": "state",
    "events": "event",
    "positions": "positions",
}

MAX_PAYLOAD_BYTES = 256 * 1024


class PayloadError(ValueError):
    """A message that does not follow the contract; the text says why."""


def parse_payload(topic: str, payload: bytes) -> Payload:
    """Validate one MQTT message against the contract.

    Checks the topic, the payload's size and JSON, its schema, and that the topic's site, node or
    camera and kind agree with the payload's own fields.

    Raises:
        PayloadError: for anything that is not a valid message; never any other exception.
    """
    parsed = parse_topic(topic)
    if parsed is None:
        raise PayloadError(f"not a hallwatch topic: {topic[:200]!r}")
    if parsed.kind == "config":
        raise PayloadError("config pushes go from the server to nodes; parse them with NodeConfigPush")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        message = _PAYLOAD.validate_json(payload)
    except ValueError as exc:  # pydantic.ValidationError and JSON errors are ValueErrors
        raise PayloadError(f"invalid payload on {topic}: {_short(exc)}") from None
    expected_kind = _KIND_FOR_TOPIC[parsed.kind]
    if message.kind != expected_kind:
        raise PayloadError(f"a {message.kind!r} payload on a {parsed.kind!r} topic")
    if message.site != parsed.site:
        raise PayloadError(f"payload site {message.site!r} does not match topic site {parsed.site!r}")
    owner = message.node if parsed.scope == "nodes" else message.camera
    if owner != parsed.name:
        raise PayloadError(f"payload {parsed.scope[:-1]} {owner!r} does not match topic {parsed.name!r}")
    return message


def _short(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
