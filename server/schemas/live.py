"""The live stream's messages (``/api/v1/live``), one model per ``type``.

The server builds every message it pushes from these models, and tests read what the server sent
back through `parse_live`, so the pages, the server and the tests agree on one shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from server.schemas.alerts import AlertOut
from server.schemas.events import EventOut
from server.schemas.occupancy import ZoneOccupancyOut


class _Live(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LiveUser(_Live):
    username: str
    role: str


class LiveZone(ZoneOccupancyOut):
    """A zone's live occupancy, with its site (the hello lists the zones of several sites)."""

    site: str


class LiveHello(_Live):
    """First message: who is connected, to what, and a snapshot of the zones and open alerts."""

    type: Literal["hello"] = "hello"
    server_time: datetime
    user: LiveUser
    topics: list[str]
    sites: list[str] | None
    zones: list[LiveZone] = Field(default_factory=list)
    alerts: list[AlertOut] = Field(default_factory=list)


class LiveAlert(_Live):
    """An alert that opened or changed; pages keep the highest ``version``."""

    type: Literal["alert"] = "alert"
    site: str
    alert: AlertOut


class LiveOccupancy(_Live):
    type: Literal["occupancy"] = "occupancy"
    site: str
    zone: ZoneOccupancyOut


class LiveLayout(_Live):
    """A node's zones changed: re-read ``/sites/{site}/layout``."""

    type: Literal["layout"] = "layout"
    site: str
    node: str


class LivePerson(_Live):
    id: int
    x: float = Field(description="floor position, metres")
    y: float = Field(description="floor position, metres")
    cameras: list[str] | None = Field(default=None, description="on a fused floor: the cameras that saw them")


class LivePositions(_Live):
    """People on the floor: one camera's, or a fused floor's (`camera` 'fused:NODE' or 'fused'),
    whose people are each one person however many cameras see them."""

    type: Literal["positions"] = "positions"
    site: str
    camera: str
    ts: datetime
    people: list[LivePerson]


class LiveNode(_Live):
    """A node's status changed, or its health arrived (then with ``health``)."""

    type: Literal["node"] = "node"
    site: str
    node: str
    status: str
    version: str | None = None
    health: dict[str, Any] | None = None
    at: datetime


class LiveSnapshot(_Live):
    """A node answered a snapshot request (the picture itself is fetched from the API)."""

    type: Literal["snapshot"] = "snapshot"
    site: str
    node: str
    camera: str
    request_id: str
    error: str | None
    at: datetime


class LiveEvent(_Live):
    type: Literal["event"] = "event"
    site: str
    event: EventOut


class LivePing(_Live):
    type: Literal["ping"] = "ping"
    server_time: datetime


class LiveBye(_Live):
    """Sent just before the server closes the stream."""

    type: Literal["bye"] = "bye"
    reason: str


LiveOut = Annotated[
    LiveHello
    | LiveAlert
    | LiveOccupancy
    | LiveLayout
    | LivePositions
    | LiveNode
    | LiveSnapshot
    | LiveEvent
    | LivePing
    | LiveBye,
    Field(discriminator="type"),
]
_LIVE: TypeAdapter[LiveOut] = TypeAdapter(LiveOut)


def parse_live(text: str | bytes) -> LiveOut:
    """One live message as the pages receive it, validated against its model.

    >>> parse_live('{"type": "bye", "reason": "the login expired"}')
    LiveBye(type='bye', reason='the login expired')
    """
    return _LIVE.validate_json(text)
