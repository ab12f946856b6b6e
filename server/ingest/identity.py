"""Who may speak for what: which nodes ops accepted, and which node each camera belongs to.

The broker ties each login to its node (`use_username_as_clientid`, and an ACL that lets a node
write only its own node topics and its own cameras' topics; see docs/mqtt.md), and `parse_payload`
ties a node topic to the `node` in its payload. Camera topics carry no node, so the server ties each
camera to one node itself:

- a camera named in an accepted node's layout belongs to that node; a layout that names a camera
  another node's layout already names is refused (`camera_conflict`);
- a camera no layout names belongs to the first accepted node that sends for it (recorded in the
  cameras table, so replicas and restarts agree);
- a camera message, a health entry or a snapshot that claims a camera of another node is refused
  (`foreign_camera`), and one for a camera named `fused`, the name of the floor the server fuses
  (`reserved_camera`).

Nodes nobody accepted yet are quarantined (`server.ingest.processor`): their messages are held as a
candidate for ops, never stored or alerted, unless ``ingest.accept_new_nodes`` is on (demo, tests).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hallwatch.contract import (
    CameraEvent,
    CameraPositions,
    CameraState,
    NodeHealth,
    NodeLayout,
    NodeSnapshot,
    Payload,
)
from server.ingest.fusion import FUSED

log = logging.getLogger(__name__)
CameraKey = tuple[str, str]  # site, camera
NodeKey = tuple[str, str]  # site, node


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a valid message may not be taken from the node that sent it."""

    reason: str
    detail: str


class Identity:
    """Accepted nodes and camera owners; used by the ingest worker only (no locks)."""

    def __init__(self, *, accept_new_nodes: bool) -> None:
        self.accept_new_nodes = accept_new_nodes
        self._accepted: set[NodeKey] = set()
        self._owners: dict[CameraKey, str] = {}
        self._from_layout: set[CameraKey] = set()

    # ------------------------------------------------------------------------------ loading
    def load(self, nodes: list[Any], cameras: list[Any]) -> list[NodeLayout]:
        """Take the accepted nodes (rows with ``site``, ``node``, ``layout``) and the recorded
        camera owners (rows with ``site``, ``camera``, ``node``); returns the layouts of nodes that
        were not accepted before (for the engine and live state)."""
        new_layouts: list[NodeLayout] = []
        accepted = {(n.site, n.node) for n in nodes}
        for c in cameras:
            self._owners.setdefault((c.site, c.camera), c.node)
        for n in nodes:
            layout = _layout(n.layout)
            if layout is None:
                continue
            for cam in layout.cameras:
                key = (n.site, cam.id)
                self._owners[key] = n.node
                self._from_layout.add(key)
            if (n.site, n.node) not in self._accepted:
                new_layouts.append(layout)
        self._accepted = accepted
        return new_layouts

    def accepted(self, site: str, node: str) -> bool:
        return (site, node) in self._accepted

    def accept(self, site: str, node: str) -> None:
        self._accepted.add((site, node))

    def owner(self, site: str, camera: str) -> str | None:
        return self._owners.get((site, camera))

    # ------------------------------------------------------------------------------ checking
    def check(self, msg: Payload) -> Refusal | None:
        """None when ``msg``'s node may say what it says; else why not."""
        if isinstance(msg, CameraState | CameraEvent | CameraPositions | NodeSnapshot):
            if msg.camera == FUSED:
                return Refusal("reserved_camera", f"camera id {FUSED!r} is the server's fused floor's")
            return self._own_camera(msg.site, msg.node, msg.camera)
        if isinstance(msg, NodeHealth):
            for cam in msg.cameras:
                refusal = self._own_camera(msg.site, msg.node, cam.camera)
                if refusal is not None:
                    return refusal
            return None
        if isinstance(msg, NodeLayout):
            for lcam in msg.cameras:
                key = (msg.site, lcam.id)
                owner = self._owners.get(key)
                if key in self._from_layout and owner is not None and owner != msg.node:
                    return Refusal(
                        "camera_conflict",
                        f"the layout of {msg.node} names camera {lcam.id}, which the layout of {owner} "
                        "names: camera ids must be unique within a site",
                    )
        return None

    def _own_camera(self, site: str, node: str, camera: str) -> Refusal | None:
        owner = self._owners.get((site, camera))
        if owner is not None and owner != node:
            return Refusal("foreign_camera", f"camera {camera} belongs to node {owner}, not {node}")
        return None

    def bind(self, msg: Payload) -> None:
        """Record what an accepted node's valid message says about its cameras."""
        if isinstance(msg, CameraState | CameraEvent | CameraPositions):
            self._owners.setdefault((msg.site, msg.camera), msg.node)
        elif isinstance(msg, NodeHealth):
            for cam in msg.cameras:
                self._owners.setdefault((msg.site, cam.camera), msg.node)
        elif isinstance(msg, NodeLayout):
            named = {(msg.site, c.id) for c in msg.cameras}
            for key in [k for k in self._from_layout if k[0] == msg.site and self._owners.get(k) == msg.node]:
                if key not in named:  # the node no longer has it: another may take it
                    self._from_layout.discard(key)
                    self._owners.pop(key, None)
            for key in named:
                self._owners[key] = msg.node
                self._from_layout.add(key)


def _layout(data: dict[str, Any] | None) -> NodeLayout | None:
    if not data:
        return None
    try:
        return NodeLayout.model_validate(data)
    except ValidationError:  # stored by an older server with looser rules: ignore, the node resends it
        log.warning("a stored layout no longer passes the contract; waiting for the node to send it again")
        return None
