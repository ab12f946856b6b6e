"""Ops: a camera's floor calibration (preview, save), a node's zones, and its pushable config.

Everything here is for ops (`nodes:write`). Saving goes through the node's retained config push
(`server.api.nodes.push_config`): the node validates and applies it, writes its YAML file, and
answers with a new layout whose `config_id` is the push's `event_id`.

The server knows a node's config only from its last layout (zones, each camera's calibration points,
anchor and lens, the spacing distance): `GET .../config` and `.../config.yaml` show that, never the
camera sources (which may hold stream passwords) or the MQTT and outbox settings.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import numpy as np
import yaml
from fastapi import APIRouter, Depends, HTTPException, Path, Response, status
from numpy.typing import NDArray
from pydantic import ValidationError

from hallwatch.contract import NodeLayout
from server.api import nodes as nodes_api
from server.api.params import NAME_PATTERN, NodePath, SitePath
from server.auth.roles import Permission
from server.db.tables import Node
from server.deps import AuthUser, ServicesDep, require
from server.layouts import zone_config
from server.schemas.calibration import (
    CalibrationIn,
    CalibrationPointOut,
    CalibrationPreviewOut,
    CalibrationSaveOut,
    NodeConfigOut,
    ProblemOut,
    ProjectedZoneOut,
    ZonesIn,
)
from server.schemas.nodes import ConfigPushIn, ConfigPushOut
from server.services import Services
from vision.calibration import CalibrationError, FloorCalibration, calibrate
from vision.calibration_report import report_calibration
from vision.config import HallConfig, LensConfig, Zone

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/nodes", tags=["calibration"])

Operator = Annotated[AuthUser, Depends(require(Permission.NODES_WRITE))]
CameraPath = Annotated[str, Path(pattern=NAME_PATTERN, description="one of the node's cameras")]

UNPROCESSABLE = 422  # starlette renamed its constant; the number is what clients see
EDGE_STEPS = 16  # each zone edge is cut into this many pieces, so that drawn outlines follow the lens
MAX_GRID_LINES = 80
Responses = dict[int | str, dict[str, Any]]
_COMMON: Responses = {
    404: {"description": "unknown node or camera"},
    409: {"description": "no layout from the node yet"},
}
_PROBLEM: Responses = {
    422: {"model": ProblemOut, "description": "unusable points (the text names them) or fields"}
}
_PUSH: Responses = {503: {"description": "not connected to the MQTT broker"}}


# ------------------------------------------------------------------------------------ lookups
def node_or_404(services: Services, site: str, node: str) -> Node:
    row = services.store.nodes.node(site, node)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no node {node!r} at site {site!r}")
    return row


def layout_or_409(row: Node) -> NodeLayout:
    if not row.layout:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"node {row.node} has not reported its layout yet: is it running and connected?",
        )
    try:
        return NodeLayout.model_validate(row.layout)
    except ValidationError:  # stored by this server after validation: only a schema change does this
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"node {row.node}'s stored layout cannot be read; restart the node"
        ) from None


def node_cameras(services: Services, row: Node) -> list[str]:
    """The node's cameras, from its layout and its health."""
    names = {c.camera for c in services.store.nodes.cameras(row.site, row.node)}
    if row.layout:
        names |= {str(c.get("id")) for c in row.layout.get("cameras", []) if isinstance(c, dict)}
    return sorted(names)


def camera_or_404(services: Services, row: Node, camera: str) -> None:
    cameras = node_cameras(services, row)
    if camera not in cameras:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"node {row.node} has no camera {camera!r}; its cameras: {', '.join(cameras) or 'none yet'}",
        )


# ------------------------------------------------------------------------------ layout → config
def calibration_config(
    image_points: list[tuple[float, float]] | NDArray[np.float64],
    floor_points: list[tuple[float, float]] | NDArray[np.float64],
    lens: LensConfig | dict[str, Any] | None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "image_points": [[round(float(u), 2), round(float(v), 2)] for u, v in image_points],
        "floor_points": [[round(float(x), 4), round(float(y), 4)] for x, y in floor_points],
    }
    if lens is not None:
        data["lens"] = lens.model_dump(mode="json") if isinstance(lens, LensConfig) else dict(lens)
    return data


