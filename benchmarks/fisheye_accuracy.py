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
from pathlib import Path

import cv2
import numpy as np

from models.loader import load_detector
from vision.accuracy import score_image_points
from vision.anchors import anchor_points
from vision.config import DetectorConfig

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ceiling-fisheye-sample"


def evaluate(imgsz: int, backend: str, anchor: str, confidence: float) -> dict[str, float]:
    annotations = json.loads((SAMPLE / "annotations" / "video_0.json").read_text())
    truth: dict[str, list[list[float]]] = {}
    for ann in annotations["annotations"]:
        truth.setdefault(ann["image_id"], []).append(ann["bbox"])
    detector = load_detector(DetectorConfig(backend=backend, imgsz=imgsz, confidence=confidence))  # type: ignore[arg-type]
    points, boxes = [], []
    for image_id, truth_boxes in sorted(truth.items()):
        image = cv2.imread(str(SAMPLE / "video_0" / f"{image_id}.jpg"))
        found = detector.detect(image)
        found = found.take(np.argsort(-found.scores))
        found = found.take(found.scores >= confidence)
        points.append(anchor_points(found, anchor, 0.5))  # type: ignore[arg-type]
        boxes.append(truth_boxes)
    rates = score_image_points(points, boxes)
    return {
        "imgsz": imgsz,
        "backend": backend,
        "anchor": anchor,
        "people": rates.tp + rates.fn,
        "precision": rates.precision,
        "recall": rates.recall,
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
