"""Fusion on real footage: vtest.avi cut into two overlapping views, fused, against the full view.

The left 60 % and the right 60 % of each frame are two "cameras" (their calibrations are the demo
calibration shifted by the crop offset; they overlap in the middle 20 %). They are replayed in lock
step and fused (`edge.site_replay`), and compared frame by frame with the full frame replayed as one
camera: zone counts equal, nobody doubled in the overlap, the same close pairs. The crops are
detected at imgsz 960 and the full frame at 1280, so that people are the same size in pixels in
both (the detector scales the longer side).

    .venv/bin/python benchmarks/fusion_split.py [--frames 795]
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _frames import VTEST

from edge.config import load_config
from edge.replay import ReplaySummary, VideoFrame, probe_video, read_frames, replay
from edge.site_replay import replay_site
from models.loader import load_detector
from vision.config import DetectorConfig, HallConfig
from vision.processor import CameraProcessor
from vision.site_pipeline import SitePipeline

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=795)
    args = parser.parse_args()
    if not VTEST.is_file():
        raise SystemExit(f"{VTEST} is missing: install Debian's opencv-doc")
    config = load_config(CONFIG)
    camera = config.cameras[0]
    info = probe_video(VTEST)

    full_detector = load_detector(DetectorConfig(backend="openvino", imgsz=1280), 1280)
    processor = CameraProcessor.from_config(config, camera.id, full_detector)
    full_out = io.StringIO()
    replay(info, processor, full_out, ReplaySummary.for_hall(config, camera.id), max_frames=args.frames)
    full = [json.loads(line) for line in full_out.getvalue().splitlines()]

    site_config, spans = split_config(config, info.width)
    site = SitePipeline(site_config)
    crop_detector = load_detector(DetectorConfig(backend="openvino", imgsz=960), 960)
    fused_out = io.StringIO()
    frames = {
        name: crop(read_frames(info, args.frames), left, right) for name, (left, right) in spans.items()
    }
    replay_site(
        frames,
        {name: info.fps for name in spans},
        site,
        crop_detector,
        fused_out,
        ReplaySummary(camera="fused"),
    )
    fused = [json.loads(line) for line in fused_out.getvalue().splitlines()]

    zones = sorted(full[0]["zones"])
    equal_all = np.mean(
        [all(f["zones"][z] == g["zones"].get(z) for z in zones) for f, g in zip(full, fused, strict=True)]
    )
    corners = ", ".join(f"{c}: {len(p)} corners" for c, p in site.coverage.items())
    print(
        f"vtest.avi, {len(full)} frames; two views of {SHARE:.0%} of the width each, overlapping "
        f"{2 * SHARE - 1:.0%}; coverage per camera: {corners}"
    )
    print(f"frames with every zone's count equal to the full view's: {equal_all:.1%}")
    for zone in zones:
        equal = np.mean([f["zones"][zone] == g["zones"].get(zone) for f, g in zip(full, fused, strict=True)])
        diff = np.mean(
            [(g["zones"].get(zone) or 0) - f["zones"][zone] for f, g in zip(full, fused, strict=True)]
        )
        print(f"  {zone}: equal in {equal:.1%} of frames, mean difference {diff:+.3f}")
    seen = [
        (
            len([p for p in f["people"] if not p.get("hidden")]),
            len([p for p in g["people"] if not p.get("hidden")]),
        )
        for f, g in zip(full, fused, strict=True)
    ]
    full_mean, fused_mean = np.mean([a for a, _ in seen]), np.mean([b for _, b in seen])
    print(
        f"people seen per frame: full view {full_mean:.2f}, fused {fused_mean:.2f}; "
        f"frames with more fused people than in the full view: {np.mean([b > a for a, b in seen]):.1%}"
    )
    both = only_full = only_fused = 0
    for f, g in zip(full, fused, strict=True):
        b, x, y = same_pairs(close_pairs(f), close_pairs(g))
        both, only_full, only_fused = both + b, only_full + x, only_fused + y
    print(f"close pairs: {both} in both, {only_full} only in the full view, {only_fused} only fused")
    two = sum(len(p.get("cameras", [])) == 2 for g in fused for p in g["people"])
    print(f"person-frames seen by both views (the overlap): {two}")


if __name__ == "__main__":
    main()
