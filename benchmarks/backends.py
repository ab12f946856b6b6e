"""OpenVINO against PyTorch on this machine's CPU at imgsz 640, 960 and 1280, in one run.

.venv/bin/python benchmarks/backends.py [--frames 60]
"""

from __future__ import annotations

import argparse
import time

from _frames import benchmark_video, load_frames

from models.loader import load_detector
from vision.config import DetectorConfig


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--sizes", type=int, nargs="+", default=[640, 960, 1280])
    args = parser.parse_args()
    video = benchmark_video(args.frames)
    frames = load_frames(video, args.frames)
    print(f"video: {video.name}, {len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]}")
    print("| imgsz | PyTorch frames/s | OpenVINO frames/s | OpenVINO speed-up | people/frame (PT / OV) |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        fps, people = {}, {}
        for backend in ("pytorch", "openvino"):
            detector = load_detector(DetectorConfig(backend=backend, imgsz=size))  # type: ignore[arg-type]
            detector.warm_up(frames[0].shape[:2])
            started, seen = time.perf_counter(), 0
            for image in frames:
                found = detector.detect(image)
                seen += int((found.scores >= detector.confidence).sum())
            fps[backend] = len(frames) / (time.perf_counter() - started)
            people[backend] = seen / len(frames)
        speed_up = fps["openvino"] / fps["pytorch"]
        print(
            f"| {size} | {fps['pytorch']:.2f} | {fps['openvino']:.2f} | {speed_up:.2f}x "
            f"| {people['pytorch']:.1f} / {people['openvino']:.1f} |"
        )


if __name__ == "__main__":
    main()
