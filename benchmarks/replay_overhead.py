"""What replay costs beyond the detector: replay frames/s ÷ detector-only frames/s, in one run.

Both loops see the same frames at the same imgsz and backend. The detector-only loop gets its
frames already decoded; replay decodes, tracks, projects to the floor, counts zones, checks
spacing and writes JSON lines. The brief's target is a ratio of at least 0.90.

    .venv/bin/python benchmarks/replay_overhead.py [--frames 200] [--imgsz 960] [--backend openvino]
"""

from __future__ import annotations

import argparse
import io
import platform
import time
from pathlib import Path

from _frames import benchmark_video, load_frames

from edge.config import load_config
from edge.replay import ReplaySummary, probe_video, replay
from models.loader import load_detector
from vision.processor import CameraProcessor

CONFIG = Path(__file__).resolve().parents[1] / "edge" / "demo" / "vtest-hall.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--imgsz", type=int, default=960)
    parser.add_argument("--backend", default="openvino", choices=["openvino", "pytorch"])
    parser.add_argument("--rounds", type=int, default=2, help="alternate the two loops this many times")
    args = parser.parse_args()

    video = benchmark_video(args.frames)
    config = load_config(CONFIG)
    camera = config.cameras[0]
    detector_config = camera.detector.model_copy(update={"backend": args.backend, "imgsz": args.imgsz})
    detector = load_detector(detector_config, args.imgsz)
    frames = load_frames(video, args.frames)
    detector.warm_up(frames[0].shape[:2])
    info = probe_video(video)

    detector_fps, replay_fps = [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        for image in frames:
            detector.detect(image)
        detector_fps.append(len(frames) / (time.perf_counter() - started))

        processor = CameraProcessor.from_config(config, camera.id, detector)
        summary = replay(
            info, processor, io.StringIO(), ReplaySummary.for_hall(config, camera.id), max_frames=len(frames)
        )
        replay_fps.append(summary.frames / summary.wall_seconds)

    det, rep = max(detector_fps), max(replay_fps)
    print(f"machine: {platform.processor() or platform.machine()}, {platform.node()}")
    print(f"video: {video.name}, {len(frames)} frames, {detector.backend} imgsz {args.imgsz}")
    print(f"detector only: {det:.2f} frames/s (rounds: {', '.join(f'{v:.2f}' for v in detector_fps)})")
    print(f"replay:        {rep:.2f} frames/s (rounds: {', '.join(f'{v:.2f}' for v in replay_fps)})")
    print(f"ratio replay/detector: {rep / det:.3f} (target >= 0.90)")


if __name__ == "__main__":
    main()
