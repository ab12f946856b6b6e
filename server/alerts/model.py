"""Values the alert engine takes and gives: keys, zone descriptions, actions, snapshots.

Times are seconds since the epoch (floats), always passed in by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RuleName = Literal[
    "window_over_limit",
    "queue_over_limit",
    "hall_capacity",
    "spacing_violation",
    "repeated_spacing",
    "node_offline",
    "camera_lost",
]
RULES: tuple[RuleName, ...] = RuleName.__args__  # type: ignore[attr-defined]
Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
AlertStatus = Literal["open", "acknowledged", "resolved"]
ZoneKind = Literal["window", "queue", "hall", "entrance"]
ActionKind = Literal["open", "reopen", "resolve", "escalate", "severity", "peak"]


@dataclass(frozen=True, slots=True)
class AlertKey:
    """What an alert is about: one rule for one zone, camera or node of one site.

    At most one alert per key is open at a time; the database enforces it with `open_key`.
    """

    site: str
    rule: RuleName
    subject: str

    @property
    def open_key(self) -> str:
        """The unique string stored while the alert is open or acknowledged."""
        return f"{self.site}/{self.rule}/{self.subject}"


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """One zone as a node's layout describes it."""

    site: str
    zone: str
    kind: ZoneKind
    name: str | None = None
    limit: int | None = None
    window: str | None = None
    polygon: tuple[tuple[float, float], ...] = ()  # metres on the floor; empty when not known


@dataclass(frozen=True, slots=True)
class AlertAction:
    """One change the engine asks the store to make.

    - ``open``: a new alert; ``reopen``: the key's alert resolved within the cooldown opens again
      (acknowledged by whoever had taken it);
    - ``resolve``: the condition cleared; ``escalate``: open and unacknowledged for too long;
    - ``severity``: the open alert's severity changes (up or down, as the rule says);
      ``peak``: its highest value rises.
    """

    kind: ActionKind
    key: AlertKey
    at: float
    severity: Severity = "warning"
    value: int | None = None
    limit: int | None = None
    zone: str | None = None
    camera: str | None = None
    node: str | None = None
    message: str = ""
    floor: tuple[float, float] | None = None  # where on the floor (metres): a spacing alert's pair


@dataclass(frozen=True, slots=True)
class AlertSnapshot:
    """An alert as stored, for the engine to take over after a restart or from another replica."""

    key: AlertKey
    status: AlertStatus
    severity: Severity
    opened_at: float
    resolved_at: float | None = None
    acknowledged: bool = False
    escalated: bool = False
    peak: int | None = None
