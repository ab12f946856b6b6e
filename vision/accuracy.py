"""Scoring what hallwatch saw against floor truth: counts, limits, close pairs and positions.

The predictions are replay records (one per frame: people with ids and floor positions, zone
counts, close pairs); the truth is, per frame, each person's floor position in metres. The metrics
are the ones an independent evaluation reports:

- per zone: mean absolute count error (MAE) and bias (mean of predicted minus true), over the
  frames where some camera covers the zone;
- windows over their limit, over (frame, window) events: precision, recall, F1;
- close pairs (under the minimum distance): a predicted pair matches a true pair when both its ends
  lie within `pair_match_m` of the true pair's ends; precision, recall, F1;
- floor position error of the people matched one to one (within `person_match_m`): median and 90th
  percentile, and recall / precision of people.

Image-space scoring (`score_image_points`) serves data without floor truth, such as a ceiling
camera's annotated frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from vision.config import HallConfig, HallZone, QueueZone, WindowZone
from vision.zones import points_in_polygon


@dataclass(frozen=True, slots=True)
class FrameTruth:
    """Who stands where in one frame: ids `(n,)` and floor positions `(n, 2)` in metres."""

    frame: int
    ids: NDArray[np.int64]
    floor_xy: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FramePrediction:
    """What hallwatch reported for one frame (a replay record, parsed)."""

    frame: int
    ids: NDArray[np.int64]
    floor_xy: NDArray[np.float64]
    zones: Mapping[str, int]
    pairs: tuple[tuple[int, int], ...]
    uncovered: frozenset[str] = frozenset()

    @classmethod
    def from_record(cls, record: Mapping[str, Any], *, include_hidden: bool = True) -> FramePrediction:
        """From one line of `hallwatch replay` output.

        Args:
            include_hidden: count people reported as hidden (predicted positions) as people too.
        """
        people = [p for p in record.get("people", []) if include_hidden or not p.get("hidden")]
        return cls(
            frame=int(record["frame"]),
            ids=np.array([int(p["id"]) for p in people], np.int64),
            floor_xy=np.array([p["floor"] for p in people], np.float64).reshape(-1, 2),
            zones={str(k): int(v) for k, v in record.get("zones", {}).items() if v is not None},
            pairs=tuple((int(v["a"]), int(v["b"])) for v in record.get("violations", [])),
            uncovered=frozenset(str(k) for k, v in record.get("zones", {}).items() if v is None),
        )


@dataclass(frozen=True, slots=True)
class Rates:
    """Precision, recall and F1 from counts of true positives, false positives and false negatives."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else math.nan

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else math.nan

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else math.nan

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "precision": _round(self.precision),
            "recall": _round(self.recall),
            "f1": _round(self.f1),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass(frozen=True, slots=True)
class ZoneError:
    kind: str
    mae: float
    bias: float


@dataclass(frozen=True)
class AccuracyReport:
    """Every metric of one evaluation."""

    frames: int
    zones: dict[str, ZoneError]
    window_over_limit: Rates
    pairs: Rates
    people: Rates
    floor_error_m: NDArray[np.float64] = field(repr=False)

    def mae(self, kind: str) -> float:
        """Mean of the zones' MAE over the zones of one kind (window, queue, hall)."""
        values = [z.mae for z in self.zones.values() if z.kind == kind]
        return float(np.mean(values)) if values else math.nan

    def bias(self, kind: str) -> float:
        values = [z.bias for z in self.zones.values() if z.kind == kind]
        return float(np.mean(values)) if values else math.nan

    @property
    def floor_error_median_m(self) -> float:
        return float(np.median(self.floor_error_m)) if len(self.floor_error_m) else math.nan

    @property
    def floor_error_p90_m(self) -> float:
        return float(np.percentile(self.floor_error_m, 90)) if len(self.floor_error_m) else math.nan

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "window_count": {"mae": _round(self.mae("window")), "bias": _round(self.bias("window"))},
            "queue_count": {"mae": _round(self.mae("queue")), "bias": _round(self.bias("queue"))},
            "hall_count": {"mae": _round(self.mae("hall")), "bias": _round(self.bias("hall"))},
            "zones": {
                z: {"kind": e.kind, "mae": _round(e.mae), "bias": _round(e.bias)}
                for z, e in self.zones.items()
            },
            "window_over_limit": self.window_over_limit.as_dict(),
            "close_pairs": self.pairs.as_dict(),
            "people": self.people.as_dict(),
            "floor_error_m": {
                "median": _round(self.floor_error_median_m),
                "p90": _round(self.floor_error_p90_m),
                "matched": len(self.floor_error_m),
            },
        }