def config_section(layout: NodeLayout) -> dict[str, Any]:
    cameras = [
        {
            "id": cam.id,
            "anchor": cam.anchor,
            "calibration": calibration_config(
                cam.image_points, cam.floor_points, cam.lens.model_dump(mode="json") if cam.lens else None
            ),
        }
        for cam in layout.cameras
    ]
    return {
        "cameras": cameras,
        "zones": [zone_config(z) for z in layout.zones],
        "spacing": {"min_distance_m": layout.min_distance_m},
    }


def as_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


# ------------------------------------------------------------------------------------ geometry
def _pixels(points: NDArray[np.float64]) -> list[tuple[float, float] | None]:
    return [
        (round(float(u), 2), round(float(v), 2)) if np.isfinite(u) and np.isfinite(v) else None
        for u, v in points
    ]


def _densify(points: list[tuple[float, float]], closed: bool) -> NDArray[np.float64]:
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if len(pts) < 2:
        return pts
    ends = np.vstack([pts, pts[:1]]) if closed else pts
    steps = np.linspace(0.0, 1.0, EDGE_STEPS, endpoint=False)
    pieces = [a + (b - a) * t for a, b in zip(ends[:-1], ends[1:], strict=True) for t in steps]
    pieces.append(ends[-1])
    return np.asarray(pieces, np.float64)


def project_zones(cal: FloorCalibration, layout: NodeLayout, camera: str) -> list[ProjectedZoneOut]:
    out = []
    for zone in layout.zones:
        if zone.cameras is not None and camera not in zone.cameras:
            continue
        closed = zone.kind != "entrance"
        outline = list(zone.polygon) if closed else list(zone.line or ())
        if len(outline) < 2:
            continue
        out.append(
            ProjectedZoneOut(
                id=zone.id,
                kind=zone.kind,
                name=zone.name,
                image_path=_pixels(cal.image_from_floor(_densify(outline, closed))),
                closed=closed,
            )
        )
    return out


def floor_grid(cal: FloorCalibration, layout: NodeLayout) -> list[list[tuple[float, float] | None]]:
    """1 m grid lines over the calibration points and zones (a quick look at how the floor maps)."""
    floor = [cal.floor_points]
    floor += [np.asarray(z.polygon or z.line or [], np.float64).reshape(-1, 2) for z in layout.zones]
    pts = np.vstack(floor)
    lo, hi = np.floor(pts.min(axis=0)) - 1.0, np.ceil(pts.max(axis=0)) + 1.0
    xs, ys = np.arange(lo[0], hi[0] + 0.5), np.arange(lo[1], hi[1] + 0.5)
    if len(xs) + len(ys) > MAX_GRID_LINES:
        return []
    lines = [[(float(x), float(lo[1])), (float(x), float(hi[1]))] for x in xs]
    lines += [[(float(lo[0]), float(y)), (float(hi[0]), float(y))] for y in ys]
    return [_pixels(cal.image_from_floor(_densify(line, closed=False))) for line in lines]


def _lens_for(body: CalibrationIn, layout: NodeLayout, camera: str) -> LensConfig | None:
    if "lens" in body.model_fields_set:
        return body.lens
    current = next((c.lens for c in layout.cameras if c.id == camera), None)
    return LensConfig.model_validate(current.model_dump()) if current is not None else None


def fit(body: CalibrationIn, layout: NodeLayout, camera: str) -> tuple[FloorCalibration, LensConfig | None]:
    """Calibrate, or a 422 whose text names the points at fault.

    Raises:
        HTTPException: 422 with `CalibrationError`'s message.
    """
    lens = _lens_for(body, layout, camera)
    try:
        return calibrate(body.image_points, body.floor_points, lens), lens
    except CalibrationError as exc:
        # The page numbers points from 0, as the vision core's messages do.
        raise HTTPException(UNPROCESSABLE, f"cannot calibrate {camera}: {exc}") from None


