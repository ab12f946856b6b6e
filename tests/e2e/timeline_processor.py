"""A `FrameProcessor` that follows a wall-clock timeline, for whole-chain tests with restarts.

The node runs it with `hallwatch edge run --processor timeline_processor:factory` (this folder on
PYTHONPATH). It receives the node's real frames and returns states whose window-1 count follows
the test's timeline, measured from `HALLWATCH_E2E_EPOCH` (so a restarted node carries on where
the killed one was), and one numbered `person_entered` event per frame, `people = [run, n]`, so the
test can check that every event of every run arrived once. Each frame it records how many events
it made in `HALLWATCH_E2E_DIR/run-<run>.count`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from edge.config import NodeConfig
from vision.processor import FrameResult
from vision.state import FloorPeople, HallEvent, HallState

CROWD_FROM_S = float(os.environ.get("HALLWATCH_E2E_CROWD_FROM_S", "6"))
CROWD_UNTIL_S = float(os.environ.get("HALLWATCH_E2E_CROWD_UNTIL_S", "16"))


class TimelineProcessor:
    def __init__(self, camera_id: str, epoch: float, run: int, out_dir: Path) -> None:
        self.camera_id = camera_id
        self.epoch = epoch
        self.run = run
        self.count_file = out_dir / f"run-{run}.count"
        self.events = 0

    def process(self, image_bgr: NDArray[np.uint8], frame: int, t_s: float) -> FrameResult:
        elapsed = time.time() - self.epoch
        at_window = 3 if CROWD_FROM_S <= elapsed < CROWD_UNTIL_S else 1
        event = HallEvent("person_entered", t_s, zone="door", people=(self.run, self.events))
        self.events += 1
        tmp = self.count_file.with_suffix(".tmp")
        tmp.write_text(str(self.events))
        tmp.replace(self.count_file)
        people = FloorPeople(
            ids=np.arange(at_window, dtype=np.int64),
            floor_xy=np.array([[1.0 + 0.8 * i, 7.0] for i in range(at_window)]),
            image_xy=np.zeros((at_window, 2)),
            scores=np.full(at_window, 0.9, np.float32),
        )
        state = HallState(
            camera=self.camera_id,
            frame=frame,
            t_s=t_s,
            people=people,
            zone_counts={"window-1": at_window, "hall": at_window},
            violations=(),
            crossings={"door": {"in": self.events, "out": 0}},
            events=(event,),
        )
        return FrameResult(state, tracked=None)


def factory(config: NodeConfig, camera_id: str) -> TimelineProcessor:
    return TimelineProcessor(
        camera_id,
        float(os.environ["HALLWATCH_E2E_EPOCH"]),
        int(os.environ["HALLWATCH_E2E_RUN"]),
        Path(os.environ["HALLWATCH_E2E_DIR"]),
    )