def score(
    predictions: Iterable[FramePrediction],
    truth: Iterable[FrameTruth],
    hall: HallConfig,
    *,
    pair_match_m: float = 0.5,
    person_match_m: float = 1.0,
) -> AccuracyReport:
    """Score predictions against truth over the frames the truth covers.

    A truth frame with no prediction counts as a frame where nothing was reported.

    Example:
        >>> hall = HallConfig.model_validate({"site": "s", "cameras": [{"id": "c", "source": "v",
        ...     "calibration": {"image_points": [[0, 0], [1, 0], [1, 1], [0, 1]],
        ...                     "floor_points": [[0, 0], [1, 0], [1, 1], [0, 1]]}}],
        ...     "zones": [{"id": "w", "kind": "window", "polygon": [[0, 0], [2, 0], [2, 2], [0, 2]]}]})
        >>> truth = [FrameTruth(0, np.array([1, 2]), np.array([[0.5, 0.5], [1.0, 0.5]]))]
        >>> seen = [FramePrediction(0, np.array([7]), np.array([[0.6, 0.5]]), {"w": 1}, ())]
        >>> report = score(seen, truth, hall)
        >>> report.mae("window"), report.pairs.recall, round(report.floor_error_median_m, 3)
        (1.0, 0.0, 0.1)
    """
    by_frame = {p.frame: p for p in predictions}
    zones = [z for z in hall.zones if isinstance(z, WindowZone | QueueZone | HallZone)]
    windows = [z for z in zones if isinstance(z, WindowZone)]
    min_distance = hall.spacing.min_distance_m
    errors: dict[str, list[int]] = {z.id: [] for z in zones}
    over = [0, 0, 0]
    pair_counts = [0, 0, 0]
    people_counts = [0, 0, 0]
    floor_errors: list[float] = []
    frames = 0
    for true in truth:
        frames += 1
        seen = by_frame.get(true.frame) or FramePrediction(
            true.frame, np.zeros(0, np.int64), np.zeros((0, 2)), {}, ()
        )
        true_counts = {z.id: int(points_in_polygon(true.floor_xy, z.polygon).sum()) for z in zones}
        for zone in zones:
            if zone.id not in seen.uncovered:  # a zone no camera sees has no count to score
                errors[zone.id].append(int(seen.zones.get(zone.id, 0)) - true_counts[zone.id])
        for window in windows:
            if window.id in seen.uncovered:
                continue
            predicted_over = seen.zones.get(window.id, 0) > window.max_people
            truly_over = true_counts[window.id] > window.max_people
            _tally(over, predicted_over, truly_over)
        _add(pair_counts, _match_pairs(seen, true, min_distance, pair_match_m))
        matched_errors, unmatched_seen, unmatched_true = _match_people(
            seen.floor_xy, true.floor_xy, person_match_m
        )
        floor_errors.extend(matched_errors)
        _add(people_counts, (len(matched_errors), unmatched_seen, unmatched_true))
    kinds = {z.id: z.kind for z in zones}
    return AccuracyReport(
        frames=frames,
        zones={
            zone: ZoneError(
                kinds[zone],
                float(np.mean(np.abs(e))) if e else math.nan,
                float(np.mean(e)) if e else math.nan,
            )
            for zone, e in errors.items()
        },
        window_over_limit=Rates(*over),
        pairs=Rates(*pair_counts),
        people=Rates(*people_counts),
        floor_error_m=np.array(floor_errors, np.float64),
    )


def _tally(counts: list[int], predicted: bool, true: bool) -> None:
    if predicted and true:
        counts[0] += 1
    elif predicted:
        counts[1] += 1
    elif true:
        counts[2] += 1


def _add(counts: list[int], more: Sequence[int]) -> None:
    for k, value in enumerate(more):
        counts[k] += value


