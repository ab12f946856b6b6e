"""Detection precision/recall on the ceiling fisheye sample (CEPDOF), with the head/center anchor
(and the feet anchor, which is wrong for cameras looking straight down, for comparison).

The sample (../shared/data/ceiling-fisheye-sample, not part of the repo) has people seen straight
from above, annotated with rotated boxes. A detection counts as a true positive when its anchor
point lies inside an unmatched annotated box (greedy, highest score first): that is what matters
for hallwatch, which only uses one floor point per person.

    .venv/bin/python benchmarks/fisheye_accuracy.py [--imgsz 960 1280] [--backend openvino]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import cv2
import numpy as np

from models.loader import load_detector
from vision.anchors import anchor_points
from vision.config import DetectorConfig

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ceiling-fisheye-sample"


def rotated_box_contains(box: list[float], point: np.ndarray) -> bool:
    cx, cy, w, h, angle_deg = box
    a = math.radians(angle_deg)
    dx, dy = point[0] - cx, point[1] - cy
    # Rotate the point into the box's frame (the angle is clockwise in image coordinates).
    u = dx * math.cos(a) + dy * math.sin(a)
    v = -dx * math.sin(a) + dy * math.cos(a)
    return abs(u) <= w / 2 and abs(v) <= h / 2


def evaluate(imgsz: int, backend: str, anchor: str, confidence: float) -> dict[str, float]:
    annotations = json.loads((SAMPLE / "annotations" / "video_0.json").read_text())
    truth: dict[str, list[list[float]]] = {}
    for ann in annotations["annotations"]:
        truth.setdefault(ann["image_id"], []).append(ann["bbox"])
    detector = load_detector(DetectorConfig(backend=backend, imgsz=imgsz, confidence=confidence))  # type: ignore[arg-type]
    tp = fp = fn = 0
    for image_id, boxes in sorted(truth.items()):
        image = cv2.imread(str(SAMPLE / "video_0" / f"{image_id}.jpg"))
        found = detector.detect(image)
        found = found.take(np.argsort(-found.scores))
        found = found.take(found.scores >= confidence)
        points = anchor_points(found, anchor, 0.5)  # type: ignore[arg-type]
        unmatched = list(range(len(boxes)))
        for point in points:
            hit = next((k for k in unmatched if rotated_box_contains(boxes[k], point)), None)
            if hit is None:
                fp += 1
            else:
                tp += 1
                unmatched.remove(hit)
        fn += len(unmatched)
    return {
        "imgsz": imgsz,
        "backend": backend,
        "anchor": anchor,
        "people": tp + fn,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--imgsz", type=int, nargs="+", default=[640, 960, 1280])
    parser.add_argument("--backend", default="openvino", choices=["openvino", "pytorch"])
    parser.add_argument("--confidence", type=float, default=0.25)
    args = parser.parse_args()
    if not SAMPLE.is_dir():
        raise SystemExit(f"{SAMPLE} is not here: this benchmark needs the shared fisheye sample")
    print("| imgsz | anchor | people | precision | recall |")
    print("|---|---|---|---|---|")
    for imgsz in args.imgsz:
        for anchor in ("head", "center", "feet"):
            r = evaluate(imgsz, args.backend, anchor, args.confidence)
            print(f"| {imgsz} | {anchor} | {r['people']} | {r['precision']:.2f} | {r['recall']:.2f} |")


if __name__ == "__main__":
    main()
