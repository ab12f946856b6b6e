"""A node's layout message (`hallwatch.contract.NodeLayout`) read back as config: its zones as the
node's file writes them (for config pushes and the YAML ops download), and as the vision core's
zone models (for the floor the server fuses)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from hallwatch.contract import LayoutZone
from vision.config import EntranceLine, HallZone, QueueZone, WindowZone, Zone

FloorZone = WindowZone | QueueZone | HallZone | EntranceLine
_ZONE: TypeAdapter[FloorZone] = TypeAdapter(Zone)


def zone_config(zone: LayoutZone) -> dict[str, Any]:
    """A layout zone as the node's config writes it (`limit` back to `max_people` or `capacity`)."""
    data: dict[str, Any] = {"id": zone.id, "kind": zone.kind}
    if zone.name is not None:
        data["name"] = zone.name
    if zone.kind == "entrance":
        data["line"] = [list(p) for p in zone.line or ()]
        if zone.inside is not None:
            data["inside"] = list(zone.inside)
    else:
        data["polygon"] = [list(p) for p in zone.polygon]
    if zone.kind == "queue":
        data["window"] = zone.window
    if zone.limit is not None and zone.kind in ("window", "queue"):
        data["max_people"] = zone.limit
    if zone.kind == "hall" and zone.limit is not None:
        data["capacity"] = zone.limit
    if zone.cameras is not None:
        data["cameras"] = list(zone.cameras)
    return data


def floor_zones(zones: Iterable[LayoutZone]) -> tuple[list[FloorZone], list[str]]:
    """Layout zones as the vision core's zones (one per id, the last given wins), and why any could
    not be taken (a layout is checked by the contract, not by the config's rules: a hall without a
    capacity, a queue whose window is missing).

    Example:
        >>> w = LayoutZone(id="w1", kind="window", polygon=[(0, 0), (1, 0), (1, 1)], limit=2)
        >>> q = LayoutZone(id="q9", kind="queue", polygon=[(0, 2), (1, 2), (1, 3)], window="w9")
        >>> zones, problems = floor_zones([w, q])
        >>> [z.id for z in zones], problems
        (['w1'], ["zone q9: its window 'w9' is not a window zone"])
    """
    by_id = {zone.id: zone for zone in zones}
    taken: list[FloorZone] = []
    problems: list[str] = []
    for zone in by_id.values():
        try:
            taken.append(_ZONE.validate_python(zone_config(zone) | {"cameras": None}))
        except ValidationError as exc:
            reason = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
            problems.append(f"zone {zone.id}: {reason}")
    windows = {z.id for z in taken if isinstance(z, WindowZone)}
    halls = [z for z in taken if isinstance(z, HallZone)]
    kept: list[FloorZone] = []
    for z in taken:
        if isinstance(z, QueueZone) and z.window not in windows:
            problems.append(f"zone {z.id}: its window {z.window!r} is not a window zone")
        elif isinstance(z, HallZone) and z is not halls[0]:
            problems.append(f"zone {z.id}: a second hall zone ({halls[0].id} is the hall)")
        else:
            kept.append(z)
    return kept, problems
