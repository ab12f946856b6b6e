"""Frames the benchmarks share: Debian's vtest.avi when installed, else a synthetic hall."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def benchmark_video(frames: int) -> Path:
    """vtest.avi, or a synthetic scene rendered to a temporary file."""
    if VTEST.is_file():
        return VTEST
    from edge import scene

    path = Path(tempfile.mkdtemp()) / "synthetic.mp4"
    scene.write_video(scene.demo_day(fps=10.0, minutes=max(frames / 600, 0.5)), path)
    return path


def load_frames(video: Path, count: int) -> list[NDArray[np.uint8]]:
    cap = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < count:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames
