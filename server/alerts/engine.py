"""The alert engine: rules over time and the alert lifecycle, with no I/O.

Callers feed observations (camera states, events, node status and health) with the time they were
received, call `tick` regularly, and apply the `AlertAction`s they get back. The engine holds, per
`AlertKey`, a condition with hysteresis and the alert's lifecycle:

- a condition becomes *active* after it held for ``trigger_s`` and inactive after it was gone for
  ``clear_s`` (continuously, so a flapping count never alerts or clears early; 30 s by default for
  rules about people, so that the alert is still there when a guide on foot arrives);
- on activation an alert opens, or, if the key's last alert was resolved less than ``cooldown_s``
  ago, that alert reopens: one crowd is one alert, and whoever took it keeps it (a take is never
  lost: a reopened alert that someone had taken comes back acknowledged by them);
- on deactivation an open or acknowledged alert resolves automatically; an alert resolved by hand
  stays resolved until its condition clears and comes back;
- the severity follows the rule while the alert is open, both ways (the hall is critical at its
  critical ratio and a warning below it; a window or queue at ``critical_ratio`` times its limit);
- an open alert that nobody acknowledged for ``escalate_after_s`` is escalated once (to the managers).

`load` takes stored alerts over (after a restart, or alerts another replica changed), so a
condition that still holds finds its alert open instead of opening a second one.

Example:
    >>> from server.settings import AlertRules
    >>> engine = AlertEngine(AlertRules())
    >>> engine.set_layout("hall-a", [ZoneSpec("hall-a", "w1", "window", limit=2)])
    >>> engine.observe_state("hall-a", "cam-1", ts=0.0, zones={"w1": 4}, violations=0, now=0.0)
    []
    >>> [a.kind for a in engine.tick(now=10.0)]
    ['open']
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hallwatch.contract import CameraEvent, CameraState, NodeHealth, NodeLayout, NodeStatus, Payload
from server.alerts.model import (
    ActionKind,
    AlertAction,
    AlertKey,
    AlertSnapshot,
    AlertStatus,
    RuleName,
    Severity,
    ZoneSpec,
)
from server.settings import AlertRules

_PairKey = tuple[str, str, tuple[int, ...]]
_ZONE_RULES: dict[str, RuleName] = {
    "window": "window_over_limit",
    "queue": "queue_over_limit",
    "hall": "hall_capacity",
}


@dataclass(slots=True)
class CameraCounts:
    """One camera state as the engine needs it; ``ts`` is the edge's time, ``now`` the arrival."""

    site: str
    camera: str
    ts: float
    zones: Mapping[str, int]
    violations: int
    now: float
    uncovered: tuple[str, ...] = ()  # zones a fused floor says it does not see now: no count from it


@dataclass(slots=True)
class _Condition:
    trigger_s: float
    clear_s: float
    raw: bool = False
    changed_at: float = 0.0
    active: bool = False
    critical_since: float | None = None  # hall only: when the count reached the critical level
    critical_at: float | None = None  # zones: the count from which the rule says critical
    value: int | None = None
    limit: int | None = None
    # raw and active come from a stored alert (another replica's, loaded by `load`), not from what
    # this engine observed since: when that alert is resolved elsewhere, so is the condition.
    synced: bool = False


@dataclass(slots=True)
class _Alert:
    status: AlertStatus
    severity: Severity
    opened_at: float
    escalate_from: float
    resolved_at: float | None = None
    escalated: bool = False
    peak: int | None = None
    acknowledged: bool = False  # someone took it: a reopening keeps them


@dataclass(slots=True)
class _Context:
    severity: Severity
    zone: str | None = None
    camera: str | None = None
    node: str | None = None
    label: str = ""
    floor: tuple[float, float] | None = None


@dataclass(slots=True)
class _Node:
    status: str = "online"
    alive_at: float = 0.0


@dataclass(slots=True)
class _SiteZones:
    specs: dict[str, ZoneSpec] = field(default_factory=dict)
    counts: dict[str, dict[str, tuple[int, float]]] = field(default_factory=dict)  # zone -> camera -> (n, t)


