"""What part of the floor each camera sees well, and which cameras can see each zone.

A camera's coverage is the floor under the part of its image where a standing person would be at
least `MIN_PERSON_PX` pixels tall (farther away, people are missed or misplaced), inside the image's
borders: the convex outline of those floor points. A person's height is resolved about as finely
as the floor across the line of sight, so the finest floor scale at a point stands for it. Ops can
replace it in the camera's config (`coverage:`) where a pillar or a wall hides part of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from vision.calibration import FloorCalibration
from vision.zones import points_in_polygon, signed_distance_m

#: Where a standing person (1.7 m) would be fewer pixels tall than this, a camera does not see well.
MIN_PERSON_PX = 40.0
_PERSON_M = 1.7
#: The image's outermost share on each side is left out (people there are cut by the border).
BORDER_SHARE = 0.02
#: A zone counts as covered when at least this share of it lies in some camera's coverage.
COVERED_SHARE = 0.5


def camera_coverage(
    calibration: FloorCalibration,
    image_size: tuple[int, int],
    *,
    min_person_px: float = MIN_PERSON_PX,
    samples: int = 41,
) -> NDArray[np.float64]:
    """The floor a camera sees well, as a convex polygon `(k, 2)` in metres (empty: nothing).

    Example:
        >>> from vision.calibration import calibrate
        >>> cal = calibrate([[0, 0], [100, 0], [100, 100], [0, 100]], [[0, 0], [2, 0], [2, 2], [0, 2]])
        >>> camera_coverage(cal, (100, 100)).round(2).min(axis=0).tolist()
        [0.04, 0.04]
    """
    width, height = image_size
    us = np.linspace(BORDER_SHARE * width, (1 - BORDER_SHARE) * width, samples)
    vs = np.linspace(BORDER_SHARE * height, (1 - BORDER_SHARE) * height, samples)
    grid = np.array([(u, v) for v in vs for u in us], np.float64)
    floor = calibration.floor_from_image(grid)
    scale = calibration.floor_scale_m_per_px(grid, finest=True)
    good = np.all(np.isfinite(floor), axis=1) & np.isfinite(scale) & (scale <= _PERSON_M / min_person_px)
    if np.count_nonzero(good) < 3:
        return np.zeros((0, 2))
    hull = cv2.convexHull(floor[good].astype(np.float32).reshape(-1, 1, 2))
    return np.asarray(hull, np.float64).reshape(-1, 2)


def zone_cameras(
    zones: Mapping[str, ArrayLike], coverages: Mapping[str, ArrayLike], *, min_share: float = COVERED_SHARE
) -> dict[str, tuple[str, ...]]:
    """Per zone, the cameras whose coverage reaches into it; a zone whose floor is less than
    `min_share` covered by all cameras together gets no cameras (it is not seen: report it so).

    Example:
        >>> square, far = [[0, 0], [2, 0], [2, 2], [0, 2]], [[5, 5], [6, 5], [6, 6]]
        >>> zone_cameras({"w1": square, "w2": far}, {"cam": [[-1, -1], [3, -1], [3, 3], [-1, 3]]})
        {'w1': ('cam',), 'w2': ()}
    """
    result: dict[str, tuple[str, ...]] = {}
    for zone_id, polygon in zones.items():
        points = _sample_inside(np.asarray(polygon, np.float64).reshape(-1, 2))
        seen = np.zeros(len(points), bool)
        cameras = []
        for camera, coverage in coverages.items():
            outline = np.asarray(coverage, np.float64).reshape(-1, 2)
            if len(outline) < 3:
                continue
            inside = points_in_polygon(points, outline)
            if np.any(inside):
                cameras.append(camera)
                seen |= inside
        share = float(seen.mean()) if len(points) else 0.0
        result[zone_id] = tuple(sorted(cameras)) if share >= min_share else ()
    return result


def depth_in_coverage(floor_xy: ArrayLike, coverages: Sequence[ArrayLike]) -> NDArray[np.float64]:
    """Per point, how far inside the best-covering camera's coverage it is (metres; negative: outside all).

    Example:
        >>> depth_in_coverage([[1.0, 1.0], [5.0, 1.0]], [[[0, 0], [4, 0], [4, 4], [0, 4]]]).tolist()
        [1.0, -1.0]
    """
    xy = np.asarray(floor_xy, np.float64).reshape(-1, 2)
    depth = np.full(len(xy), -np.inf)
    for coverage in coverages:
        outline = np.asarray(coverage, np.float64).reshape(-1, 2)
        if len(outline) >= 3 and len(xy):
            depth = np.maximum(depth, signed_distance_m(xy, outline))
    return depth


def coverage_overlaps(
    coverages: Mapping[str, ArrayLike], *, min_area_m2: float = 0.01
) -> list[tuple[str, str, NDArray[np.float64]]]:
    """Per pair of cameras whose coverages overlap: the overlap's outline `(k, 2)` in metres (of the
    coverages' convex outlines, which is what `camera_coverage` gives), largest first.

    Example:
        >>> a, b = [[0, 0], [4, 0], [4, 3], [0, 3]], [[3, 0], [8, 0], [8, 3], [3, 3]]
        >>> (first, second, outline), = coverage_overlaps({"a": a, "b": b})
        >>> first, second, float(cv2.contourArea(outline.astype(np.float32)))
        ('a', 'b', 3.0)
    """
    hulls = {
        camera: cv2.convexHull(np.asarray(polygon, np.float32).reshape(-1, 1, 2))
        for camera, polygon in sorted(coverages.items())
        if len(np.asarray(polygon).reshape(-1, 2)) >= 3
    }
    found = []
    names = list(hulls)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            area, outline = cv2.intersectConvexConvex(hulls[first], hulls[second])
            if area >= min_area_m2 and outline is not None:
                found.append((float(area), first, second, np.asarray(outline, np.float64).reshape(-1, 2)))
    return [(a, b, outline) for _, a, b, outline in sorted(found, key=lambda f: -f[0])]


def _sample_inside(polygon: NDArray[np.float64], per_side: int = 12) -> NDArray[np.float64]:
    (x0, y0), (x1, y1) = polygon.min(axis=0), polygon.max(axis=0)
    xs = np.linspace(x0, x1, per_side + 2)[1:-1]
    ys = np.linspace(y0, y1, per_side + 2)[1:-1]
    grid = np.array([(x, y) for y in ys for x in xs], np.float64)
    return grid[points_in_polygon(grid, polygon)]
