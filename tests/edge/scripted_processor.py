"""A scripted `FrameProcessor` for driving a real node (in-process or as a subprocess) in tests.

It is an honest stand-in for the detector pipeline: it receives the real frames from the node's
real sources and returns `HallState`s built from a fixed script, so tests know exactly which events
the node must deliver. Every `events_every`-th frame yields one `person_entered` event whose
`people` is `[n]`, `n` counting this processor's events from 0: a receiver can check that no
event is missing and none is duplicated.

`factory` is what `hallwatch edge run --processor scripted_processor:factory` loads (with this
folder on PYTHONPATH); `HALLWATCH_TEST_EVENTS_EVERY` sets `events_every` (default 1) and
`HALLWATCH_TEST_ZONE` the events' zone (default "door"), which tells one run's events from another's.
"""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import NDArray

from edge.config import NodeConfig
from vision.processor import FrameResult
from vision.state import FloorPeople, HallEvent, HallState, Violation


class ScriptedProcessor:
    def __init__(self, camera_id: str, events_every: int = 1, zone: str = "door") -> None:
        self.camera_id = camera_id
        self.events_every = events_every
        self.zone = zone
        self.frames = 0
        self.events = 0
        self.shapes: set[tuple[int, ...]] = set()

    def process(self, image_bgr: NDArray[np.uint8], frame: int, t_s: float) -> FrameResult:
        self.shapes.add(image_bgr.shape)
        n = self.frames
        self.frames += 1
        events: tuple[HallEvent, ...] = ()
        if n % self.events_every == 0:
            events = (HallEvent("person_entered", t_s, zone=self.zone, people=(self.events,)),)
            self.events += 1
        people = FloorPeople(
            ids=np.array([n % 7, 100], np.int64),
            floor_xy=np.array([[1.0 + (n % 5) * 0.5, 2.0], [3.0, 1.5]]),
            image_xy=np.array([[10.0, 20.0], [30.0, 15.0]]),
            scores=np.array([0.9, 0.8], np.float32),
        )
        state = HallState(
            camera=self.camera_id,
            frame=frame,
            t_s=t_s,
            people=people,
            zone_counts={"hall": 2, "window-1": n % 3},
            violations=(Violation(a=n % 7, b=100, distance_m=0.8),) if n % 4 == 0 else (),
            crossings={"door": {"in": self.events, "out": 0}},
            events=events,
        )
        return FrameResult(state, tracked=None)  # no boxes known: snapshots blur the whole frame


def factory(config: NodeConfig, camera_id: str) -> ScriptedProcessor:
    config.camera(camera_id)  # an unknown camera is a bug in the node
    return ScriptedProcessor(
        camera_id,
        int(os.environ.get("HALLWATCH_TEST_EVENTS_EVERY", "1")),
        os.environ.get("HALLWATCH_TEST_ZONE", "door"),
    )
