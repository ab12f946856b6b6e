"""The site's cameras on its floor: where each sees well, where they overlap, and whether their
calibrations agree on the floor marks they share (ops' zone editor and calibration page)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from fastapi import APIRouter
from numpy.typing import NDArray
from pydantic import ValidationError

from hallwatch.contract import LayoutCamera, NodeLayout
from server.api.params import SitePath
from server.deps import NodesReader, ServicesDep
from server.schemas.nodes import (
    CameraCoverageOut,
    CoverageOverlapOut,
    MarkAgreementOut,
    PairAgreementOut,
    SiteCamerasOut,
)
from vision.calibration import CalibrationError, FloorCalibration, calibration_from_config
from vision.calibration_report import AGREE_WITHIN_CM, pair_agreement
from vision.config import CalibrationConfig
from vision.coverage import coverage_overlaps

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])


def _calibration(camera: LayoutCamera) -> FloorCalibration | None:
    try:
        config = CalibrationConfig(
            image_points=camera.image_points,
            floor_points=camera.floor_points,
            lens=camera.lens.model_dump() if camera.lens is not None else None,
        )
        return calibration_from_config(config)
    except (ValidationError, CalibrationError):
        return None  # the calibration page says what is wrong with it


def _layouts(services: ServicesDep, site: str) -> list[NodeLayout]:
    layouts = []
    for row in services.store.nodes.nodes(site):
        try:
            if row.layout:
                layouts.append(NodeLayout.model_validate(row.layout))
        except ValidationError:
            continue  # stored by an older server: the node sends it again
    return layouts


@router.get("/{site}/cameras")
def site_cameras(site: SitePath, user: NodesReader, services: ServicesDep) -> SiteCamerasOut:
    """Each camera's coverage from its node's layout, the overlaps of the coverages, and for each
    pair of cameras that share floor marks (or overlap), how far apart their calibrations place
    those marks, in centimetres. A site no node has sent a layout for has no cameras."""
    cameras: list[CameraCoverageOut] = []
    found: list[tuple[str, LayoutCamera]] = []
    for layout in _layouts(services, site):
        for cam in layout.cameras:
            cameras.append(
                CameraCoverageOut(
                    camera=cam.id, node=layout.node, fusion=layout.fusion, coverage=cam.coverage
                )
            )
            found.append((layout.node, cam))
    coverages = {c.camera: c.coverage for c in cameras if c.coverage}
    overlaps = [
        CoverageOverlapOut(
            cameras=(a, b),
            area_m2=round(_area_m2(outline), 2),
            polygon=[(round(float(x), 2), round(float(y), 2)) for x, y in outline],
        )
        for a, b, outline in coverage_overlaps(coverages)
    ]
    overlapping = {o.cameras for o in overlaps}
    calibrations = {cam.id: (node, _calibration(cam)) for node, cam in found}
    agreement = []
    for first, second in combinations(sorted(calibrations), 2):
        (node_a, cal_a), (node_b, cal_b) = calibrations[first], calibrations[second]
        if cal_a is None or cal_b is None:
            continue
        pair = pair_agreement((first, cal_a), (second, cal_b))
        if not pair.marks and (first, second) not in overlapping:
            continue
        agreement.append(
            PairAgreementOut(
                cameras=(first, second),
                nodes=(node_a, node_b),
                marks=[MarkAgreementOut(floor=floor, apart_cm=cm) for floor, cm in pair.marks],
                worst_cm=pair.worst_cm,
                agree=pair.agrees,
                summary=pair.summary(),
            )
        )
    agreement.sort(key=lambda p: -1.0 if p.worst_cm is None else -p.worst_cm)
    return SiteCamerasOut(
        site=site, cameras=cameras, overlaps=overlaps, agreement=agreement, agree_within_cm=AGREE_WITHIN_CM
    )


def _area_m2(outline: NDArray[np.float64]) -> float:
    x, y = outline[:, 0], outline[:, 1]
    return abs(float(0.5 * (np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))))
