"""The real pipeline, with a note of when each frame reached it: for frame-to-page latency.

`hallwatch edge run --processor chain_probe:factory` (this folder on PYTHONPATH) builds the node's
real processors (detector, ByteTrack, floor pipeline) and wraps each so that every frame appends
`{"frame", "arrived", "count"}` to `HALLWATCH_PROBE_LOG`: the frame's index in the video, the wall
time it reached the pipeline (before detection), and the window count the pipeline reported for
`HALLWATCH_PROBE_ZONE`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from edge.config import NodeConfig
from edge.processors import PipelineProcessors
from vision.processor import FrameProcessor, FrameResult

_REAL = PipelineProcessors()


class ProbedProcessor:
    def __init__(self, inner: FrameProcessor, log: Path, zone: str) -> None:
        self.camera_id = inner.camera_id
        self._inner = inner
        self._log = log.open("a", buffering=1)
        self._zone = zone

    def process(self, image_bgr: NDArray[np.uint8], frame: int, t_s: float) -> FrameResult:
        arrived = time.time()
        result = self._inner.process(image_bgr, frame, t_s)
        count = result.state.zone_counts.get(self._zone)
        self._log.write(json.dumps({"frame": frame, "arrived": arrived, "count": count}) + "\n")
        return result


def factory(config: NodeConfig, camera_id: str) -> ProbedProcessor:
    return ProbedProcessor(
        _REAL(config, camera_id),
        Path(os.environ["HALLWATCH_PROBE_LOG"]),
        os.environ.get("HALLWATCH_PROBE_ZONE", "window-1"),
    )