# ------------------------------------------------------------------------------------ routes
@router.post(
    "/{site}/{node}/cameras/{camera}/calibration/preview",
    responses={**_COMMON, **_PROBLEM},
)
def preview_calibration(
    site: SitePath,
    node: NodePath,
    camera: CameraPath,
    body: CalibrationIn,
    user: Operator,
    services: ServicesDep,
) -> CalibrationPreviewOut:
    """Fit a calibration to image↔floor points without saving it: errors per point and overall, in
    centimetres on the floor, and the node's zones and a 1 m grid drawn into the image."""
    row = node_or_404(services, site, node)
    camera_or_404(services, row, camera)
    layout = layout_or_409(row)
    cal, lens = fit(body, layout, camera)
    hall = next((z.polygon for z in layout.zones if z.kind == "hall" and z.polygon), None)
    report = report_calibration(cal, hall_polygon=hall)
    floor_fitted = cal.floor_from_image(cal.image_points)
    image_fitted = cal.image_from_floor(cal.floor_points)
    points = [
        CalibrationPointOut(
            index=i,
            image=(float(cal.image_points[i, 0]), float(cal.image_points[i, 1])),
            floor=(float(cal.floor_points[i, 0]), float(cal.floor_points[i, 1])),
            error_cm=round(float(cal.errors_m[i]) * 100.0, 2),
            holdout_cm=report.holdout_cm[i],
            floor_fitted=_metres(floor_fitted[i]),
            image_fitted=_pixels(image_fitted[i : i + 1])[0],
        )
        for i in range(len(cal.image_points))
    ]
    section = {"id": camera, "calibration": calibration_config(cal.image_points, cal.floor_points, lens)}
    return CalibrationPreviewOut(
        site=site,
        node=node,
        camera=camera,
        homography=[[float(v) for v in row_] for row_ in cal.homography],
        rms_error_cm=round(cal.reprojection_error_cm, 2),
        max_error_cm=round(cal.max_error_cm, 2),
        holdout_error_cm=report.holdout_rms_cm,
        worst_point=report.worst_point,
        quality=report.verdict,
        advice=" ".join(_sentence(text) for text in (report.summary(), *report.advice)),
        camera_height_m=report.height_m,
        camera_tilt_deg=report.tilt_deg,
        points=points,
        zones=project_zones(cal, layout, camera),
        grid=floor_grid(cal, layout),
        lens=lens,
        yaml=f"# calibration of camera {camera} (node {node}, site {site}); merge into the node's file\n"
        + as_yaml({"cameras": [section]}),
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _metres(point: NDArray[np.float64]) -> tuple[float, float] | None:
    x, y = float(point[0]), float(point[1])
    return (round(x, 4), round(y, 4)) if np.isfinite(x) and np.isfinite(y) else None


def _push(services: Services, site: str, node: str, user: AuthUser, config: dict[str, Any]) -> ConfigPushOut:
    """Publish through the nodes router's config push (retained, QoS 1), with its checks and log."""
    return nodes_api.push_config(site, node, ConfigPushIn(config=config), user, services)


@router.post(
    "/{site}/{node}/cameras/{camera}/calibration",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**_COMMON, **_PROBLEM, **_PUSH},
)
def save_calibration(
    site: SitePath,
    node: NodePath,
    camera: CameraPath,
    body: CalibrationIn,
    user: Operator,
    services: ServicesDep,
) -> CalibrationSaveOut:
    """Check the points as the preview does, then push the camera's new calibration to its node
    (a retained config push; other cameras and the camera's other settings stay as they are)."""
    row = node_or_404(services, site, node)
    camera_or_404(services, row, camera)
    layout = layout_or_409(row)
    cal, lens = fit(body, layout, camera)
    calibration = calibration_config(body.image_points, body.floor_points, lens)
    pushed = _push(services, site, node, user, {"cameras": [{"id": camera, "calibration": calibration}]})
    log.info(
        "%s saved a calibration of %s/%s (%d points, %.1f cm RMS)",
        user.username,
        node,
        camera,
        len(body.image_points),
        cal.reprojection_error_cm,
    )
    return CalibrationSaveOut(
        topic=pushed.topic,
        event_id=pushed.event_id,
        issued_by=pushed.issued_by,
        rms_error_cm=round(cal.reprojection_error_cm, 2),
    )


