"""Floor zones: which window, queue and hall polygon each person stands in, and how many stand in each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vision.config import EntranceLine, HallZone, QueueZone, WindowZone

CameraZone = WindowZone | QueueZone | HallZone | EntranceLine


def points_in_polygon(points: ArrayLike, polygon: ArrayLike) -> NDArray[np.bool_]:
    """Which points lie inside a polygon, by the even-odd rule, `(n,)` bool.

    The polygon is `(m, 2)` vertices in order, either orientation, closed implicitly; concave and
    self-intersecting polygons follow the even-odd rule. A ray goes from each point towards +x and the
    edges it crosses are counted.

    Boundary rule (half-open, as in W. R. Franklin's PNPOLY): a point on an edge is inside when the
    polygon's interior lies to its right (+x) or, on a horizontal edge, above it (+y): for an axis-aligned
    rectangle the left and bottom edges are inside, the right and top edges outside. So a point on an
    edge shared by two zones that tile the floor belongs to exactly one of them. The comparisons use
    coordinate differences only, so translating points and polygon together by a value that keeps the
    arithmetic exact (e.g. integers) never changes the result.

    Example:
        >>> square = [[0, 0], [2, 0], [2, 2], [0, 2]]
        >>> points_in_polygon([[1, 1], [3, 1], [0, 1], [2, 1]], square).tolist()
        [True, False, True, False]
    """
    return _inside(np.asarray(points, np.float64).reshape(-1, 2), _polygon_edges(polygon))


def _polygon_edges(polygon: ArrayLike) -> NDArray[np.float64]:
    """A polygon's edges as `(4, m)` rows: start x, start y, end x, end y (closed implicitly)."""
    poly = np.asarray(polygon, np.float64).reshape(-1, 2)
    if len(poly) < 3:
        raise ValueError(f"a polygon needs at least 3 vertices, got {len(poly)}")
    ends = np.roll(poly, -1, axis=0)
    return np.stack([poly[:, 0], poly[:, 1], ends[:, 0], ends[:, 1]])


def _inside(pts: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.bool_]:
    """`points_in_polygon` on points `(n, 2)` and edges from `_polygon_edges`."""
    xi, yi, xj, yj = edges  # each (m,)
    x, y = pts[:, 0:1], pts[:, 1:2]  # (n, 1)
    straddles = (yi > y) != (yj > y)  # (n, m): the edge spans the point's height, half-open
    # x < xi + (xj - xi) * (y - yi) / (yj - yi), multiplied out by (yj - yi) to avoid dividing.
    side = (x - xi) * (yj - yi) - (xj - xi) * (y - yi)
    crosses = straddles & (side * np.sign(yj - yi) < 0)
    inside: NDArray[np.bool_] = np.count_nonzero(crosses, axis=1) % 2 == 1
    return inside


def signed_distance_m(points: ArrayLike, polygon: ArrayLike) -> NDArray[np.float64]:
    """Each point's distance to the polygon's outline, positive inside and negative outside, `(n,)`.

    Inside and outside follow `points_in_polygon`.

    Example:
        >>> signed_distance_m([[1.0, 0.5], [3.0, 1.0]], [[0, 0], [2, 0], [2, 2], [0, 2]]).tolist()
        [0.5, -1.0]
    """
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    edges = _polygon_edges(polygon)
    return _signed_distance(pts, edges)


def _signed_distance(pts: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.float64]:
    if len(pts) == 0:
        return np.zeros(0)
    xi, yi, xj, yj = edges
    dx, dy = xj - xi, yj - yi  # (m,)
    length2 = np.maximum(dx * dx + dy * dy, 1e-18)
    t = np.clip(((pts[:, 0:1] - xi) * dx + (pts[:, 1:2] - yi) * dy) / length2, 0.0, 1.0)  # (n, m)
    nearest_x, nearest_y = xi + t * dx, yi + t * dy
    distance = np.sqrt(np.min((pts[:, 0:1] - nearest_x) ** 2 + (pts[:, 1:2] - nearest_y) ** 2, axis=1))
    result: NDArray[np.float64] = np.where(_inside(pts, edges), distance, -distance)
    return result


def polygon_centroid(polygon: ArrayLike) -> tuple[float, float]:
    """The area centroid of a simple polygon, in its own units.

    Example:
        >>> polygon_centroid([[0, 0], [4, 0], [4, 2], [0, 2]])
        (2.0, 1.0)
    """
    poly = np.asarray(polygon, np.float64).reshape(-1, 2)
    x, y = poly[:, 0], poly[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area2 = float(cross.sum())
    if abs(area2) < 1e-12:
        mean = poly.mean(axis=0)
        return float(mean[0]), float(mean[1])
    return float(((x + xn) * cross).sum() / (3.0 * area2)), float(((y + yn) * cross).sum() / (3.0 * area2))


@dataclass(frozen=True, slots=True)
class ZoneHits:
    """Where the people of one frame stand.

    Attributes:
        counts: people per window, queue and hall zone (zero included), raw (not smoothed).
        zone_of: per person, the window or queue zone they stand in, or None; a window wins where a
            window and a queue overlap.
        window_of: per person, the window zone they stand in, or None.
    """

    counts: dict[str, int]
    zone_of: tuple[str | None, ...]
    window_of: tuple[str | None, ...]


class ZoneIndex:
    """A camera's zones, ready to place people in.

    Args:
        zones: the camera's zones, e.g. `HallConfig.zones_for(camera_id)`; entrance lines are kept in
            `entrances` for `vision.crossings.EntranceCounter`.

    Example:
        >>> from vision.config import WindowZone
        >>> index = ZoneIndex([WindowZone(id="w1", kind="window", polygon=[(0, 0), (1, 0), (1, 1), (0, 1)])])
        >>> hits = index.locate(np.array([[0.5, 0.5], [3.0, 3.0]]))
        >>> hits.counts, hits.zone_of
        ({'w1': 1}, ('w1', None))
    """

    def __init__(self, zones: Sequence[CameraZone]) -> None:
        self.windows: tuple[WindowZone, ...] = tuple(z for z in zones if isinstance(z, WindowZone))
        self.queues: tuple[QueueZone, ...] = tuple(z for z in zones if isinstance(z, QueueZone))
        halls = [z for z in zones if isinstance(z, HallZone)]
        if len(halls) > 1:
            raise ValueError(f"only one hall zone is allowed, got {[h.id for h in halls]}")
        self.hall: HallZone | None = halls[0] if halls else None
        self.entrances: tuple[EntranceLine, ...] = tuple(z for z in zones if isinstance(z, EntranceLine))
        counted: list[WindowZone | QueueZone | HallZone] = [*self.windows, *self.queues, *halls]
        # Edges are prepared once: `locate` runs on every frame.
        self._edges = {z.id: _polygon_edges(z.polygon) for z in counted}

    @property
    def zone_ids(self) -> tuple[str, ...]:
        """The counted zones: windows, then queues, then the hall, each in config order."""
        return tuple(self._edges)

    def locate(self, floor_xy: ArrayLike) -> ZoneHits:
        """Count the people `(n, 2)` metres per zone and find each one's window or queue zone.

        Example:
            >>> ZoneIndex([]).locate(np.zeros((0, 2)))
            ZoneHits(counts={}, zone_of=(), window_of=())
        """
        pts = np.asarray(floor_xy, np.float64).reshape(-1, 2)
        masks = {zone_id: _inside(pts, edges) for zone_id, edges in self._edges.items()}
        counts = {zone_id: int(np.count_nonzero(mask)) for zone_id, mask in masks.items()}
        window_of = _first_hit(len(pts), [(z.id, masks[z.id]) for z in self.windows])
        queue_of = _first_hit(len(pts), [(z.id, masks[z.id]) for z in self.queues])
        zone_of = tuple(w if w is not None else q for w, q in zip(window_of, queue_of, strict=True))
        return ZoneHits(counts=counts, zone_of=zone_of, window_of=window_of)

    def signed_distances(self, floor_xy: ArrayLike) -> dict[str, NDArray[np.float64]]:
        """Per counted zone, each point's `signed_distance_m` to its outline (positive inside).

        Example:
            >>> from vision.config import WindowZone
            >>> square = [(0, 0), (2, 0), (2, 2), (0, 2)]
            >>> index = ZoneIndex([WindowZone(id="w1", kind="window", polygon=square)])
            >>> index.signed_distances(np.array([[1.0, 0.5]]))["w1"].tolist()
            [0.5]
        """
        pts = np.asarray(floor_xy, np.float64).reshape(-1, 2)
        return {zone_id: _signed_distance(pts, edges) for zone_id, edges in self._edges.items()}

    def counts(self, floor_xy: ArrayLike) -> dict[str, int]:
        """People per window, queue and hall zone (raw).

        Example:
            >>> ZoneIndex([]).counts(np.zeros((0, 2)))
            {}
        """
        return self.locate(floor_xy).counts


def _first_hit(n: int, masks: Sequence[tuple[str, NDArray[np.bool_]]]) -> tuple[str | None, ...]:
    """Per person, the id of the first zone whose mask holds them, or None."""
    found: list[str | None] = [None] * n
    for zone_id, mask in reversed(masks):  # earlier zones overwrite later ones: the first one wins
        for i in np.flatnonzero(mask):
            found[i] = zone_id
    return tuple(found)
