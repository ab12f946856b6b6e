"""Contract payloads (`hallwatch.contract`) as an edge node would send them, for the server and page tests.

`Node` builds the messages of one node and its camera with increasing ``seq``; `topic_of` says on
which topic a message goes. Publishing them is `support.mqtt.Publisher`'s job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from hallwatch.contract import (
    EVENT_TYPE_VERSIONS,
    CameraEvent,
    CameraHealth,
    CameraPositions,
    CameraState,
    Envelope,
    FloorEvent,
    FloorPair,
    FloorPosition,
    FloorPositions,
    FloorState,
    FusedPosition,
    LayoutCamera,
    LayoutZone,
    NodeHealth,
    NodeLayout,
    NodeStatus,
    camera_topic,
    node_topic,
    utc_now,
)

# Two windows (limit 2), the queue of window 1 (limit 5) and the hall (limit 10).
SMALL_LAYOUT: list[dict[str, Any]] = [
    {"id": "w1", "kind": "window", "name": "Window 1", "polygon": [(0, 0), (1, 0), (1, 1)], "limit": 2},
    {"id": "w2", "kind": "window", "name": "Window 2", "polygon": [(2, 0), (3, 0), (3, 1)], "limit": 2},
    {"id": "q1", "kind": "queue", "polygon": [(0, 2), (1, 2), (1, 3)], "limit": 5, "window": "w1"},
    {"id": "hall", "kind": "hall", "polygon": [(0, 0), (10, 0), (10, 10)], "limit": 10},
]


class Node:
    """Builds the contract payloads of one edge node and its camera, with increasing ``seq``.

    Every message is timed now unless it is given ``ts``. ``zones`` is the layout's zones (as
    `LayoutZone` fields); `layout` with other zones keeps them for the next layouts.
    """

    def __init__(
        self,
        site: str,
        node: str = "edge-1",
        camera: str = "cam-1",
        *,
        zones: list[dict[str, Any]] | None = None,
        version: str = "test",
    ) -> None:
        self.site, self.node, self.camera, self.version = site, node, camera, version
        self.zones: list[dict[str, Any]] = list(zones if zones is not None else SMALL_LAYOUT)
        self.seq = 0

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def layout(
        self,
        zones: list[dict[str, Any]] | None = None,
        *,
        fusion: str | None = None,
        coverage: Mapping[str, list[tuple[float, float]] | None] | None = None,
    ) -> NodeLayout:
        """The node's layout; with ``fusion`` or ``coverage`` (camera -> its coverage outline, the
        cameras the layout names), a version-2 layout."""
        if zones is not None:
            self.zones = zones
        cameras = [
            LayoutCamera(
                id=camera,
                anchor="head",
                reprojection_error_cm=1.0,
                image_points=[(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0)],
                floor_points=[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)],
                coverage=outline,
            )
            for camera, outline in (coverage or {}).items()
        ]
        return NodeLayout(
            schema_version=1 if fusion is None and coverage is None else 2,
            site=self.site,
            node=self.node,
            seq=self._next(),
            ts=utc_now(),
            zones=[LayoutZone(**z) for z in self.zones],
            cameras=cameras,
            min_distance_m=1.0,
            fusion=fusion,  # type: ignore[arg-type]
        )

    def status(self, status: str = "online") -> NodeStatus:
        return NodeStatus(
            site=self.site,
            node=self.node,
            seq=self._next(),
            ts=utc_now(),
            status=status,  # type: ignore[arg-type]
            version=self.version,
        )

    def health(self, cameras: Mapping[str, bool] | None = None) -> NodeHealth:
        """Health with the cameras named in ``cameras`` connected or not (default: the camera, connected)."""
        seq = self._next()
        return NodeHealth(
            site=self.site,
            node=self.node,
            seq=seq,
            ts=utc_now(),
            version=self.version,
            uptime_s=10.0,
            cameras=[
                CameraHealth(camera=c, connected=ok, fps=5.0, latency_ms=40.0, frames_dropped=0, reconnects=0)
                for c, ok in (cameras or {self.camera: True}).items()
            ],
            outbox_depth=0,
            outbox_dropped=0,
            published=seq,
        )

    def state(
        self,
        zones: Mapping[str, int],
        camera: str | None = None,
        violations: int = 0,
        *,
        ts: datetime | None = None,
        **fields: Any,
    ) -> CameraState:
        """The camera's zone counts; ``people`` is the hall's count, or the sum of the zones without one."""
        seq = self._next()
        people = zones.get("hall", sum(n for zone, n in zones.items() if zone != "hall"))
        return CameraState(
            site=self.site,
            node=self.node,
            camera=camera or self.camera,
            seq=seq,
            ts=ts or utc_now(),
            frame=seq,
            people=people,
            zones=dict(zones),
            violations=violations,
            **fields,
        )

    def event(
        self, type_: str, camera: str | None = None, *, ts: datetime | None = None, **fields: Any
    ) -> CameraEvent:
        return CameraEvent(
            schema_version=EVENT_TYPE_VERSIONS.get(type_, 1),  # as a node says it
            site=self.site,
            node=self.node,
            camera=camera or self.camera,
            seq=self._next(),
            ts=ts or utc_now(),
            type=type_,  # type: ignore[arg-type]
            **fields,
        )

    def positions(
        self,
        people: Iterable[tuple[float, float]],
        *,
        ts: datetime | None = None,
        camera: str | None = None,
        sigma_m: float | None = None,
        ids: Iterable[int] | None = None,
    ) -> CameraPositions:
        """Floor positions (metres) of anonymous people, numbered in order (or ``ids``); with
        ``sigma_m``, their uncertainty too (schema version 2)."""
        points = list(people)
        numbers = list(ids) if ids is not None else list(range(len(points)))
        return CameraPositions(
            schema_version=1 if sigma_m is None else 2,
            site=self.site,
            node=self.node,
            camera=camera or self.camera,
            seq=self._next(),
            ts=ts or utc_now(),
            people=[
                FloorPosition(id=i, x=x, y=y, sigma_m=sigma_m)
                for i, (x, y) in zip(numbers, points, strict=True)
            ],
        )

    def floor(
        self,
        zones: Mapping[str, int],
        *,
        violations: int = 0,
        possible: int = 0,
        pairs: Iterable[tuple[int, int, float, bool]] = (),
        cameras: Iterable[str] | None = None,
        ts: datetime | None = None,
        **fields: Any,
    ) -> FloorState:
        """The node's fused floor: zone counts; ``people`` the hall's count or the zones' sum."""
        seq = self._next()
        people = zones.get("hall", sum(n for zone, n in zones.items() if zone != "hall"))
        return FloorState(
            site=self.site,
            node=self.node,
            seq=seq,
            ts=ts or utc_now(),
            frame=seq,
            people=people,
            zones=dict(zones),
            violations=violations,
            possible_violations=possible,
            pairs=[FloorPair(a=a, b=b, distance_m=d, certain=c) for a, b, d, c in pairs],
            cameras=list(cameras if cameras is not None else [self.camera]),
            **fields,
        )

    def floor_event(self, type_: str, *, ts: datetime | None = None, **fields: Any) -> FloorEvent:
        return FloorEvent(
            schema_version=EVENT_TYPE_VERSIONS.get(type_, 2),
            site=self.site,
            node=self.node,
            seq=self._next(),
            ts=ts or utc_now(),
            type=type_,  # type: ignore[arg-type]
            **fields,
        )

    def floor_positions(
        self, people: Iterable[tuple[float, float, Iterable[str]]], *, ts: datetime | None = None
    ) -> FloorPositions:
        """The fused floor's people: (x, y, cameras that saw them), numbered in order."""
        return FloorPositions(
            site=self.site,
            node=self.node,
            seq=self._next(),
            ts=ts or utc_now(),
            people=[
                FusedPosition(id=i, x=x, y=y, sigma_m=0.05, cameras=list(cams))
                for i, (x, y, cams) in enumerate(people)
            ],
        )


def topic_of(msg: Envelope) -> str:
    """The topic a node publishes ``msg`` on."""
    if isinstance(msg, NodeLayout):
        return node_topic(msg.site, msg.node, "layout")
    if isinstance(msg, NodeStatus):
        return node_topic(msg.site, msg.node, "status")
    if isinstance(msg, NodeHealth):
        return node_topic(msg.site, msg.node, "health")
    if isinstance(msg, CameraState):
        return camera_topic(msg.site, msg.camera, "state")
    if isinstance(msg, CameraEvent):
        return camera_topic(msg.site, msg.camera, "events")
    if isinstance(msg, CameraPositions):
        return camera_topic(msg.site, msg.camera, "positions")
    if isinstance(msg, FloorState):
        return node_topic(msg.site, msg.node, "floor")
    if isinstance(msg, FloorEvent):
        return node_topic(msg.site, msg.node, "floor_events")
    if isinstance(msg, FloorPositions):
        return node_topic(msg.site, msg.node, "floor_positions")
    raise TypeError(f"no topic for {type(msg).__name__}")
