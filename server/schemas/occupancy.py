"""Live occupancy, history and heatmap."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Literal

from pydantic import Field

from server.schemas.base import Out

Resolution = Literal["minute", "hour", "day"]


class ZoneOccupancyOut(Out):
    zone: str
    kind: str = Field(description="window, queue, hall, entrance, or unknown before a layout arrived")
    name: str | None
    limit: int | None = Field(description="max people (window, queue) or capacity (hall)")
    window: str | None = Field(description="for a queue: the window it waits for")
    count: int | None = Field(
        description="people now; null when no camera reported recently, or no camera of a fused floor "
        "covers the zone now"
    )
    level: Literal["ok", "warning", "over", "critical", "unknown"]
    updated_at: datetime | None
    cameras: list[str] = Field(
        description="what counts the zone: cameras, or fused floors ('fused:NODE' for a node's, 'fused' "
        "for the one the server fuses)"
    )


class HallOut(Out):
    zone: str
    count: int | None
    capacity: int | None
    ratio: float | None


class CameraNowOut(Out):
    camera: str = Field(description="a camera, or a fused floor ('fused:NODE', 'fused')")
    node: str
    people: int
    violations: int
    possible_violations: int = Field(default=0, description="pairs possibly closer than the minimum")
    uncovered: list[str] = Field(default_factory=list, description="a fused floor's zones no camera sees now")
    ts: datetime


class SiteOccupancyOut(Out):
    site: str
    ts: datetime
    zones: list[ZoneOccupancyOut]
    hall: HallOut | None
    cameras: list[CameraNowOut]
    violations_now: int = Field(
        description="spacing violations (pairs) active now, from every camera or fused floor reporting "
        "recently: the pairs that alert (certain ones by default)"
    )
    possible_violations_now: int = Field(
        default=0,
        description="pairs whose distance may be under the minimum (its uncertainty band reaches under it) "
        "but that are not in violations_now",
    )
    entries_today: int
    exits_today: int


class OccupancyPointOut(Out):
    t: datetime = Field(description="start of the bucket")
    mean: float = Field(description="time-weighted mean count")
    max: int
    samples: int


class ZoneSeriesOut(Out):
    zone: str
    kind: str | None
    name: str | None
    limit: int | None
    points: list[OccupancyPointOut]


class HistoryOut(Out):
    site: str
    resolution: Resolution
    start: datetime
    end: datetime
    series: list[ZoneSeriesOut]


class HeatCellOut(Out):
    camera: str
    cell_x: int
    cell_y: int
    samples: int


class HeatmapOut(Out):
    site: str
    start: datetime
    end: datetime
    cell_m: float = Field(description="cell size; cell (i, j) covers x in [i, i+1) * cell_m, same for y")
    cells: list[HeatCellOut]


class ZoneDayOut(Out):
    zone: str
    peak: int | None = Field(description="highest count of the day (any camera)")
    minutes_over_limit: int = Field(description="minutes in which the count went over the layout's limit")


class DaySummaryOut(Out):
    date: dt.date = Field(description="the hall's local date")
    entries: int
    exits: int
    violations: int = Field(description="spacing violations that started")
    alerts: int = Field(description="alerts opened")
    acknowledged: int = Field(description="of those, how many someone took")
    median_ack_s: float | None = Field(description="median time from opening to being taken")
    zones: list[ZoneDayOut]


class SummaryOut(Out):
    site: str
    start: datetime
    end: datetime
    timezone: str
    days: list[DaySummaryOut]
