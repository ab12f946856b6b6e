"""Turning camera states into occupancy aggregates (pure: no I/O, times come with the messages).

For each zone and camera, every state adds a sample (count, max) to its minute, hour and day, and
the *previous* state's count is weighted by how long it was shown (at most ``max_gap_s``, so a
silent camera does not stretch its last count over an hour). The mean of a bucket is then
``weighted_sum / seconds``: a time-weighted mean that bursts of messages do not bias.

Hours and days start at the hall's local midnight and hour (``tz``), stored as UTC instants.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from server.store.ingest_writes import HeatmapKey, OccupancyDelta, OccupancyKey, Resolution, add_delta


class Buckets:
    """The minute, hour and day that contain an instant, cached per minute."""

    def __init__(self, tz: ZoneInfo) -> None:
        self._tz = tz
        self._cache: dict[int, tuple[datetime, datetime, datetime]] = {}

    def of(self, ts: datetime) -> tuple[datetime, datetime, datetime]:
        minute = int(ts.timestamp() // 60)
        hit = self._cache.get(minute)
        if hit is not None:
            return hit
        start = datetime.fromtimestamp(minute * 60, UTC)
        local = start.astimezone(self._tz)
        hour = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        day = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[minute] = (start, hour, day)
        return start, hour, day

    def minute(self, ts: datetime) -> datetime:
        """The start of the minute that contains ``ts`` (cheaper than `of`)."""
        return ts.replace(second=0, microsecond=0) if ts.tzinfo is UTC else self.of(ts)[0]

    def day_start(self, ts: datetime) -> datetime:
        """The start of the hall's local day that contains ``ts`` (UTC)."""
        return self.of(ts)[2]


class OccupancyAccumulator:
    """Collects occupancy and heatmap aggregates between writes."""

    def __init__(self, tz: ZoneInfo, max_gap_s: float = 5.0, heatmap_cell_m: float = 0.5) -> None:
        self._buckets = Buckets(tz)
        self._max_gap_s = max_gap_s
        self._cell_m = heatmap_cell_m
        # per (site, camera): each zone's last count, its time (POSIX seconds) and minute
        self._last: dict[tuple[str, str], dict[str, tuple[int, float, datetime]]] = {}
        self._minutes: dict[OccupancyKey, OccupancyDelta] = {}
        self._hours: dict[OccupancyKey, OccupancyDelta] = {}
        self._days: dict[OccupancyKey, OccupancyDelta] = {}
        self._heatmap: dict[HeatmapKey, int] = {}

    def add_state(self, site: str, camera: str, ts: datetime, zones: Mapping[str, int]) -> None:
        """One camera state: its smoothed count per zone at ``ts``."""
        minutes = self._minutes
        minute = self._buckets.minute(ts)
        t = ts.timestamp()
        camera_key = (site, camera)
        lasts = self._last.get(camera_key)
        if lasts is None:
            lasts = self._last[camera_key] = {}
        max_gap_s = self._max_gap_s
        mine = (0, t, minute)
        for zone, count in zones.items():
            key = (site, zone, camera, minute)
            delta = minutes.get(key)
            if delta is None:
                delta = minutes[key] = OccupancyDelta()
            delta.samples += 1
            delta.sum_count += count
            if count > delta.max_count:
                delta.max_count = count
            last = lasts.get(zone)
            if last is not None:
                previous, previous_t, previous_minute = last
                if t < previous_t:
                    continue  # out of order: counted as a sample, but never moves time backwards
                if t > previous_t:
                    shown_s = t - previous_t
                    if shown_s > max_gap_s:
                        shown_s = max_gap_s
                    key = (site, zone, camera, previous_minute)
                    delta = minutes.get(key)
                    if delta is None:
                        delta = minutes[key] = OccupancyDelta()
                    delta.weighted_sum += previous * shown_s
                    delta.seconds += shown_s
            lasts[zone] = (count, t, minute) if count else mine

    def add_positions(
        self, site: str, camera: str, ts: datetime, floor_xy: Iterable[tuple[float, float]]
    ) -> None:
        """Anonymous floor positions (metres) for the heatmap."""
        hour = self._buckets.of(ts)[1]
        cell = self._cell_m
        for x, y in floor_xy:
            key = (site, camera, hour, math.floor(x / cell), math.floor(y / cell))
            self._heatmap[key] = self._heatmap.get(key, 0) + 1

    def drain(
        self, *, rollups: bool = True
    ) -> tuple[dict[Resolution, dict[OccupancyKey, OccupancyDelta]], dict[HeatmapKey, int]]:
        """Hand over what was collected since the last drain and start afresh.

        Only minutes are collected per message; hours and days are folded from them here and
        kept until a drain with ``rollups`` (they change slowly, so they are written less often).
        """
        minutes, heatmap = self._minutes, self._heatmap
        self._minutes, self._heatmap = {}, {}
        hours, days = self._hours, self._days
        for (site, zone, camera, minute), delta in minutes.items():
            _, hour, day = self._buckets.of(minute)
            for table, bucket in ((hours, hour), (days, day)):
                key = (site, zone, camera, bucket)
                into = table.get(key)
                if into is None:
                    table[key] = OccupancyDelta(
                        delta.samples, delta.sum_count, delta.max_count, delta.weighted_sum, delta.seconds
                    )
                else:
                    add_delta(into, delta)
        if not rollups:
            return {"minute": minutes}, heatmap
        self._hours, self._days = {}, {}
        return {"minute": minutes, "hour": hours, "day": days}, heatmap

    def forget_idle(self, now: datetime, idle_s: float = 3600.0) -> None:
        """Drop the last count of cameras that have been silent for ``idle_s`` (bounds memory)."""
        oldest = now.timestamp() - idle_s
        for key, lasts in list(self._last.items()):
            for zone, (_count, t, _minute) in list(lasts.items()):
                if t < oldest:
                    del lasts[zone]
            if not lasts:
                del self._last[key]
