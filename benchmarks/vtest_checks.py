"""Real-footage checks behind the placement and counting rules, on Debian's vtest.avi.

No ground truth of this footage is used (it is PETS 2009 S2L1, kept for independent evaluation):
every figure compares hallwatch with itself or with the detector's own view of the full frame.

1. Boxes cut by the image's edge. The video is cut short (the bottom 176 rows, or the right 200
   columns) and run through the detector again; for each person whose box the cut clips, the
   full frame's box is the reference. Reported: how far the cut box's bottom (or centre) is from
   it, and how far the keypoint-based estimate is (as a share of the person's height).
2. Jitter. Tracked box bottoms, in pixels and on the floor (the demo calibration), against a
   centred 9-frame quadratic fit of their own track: raw, and after the Kalman filter.
3. Hidden people. People counted on after their track is lost inside the hall: how many come
   back (same track id, or a new track next to where they were held) before the hold ends.

    .venv/bin/python benchmarks/vtest_checks.py [--imgsz 1280] [--frames 795]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from _frames import VTEST
from numpy.typing import NDArray
from scipy.signal import savgol_filter

from edge.config import load_config
from models.loader import load_detector
from vision.config import DetectorConfig
from vision.detections import Detections
from vision.detector import PersonDetector
from vision.pipeline import HallPipeline
from vision.placement import FloorPlacer
from vision.tracking import PersonTracker

CONFIG = Path(__file__).resolve().parents[1] / "edge" / "demo" / "vtest-hall.yaml"
SIZE = (768, 576)


def detect_all(
    detector: PersonDetector, frames: list[NDArray[np.uint8]], cut: str | None, px: int
) -> list[Detections]:
    out = []
    for image in frames:
        if cut == "bottom":
            image = np.ascontiguousarray(image[: image.shape[0] - px])
        elif cut == "right":
            image = np.ascontiguousarray(image[:, : image.shape[1] - px])
        out.append(detector.detect(image))
    return out


def _iou(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def cut_boxes(full: list[Detections], cut: list[Detections], side: str, px: int) -> dict[str, list[float]]:
    """Errors (share of the person's full height) of the cut box and of the placement's estimate."""
    edge = SIZE[1] - px if side == "bottom" else SIZE[0] - px
    size = (SIZE[0], edge) if side == "bottom" else (edge, SIZE[1])
    placer = FloorPlacer("feet", _identity_calibration(), keypoint_conf=0.5)
    errors: dict[str, list[float]] = {"box": [], "estimate": []}
    for whole, clipped in zip(full, cut, strict=True):
        keep = clipped.scores >= 0.25
        clipped = clipped.take(keep)
        placed = placer.place(clipped, size)
        for i, box in enumerate(clipped.boxes_xyxy):
            coordinate = 3 if side == "bottom" else 2
            if box[coordinate] < edge - 2:
                continue
            best, match = 0.0, -1
            for j, reference in enumerate(whole.boxes_xyxy):
                if whole.scores[j] < 0.25:
                    continue
                trimmed = reference.copy()
                trimmed[coordinate] = min(trimmed[coordinate], edge)
                overlap = _iou(box, trimmed)
                if overlap > best:
                    best, match = overlap, j
            reference = whole.boxes_xyxy[match]
            if best < 0.6 or reference[coordinate] <= edge + (5 if side == "bottom" else 3):
                continue  # not really cut
            height = float(reference[3] - reference[1])
            if side == "bottom":
                truth, cut_value = float(reference[3]), float(box[3])
                estimate = float(placed.image_xy[i, 1])
            else:
                truth, cut_value = float(reference[0] + reference[2]) / 2, float(box[0] + box[2]) / 2
                estimate = float(placed.image_xy[i, 0])
            if estimate == cut_value:
                continue  # no keypoints to go on: the placement keeps the box
            errors["box"].append(abs(cut_value - truth) / height)
            errors["estimate"].append(abs(estimate - truth) / height)
    return errors


def _identity_calibration():  # type: ignore[no-untyped-def]
    from vision.calibration import calibrate

    return calibrate([[0, 0], [100, 0], [100, 100], [0, 100]], [[0, 0], [100, 0], [100, 100], [0, 100]])


def jitter_and_hidden(full: list[Detections], fps: float) -> None:
    config = load_config(CONFIG)
    for steady in (False, True):
        hall = config.model_copy(
            update={"tracking": config.tracking.model_copy(update={"steady_positions": steady})}
        )
        tracker = PersonTracker(hall.tracking, 0.25)
        pipeline = HallPipeline.from_config(hall, "cam-1")
        tracks: dict[int, list[tuple[int, NDArray[np.float64]]]] = {}
        returned = {"same id": 0, "held": 0}
        held: set[int] = set()
        for frame, detections in enumerate(full):
            state = pipeline.step(frame, frame / fps, tracker.update(detections), SIZE)
            for k, track_id in enumerate(state.people.ids.tolist()):
                tracks.setdefault(track_id, []).append((frame, state.people.floor_xy[k].copy()))
            now = set(state.hidden.ids.tolist())
            returned["held"] += len(now - held)
            returned["same id"] += len((held - now) & set(state.people.ids.tolist()))
            held = now
        returned["new track"] = pipeline.counter.reappeared
        deviations = []
        for observations in tracks.values():
            for run in _runs(observations):
                xy = np.array([p for _, p in run])
                fit = savgol_filter(xy, 9, 2, axis=0)
                deviations.extend(np.hypot(*(xy - fit).T)[4:-4].tolist())
        label = "Kalman-steadied" if steady else "raw"
        print(
            f"floor positions ({label}) vs a centred 9-frame fit of their own track: median "
            f"{100 * np.median(deviations):.1f} cm, "
            f"90th percentile {100 * np.percentile(deviations, 90):.1f} cm"
        )
    back = returned["same id"] + returned["new track"]
    print(
        f"people held while hidden: {returned['held']}; came back {back} "
        f"({returned['same id']} under their own id, {returned['new track']} as a new track next to them)"
    )


def _runs(observations: list[tuple[int, NDArray[np.float64]]]) -> list[list[tuple[int, NDArray[np.float64]]]]:
    runs, current = [], [observations[0]]
    for item in observations[1:]:
        if item[0] == current[-1][0] + 1:
            current.append(item)
        else:
            runs.append(current)
            current = [item]
    runs.append(current)
    return [r for r in runs if len(r) >= 15]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--imgsz", type=int, default=1280)
    parser.add_argument("--frames", type=int, default=795)
    args = parser.parse_args()
    if not VTEST.is_file():
        raise SystemExit(f"{VTEST} is missing: install Debian's opencv-doc")
    cap = cv2.VideoCapture(str(VTEST))
    frames = []
    while len(frames) < args.frames:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    detector = load_detector(DetectorConfig(backend="openvino", imgsz=args.imgsz), args.imgsz)
    full = detect_all(detector, frames, None, 0)
    print(f"vtest.avi, {len(frames)} frames, yolo11n-pose {detector.backend} imgsz {args.imgsz}")
    for side, px in (("bottom", 176), ("right", 200)):
        errors = cut_boxes(full, detect_all(detector, frames, side, px), side, px)
        box, estimate = np.array(errors["box"]), np.array(errors["estimate"])
        print(
            f"boxes cut at the {side} ({len(box)}): cut box off by a median {np.median(box):.1%} "
            f"of the person's height (90th percentile {np.percentile(box, 90):.1%}), "
            f"keypoint estimate {np.median(estimate):.1%} ({np.percentile(estimate, 90):.1%})"
        )
    jitter_and_hidden(full, fps)


if __name__ == "__main__":
    main()
