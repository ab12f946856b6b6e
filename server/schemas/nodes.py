"""Edge nodes, their cameras, zones and layouts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from hallwatch.contract import CONFIG_PUSH_KEYS, MAX_CONFIG_PUSH_BYTES
from server.schemas.base import In, Out


class CameraOut(Out):
    site: str
    camera: str
    node: str
    connected: bool | None
    fps: float | None
    latency_ms: float | None
    frames_dropped: int | None
    reconnects: int | None
    last_frame_ts: datetime | None
    health_at: datetime | None
    lost_since: datetime | None
    lost_reason: str | None
    target_fps: float | None = Field(
        default=None,
        description="the frames per second the camera is meant to give: its configured rate, or for an "
        "adaptive camera the mean of the rates its node aimed it at over the last health period",
    )
    frames_dropped_recent: int | None = Field(
        default=None, description="frames dropped between the node's last two health messages"
    )
    min_fps: float | None = Field(default=None, description="an adaptive camera's lowest rate (null: fixed)")
    max_fps: float | None = Field(default=None, description="an adaptive camera's highest rate (null: fixed)")


class NodeOut(Out):
    site: str
    node: str
    status: str = Field(description="online, offline (its last will), stopped, or unknown")
    online: bool = Field(description="online and sent health within the offline rule's silence_s")
    version: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    status_at: datetime | None
    health_at: datetime | None
    uptime_s: float | None
    outbox_depth: int | None
    outbox_dropped: int | None
    published: int | None
    rejected_config: int | None
    refused: int | None
    last_config_error: str | None
    layout_at: datetime | None
    cameras: list[CameraOut]


class ZoneOut(Out):
    site: str
    zone: str
    node: str
    kind: str
    name: str | None
    limit: int | None
    window: str | None
    polygon: list[list[float]] = Field(description="floor points in metres")
    line: list[list[float]] | None = Field(description="entrance line: two floor points in metres")
    cameras: list[str] | None
    updated_at: datetime


class NodeLayoutOut(Out):
    node: str
    layout_at: datetime | None
    layout: dict[str, Any] | None = Field(description="the node's retained NodeLayout message, as sent")


class SiteLayoutOut(Out):
    site: str
    zones: list[ZoneOut]
    nodes: list[NodeLayoutOut]


class ConfigPushIn(In):
    config: dict[str, Any] = Field(description="parts of the node config to replace: cameras, zones, spacing")

    @field_validator("config")
    @classmethod
    def _pushable(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Only what a node accepts, and not more than a hall's worth (docs/mqtt.md): a push is
        retained on the broker and sent to the node on every connection."""
        unknown = sorted(set(config) - CONFIG_PUSH_KEYS)
        if unknown:
            raise ValueError(
                f"a config push may hold only {', '.join(sorted(CONFIG_PUSH_KEYS))}, not {', '.join(unknown)}"
            )
        try:
            size = len(json.dumps(config, allow_nan=False))
        except ValueError:
            raise ValueError("a config push holds finite numbers only") from None
        if size > MAX_CONFIG_PUSH_BYTES:
            raise ValueError(f"a config push of {size} bytes is larger than {MAX_CONFIG_PUSH_BYTES}")
        return config


class ConfigPushOut(Out):
    topic: str
    event_id: str
    issued_by: str


class CameraCoverageOut(Out):
    camera: str
    node: str
    fusion: str | None = Field(
        description="how the node counts its cameras: camera, node, server (null: camera)"
    )
    coverage: list[tuple[float, float]] | None = Field(
        description="the floor the camera sees well, an outline in metres (null: the node has not said yet)"
    )


class CoverageOverlapOut(Out):
    cameras: tuple[str, str]
    area_m2: float
    polygon: list[tuple[float, float]] = Field(description="where both cameras see well, metres")


class MarkAgreementOut(Out):
    floor: tuple[float, float] = Field(description="the shared floor mark, metres")
    apart_cm: float = Field(description="how far apart the two calibrations place it, centimetres")


class PairAgreementOut(Out):
    cameras: tuple[str, str]
    nodes: tuple[str, str]
    marks: list[MarkAgreementOut]
    worst_cm: float | None = Field(
        description="the largest distance over the shared marks (null: none shared)"
    )
    agree: bool | None = Field(description="worst_cm within agree_within_cm (null: no shared mark to check)")
    summary: str


class SiteCamerasOut(Out):
    site: str
    cameras: list[CameraCoverageOut]
    overlaps: list[CoverageOverlapOut]
    agreement: list[PairAgreementOut] = Field(
        description="each pair of cameras that share floor marks or whose coverages overlap, worst first"
    )
    agree_within_cm: float
