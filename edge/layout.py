"""The node's layout message: its zones and cameras, with each camera's calibration quality.

Published retained on `nodes/{node}/layout` on every connection and after every applied config
push, so the server learns the floor plan without reading the node's file.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from edge.config import NodeConfig
from edge.events import Origin
from hallwatch.contract import LayoutCamera, LayoutLens, LayoutZone, NodeLayout
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
    config: NodeConfig, *, seq: int, ts: datetime, config_id: uuid.UUID | None = None
) -> NodeLayout:
    """The layout of `config`.

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
        )
        for cam in config.cameras
    ]
    return NodeLayout(
        site=config.site,
        node=config.node.id,
        seq=seq,
        ts=ts,
        zones=[layout_zone(z) for z in config.zones],
        cameras=cameras,
        min_distance_m=config.spacing.min_distance_m,
        config_id=config_id,
    )


def origin_of(config: NodeConfig) -> Origin:
    return Origin(site=config.site, node=config.node.id)
