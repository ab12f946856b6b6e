"""Fusion on real footage: vtest.avi cut into two overlapping views, fused, against the full view.

The left 60 % and the right 60 % of each frame are two "cameras" (their calibrations are the demo
calibration shifted by the crop offset; they overlap in the middle 20 %). They are tracked apart,
fused step by step (`vision.site_pipeline`), and compared frame by frame with the full frame
replayed as one camera: zone counts equal, nobody doubled in the overlap, the same close pairs;
once with hidden people held as configured, once without (which shows what the views' different
detections alone make of it). The crops are
detected at imgsz 960 and the full frame at 1280, so that people are the same size in pixels in
both (the detector scales the longer side).

    .venv/bin/python benchmarks/fusion_split.py [--frames 795]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _frames import VTEST

from edge.config import load_config
from edge.replay import VideoFrame, frame_record, probe_video, read_frames
from models.loader import load_detector
from vision.config import DetectorConfig, HallConfig
from vision.detections import Detections
from vision.pipeline import HallPipeline
from vision.site_pipeline import SitePipeline
from vision.tracking import PersonTracker

CONFIG = Path(__file__).resolve().parents[1] / "edge" / "demo" / "vtest-hall.yaml"
SHARE = 0.6  # each view keeps this share of the frame's width


def crop(frames: Iterator[VideoFrame], left: int, right: int) -> Iterator[VideoFrame]:
    for item in frames:
        yield VideoFrame(item.index, item.t_s, np.ascontiguousarray(item.image[:, left:right]))


def split_config(config: HallConfig, width: int) -> tuple[HallConfig, dict[str, tuple[int, int]]]:
    camera = config.cameras[0]
    cut = int(round(width * SHARE))
    spans = {"left": (0, cut), "right": (width - cut, width)}
    cameras = []
    for name, (left, _) in spans.items():
        points = [(u - left, v) for u, v in camera.calibration.image_points]
        calibration = camera.calibration.model_copy(update={"image_points": points})
        cameras.append(camera.model_copy(update={"id": name, "calibration": calibration}))
    return config.model_copy(update={"cameras": cameras}), spans


def close_pairs(record: dict[str, Any]) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    where = {p["id"]: tuple(p["floor"]) for p in record["people"]}
    return [
        (where[v["a"]], where[v["b"]]) for v in record["violations"] if v["a"] in where and v["b"] in where
    ]


def same_pairs(a: list, b: list, match_m: float = 0.5) -> tuple[int, int, int]:
    """Pairs in both (both ends within match_m), only in a, only in b."""
    left = list(b)
    both = 0
    for p, q in a:
        hit = next(
            (
                k
                for k, (u, v) in enumerate(left)
                if max(np.hypot(*np.subtract(p, u)), np.hypot(*np.subtract(q, v))) <= match_m
                or max(np.hypot(*np.subtract(p, v)), np.hypot(*np.subtract(q, u))) <= match_m
            ),
            None,
        )
        if hit is not None:
            both += 1
            left.pop(hit)
    return both, len(a) - both, len(left)


def detect_all(frames: Iterator[VideoFrame], imgsz: int) -> list[tuple[float, Detections, tuple[int, int]]]:
    detector = load_detector(DetectorConfig(backend="openvino", imgsz=imgsz), imgsz)
    return [(item.t_s, detector.detect(item.image), item.image.shape[1::-1]) for item in frames]


def replay_full(
    config: HallConfig, seen: list[tuple[float, Detections, tuple[int, int]]]
) -> list[dict[str, Any]]:
    camera = config.cameras[0]
    tracker = PersonTracker(config.tracking, camera.detector.confidence)
    pipeline = HallPipeline.from_config(config, camera.id)
    return [
        frame_record(pipeline.step(k, t_s, tracker.update(d), size)) for k, (t_s, d, size) in enumerate(seen)
    ]


def replay_fused(
    config: HallConfig, views: dict[str, list[tuple[float, Detections, tuple[int, int]]]]
) -> tuple[list[dict[str, Any]], SitePipeline]:
    site = SitePipeline(config)
    trackers = {name: PersonTracker(config.tracking, config.cameras[0].detector.confidence) for name in views}
    records = []
    for k in range(min(len(v) for v in views.values())):
        for name, seen in views.items():
            t_s, detections, size = seen[k]
            site.observe(name, k, t_s, trackers[name].update(detections), size)
        records.append(frame_record(site.step(k)))
    return records, site


def compare(full: list[dict[str, Any]], fused: list[dict[str, Any]]) -> None:
    zones = sorted(full[0]["zones"])
    pairs = list(zip(full, fused, strict=True))
    every = np.mean([all(f["zones"][z] == g["zones"].get(z) for z in zones) for f, g in pairs])
    print(f"  frames with every zone's count equal: {every:.1%}")
    for zone in zones:
        equal = np.mean([f["zones"][zone] == g["zones"].get(zone) for f, g in pairs])
        diff = np.mean([(g["zones"].get(zone) or 0) - f["zones"][zone] for f, g in pairs])
        print(f"    {zone}: equal in {equal:.1%} of frames, mean difference {diff:+.3f}")
    seen = [
        (sum(not p.get("hidden") for p in f["people"]), sum(not p.get("hidden") for p in g["people"]))
        for f, g in pairs
    ]
    print(
        f"  people seen per frame: full view {np.mean([a for a, _ in seen]):.2f}, "
        f"fused {np.mean([b for _, b in seen]):.2f}; "
        f"frames with more people fused than in the full view: {np.mean([b > a for a, b in seen]):.1%}"
    )
    both = only_full = only_fused = 0
    for f, g in pairs:
        b, x, y = same_pairs(close_pairs(f), close_pairs(g))
        both, only_full, only_fused = both + b, only_full + x, only_fused + y
    print(f"  close pairs: {both} in both, {only_full} only in the full view, {only_fused} only fused")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=795)
    args = parser.parse_args()
    if not VTEST.is_file():
        raise SystemExit(f"{VTEST} is missing: install Debian's opencv-doc")
    config = load_config(CONFIG)
    info = probe_video(VTEST)
    site_config, spans = split_config(config, info.width)
    full_seen = detect_all(read_frames(info, args.frames), 1280)
    views = {
        name: detect_all(crop(read_frames(info, args.frames), left, right), 960)
        for name, (left, right) in spans.items()
    }
    print(
        f"vtest.avi, {len(full_seen)} frames; two views of {SHARE:.0%} of the width each, "
        f"overlapping {2 * SHARE - 1:.0%}"
    )
    for hold in (config.tracking.hidden_hold_s, 0.0):
        tracking = config.tracking.model_copy(update={"hidden_hold_s": hold})
        full = replay_full(config.model_copy(update={"tracking": tracking}), full_seen)
        fused, site = replay_fused(site_config.model_copy(update={"tracking": tracking}), views)
        print(f"hidden people held {hold:g} s:")
        compare(full, fused)
    two = sum(len(p.get("cameras", [])) == 2 for g in fused for p in g["people"])
    print(f"person-frames seen by both views (the overlap): {two}")
    doubles = sum(map(doubled, fused))
    print(f"people doubled (two fused people under 0.5 m apart, seen by different views): {doubles}")


def doubled(record: dict[str, Any]) -> int:
    seen = [p for p in record["people"] if not p.get("hidden")]
    return sum(
        1
        for i, p in enumerate(seen)
        for q in seen[i + 1 :]
        if not set(p["cameras"]) & set(q["cameras"]) and np.hypot(*np.subtract(p["floor"], q["floor"])) < 0.5
    )


if __name__ == "__main__":
    main()