def _match_pairs(
    seen: FramePrediction, true: FrameTruth, min_distance_m: float, match_m: float
) -> tuple[int, int, int]:
    """True positives, false positives and false negatives of one frame's close pairs."""
    index = {int(i): k for k, i in enumerate(seen.ids.tolist())}
    predicted = [
        (seen.floor_xy[index[a]], seen.floor_xy[index[b]]) for a, b in seen.pairs if a in index and b in index
    ]
    unplaced = len(seen.pairs) - len(predicted)
    n = len(true.ids)
    true_pairs = [
        (true.floor_xy[i], true.floor_xy[j])
        for i in range(n)
        for j in range(i + 1, n)
        if float(np.hypot(*(true.floor_xy[i] - true.floor_xy[j]))) < min_distance_m
    ]
    if not predicted or not true_pairs:
        return 0, len(predicted) + unplaced, len(true_pairs)
    cost = np.full((len(predicted), len(true_pairs)), np.inf)
    for p, (a, b) in enumerate(predicted):
        for t, (u, v) in enumerate(true_pairs):
            straight = max(np.hypot(*(a - u)), np.hypot(*(b - v)))
            crossed = max(np.hypot(*(a - v)), np.hypot(*(b - u)))
            worst = min(straight, crossed)
            if worst <= match_m:
                cost[p, t] = worst
    tp = _assignment_size(cost)
    return tp, len(predicted) - tp + unplaced, len(true_pairs) - tp


def _match_people(
    seen_xy: NDArray[np.float64], true_xy: NDArray[np.float64], match_m: float
) -> tuple[list[float], int, int]:
    """Floor errors of people matched one to one within `match_m`, and the unmatched on each side."""
    if len(seen_xy) == 0 or len(true_xy) == 0:
        return [], len(seen_xy), len(true_xy)
    distance = np.hypot(seen_xy[:, None, 0] - true_xy[None, :, 0], seen_xy[:, None, 1] - true_xy[None, :, 1])
    cost = np.where(distance <= match_m, distance, 1e6)
    rows, cols = linear_sum_assignment(cost)
    errors = [float(distance[r, c]) for r, c in zip(rows, cols, strict=True) if distance[r, c] <= match_m]
    return errors, len(seen_xy) - len(errors), len(true_xy) - len(errors)


def _assignment_size(cost: NDArray[np.float64]) -> int:
    finite = np.where(np.isfinite(cost), cost, 1e6)
    rows, cols = linear_sum_assignment(finite)
    return int(sum(1 for r, c in zip(rows, cols, strict=True) if np.isfinite(cost[r, c])))


def score_image_points(
    points: Sequence[NDArray[np.float64]], truth_boxes: Sequence[Sequence[Sequence[float]]]
) -> Rates:
    """Anchor points in the image against annotated rotated boxes, frame by frame.

    A point is a true positive when it lies inside a rotated box `[cx, cy, w, h, angle_deg]` (angle
    clockwise) not yet matched; points are taken in the order given (highest score first).

    Example:
        >>> rates = score_image_points([np.array([[10.0, 10.0], [50.0, 50.0]])], [[[10, 10, 8, 8, 0]]])
        >>> rates.precision, rates.recall
        (0.5, 1.0)
    """
    tp = fp = fn = 0
    for frame_points, boxes in zip(points, truth_boxes, strict=True):
        unmatched = list(range(len(boxes)))
        for point in np.asarray(frame_points, np.float64).reshape(-1, 2):
            hit = next((k for k in unmatched if _in_rotated_box(boxes[k], point)), None)
            if hit is None:
                fp += 1
            else:
                tp += 1
                unmatched.remove(hit)
        fn += len(unmatched)
    return Rates(tp, fp, fn)


def _in_rotated_box(box: Sequence[float], point: NDArray[np.float64]) -> bool:
    cx, cy, w, h, angle_deg = box
    a = math.radians(angle_deg)
    dx, dy = float(point[0]) - cx, float(point[1]) - cy
    u = dx * math.cos(a) + dy * math.sin(a)
    v = -dx * math.sin(a) + dy * math.cos(a)
    return abs(u) <= w / 2 and abs(v) <= h / 2


def _round(value: float) -> float | None:
    """Rounded for a report; None (JSON null) where a rate has nothing to count."""
    return round(value, 3) if math.isfinite(value) else None
