"""Roles and what each may do. Every route names the permission it needs (see `server.deps`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

Role = Literal["guide", "manager", "ops"]
ROLES: tuple[Role, ...] = get_args(Role)


class Permission(StrEnum):
    ALERTS_READ = "alerts:read"
    ALERTS_ACT = "alerts:act"  # acknowledge, resolve
    OCCUPANCY_READ = "occupancy:read"  # live counts
    ZONES_READ = "zones:read"
    HISTORY_READ = "history:read"  # occupancy history, heatmap
    EVENTS_READ = "events:read"
    EXPORT = "export"
    NODES_READ = "nodes:read"
    NODES_WRITE = "nodes:write"  # config pushes
    USERS_MANAGE = "users:manage"
    METRICS_READ = "metrics:read"
    LIVE_NODES = "live:nodes"  # node and event messages on the live stream
    SETTINGS_READ = "settings:read"  # the alert rules in force
    DEAD_LETTERS = "dead-letters"  # messages ingest refused (they may name no site, or a wrong one)


_EVERYONE = {Permission.ALERTS_READ, Permission.ALERTS_ACT, Permission.OCCUPANCY_READ, Permission.ZONES_READ}

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    # A floor guide reads and takes alerts, and sees the counts that explain them.
    "guide": frozenset(_EVERYONE),
    # A manager reads everything about the hall and exports it.
    "manager": frozenset(
        _EVERYONE
        | {
            Permission.HISTORY_READ,
            Permission.EVENTS_READ,
            Permission.EXPORT,
            Permission.NODES_READ,
            Permission.LIVE_NODES,
            Permission.SETTINGS_READ,
        }
    ),
    # Ops run the system: nodes, their zones and config, users, metrics.
    "ops": frozenset(
        _EVERYONE
        | {
            Permission.EVENTS_READ,
            Permission.NODES_READ,
            Permission.NODES_WRITE,
            Permission.USERS_MANAGE,
            Permission.METRICS_READ,
            Permission.LIVE_NODES,
            Permission.SETTINGS_READ,
            Permission.DEAD_LETTERS,
        }
    ),
}


#: What concerns the whole service, not one site: only users whose role holds on every site.
EVERY_SITE = frozenset({Permission.USERS_MANAGE, Permission.METRICS_READ, Permission.DEAD_LETTERS})


def allows(role: str, permission: Permission) -> bool:
    """Whether ``role`` has ``permission`` (unknown roles have none)."""
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def roles_with(permission: Permission) -> list[str]:
    return [role for role in ROLES if allows(role, permission)]