def check_zones(zones: list[Zone], layout: NodeLayout) -> None:
    """The checks the node's config makes across zones (ids, one hall, queue windows, cameras).

    Raises:
        HTTPException: 422 naming the zone.
    """
    cameras = [
        {"id": c.id, "source": "-", "calibration": calibration_config(c.image_points, c.floor_points, None)}
        for c in layout.cameras
    ]
    try:
        HallConfig.model_validate(
            {"site": layout.site, "cameras": cameras, "zones": [z.model_dump() for z in zones]}
        )
    except ValidationError as exc:
        errors = exc.errors()
        reason = errors[0]["msg"].removeprefix("Value error, ") if errors else str(exc)
        raise HTTPException(UNPROCESSABLE, reason) from None
    except ValueError as exc:  # pragma: no cover - pydantic wraps validator errors
        raise HTTPException(UNPROCESSABLE, str(exc)) from None


@router.post(
    "/{site}/{node}/zones", status_code=status.HTTP_202_ACCEPTED, responses={**_COMMON, **_PROBLEM, **_PUSH}
)
def save_zones(
    site: SitePath, node: NodePath, body: ZonesIn, user: Operator, services: ServicesDep
) -> ConfigPushOut:
    """Replace the node's whole zone list (a retained config push), after the checks its config
    makes: unique ids, one hall, every queue's window, every camera named."""
    row = node_or_404(services, site, node)
    layout = layout_or_409(row)
    check_zones(body.zones, layout)
    zones = [_zone_json(z) for z in body.zones]
    pushed = _push(services, site, node, user, {"zones": zones})
    log.info("%s saved %d zones of %s/%s", user.username, len(zones), site, node)
    return pushed


def _zone_json(zone: Zone) -> dict[str, Any]:
    """A zone as the node's file writes it (fields left unset stay out, defaults are explicit)."""
    data: dict[str, Any] = zone.model_dump(mode="json", exclude_none=True)
    return data


@router.get("/{site}/{node}/config", responses=_COMMON)
def node_config(site: SitePath, node: NodePath, user: Operator, services: ServicesDep) -> NodeConfigOut:
    """What ops can push to the node, as its last layout reported it: each camera's calibration
    and anchor, its zones (in config form), and the spacing distance."""
    row = node_or_404(services, site, node)
    layout = layout_or_409(row)
    return NodeConfigOut(
        site=site,
        node=node,
        layout_at=row.layout_at,
        config_id=str(layout.config_id) if layout.config_id else None,
        **config_section(layout),
    )


@router.get(
    "/{site}/{node}/config.yaml",
    response_class=Response,
    responses={**_COMMON, 200: {"content": {"application/yaml": {}}, "description": "YAML"}},
)
def node_config_yaml(site: SitePath, node: NodePath, user: Operator, services: ServicesDep) -> Response:
    """The same as `GET .../config`, as YAML to merge into the node's file (a download)."""
    row = node_or_404(services, site, node)
    layout = layout_or_409(row)
    when = row.layout_at.isoformat() if row.layout_at else "unknown time"
    header = (
        f"# hallwatch node {node} of site {site}: cameras' calibration, zones and spacing,\n"
        f"# as the node reported them at {when}"
        + (f" (config push {layout.config_id})" if layout.config_id else "")
        + ".\n# Merge into the node's YAML file: camera sources, detector, mqtt and outbox settings\n"
        "# are not included (the server never learns them); spacing shows only min_distance_m.\n"
    )
    return Response(
        header + as_yaml(config_section(layout)),
        media_type="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{site}-{node}.yaml"'},
    )
