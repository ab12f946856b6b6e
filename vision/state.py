"""The values the pipeline hands forward: people on the floor, and one frame's hall state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class FloorPeople:
    """Tracked people placed on the floor.

    Attributes:
        ids: `(n,)` int64 track ids.
        floor_xy: `(n, 2)` float64 positions on the floor in metres.
        image_xy: `(n, 2)` float64 anchor points in image pixels (feet, head or box centre); NaN for
            people not seen in this frame.
        scores: `(n,)` float32 detection scores.
        sigma_m: `(n,)` float64 one standard deviation of each floor position's error, in metres;
            empty means unknown (0).
    """

    ids: NDArray[np.int64]
    floor_xy: NDArray[np.float64]
    image_xy: NDArray[np.float64]
    scores: NDArray[np.float32]
    sigma_m: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n = len(self.ids)
        if len(self.sigma_m) == 0 and n:
            object.__setattr__(self, "sigma_m", np.zeros(n))
        shapes = {"floor_xy": (n, 2), "image_xy": (n, 2), "scores": (n,), "sigma_m": (n,)}
        for name, shape in shapes.items():
            actual = getattr(self, name).shape
            if actual != shape:
                raise ValueError(f"FloorPeople.{name} has shape {actual}, expected {shape}")

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> FloorPeople:
        return cls(
            ids=np.zeros(0, np.int64),
            floor_xy=np.zeros((0, 2)),
            image_xy=np.zeros((0, 2)),
            scores=np.zeros(0, np.float32),
        )


@dataclass(frozen=True, slots=True)
class Violation:
    """Two people closer than the minimum distance; `a < b` are track ids.

    Attributes:
        distance_m: the estimated distance between them.
        uncertainty_m: half the width of the band the true distance is likely in (see
            `vision.spacing.SpacingMonitor`); 0 when unknown.
        certain: even the far end of that band is under the minimum distance.
    """

    a: int
    b: int
    distance_m: float
    uncertainty_m: float = 0.0
    certain: bool = True


@dataclass(frozen=True, slots=True)
class Crossing:
    """One person crossing an entrance line in one frame."""

    line: str
    track_id: int
    direction: Literal["in", "out"]


HallEventType = Literal[
    "window_over_limit_started",
    "window_over_limit_ended",
    "hall_over_capacity_started",
    "hall_over_capacity_ended",
    "queue_over_limit_started",
    "queue_over_limit_ended",
    "spacing_violation_started",
    "spacing_violation_ended",
    "person_entered",
    "person_left",
    "queue_left",
]


@dataclass(frozen=True, slots=True)
class HallEvent:
    """A change worth telling the server about; names match `hallwatch.contract.EventType`.

    `queue_left`: a person's wait in a queue is over (`zone`: the queue, `people`: their id,
    `duration_s`: how long they stood in it, `t_s`: when they were last seen in it).
    """

    type: HallEventType
    t_s: float
    zone: str | None = None
    count: int | None = None
    limit: int | None = None
    people: tuple[int, ...] = ()
    distance_m: float | None = None
    floor: tuple[float, float] | None = None
    duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class HallState:
    """Everything one camera saw in one frame.

    Attributes:
        camera: camera id.
        frame: index of the frame in its source (0-based).
        t_s: the frame's time in seconds since the source started.
        people: tracked people on the floor.
        zone_counts: people per window, queue and hall zone, counted from tracks (`vision.counting`).
        violations: pairs whose estimated distance is under the minimum in this frame, each marked
            certain or not.
        crossings: per entrance line, totals so far: {"in": n, "out": m}.
        events: what started or ended in this frame.
        zone_of: track id -> the window or queue zone the person stands in.
        dwell_s: track id -> seconds the person has stood in that zone.
        hidden: people still counted though not seen in this frame (hidden behind others), at their
            predicted floor positions.
        possible: pairs whose estimated distance is at or over the minimum but whose uncertainty
            band reaches under it.
        alerting_pairs: how many of these pairs count under `spacing.alert_on` (certain ones by
            default): what the node reports as spacing violations now.
        seen_by: for a site's fused state, person id -> the cameras that saw them in this step.
        uncovered: zones no camera covers (not counted; reported so, not as 0).
        left_out: cameras whose frames were too old to be part of this step (lagging or stopped).
    """

    camera: str
    frame: int
    t_s: float
    people: FloorPeople
    zone_counts: dict[str, int]
    violations: tuple[Violation, ...]
    crossings: dict[str, dict[str, int]]
    events: tuple[HallEvent, ...] = ()
    zone_of: dict[int, str] = field(default_factory=dict)
    dwell_s: dict[int, float] = field(default_factory=dict)
    hidden: FloorPeople = field(default_factory=lambda: FloorPeople.empty())
    possible: tuple[Violation, ...] = ()
    alerting_pairs: int = 0
    seen_by: dict[int, tuple[str, ...]] = field(default_factory=dict)
    uncovered: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()