class AlertEngine:
    """Turns observations into alert actions. Not thread-safe: one owner calls it."""

    def __init__(self, rules: AlertRules) -> None:
        self._rules = rules
        self._conditions: dict[AlertKey, _Condition] = {}
        self._contexts: dict[AlertKey, _Context] = {}
        self._alerts: dict[AlertKey, _Alert] = {}
        self._sites: dict[str, _SiteZones] = {}
        self._nodes: dict[tuple[str, str], _Node] = {}
        self._pairs: dict[_PairKey, tuple[str, float]] = {}  # (site, camera, ids) -> (subject, edge ts)
        self._spacing_times: dict[tuple[str, str], deque[float]] = {}

    # ------------------------------------------------------------------------------ observations
    def observe(self, message: Payload, now: float) -> list[AlertAction]:
        """Feed one validated contract message, received at ``now``."""
        if isinstance(message, CameraState):
            return self.observe_state(
                message.site,
                message.camera,
                ts=message.ts.timestamp(),
                zones=message.zones,
                violations=message.violations,
                now=now,
            )
        if isinstance(message, CameraEvent):
            return self.observe_event(message, now)
        if isinstance(message, NodeStatus):
            return self.observe_node_status(message.site, message.node, message.status, now)
        if isinstance(message, NodeHealth):
            cameras = {c.camera: c.connected for c in message.cameras}
            return self.observe_node_health(message.site, message.node, cameras, now)
        if isinstance(message, NodeLayout):
            self.set_layout(message.site, layout_zones(message))
        return []

    def set_layout(self, site: str, zones: Iterable[ZoneSpec]) -> None:
        """Learn (or update) zones' kinds, names and limits from a node's layout."""
        specs = self._site(site).specs
        for spec in zones:
            specs[spec.zone] = spec

    def observe_state(
        self, site: str, camera: str, *, ts: float, zones: Mapping[str, int], violations: int, now: float
    ) -> list[AlertAction]:
        """A camera's zone counts and active spacing violations (``ts``: the edge's frame time)."""
        return self.observe_states([CameraCounts(site, camera, ts, zones, violations, now)])

    def observe_states(self, states: Iterable[CameraCounts]) -> list[AlertAction]:
        """Several camera states at once: each zone they touch is judged once, at its latest time.

        The ingest hands over all the states of one round this way, so a zone counted by many
        cameras costs one look at those cameras per round rather than one per message.
        """
        actions: list[AlertAction] = []
        touched: dict[tuple[str, str], float] = {}
        for state in states:
            site_zones = self._site(state.site)
            for zone, count in state.zones.items():
                site_zones.counts.setdefault(zone, {})[state.camera] = (count, state.now)
                key = (state.site, zone)
                touched[key] = max(state.now, touched.get(key, state.now))
            for zone in state.uncovered:
                if site_zones.counts.get(zone, {}).pop(state.camera, None) is not None:
                    key = (state.site, zone)
                    touched[key] = max(state.now, touched.get(key, state.now))
            if state.violations == 0 and self._pairs:
                for pair_key, (_subject, started_ts) in list(self._pairs.items()):
                    if pair_key[0] == state.site and pair_key[1] == state.camera and started_ts <= state.ts:
                        self._drop_pair(pair_key, state.now, actions)
        for (site, zone), now in touched.items():
            spec = self._site(site).specs.get(zone)
            if spec is not None:
                self._update_zone(spec, now, actions)
        return actions

    def observe_event(self, event: CameraEvent, now: float) -> list[AlertAction]:
        """A camera event: spacing violations, lost cameras, and zone limits learnt from events."""
        actions: list[AlertAction] = []
        site, camera = event.site, event.camera
        if event.type == "spacing_violation_started":
            # Where the pair stands: the event's window, else the queue or area under its floor
            # midpoint, so that a guide knows where to go (issue 13); the camera only as a last resort.
            floor = (float(event.floor[0]), float(event.floor[1])) if event.floor is not None else None
            zone = event.zone or self._zone_at(site, floor)
            subject = zone or camera
            pair_key = (site, camera, tuple(sorted(event.people)))
            self._pairs[pair_key] = (subject, event.ts.timestamp())
            key = AlertKey(site, "spacing_violation", subject)
            rule = self._rules.spacing
            if rule.enabled:
                if zone is not None:
                    where = f"at {self._zone_label(site, zone)}"
                elif floor is not None:
                    where = f"on the floor at {floor[0]:.1f} m, {floor[1]:.1f} m"
                else:
                    where = f"in view of {camera}"
                ctx = _Context(rule.severity, zone=zone, camera=camera, node=event.node, floor=floor)
                ctx.label = f"people closer than the minimum distance {where}"
                self._set(key, True, now, ctx, actions)
            if zone is not None and self._zone_kind(site, zone) in ("window", None):
                self._count_repeated(site, zone, camera, event.node, now, actions)
        elif event.type == "spacing_violation_ended":
            pair_key = (site, camera, tuple(sorted(event.people)))
            if pair_key in self._pairs:
                self._drop_pair(pair_key, now, actions)
        elif event.type in ("camera_lost", "camera_recovered"):
            self._camera(site, camera, event.node, lost=event.type == "camera_lost", now=now, actions=actions)
        elif event.zone is not None and event.type.endswith("_started") and event.limit is not None:
            kind = event.type.split("_", 1)[0]
            specs = self._site(site).specs
            if event.zone not in specs and kind in _ZONE_RULES:
                specs[event.zone] = ZoneSpec(site, event.zone, kind, limit=event.limit)  # type: ignore[arg-type]
        return actions

    def observe_node_status(self, site: str, node: str, status: str, now: float) -> list[AlertAction]:
        """A node's retained status: ``online``, ``offline`` (its last will) or ``stopped``."""
        state = self._nodes.setdefault((site, node), _Node(status=status, alive_at=now))
        state.status = status
        if status == "online":
            state.alive_at = now
        actions: list[AlertAction] = []
        self._update_node(site, node, now, actions)
        return actions

    def observe_node_health(
        self, site: str, node: str, cameras: Mapping[str, bool], now: float
    ) -> list[AlertAction]:
        """A node's periodic health; ``cameras`` maps each camera to whether it is connected."""
        state = self._nodes.setdefault((site, node), _Node())
        state.alive_at = now
        if state.status != "online":
            state.status = "online"
        actions: list[AlertAction] = []
        self._update_node(site, node, now, actions)
        for camera, connected in cameras.items():
            self._camera(site, camera, node, lost=not connected, now=now, actions=actions)
        return actions

    def tick(self, now: float) -> list[AlertAction]:
        """Advance timers: silent nodes, stale zones, expiring repeats, hysteresis, escalation."""
        actions: list[AlertAction] = []
        for site, node in list(self._nodes):
            self._update_node(site, node, now, actions)
        for site_zones in self._sites.values():
            for zone in site_zones.counts:
                spec = site_zones.specs.get(zone)
                if spec is not None:
                    self._update_zone(spec, now, actions)
        for (site, zone), times in list(self._spacing_times.items()):
            self._expire_repeated(site, zone, times, now, actions)
        for key in list(self._conditions):
            self._evaluate(key, now, actions)
        escalate_after = self._rules.escalate_after_s
        for key, alert in self._alerts.items():
            if alert.status == "open" and not alert.escalated and now - alert.escalate_from >= escalate_after:
                alert.escalated = True
                actions.append(self._action("escalate", key, now))
        return actions

    # ------------------------------------------------------------------------------ lifecycle sync
    def load(self, snapshots: Iterable[AlertSnapshot], now: float, *, complete: bool = False) -> None:
        """Take stored alerts over.

        Args:
            snapshots: alerts as stored: open and acknowledged ones, and resolved ones still within
                their cooldown.
            now: the current time.
            complete: the snapshots are every open alert there is; alerts this engine holds open
                that are missing were resolved elsewhere.
        """
        seen: set[AlertKey] = set()
        for snap in snapshots:
            seen.add(snap.key)
            current = self._alerts.get(snap.key)
            alert = _Alert(
                status=snap.status,
                severity=snap.severity,
                opened_at=snap.opened_at,
                escalate_from=current.escalate_from if current is not None else snap.opened_at,
                resolved_at=snap.resolved_at,
                escalated=snap.escalated or snap.status != "open",
                peak=snap.peak,
                acknowledged=snap.acknowledged,
            )
            self._alerts[snap.key] = alert
            cond = self._conditions.get(snap.key)
            if snap.status != "resolved":
                if cond is None:
                    trigger_s, clear_s = self._timings(snap.key)
                    cond = _Condition(trigger_s, clear_s, raw=True, changed_at=now, synced=True)
                    self._conditions[snap.key] = cond
                    self._contexts.setdefault(snap.key, _Context(snap.severity))
                cond.active = True
            elif cond is not None:
                self._resolved_elsewhere(cond, now)
        if complete:
            for key, alert in self._alerts.items():
                if key not in seen and alert.status != "resolved":
                    alert.status = "resolved"
                    alert.resolved_at = now
                    cond = self._conditions.get(key)
                    if cond is not None:
                        self._resolved_elsewhere(cond, now)

    @staticmethod
    def _resolved_elsewhere(cond: _Condition, now: float) -> None:
        """An alert was resolved by another replica: a condition this engine only knew from that
        alert ends with it (else, once this engine judges the zone itself, say after the other
        replica died, the next crowd would find it already active and raise nothing). A condition
        it observed itself stays: a resolve by hand waits for the crowd to leave and return."""
        if cond.synced:
            cond.raw = cond.active = False
            cond.changed_at = now

    def alert_status(self, key: AlertKey) -> AlertStatus | None:
        """The engine's view of the key's alert (None: it never had one)."""
        alert = self._alerts.get(key)
        return alert.status if alert is not None else None

    def forget_resolved(self, now: float) -> None:
        """Drop resolved alerts past their cooldown and idle conditions, to bound memory."""
        cooldown = self._rules.cooldown_s
        for key, alert in list(self._alerts.items()):
            if (
                alert.status == "resolved"
                and alert.resolved_at is not None
                and now - alert.resolved_at > cooldown
            ):
                del self._alerts[key]
        for key, cond in list(self._conditions.items()):
            if (
                not cond.raw
                and not cond.active
                and key not in self._alerts
                and now - cond.changed_at > cooldown
            ):
                del self._conditions[key]
                self._contexts.pop(key, None)

    # ------------------------------------------------------------------------------ rules
    def _site(self, site: str) -> _SiteZones:
        return self._sites.setdefault(site, _SiteZones())

    def _zone_kind(self, site: str, zone: str) -> str | None:
        spec = self._site(site).specs.get(zone)
        return spec.kind if spec is not None else None

    def _zone_at(self, site: str, floor: tuple[float, float] | None) -> str | None:
        """The window, queue (or other area, not the whole hall) whose outline holds ``floor``."""
        if floor is None:
            return None
        order = {"window": 0, "queue": 1}
        inside = [
            spec
            for spec in self._site(site).specs.values()
            if spec.kind in order and len(spec.polygon) >= 3 and _inside(floor, spec.polygon)
        ]
        inside.sort(key=lambda spec: (order[spec.kind], spec.zone))
        return inside[0].zone if inside else None

    def _zone_label(self, site: str, zone: str | None) -> str:
        spec = self._site(site).specs.get(zone or "")
        return (spec.name or spec.zone) if spec is not None else (zone or "?")

    def _fused_count(self, site: str, zone: str, now: float) -> int | None:
        cameras = self._site(site).counts.get(zone, {})
        fresh = [n for n, t in cameras.values() if now - t <= self._rules.zone_stale_s]
        return max(fresh) if fresh else None

    def _update_zone(self, spec: ZoneSpec, now: float, actions: list[AlertAction]) -> None:
        rule_name = _ZONE_RULES.get(spec.kind)
        if rule_name is None:
            return
        override = self._rules.override(spec.site, spec.zone)
        limit = override.limit if override is not None and override.limit is not None else spec.limit
        if limit is None:
            return
        count = self._fused_count(spec.site, spec.zone, now)
        if count is None:
            return  # no fresh data: the condition keeps its last value
        key = AlertKey(spec.site, rule_name, spec.zone)
        label = spec.name or spec.zone
        # The message names the rule, not a count: a count written into it goes stale while the
        # pages show the count now, the peak and since when next to it (issue 13).
        if rule_name == "hall_capacity":
            hall = self._rules.hall
            if not _enabled(hall.enabled, override):
                return
            critical_at = hall.critical_ratio * limit
            cond = self._raw(key, count >= hall.warning_ratio * limit, now)
            if count < critical_at:
                cond.critical_since = None
            elif cond.critical_since is None:
                cond.critical_since = now
            cond.critical_at = critical_at
            ctx = _Context("warning", zone=spec.zone, label=f"{label}: capacity {limit} people")
            self._set(key, cond.raw, now, ctx, actions, value=count, limit=limit)
        else:
            rule = self._rules.window if rule_name == "window_over_limit" else self._rules.queue
            if not _enabled(rule.enabled, override):
                return
            what = "people" if spec.kind == "window" else "people waiting"
            ctx = _Context(rule.severity, zone=spec.zone, label=f"{label}: more than {limit} {what}")
            cond = self._raw(key, count > limit, now)
            cond.critical_at = rule.critical_ratio * limit if rule.critical_ratio is not None else None
            self._set(key, count > limit, now, ctx, actions, value=count, limit=limit)

    def _count_repeated(
        self, site: str, zone: str, camera: str, node: str, now: float, actions: list[AlertAction]
    ) -> None:
        rule = self._rules.repeated_spacing
        if not rule.enabled:
            return
        times = self._spacing_times.setdefault((site, zone), deque())
        times.append(now)
        key = AlertKey(site, "repeated_spacing", zone)
        self._contexts[key] = _Context(rule.severity, zone=zone, camera=camera, node=node)
        self._expire_repeated(site, zone, times, now, actions)

    def _expire_repeated(
        self, site: str, zone: str, times: deque[float], now: float, actions: list[AlertAction]
    ) -> None:
        rule = self._rules.repeated_spacing
        while times and now - times[0] > rule.within_s:
            times.popleft()
        key = AlertKey(site, "repeated_spacing", zone)
        ctx = self._contexts.get(key) or _Context(rule.severity, zone=zone)
        minutes = rule.within_s / 60
        ctx.label = (
            f"{len(times)} spacing violations at {self._zone_label(site, zone)} within {minutes:g} min"
        )
        self._set(key, len(times) >= rule.count, now, ctx, actions, value=len(times), limit=rule.count)
        if not times:
            del self._spacing_times[(site, zone)]

    def _drop_pair(self, pair_key: _PairKey, now: float, actions: list[AlertAction]) -> None:
        subject, _ = self._pairs.pop(pair_key)
        site = pair_key[0]
        if any(s == subject and k[0] == site for k, (s, _) in self._pairs.items()):
            return
        key = AlertKey(site, "spacing_violation", subject)
        if key in self._conditions:
            self._set(key, False, now, None, actions)

    def _camera(
        self, site: str, camera: str, node: str, *, lost: bool, now: float, actions: list[AlertAction]
    ) -> None:
        rule = self._rules.camera_lost
        if not rule.enabled:
            return
        key = AlertKey(site, "camera_lost", camera)
        if not lost and key not in self._conditions:
            return
        ctx = _Context(rule.severity, camera=camera, node=node, label=f"camera {camera} on {node} is lost")
        self._set(key, lost, now, ctx, actions)

    def _update_node(self, site: str, node: str, now: float, actions: list[AlertAction]) -> None:
        rule = self._rules.node_offline
        if not rule.enabled:
            return
        state = self._nodes[(site, node)]
        silent = now - state.alive_at > rule.silence_s
        offline = state.status == "offline" or (state.status == "online" and silent)
        key = AlertKey(site, "node_offline", node)
        if not offline and key not in self._conditions:
            return
        why = "its connection dropped" if state.status == "offline" else f"no health for {rule.silence_s:g} s"
        ctx = _Context(rule.severity, node=node, label=f"node {node} is offline ({why})")
        self._set(key, offline, now, ctx, actions)

    # ------------------------------------------------------------------------------ hysteresis
    def _timings(self, key: AlertKey) -> tuple[float, float]:
        rules = self._rules
        base = {
            "window_over_limit": (rules.window.trigger_s, rules.window.clear_s),
            "queue_over_limit": (rules.queue.trigger_s, rules.queue.clear_s),
            "hall_capacity": (rules.hall.trigger_s, rules.hall.clear_s),
            "spacing_violation": (rules.spacing.trigger_s, rules.spacing.clear_s),
            "camera_lost": (rules.camera_lost.trigger_s, rules.camera_lost.clear_s),
        }.get(key.rule, (0.0, 0.0))
        override = self._rules.override(key.site, key.subject) if key.rule in _ZONE_RULES.values() else None
        if override is None:
            return base
        return (
            override.trigger_s if override.trigger_s is not None else base[0],
            override.clear_s if override.clear_s is not None else base[1],
        )

    def _set(
        self,
        key: AlertKey,
        raw: bool,
        now: float,
        ctx: _Context | None,
        actions: list[AlertAction],
        *,
        value: int | None = None,
        limit: int | None = None,
    ) -> _Condition:
        cond = self._raw(key, raw, now)
        if value is not None:
            cond.value, cond.limit = value, limit
        if ctx is not None:
            self._contexts[key] = ctx
        self._evaluate(key, now, actions)
        return cond

    def _raw(self, key: AlertKey, raw: bool, now: float) -> _Condition:
        cond = self._conditions.get(key)
        if cond is None:
            trigger, clear = self._timings(key)
            cond = _Condition(trigger, clear, raw=raw, changed_at=now)
            self._conditions[key] = cond
        elif cond.raw != raw:
            cond.raw, cond.changed_at = raw, now
        cond.synced = False
        return cond

    def _evaluate(self, key: AlertKey, now: float, actions: list[AlertAction]) -> None:
        cond = self._conditions[key]
        if cond.raw and not cond.active and now - cond.changed_at >= cond.trigger_s:
            cond.active = True
            self._activated(key, cond, now, actions)
        elif not cond.raw and cond.active and now - cond.changed_at >= cond.clear_s:
            cond.active = False
            alert = self._alerts.get(key)
            if alert is not None and alert.status != "resolved":
                alert.status, alert.resolved_at = "resolved", now
                actions.append(self._action("resolve", key, now))
        elif cond.active:
            self._follow(key, cond, now, actions)

    def _severity(self, key: AlertKey, cond: _Condition, now: float) -> Severity:
        """What the rule says now (it goes down as well as up while the alert is open)."""
        ctx = self._contexts.get(key)
        severity: Severity = ctx.severity if ctx is not None else "warning"
        if key.rule == "hall_capacity":
            since = cond.critical_since
            if since is not None and now - since >= cond.trigger_s:
                severity = "critical"
        elif cond.critical_at is not None and cond.value is not None and cond.value >= cond.critical_at:
            severity = "critical"
        return severity

    def _activated(self, key: AlertKey, cond: _Condition, now: float, actions: list[AlertAction]) -> None:
        alert = self._alerts.get(key)
        severity = self._severity(key, cond, now)
        if alert is not None and alert.status != "resolved":
            self._follow(key, cond, now, actions)  # taken over after a restart: still the same alert
            return
        cooldown = self._rules.cooldown_s
        if alert is not None and alert.resolved_at is not None and now - alert.resolved_at < cooldown:
            # Whoever took it is still on it: the store keeps the taker (issue 13: a take is never lost).
            alert.status = "acknowledged" if alert.acknowledged else "open"
            alert.resolved_at, alert.escalate_from, alert.escalated = None, now, alert.acknowledged
            alert.severity, alert.peak = severity, _max(alert.peak, cond.value)
            actions.append(self._action("reopen", key, now, severity=alert.severity, value=cond.value))
            return
        self._alerts[key] = _Alert(
            status="open", severity=severity, opened_at=now, escalate_from=now, peak=cond.value
        )
        actions.append(self._action("open", key, now, severity=severity, value=cond.value))

    def _follow(self, key: AlertKey, cond: _Condition, now: float, actions: list[AlertAction]) -> None:
        alert = self._alerts.get(key)
        if alert is None or alert.status == "resolved":
            return
        severity = self._severity(key, cond, now)
        if severity != alert.severity and cond.raw:  # while it clears, it keeps its last severity
            alert.severity = severity
            actions.append(self._action("severity", key, now, severity=severity, value=cond.value))
        if cond.value is not None and (alert.peak is None or cond.value > alert.peak):
            alert.peak = cond.value
            actions.append(self._action("peak", key, now, severity=alert.severity, value=cond.value))

    def _action(
        self,
        kind: ActionKind,
        key: AlertKey,
        now: float,
        *,
        severity: Severity | None = None,
        value: int | None = None,
    ) -> AlertAction:
        ctx = self._contexts.get(key) or _Context("warning")
        cond = self._conditions.get(key)
        alert = self._alerts.get(key)
        return AlertAction(
            kind=kind,
            key=key,
            at=now,
            severity=severity or (alert.severity if alert is not None else ctx.severity),
            value=value,
            limit=cond.limit if cond is not None else None,
            zone=ctx.zone,
            camera=ctx.camera,
            node=ctx.node,
            message=ctx.label,
            floor=ctx.floor,
        )


def layout_zones(layout: NodeLayout) -> list[ZoneSpec]:
    """The zones of a node's layout message as the engine needs them."""
    return [
        ZoneSpec(
            layout.site,
            z.id,
            z.kind,
            name=z.name,
            limit=z.limit,
            window=z.window,
            polygon=tuple((float(x), float(y)) for x, y in (z.polygon or ())),
        )
        for z in layout.zones
    ]


def _inside(point: tuple[float, float], polygon: tuple[tuple[float, float], ...]) -> bool:
    """Even-odd rule: is ``point`` inside ``polygon`` (metres)?

    Example:
        >>> _inside((1.0, 1.0), ((0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0)))
        True
    """
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _enabled(rule_enabled: bool, override: object) -> bool:
    enabled = getattr(override, "enabled", None)
    return enabled if enabled is not None else rule_enabled


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)
