"""The alert engine, scenario by scenario over time (no I/O: every time is passed in).

Each scenario is a script of observations at given seconds; the runner ticks the engine every
half second up to ``until`` and records every action as ``(t, kind, rule, subject)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from support.contract import Node

from hallwatch.contract import CameraEvent
from server.alerts.engine import AlertEngine
from server.alerts.model import AlertAction, AlertKey, AlertSnapshot, ZoneSpec
from server.settings import AlertRules

SITE = "hall-a"
ZONES = [
    ZoneSpec(SITE, "w1", "window", name="Window 1", limit=2),
    ZoneSpec(SITE, "w2", "window", limit=2),
    ZoneSpec(SITE, "q1", "queue", limit=5, window="w1"),
    ZoneSpec(SITE, "q2", "queue", window="w2"),  # no limit: never alerts
    ZoneSpec(SITE, "hall", "hall", limit=10),
]
Step = tuple[float, Callable[[AlertEngine, float], list[AlertAction]]]
Record = tuple[float, str, str, str]


def counts(**zones: int) -> Callable[[AlertEngine, float], list[AlertAction]]:
    def do(engine: AlertEngine, t: float) -> list[AlertAction]:
        return engine.observe_state(SITE, "cam-1", ts=t, zones=zones, violations=0, now=t)

    return do


def violations(n: int, camera: str = "cam-1") -> Callable[[AlertEngine, float], list[AlertAction]]:
    def do(engine: AlertEngine, t: float) -> list[AlertAction]:
        return engine.observe_state(SITE, camera, ts=t, zones={}, violations=n, now=t)

    return do


def event(type_: str, **kw: Any) -> Callable[[AlertEngine, float], list[AlertAction]]:
    def do(engine: AlertEngine, t: float) -> list[AlertAction]:
        msg = CameraEvent(
            site=SITE,
            node="edge-1",
            camera=kw.pop("camera", "cam-1"),
            seq=int(t * 10),
            ts=datetime.fromtimestamp(t, UTC),
            type=type_,  # type: ignore[arg-type]
            **kw,
        )
        return engine.observe_event(msg, t)

    return do


def status(s: str) -> Callable[[AlertEngine, float], list[AlertAction]]:
    return lambda engine, t: engine.observe_node_status(SITE, "edge-1", s, t)


def health(**cameras: bool) -> Callable[[AlertEngine, float], list[AlertAction]]:
    return lambda engine, t: engine.observe_node_health(SITE, "edge-1", cameras or {"cam-1": True}, t)


@dataclass
class Run:
    engine: AlertEngine
    records: list[Record] = field(default_factory=list)
    actions: list[AlertAction] = field(default_factory=list)
    t: float = 0.0

    def play(self, steps: list[Step], until: float, tick_s: float = 0.5) -> list[Record]:
        pending = sorted(steps, key=lambda s: s[0])
        start = self.t
        n = 0
        while True:
            t = round(start + n * tick_s, 6)
            if t > until:
                break
            while pending and pending[0][0] <= t:
                at, step = pending.pop(0)
                self._record(at, step(self.engine, at))
            self._record(t, self.engine.tick(t))
            n += 1
        self.t = until
        return self.records

    def _record(self, t: float, actions: list[AlertAction]) -> None:
        self.actions += actions
        self.records += [(t, a.kind, a.key.rule, a.key.subject) for a in actions if a.kind != "peak"]


def new_engine(**rules: Any) -> AlertEngine:
    engine = AlertEngine(AlertRules(**rules))
    engine.set_layout(SITE, ZONES)
    return engine


SCENARIOS: dict[str, tuple[list[Step], float, list[Record]]] = {
    # window: limit 2, trigger 10 s, clear 30 s (the defaults: a guide on foot finds it still open)
    "window over for less than T never alerts": (
        [(0, counts(w1=3)), (9, counts(w1=2))],
        60,
        [],
    ),
    "flapping count never alerts": (
        [(t, counts(w1=3 if i % 2 == 0 else 2)) for i, t in enumerate(range(0, 120, 4))],
        130,
        [],
    ),
    "crowd for T opens once, clears after T2": (
        [(0, counts(w1=3)), (40, counts(w1=2))],
        100,
        [(10, "open", "window_over_limit", "w1"), (70, "resolve", "window_over_limit", "w1")],
    ),
    "a short dip does not clear": (
        [(0, counts(w1=3)), (20, counts(w1=2)), (30, counts(w1=3)), (40, counts(w1=1))],
        100,
        [(10, "open", "window_over_limit", "w1"), (70, "resolve", "window_over_limit", "w1")],
    ),
    "a crowd that thins out for 25 s and comes back is one alert (no flapping)": (
        [(0, counts(w1=3)), (15, counts(w1=1)), (40, counts(w1=3)), (60, counts(w1=0))],
        120,
        [(10, "open", "window_over_limit", "w1"), (90, "resolve", "window_over_limit", "w1")],
    ),
    "a window at twice its limit is critical, and a warning again below": (
        [(0, counts(w1=3)), (20, counts(w1=4)), (30, counts(w1=3)), (40, counts(w1=0))],
        80,
        [
            (10, "open", "window_over_limit", "w1"),
            (20, "severity", "window_over_limit", "w1"),
            (30, "severity", "window_over_limit", "w1"),
            (70, "resolve", "window_over_limit", "w1"),
        ],
    ),
    "at the limit is not over": (
        [(0, counts(w1=2))],
        60,
        [],
    ),
    "long crowd: one alert, escalated once": (
        [(0, counts(w1=5)), (900, counts(w1=0))],
        1000,
        [
            (10, "open", "window_over_limit", "w1"),
            (310, "escalate", "window_over_limit", "w1"),
            (930, "resolve", "window_over_limit", "w1"),
        ],
    ),
    "crowd back within the cooldown reopens the same alert": (
        [(0, counts(w1=3)), (20, counts(w1=0)), (100, counts(w1=3))],
        200,
        [
            (10, "open", "window_over_limit", "w1"),
            (50, "resolve", "window_over_limit", "w1"),
            (110, "reopen", "window_over_limit", "w1"),
        ],
    ),
    "crowd back after the cooldown is a new alert": (
        [(0, counts(w1=3)), (20, counts(w1=0)), (400, counts(w1=3))],
        450,
        [
            (10, "open", "window_over_limit", "w1"),
            (50, "resolve", "window_over_limit", "w1"),
            (410, "open", "window_over_limit", "w1"),
        ],
    ),
    "two windows are two alerts": (
        [(0, counts(w1=3, w2=3)), (30, counts(w1=0, w2=0))],
        70,
        [
            (10, "open", "window_over_limit", "w1"),
            (10, "open", "window_over_limit", "w2"),
            (60, "resolve", "window_over_limit", "w1"),
            (60, "resolve", "window_over_limit", "w2"),
        ],
    ),
    "a zone without a layout is not judged": (
        [(0, counts(w9=40))],
        60,
        [],
    ),
    # queue: limit 5, trigger/clear 30 s; a queue without a limit never alerts
    "queue longer than its limit": (
        [(0, counts(q1=6, q2=50)), (60, counts(q1=5, q2=50))],
        120,
        [(30, "open", "queue_over_limit", "q1"), (90, "resolve", "queue_over_limit", "q1")],
    ),
    # hall: capacity 10, warning at 8, critical at 10; trigger 10 s, clear 30 s
    "hall at 80% warns, at 100% turns critical, below it a warning again; one alert": (
        [(0, counts(hall=8)), (20, counts(hall=10)), (40, counts(hall=9)), (60, counts(hall=7))],
        120,
        [
            (10, "open", "hall_capacity", "hall"),
            (30, "severity", "hall_capacity", "hall"),
            (40, "severity", "hall_capacity", "hall"),
            (90, "resolve", "hall_capacity", "hall"),
        ],
    ),
    "hall under 80% is fine": (
        [(0, counts(hall=7))],
        60,
        [],
    ),
    # spacing: trigger 5 s, clear 30 s
    "a short spacing violation is not an alert": (
        [
            (0, event("spacing_violation_started", zone="w1", people=[1, 2], distance_m=0.6)),
            (3, event("spacing_violation_ended", zone="w1", people=[1, 2], duration_s=3.0)),
        ],
        30,
        [],
    ),
    "a spacing violation lasting T is an alert": (
        [
            (0, event("spacing_violation_started", zone="w1", people=[1, 2], distance_m=0.6)),
            (20, event("spacing_violation_ended", zone="w1", people=[1, 2], duration_s=20.0)),
        ],
        60,
        [(5, "open", "spacing_violation", "w1"), (50, "resolve", "spacing_violation", "w1")],
    ),
    "a camera state with no violations ends stale pairs": (
        [
            (0, event("spacing_violation_started", people=[3, 4], distance_m=0.5)),
            (12, violations(0)),
        ],
        50,
        [(5, "open", "spacing_violation", "cam-1"), (42, "resolve", "spacing_violation", "cam-1")],
    ),
    "repeated violations at one window within N minutes": (
        [
            (0, event("spacing_violation_started", zone="w2", people=[1, 2])),
            (1, event("spacing_violation_ended", zone="w2", people=[1, 2])),
            (100, event("spacing_violation_started", zone="w2", people=[3, 4])),
            (101, event("spacing_violation_ended", zone="w2", people=[3, 4])),
            (200, event("spacing_violation_started", zone="w2", people=[5, 6])),
            (201, event("spacing_violation_ended", zone="w2", people=[5, 6])),
        ],
        900,
        [
            (200, "open", "repeated_spacing", "w2"),
            (500, "escalate", "repeated_spacing", "w2"),
            (600.5, "resolve", "repeated_spacing", "w2"),
        ],
    ),
    "violations spread over more than N minutes are not repeated": (
        [
            (0, event("spacing_violation_started", zone="w2", people=[1, 2])),
            (1, event("spacing_violation_ended", zone="w2", people=[1, 2])),
            (400, event("spacing_violation_started", zone="w2", people=[3, 4])),
            (401, event("spacing_violation_ended", zone="w2", people=[3, 4])),
            (800, event("spacing_violation_started", zone="w2", people=[5, 6])),
            (801, event("spacing_violation_ended", zone="w2", people=[5, 6])),
        ],
        900,
        [],
    ),
    # nodes: last will, or no health for 30 s; a stopped node is not an alert
    "node offline by its last will, back online": (
        [(0, status("online")), (10, status("offline")), (50, status("online"))],
        60,
        [(10, "open", "node_offline", "edge-1"), (50, "resolve", "node_offline", "edge-1")],
    ),
    "node silent for 30 s": (
        [(0, health()), (10, health()), (100, health())],
        120,
        [(40.5, "open", "node_offline", "edge-1"), (100, "resolve", "node_offline", "edge-1")],
    ),
    "a stopped node is not offline": (
        [(0, health()), (5, status("stopped"))],
        120,
        [],
    ),
    "node sending health is fine": (
        [(t, health()) for t in range(0, 120, 10)],
        120,
        [],
    ),
    # cameras
    "camera lost and recovered (events)": (
        [
            (0, event("camera_lost", reason="no frame for 5 s")),
            (20, event("camera_recovered", duration_s=20.0)),
        ],
        30,
        [(0, "open", "camera_lost", "cam-1"), (20, "resolve", "camera_lost", "cam-1")],
    ),
    "camera disconnected in health": (
        [(0, health(**{"cam-1": True, "cam-2": False})), (10, health(**{"cam-1": True, "cam-2": True}))],
        20,
        [(0, "open", "camera_lost", "cam-2"), (10, "resolve", "camera_lost", "cam-2")],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(name: str) -> None:
    steps, until, expected = SCENARIOS[name]
    assert Run(new_engine()).play(steps, until) == expected


def test_stale_counts_keep_the_alert_open() -> None:
    """A camera that stops reporting does not clear the window: nobody knows it emptied."""
    records = Run(new_engine()).play([(0, counts(w1=4))], 1000)
    assert records == [(10, "open", "window_over_limit", "w1"), (310, "escalate", "window_over_limit", "w1")]


def test_open_action_carries_what_the_pages_show() -> None:
    run = Run(new_engine())
    run.play([(0, counts(w1=3)), (5, counts(w1=4))], 12)
    opened = [a for a in run.actions if a.kind == "open"]
    assert len(opened) == 1
    action = opened[0]
    assert (action.key, action.value, action.limit, action.zone) == (
        AlertKey(SITE, "window_over_limit", "w1"),
        4,
        2,
        "w1",
    )
    assert action.severity == "critical"  # 4 at a window of 2: twice its limit (window.critical_ratio)
    # the message names the rule and the limit; the count it opened with is in `value` (the pages
    # show the count now and the peak next to it, so the text never contradicts them)
    assert action.message == "Window 1: more than 2 people"


def test_peak_follows_the_highest_count() -> None:
    run = Run(new_engine())
    run.play([(0, counts(w1=3)), (15, counts(w1=6)), (20, counts(w1=4))], 30)
    assert [(a.kind, a.value) for a in run.actions] == [("open", 3), ("severity", 6), ("peak", 6)]


def test_several_cameras_on_one_zone_take_the_highest_fresh_count() -> None:
    engine = new_engine()
    engine.observe_state(SITE, "cam-a", ts=0, zones={"w1": 1}, violations=0, now=0)
    engine.observe_state(SITE, "cam-b", ts=0, zones={"w1": 3}, violations=0, now=0)
    assert [a.kind for a in engine.tick(10)] == ["open"]
    # cam-b goes quiet: after zone_stale_s (15 s) only cam-a's count (1) is fresh, so the
    # window is at its limit from t=16 and clears 30 s later
    engine.observe_state(SITE, "cam-a", ts=12, zones={"w1": 1}, violations=0, now=12)
    assert engine.tick(15) == []
    assert engine.tick(16) == []
    assert engine.tick(45.5) == []
    assert [a.kind for a in engine.tick(46)] == ["resolve"]


def test_zone_override_changes_limit_and_timing() -> None:
    rules = {"zones": {f"{SITE}/w1": {"limit": 4, "trigger_s": 2.0}, "w2": {"enabled": False}}}
    records = Run(new_engine(**rules)).play([(0, counts(w1=3, w2=9)), (10, counts(w1=5, w2=9))], 20)
    assert records == [(12, "open", "window_over_limit", "w1")]


def test_disabled_rule_never_alerts() -> None:
    records = Run(new_engine(window={"enabled": False, "trigger_s": 0, "clear_s": 0})).play(
        [(0, counts(w1=9))], 30
    )
    assert records == []


def test_limit_learnt_from_an_event_without_a_layout() -> None:
    engine = AlertEngine(AlertRules())
    run = Run(engine)
    steps: list[Step] = [
        (0, event("window_over_limit_started", zone="w7", count=3, limit=2)),
        (0, counts(w7=3)),
    ]
    assert run.play(steps, 12) == [(10, "open", "window_over_limit", "w7")]


# ---------------------------------------------------------------------------------- lifecycle sync
def _snapshot(status: str, opened: float, **kw: Any) -> AlertSnapshot:
    return AlertSnapshot(
        key=AlertKey(SITE, "window_over_limit", "w1"),
        status=status,  # type: ignore[arg-type]
        severity="warning",
        opened_at=opened,
        **kw,
    )


def test_restart_mid_alert_keeps_the_alert_and_resolves_it_once() -> None:
    first = Run(new_engine())
    assert first.play([(0, counts(w1=3))], 30) == [(10, "open", "window_over_limit", "w1")]
    # the server restarts at t=30; the new engine takes the stored alert over
    second = Run(new_engine(), t=40)
    second.engine.load([_snapshot("open", 10)], now=40, complete=True)
    records = second.play([(41, counts(w1=3)), (60, counts(w1=1))], 100)
    assert records == [(90, "resolve", "window_over_limit", "w1")]


def test_restart_after_the_crowd_left_resolves_the_taken_over_alert() -> None:
    run = Run(new_engine(), t=100)
    run.engine.load([_snapshot("acknowledged", 10, acknowledged=True)], now=100, complete=True)
    assert run.play([(101, counts(w1=0))], 140) == [(131, "resolve", "window_over_limit", "w1")]


def test_acknowledged_alert_is_not_escalated() -> None:
    run = Run(new_engine())
    run.play([(0, counts(w1=3))], 20)
    run.engine.load([_snapshot("acknowledged", 10, acknowledged=True)], now=20)
    assert run.play([], 1000) == [(10, "open", "window_over_limit", "w1")]


def test_a_taken_alert_that_clears_and_comes_back_is_still_taken() -> None:
    """Issue 13: a guide took it, the crowd thinned out while they walked over, and came back."""
    run = Run(new_engine())
    run.play([(0, counts(w1=3))], 20)
    key = AlertKey(SITE, "window_over_limit", "w1")
    run.engine.load([_snapshot("acknowledged", 10, acknowledged=True)], now=20)
    records = run.play([(30, counts(w1=0)), (100, counts(w1=3))], 1000)
    assert records == [
        (10, "open", "window_over_limit", "w1"),
        (60, "resolve", "window_over_limit", "w1"),
        (110, "reopen", "window_over_limit", "w1"),  # no escalation after it: someone is on it
    ]
    assert run.engine.alert_status(key) == "acknowledged"


def test_resolved_by_hand_stays_resolved_until_the_crowd_returns() -> None:
    run = Run(new_engine())
    run.play([(0, counts(w1=4))], 20)
    run.engine.load([_snapshot("resolved", 10, resolved_at=20)], now=20, complete=True)
    records = run.play([(21, counts(w1=4)), (60, counts(w1=0)), (100, counts(w1=3))], 150)
    assert records == [(10, "open", "window_over_limit", "w1"), (110, "reopen", "window_over_limit", "w1")]


def test_alert_resolved_elsewhere_is_dropped_by_a_complete_load() -> None:
    engine = new_engine()
    Run(engine).play([(0, counts(w1=4))], 20)
    key = AlertKey(SITE, "window_over_limit", "w1")
    assert engine.alert_status(key) == "open"
    engine.load([], now=25, complete=True)
    assert engine.alert_status(key) == "resolved"


def test_another_replicas_alert_is_adopted_not_duplicated() -> None:
    engine = new_engine()
    engine.load([_snapshot("open", 5)], now=5)
    records = Run(engine, t=5).play([(6, counts(w1=3))], 60)
    assert records == []


def test_another_replicas_alert_resolved_there_leaves_nothing_behind() -> None:
    """Found by benchmarks/district_load.py --nats: after a replica died, the first crowd at each
    of its windows raised no alert on the replica that took its sites over, which had loaded the
    dead one's alerts, open then resolved, and kept the window's condition active."""
    engine = new_engine()
    engine.load([_snapshot("open", 5)], now=5)
    engine.load([_snapshot("resolved", 5, resolved_at=8)], now=9)
    records = Run(engine, t=9).play([(10, counts(w1=3)), (40, counts(w1=0))], 80)
    assert [(kind, subject) for _, kind, _, subject in records] == [("reopen", "w1"), ("resolve", "w1")]


def test_forget_resolved_bounds_memory_and_keeps_recent() -> None:
    engine = new_engine()
    Run(engine).play([(0, counts(w1=4)), (20, counts(w1=0))], 60)
    key = AlertKey(SITE, "window_over_limit", "w1")
    engine.forget_resolved(now=100)
    assert engine.alert_status(key) == "resolved"
    engine.forget_resolved(now=1000)
    assert engine.alert_status(key) is None


def test_observe_dispatches_contract_messages() -> None:
    engine = AlertEngine(AlertRules(window={"trigger_s": 0, "clear_s": 0}))
    node = Node(SITE)
    engine.observe(node.layout(), 0)
    actions = engine.observe(node.state({"w1": 3}), 0)
    assert [(a.kind, a.key.subject) for a in actions] == [("open", "w1")]


def test_a_spacing_alert_names_the_queue_or_window_where_the_pair_stands() -> None:
    """Issue 13: "in view of cam-1" told a guide nothing; the pair's floor midpoint names the place."""
    square = lambda x0, y0: ((x0, y0), (x0 + 2.0, y0), (x0 + 2.0, y0 + 2.0), (x0, y0 + 2.0))  # noqa: E731
    engine = AlertEngine(AlertRules(spacing={"trigger_s": 0, "clear_s": 0}))
    engine.set_layout(
        SITE,
        [
            ZoneSpec(
                SITE, "hall", "hall", name="Hall", limit=50, polygon=((0, 0), (20, 0), (20, 14), (0, 14))
            ),
            ZoneSpec(SITE, "w1", "window", name="Window 1", limit=2, polygon=square(1, 0)),
            ZoneSpec(SITE, "q1", "queue", name="Queue 1", polygon=square(1, 3), window="w1"),
        ],
    )
    cases = [((2.0, 4.0), None, "q1", "at Queue 1"), ((2.0, 1.0), "w1", "w1", "at Window 1")]
    cases.append(((10.0, 10.0), None, "cam-1", "on the floor at 10.0 m, 10.0 m"))
    for i, (floor, zone, subject, where) in enumerate(cases):
        (action,) = event("spacing_violation_started", zone=zone, people=[2 * i, 2 * i + 1], floor=floor)(
            engine, i
        )
        assert (action.key.subject, action.zone, action.floor) == (
            subject,
            None if subject == "cam-1" else subject,
            floor,
        )
        assert action.message == f"people closer than the minimum distance {where}"
