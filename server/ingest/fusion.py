"""The floor the server fuses: a site whose cameras span nodes.

A node whose layout says `fusion: server` publishes each camera's people on the floor (the
`positions` topic: track id, metres, one standard deviation, at the frame's capture time) and no
counts of its own. Per site, `ServerFusion` hands those positions to the vision core's `SiteFloor`
(the same code a node runs over its own cameras) and takes a step when it is due: every camera
that is sending has sent since the last step, or the first has waited `max_wait_s`; a camera
whose latest frame is more than `max_lag_s` older than the step's is left out of it. The steps are
the site's counts, pairs, crossings and events, under the name `FUSED` where a camera's goes.

Only the ingest worker calls it (no locks). The floor is rebuilt when a fusing node's layout
changes what it says (zones, cameras, coverage, rules), not when it is only sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hallwatch.contract import CameraPositions, NodeLayout
from server.layouts import floor_zones
from vision.config import SpacingConfig, TrackingConfig
from vision.fusion import CameraPeople
from vision.site_pipeline import SiteFloor
from vision.state import HallState

log = logging.getLogger(__name__)

#: Where a camera's name goes (states, events, occupancy, live positions) for the server's floor.
FUSED = "fused"
#: A position that comes without its uncertainty (a version-1 payload) is taken as this uncertain.
DEFAULT_SIGMA_M = 0.15


def node_floor(node: str) -> str:
    """The name a node's own fused floor (`nodes/{node}/floor`) goes by where a camera's goes.

    >>> node_floor("edge-1")
    'fused:edge-1'
    """
    return f"{FUSED}:{node}"


@dataclass(frozen=True, slots=True)
class FusedStep:
    """One step of a site's fused floor."""

    site: str
    state: HallState
    cameras: tuple[str, ...]


@dataclass(slots=True)
class _Site:
    layouts: dict[str, NodeLayout] = field(default_factory=dict)  # fusing nodes' layouts, by node
    said: dict[str, Any] = field(default_factory=dict)  # what each said, to tell a change from a repeat
    floor: SiteFloor | None = None
    cameras: dict[str, str] = field(default_factory=dict)  # camera -> its node


class ServerFusion:
    """Per site, the floor fused from the positions of the nodes that leave fusing to the server.

    Args:
        max_lag_s: a camera whose latest frame is this much older than the step's is left out.
        max_wait_s: a step waits at most this long (arrival time) for the cameras' positions.
    """

    def __init__(self, *, max_lag_s: float, max_wait_s: float) -> None:
        self.max_lag_s = max_lag_s
        self.max_wait_s = max_wait_s
        self._sites: dict[str, _Site] = {}

    def set_layout(self, layout: NodeLayout) -> None:
        """A node's layout: a node that leaves fusing to the server joins its site's floor (one that
        no longer does leaves it)."""
        site = self._sites.setdefault(layout.site, _Site())
        said = layout.model_dump(mode="json", exclude={"event_id", "seq", "ts", "config_id"})
        if layout.fusion == "server":
            if site.said.get(layout.node) == said:
                return
            site.layouts[layout.node], site.said[layout.node] = layout, said
        elif layout.node in site.layouts:
            del site.layouts[layout.node], site.said[layout.node]
        else:
            return
        self._rebuild(layout.site, site)

    def fuses(self, site: str, camera: str) -> bool:
        """Whether `camera`'s positions belong to a floor the server fuses."""
        entry = self._sites.get(site)
        return entry is not None and entry.floor is not None and camera in entry.cameras

    def sites(self) -> list[str]:
        return sorted(s for s, entry in self._sites.items() if entry.floor is not None)

    def add(self, msg: CameraPositions, arrived_s: float) -> bool:
        """One camera's positions; False when no floor the server fuses has that camera."""
        entry = self._sites.get(msg.site)
        if entry is None or entry.floor is None or entry.cameras.get(msg.camera) != msg.node:
            return False
        n = len(msg.people)
        sigma = [p.sigma_m if p.sigma_m is not None else DEFAULT_SIGMA_M for p in msg.people]
        entry.floor.add(
            CameraPeople(
                msg.camera,
                msg.ts.timestamp(),
                np.array([p.id for p in msg.people], np.int64),
                np.array([(p.x, p.y) for p in msg.people], np.float64).reshape(n, 2),
                np.array(sigma, np.float64),
            ),
            arrived_s=arrived_s,
        )
        return True

    def steps(self, now_s: float) -> list[FusedStep]:
        """The steps due now (at most one per site); `now_s` on the clock `add` was given."""
        out = []
        for site, entry in self._sites.items():
            if entry.floor is not None and entry.floor.due(now_s):
                out.append(FusedStep(site, entry.floor.step(), entry.floor.cameras))
        return out

    def _rebuild(self, site_id: str, site: _Site) -> None:
        if not site.layouts:
            site.floor, site.cameras = None, {}
            log.info("site %s: no node leaves fusing to the server any more", site_id)
            return
        layouts = [site.layouts[node] for node in sorted(site.layouts)]
        zones, problems = floor_zones(z for layout in layouts for z in layout.zones)
        for problem in problems:
            log.warning("site %s: the fused floor leaves out %s", site_id, problem)
        first = layouts[0]
        rules = [(layout.min_distance_m, layout.spacing, layout.counting) for layout in layouts]
        if any(r != rules[0] for r in rules):
            log.warning(
                "site %s: nodes %s disagree on the spacing or counting rules; the fused floor uses %s's",
                site_id,
                ", ".join(sorted(site.layouts)),
                first.node,
            )
        spacing = SpacingConfig(
            min_distance_m=first.min_distance_m,
            **(first.spacing.model_dump() if first.spacing is not None else {}),
        )
        tracking = TrackingConfig(**(first.counting.model_dump() if first.counting is not None else {}))
        site.cameras = {cam.id: layout.node for layout in layouts for cam in layout.cameras}
        coverage = {
            cam.id: cam.coverage for layout in layouts for cam in layout.cameras if cam.coverage is not None
        }
        site.floor = SiteFloor(
            zones,
            spacing,
            tracking,
            cameras=site.cameras,
            coverage=coverage,
            max_lag_s=self.max_lag_s,
            max_wait_s=self.max_wait_s,
        )
        log.info(
            "site %s: the server fuses %d camera(s) of node(s) %s onto one floor (%d zones)",
            site_id,
            len(site.cameras),
            ", ".join(sorted(site.layouts)),
            len(zones),
        )
