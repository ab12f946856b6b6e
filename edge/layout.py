"""The node's layout message: its zones and cameras, with each camera's calibration quality.

Published retained on `nodes/{node}/layout` on every connection and after every applied config
push, so the server learns the floor plan without reading the node's file.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from edge.config import NodeConfig
from edge.events import Origin
from hallwatch.contract import (
    SCHEMA_VERSION_FLOOR,
    LayoutCamera,
    LayoutCounting,
    LayoutLens,
    LayoutSpacing,
    LayoutZone,
    NodeLayout,
)
from vision.calibration import calibration_from_config
from vision.config import EntranceLine, HallZone, QueueZone, WindowZone


def layout_zone(zone: WindowZone | QueueZone | HallZone | EntranceLine) -> LayoutZone:
    limit: int | None
    if isinstance(zone, WindowZone | QueueZone):
        limit = zone.max_people
    elif isinstance(zone, HallZone):
        limit = zone.capacity
    else:
        limit = None
    return LayoutZone(
        id=zone.id,
        kind=zone.kind,
        name=zone.name,
        polygon=[] if isinstance(zone, EntranceLine) else list(zone.polygon),
        line=zone.line if isinstance(zone, EntranceLine) else None,
        limit=limit,
        window=zone.window if isinstance(zone, QueueZone) else None,
        cameras=list(zone.cameras) if zone.cameras is not None else None,
        inside=zone.inside if isinstance(zone, EntranceLine) else None,
    )


def node_layout(
    config: NodeConfig,
    *,
    seq: int,
    ts: datetime,
    config_id: uuid.UUID | None = None,
    coverage: Mapping[str, NDArray[np.float64]] | None = None,
) -> NodeLayout:
    """The layout of `config`, with each camera's coverage where it is known (schema version 2: it
    says how the node fuses its cameras, and the rules a server needs to fuse them itself).

    Raises:
        vision.calibration.CalibrationError: a camera's calibration points are degenerate (the
            node checks this at start and before applying a push, so it does not happen later).
    """
    cameras = [
        LayoutCamera(
            id=cam.id,
            anchor=cam.anchor,
            reprojection_error_cm=round(calibration_from_config(cam.calibration).reprojection_error_cm, 3),
            image_points=list(cam.calibration.image_points),
            floor_points=list(cam.calibration.floor_points),
            lens=LayoutLens.model_validate(cam.calibration.lens.model_dump())
            if cam.calibration.lens is not None
            else None,
            coverage=_outline((coverage or {}).get(cam.id)),
        )
        for cam in config.cameras
    ]
    spacing, tracking = config.spacing, config.tracking
    return NodeLayout(
        schema_version=SCHEMA_VERSION_FLOOR,
        site=config.site,
        node=config.node.id,
        seq=seq,
        ts=ts,
        zones=[layout_zone(z) for z in config.zones],
        cameras=cameras,
        min_distance_m=spacing.min_distance_m,
        config_id=config_id,
        fusion=config.fusion_mode,
        spacing=LayoutSpacing(
            min_duration_s=spacing.min_duration_s,
            exempt_window_pairs=spacing.exempt_window_pairs,
            alert_on=spacing.alert_on,
            band_sigmas=spacing.band_sigmas,
        ),
        counting=LayoutCounting(
            zone_margin_m=tracking.zone_margin_m,
            zone_settle_s=tracking.zone_settle_s,
            min_track_frames=tracking.min_track_frames,
            hidden_hold_s=tracking.hidden_hold_s,
        ),
    )


def _outline(polygon: NDArray[np.float64] | None) -> list[tuple[float, float]] | None:
    """A coverage outline for the layout, to the centimetre: null when not known yet, empty when the
    camera sees no floor well."""
    if polygon is None:
        return None
    if len(polygon) < 3:
        return []
    return [(round(float(x), 2), round(float(y), 2)) for x, y in np.asarray(polygon).reshape(-1, 2)[:256]]


def origin_of(config: NodeConfig) -> Origin:
    return Origin(site=config.site, node=config.node.id)
