"""What ops need to know about a calibration, in numbers and in words: the same report for the
calibration page, `hallwatch edge check` and `hallwatch replay`.

The honest error is the leave-one-out one: each floor mark checked against a calibration fitted to
the other marks. A homography fits any 4 marks exactly, so with 4 the error is unknown, whatever
the fit says; 6 or more marks spread over the floor are asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from vision.calibration import CalibrationError, FloorCalibration
from vision.camera import camera_pose

Verdict = Literal["unknown", "good", "fair", "poor"]

#: Leave-one-out RMS up to this many centimetres is good; up to `FAIR_CM` fair; above, poor.
GOOD_CM = 5.0
FAIR_CM = 15.0
#: Fewer marks than this get advice to add more.
ENOUGH_POINTS = 6
#: The marks' outline should cover at least this share of the hall's floor.
ENOUGH_COVERAGE = 0.5
#: A measured mounting height further than this share from the calibration's own is questioned.
HEIGHT_TOLERANCE = 0.1


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """A calibration's quality.

    Attributes:
        points: how many image-floor pairs.
        fit_rms_cm: RMS distance between the marks and where the fit puts them (0 with 4 marks).
        holdout_rms_cm: RMS leave-one-out error, None when unknown.
        holdout_cm: per mark, its leave-one-out error in centimetres (None: unknown).
        worst_point: 0-based index of the mark most likely wrong (`FloorCalibration.suspect_point`).
        verdict: good, fair, poor, or unknown.
        coverage: share of the hall's floor inside the marks' outline, None without a hall.
        height_m: the camera's height over the floor that the calibration implies, None if it cannot.
        tilt_deg: the camera's tilt from straight down, None if unknown.
        advice: what to do, in plain words (empty when all is well).
    """

    points: int
    fit_rms_cm: float
    holdout_rms_cm: float | None
    holdout_cm: tuple[float | None, ...]
    worst_point: int | None
    verdict: Verdict
    coverage: float | None = None
    height_m: float | None = None
    tilt_deg: float | None = None
    advice: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """One line: 'leave-one-out error 4.2 cm (good, 8 points, suspect: point 3, 7.9 cm off)'.

        Points are numbered from 0, as on the calibration page and in the core's error messages.
        """
        if self.holdout_rms_cm is None:
            if self.points < ENOUGH_POINTS:
                return (
                    f"error unknown ({self.points} points: at least {ENOUGH_POINTS} are needed to measure it)"
                )
            checked = sum(value is not None for value in self.holdout_cm)
            return f"error unknown (only {checked} of {self.points} points can be checked against the others)"
        worst = ""
        if self.worst_point is not None:
            value = self.holdout_cm[self.worst_point]
            worst = f", suspect: point {self.worst_point}, {value:.1f} cm off" if value is not None else ""
        return (
            f"leave-one-out error {self.holdout_rms_cm:.1f} cm ({self.verdict}, {self.points} marks{worst})"
        )


def report_calibration(
    calibration: FloorCalibration,
    *,
    hall_polygon: Sequence[tuple[float, float]] | None = None,
    image_size: tuple[int, int] | None = None,
    mounting_height_m: float | None = None,
) -> CalibrationReport:
    """Judge a calibration.

    Args:
        calibration: the fitted calibration.
        hall_polygon: the hall's floor outline in metres, to tell how much of it the marks cover.
        image_size: the frame's `(width, height)`, for the camera's pose without a lens model.
        mounting_height_m: the measured height, to compare with the one the calibration implies.

    Example:
        >>> from vision.calibration import calibrate
        >>> cal = calibrate([[0, 0], [100, 0], [100, 100], [0, 100]], [[0, 0], [1, 0], [1, 1], [0, 1]])
        >>> report = report_calibration(cal)
        >>> report.verdict, report.summary()
        ('unknown', 'error unknown (4 points: at least 6 are needed to measure it)')
    """
    holdout = calibration.holdout_errors_m * 100.0
    holdout_cm = tuple(None if not np.isfinite(v) else round(float(v), 2) for v in holdout)
    rms = calibration.holdout_error_cm
    worst = calibration.suspect_point
    verdict: Verdict = (
        "unknown" if rms is None else "good" if rms <= GOOD_CM else "fair" if rms <= FAIR_CM else "poor"
    )
    advice: list[str] = []
    n = len(calibration.image_points)
    if n < ENOUGH_POINTS:
        unknown = " (with 4 the error cannot be known: any 4 points fit exactly)" if rms is None else ""
        advice.append(f"add floor points: {n} now, at least {ENOUGH_POINTS} spread over the floor{unknown}")
    unchecked = [i for i, value in enumerate(holdout_cm) if value is None]
    if n >= ENOUGH_POINTS and unchecked:
        names = ", ".join(str(i) for i in unchecked)
        advice.append(
            f"point{'s' if len(unchecked) > 1 else ''} {names} cannot be checked against the others "
            "(beyond them, or the rest have three in line): add points around them"
        )
    if worst is not None and verdict in ("fair", "poor") and np.isfinite(holdout[worst]):
        advice.append(
            f"point {worst} is {holdout[worst]:.0f} cm off a calibration of the other points: "
            "check where it was clicked and its measured position"
        )
    coverage = None if hall_polygon is None else _coverage(calibration, hall_polygon)
    if coverage is not None and coverage < ENOUGH_COVERAGE:
        advice.append(
            f"the points cover {coverage:.0%} of the hall's floor: add points towards its far corners "
            "(beyond the marks the floor is extrapolated)"
        )
    height = tilt = None
    try:
        pose = camera_pose(calibration, image_size, mounting_height_m)
    except CalibrationError as exc:
        if mounting_height_m is None and calibration.lens is None and image_size is not None:
            advice.append(str(exc))
    else:
        height, tilt = round(pose.height_m, 2), round(pose.tilt_deg, 1)
        if (
            mounting_height_m is not None
            and abs(pose.height_m - mounting_height_m) > HEIGHT_TOLERANCE * mounting_height_m
        ):
            advice.append(
                f"the calibration puts the camera {pose.height_m:.2f} m above the floor but "
                f"mounting_height_m says {mounting_height_m:.2f} m: check the tape measure and the points"
            )
    return CalibrationReport(
        points=n,
        fit_rms_cm=round(calibration.reprojection_error_cm, 2),
        holdout_rms_cm=None if rms is None else round(rms, 2),
        holdout_cm=holdout_cm,
        worst_point=worst,
        verdict=verdict,
        coverage=None if coverage is None else round(coverage, 3),
        height_m=height,
        tilt_deg=tilt,
        advice=tuple(advice),
    )


def _coverage(calibration: FloorCalibration, hall_polygon: Sequence[tuple[float, float]]) -> float:
    """Share of the hall's area inside the convex hull of the floor marks."""
    hall = np.asarray(hall_polygon, np.float32).reshape(-1, 2)
    hull = cv2.convexHull(np.asarray(calibration.floor_points, np.float32).reshape(-1, 1, 2))
    hall_area = abs(float(cv2.contourArea(hall)))
    if hall_area <= 0:
        return 1.0
    overlap, _ = cv2.intersectConvexConvex(cv2.convexHull(hall.reshape(-1, 1, 2)), hull)
    return min(float(overlap) / hall_area, 1.0)


