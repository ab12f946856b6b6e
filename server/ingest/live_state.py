"""What the hall looks like right now, kept in memory for the API and the live stream.

Written by the ingest thread, read by API threads: every method takes the lock and returns copies.
A zone's count is the highest fresh count among the sources that count it: cameras counting on their
own (cameras that overlap see the same people), or a fused floor (a node's, or the server's), which
counts each person once however many cameras see them; with no fresh count its level is
``unknown``. A fused floor that says it does not see a zone now (no camera of its step covers it)
takes its count of that zone back at once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from server.alerts.model import ZoneSpec
from server.settings import AlertRules

Level = Literal["ok", "warning", "over", "critical", "unknown"]

#: A camera state this much older than the camera's latest is taken as arriving out of order (replicas
#: relay each other's states) and skipped; older still, as a camera whose clock was set back.
OUT_OF_ORDER_S = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class ZoneNow:
    """One zone right now."""

    site: str
    zone: str
    kind: str
    name: str | None
    limit: int | None
    window: str | None
    count: int | None
    level: Level
    updated_at: datetime | None
    cameras: tuple[str, ...]


@dataclass(slots=True)
class CameraNow:
    site: str
    camera: str
    node: str
    people: int
    violations: int
    ts: datetime
    received_at: datetime
    zones: Mapping[str, int] = field(default_factory=dict)
    possible_violations: int = 0
    uncovered: tuple[str, ...] = ()


@dataclass(slots=True)
class _Site:
    specs: dict[str, ZoneSpec] = field(default_factory=dict)
    counts: dict[str, dict[str, tuple[int, datetime]]] = field(default_factory=dict)  # zone -> camera
    cameras: dict[str, CameraNow] = field(default_factory=dict)
    last_level: dict[str, tuple[int | None, Level]] = field(default_factory=dict)


class LiveState:
    """Current counts per zone and camera, per site."""

    def __init__(self, rules: AlertRules) -> None:
        self._rules = rules
        self._lock = threading.Lock()
        self._sites: dict[str, _Site] = {}

    def set_layout(self, site: str, zones: list[ZoneSpec]) -> None:
        with self._lock:
            specs = self._sites.setdefault(site, _Site()).specs
            for spec in zones:
                specs[spec.zone] = spec

    def update_camera(
        self,
        site: str,
        camera: str,
        node: str,
        *,
        ts: datetime,
        received_at: datetime,
        zones: Mapping[str, int],
        people: int,
        violations: int,
    ) -> list[ZoneNow]:
        """Record a camera state; returns the zones whose count or level changed."""
        return self.update_cameras(
            [CameraNow(site, camera, node, people, violations, ts, received_at, dict(zones))]
        )

    def update_cameras(self, states: list[CameraNow]) -> list[ZoneNow]:
        """Record several camera states; each zone they touch is recomputed once."""
        changed: list[ZoneNow] = []
        with self._lock:
            touched: dict[tuple[str, str], datetime] = {}
            for cam in states:
                state = self._sites.setdefault(cam.site, _Site())
                current = state.cameras.get(cam.camera)
                if current is not None and timedelta(0) < current.ts - cam.ts < OUT_OF_ORDER_S:
                    continue  # an older state that came later (through another replica)
                state.cameras[cam.camera] = cam
                for zone, count in cam.zones.items():
                    state.counts.setdefault(zone, {})[cam.camera] = (count, cam.received_at)
                    key = (cam.site, zone)
                    touched[key] = max(cam.received_at, touched.get(key, cam.received_at))
                for zone in cam.uncovered:
                    if state.counts.get(zone, {}).pop(cam.camera, None) is not None:
                        key = (cam.site, zone)
                        touched[key] = max(cam.received_at, touched.get(key, cam.received_at))
            for (site, zone), at in touched.items():
                state = self._sites[site]
                now = self._zone(site, state, zone, at)
                if state.last_level.get(zone) != (now.count, now.level):
                    state.last_level[zone] = (now.count, now.level)
                    changed.append(now)
        return changed

    def expire(self, now: datetime) -> list[ZoneNow]:
        """Zones whose cameras all went quiet since the last call (their level becomes unknown)."""
        changed: list[ZoneNow] = []
        with self._lock:
            for site, state in self._sites.items():
                for zone in state.counts:
                    current = self._zone(site, state, zone, now)
                    if state.last_level.get(zone) != (current.count, current.level):
                        state.last_level[zone] = (current.count, current.level)
                        changed.append(current)
        return changed

    def zones(self, site: str, now: datetime) -> list[ZoneNow]:
        """Every zone of the site (from layouts and from counts), sorted by id."""
        with self._lock:
            state = self._sites.get(site)
            if state is None:
                return []
            ids = sorted(set(state.specs) | set(state.counts))
            return [self._zone(site, state, zone, now) for zone in ids]

    def cameras(self, site: str) -> list[CameraNow]:
        with self._lock:
            state = self._sites.get(site)
            return sorted(state.cameras.values(), key=lambda c: c.camera) if state else []

    def sites(self) -> list[str]:
        with self._lock:
            return sorted(self._sites)

    def _zone(self, site: str, state: _Site, zone: str, now: datetime) -> ZoneNow:
        spec = state.specs.get(zone)
        kind = spec.kind if spec is not None else "unknown"
        override = self._rules.override(site, zone)
        limit = spec.limit if spec is not None else None
        if override is not None and override.limit is not None:
            limit = override.limit
        cameras = state.counts.get(zone, {})
        fresh = [(n, t) for n, t in cameras.values() if (now - t).total_seconds() <= self._rules.zone_stale_s]
        count = max(n for n, _ in fresh) if fresh else None
        updated = max(t for _, t in fresh) if fresh else None
        return ZoneNow(
            site=site,
            zone=zone,
            kind=kind,
            name=spec.name if spec is not None else None,
            limit=limit,
            window=spec.window if spec is not None else None,
            count=count,
            level=self._level(kind, count, limit),
            updated_at=updated,
            cameras=tuple(sorted(cameras)),
        )

    def _level(self, kind: str, count: int | None, limit: int | None) -> Level:
        if count is None:
            return "unknown"
        if limit is None:
            return "ok"
        if kind == "hall":
            hall = self._rules.hall
            if count >= hall.critical_ratio * limit:
                return "critical"
            return "warning" if count >= hall.warning_ratio * limit else "ok"
        return "over" if count > limit else "ok"
