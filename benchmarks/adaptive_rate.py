"""Adaptive frame rates on real footage: frames spent against how soon alerts open.

Debian's vtest.avi (10 frames/s, people walking) through the demo hall (`edge/demo/vtest-hall.yaml`:
two made-up windows with their queues, a hall of capacity 5, an entrance). Every frame is detected
once; then the camera is replayed sampling at fixed rates and with `adaptive_fps` (`vision.frame_rate`,
the node's rule), each with its own tracker and pipeline, as a node would sample its source. The
reference is every frame (10 frames/s). For each rate: the share of the reference's frames it
used, and the reference's alerts (window, queue and hall over their limits, people closer than the
minimum distance) it opened too, how late, and the alerts it opened that the reference did not; and
how far its hall count is from the reference's on the frames it used (a tracker that loses people
between frames far apart counts fewer).

No ground truth of this footage is used (it is PETS 2009 S2L1, kept for independent evaluation):
the reference is hallwatch itself at the full frame rate.

    .venv/bin/python benchmarks/adaptive_rate.py [--frames 795] [--imgsz 960]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _frames import VTEST, load_frames
from tqdm import tqdm

from edge.config import load_config
from models.loader import load_detector
from vision.config import AdaptiveRateConfig, DetectorConfig, HallConfig
from vision.detections import Detections
from vision.frame_rate import RatePolicy, frame_need
from vision.pipeline import HallPipeline
from vision.state import HallState
from vision.tracking import PersonTracker

CONFIG = Path(__file__).resolve().parents[1] / "edge" / "demo" / "vtest-hall.yaml"
SOURCE_FPS = 10.0
ALERTS = (
    "window_over_limit_started",
    "queue_over_limit_started",
    "hall_over_capacity_started",
    "spacing_violation_started",
)
HALL = "hall"
MATCH_S = 3.0  # an alert this close in time to the reference's alert of the same kind is the same alert


@dataclass(frozen=True, slots=True)
class Run:
    name: str
    frames: int
    alerts: list[tuple[str, float]]  # (kind, t_s)
    hall: dict[int, int]  # frame -> the hall's count


def replay(
    config: HallConfig, seen: list[Detections], next_rate: Callable[[HallState], float], name: str
) -> Run:
    """One camera sampling the detected frames at the rate `next_rate` gives after each frame."""
    camera = config.cameras[0]
    tracker = PersonTracker(config.tracking, camera.detector.confidence)
    pipeline = HallPipeline.from_config(config, camera.id)
    alerts: list[tuple[str, float]] = []
    hall: dict[int, int] = {}
    k = 0
    while k < len(seen):
        t_s = k / SOURCE_FPS
        state = pipeline.step(k, t_s, tracker.update(seen[k]), (768, 576))
        hall[k] = state.zone_counts.get(HALL, 0)
        alerts += [(f"{e.type}:{e.zone or ''}", e.t_s) for e in state.events if e.type in ALERTS]
        due = t_s + 1.0 / next_rate(state)
        k = max(k + 1, int(np.ceil(due * SOURCE_FPS - 1e-6)))
    return Run(name, len(hall), alerts, hall)


def adaptive(config: HallConfig, bounds: AdaptiveRateConfig) -> Callable[[HallState], float]:
    policy = RatePolicy(bounds)
    zones = config.zones_for(config.cameras[0].id)
    return lambda state: policy.update(state.t_s, frame_need(state, zones, config.spacing.min_distance_m))


def compare(run: Run, reference: Run, total: int) -> str:
    left = list(run.alerts)
    delays = []
    for kind, t_ref in reference.alerts:
        near = [a for a in left if a[0] == kind and abs(a[1] - t_ref) <= MATCH_S]
        if near:
            hit = min(near, key=lambda a: abs(a[1] - t_ref))
            left.remove(hit)
            delays.append(hit[1] - t_ref)
    late = (
        f"late by median {np.median(delays):+.2f} s, 90th percentile {np.percentile(delays, 90):+.2f} s"
        if delays
        else "none matched"
    )
    error = np.array([n - reference.hall[k] for k, n in run.hall.items()])
    return (
        f"| {run.name} | {run.frames} ({run.frames / total:.0%}) "
        f"| {np.abs(error).mean():.2f} ({error.mean():+.2f}) | {len(delays)} of {len(reference.alerts)} "
        f"| {late} | {len(left)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=795)
    parser.add_argument("--imgsz", type=int, default=960)
    args = parser.parse_args()
    if not VTEST.is_file():
        raise SystemExit(f"{VTEST} is missing: install Debian's opencv-doc")
    config = load_config(CONFIG)
    detector = load_detector(DetectorConfig(backend="openvino", imgsz=args.imgsz), args.imgsz)
    seen = [detector.detect(image) for image in tqdm(load_frames(VTEST, args.frames), desc="detecting")]
    reference = replay(config, seen, lambda _: SOURCE_FPS, "every frame (10 frames/s)")
    runs = [
        replay(config, seen, lambda _, fps=fps: fps, f"fixed {fps:.3g} frames/s")
        for fps in (5.0, 10 / 3, 2.0)
    ] + [
        replay(
            config,
            seen,
            adaptive(config, AdaptiveRateConfig(min_fps=low, max_fps=10, hold_s=hold)),
            f"adaptive {low:g}–10 frames/s, hold {hold:g} s",
        )
        for low, hold in ((5.0, 10.0), (5.0, 2.0), (2.0, 2.0))
    ]
    print(f"vtest.avi, {len(seen)} frames at imgsz {args.imgsz}, the demo hall; reference: every frame")
    print(
        "| rate | frames used | hall count against the reference: MAE (bias) "
        "| reference alerts opened | how late | other alerts |"
    )
    print("|---|---|---|---|---|---|")
    for run in [reference, *runs]:
        print(compare(run, reference, len(seen)))


if __name__ == "__main__":
    main()