#: Two calibrations placing a shared floor mark further apart than this (cm) disagree: the same
#: person would be placed apart by the two cameras, and fusion could see two people.
AGREE_WITHIN_CM = 15.0


@dataclass(frozen=True, slots=True)
class PairAgreement:
    """How two cameras' calibrations agree on the floor marks both were calibrated on.

    Attributes:
        cameras: the two camera ids.
        marks: per shared mark, its floor position and how far apart the two calibrations place it
            (each from its own click of the mark), in centimetres.
    """

    cameras: tuple[str, str]
    marks: tuple[tuple[tuple[float, float], float], ...]

    @property
    def worst_cm(self) -> float | None:
        return max((cm for _, cm in self.marks), default=None)

    @property
    def agrees(self) -> bool | None:
        """Whether the worst shared mark is within `AGREE_WITHIN_CM` (None: no shared mark)."""
        worst = self.worst_cm
        return None if worst is None else worst <= AGREE_WITHIN_CM

    def summary(self) -> str:
        """'cam-1 and cam-2 agree within 4.1 cm on 3 shared marks (worst at (2.0, 3.0))'."""
        a, b = self.cameras
        if not self.marks:
            return f"{a} and {b} share no floor mark: their agreement cannot be checked"
        where, worst = max(self.marks, key=lambda m: m[1])
        return (
            f"{a} and {b} agree within {worst:.1f} cm on {len(self.marks)} shared mark(s) "
            f"(worst at ({where[0]:g}, {where[1]:g}))"
        )


def pair_agreement(
    first: tuple[str, FloorCalibration], second: tuple[str, FloorCalibration], *, same_mark_m: float = 0.01
) -> PairAgreement:
    """Compare two overlapping cameras' calibrations on the floor marks they share.

    A mark is shared when both calibrations list a floor point within `same_mark_m` of it; each
    camera's click of it goes through that camera's calibration, and the two floor positions are
    compared: ops see when two calibrations disagree, so the same person would be placed apart.

    Example:
        >>> from vision.calibration import calibrate
        >>> floor = [[0, 0], [4, 0], [4, 4], [0, 4], [2, 1]]
        >>> a = calibrate([[0, 0], [400, 0], [400, 400], [0, 400], [200, 100]], floor)
        >>> b = calibrate([[0, 0], [400, 0], [400, 400], [0, 400], [200, 103]], floor)
        >>> pair_agreement(("a", a), ("b", b)).summary()
        'a and b agree within 2.1 cm on 5 shared mark(s) (worst at (2, 1))'
    """
    (name_a, cal_a), (name_b, cal_b) = first, second
    marks = []
    for i, point in enumerate(cal_a.floor_points):
        gaps = np.hypot(*(cal_b.floor_points - point).T)
        j = int(np.argmin(gaps)) if len(gaps) else -1
        if j < 0 or gaps[j] > same_mark_m:
            continue
        placed_a = cal_a.floor_from_image(cal_a.image_points[i : i + 1])[0]
        placed_b = cal_b.floor_from_image(cal_b.image_points[j : j + 1])[0]
        if np.all(np.isfinite(placed_a)) and np.all(np.isfinite(placed_b)):
            marks.append(
                ((float(point[0]), float(point[1])), round(float(np.hypot(*(placed_a - placed_b))) * 100, 2))
            )
    return PairAgreement((name_a, name_b), tuple(marks))
