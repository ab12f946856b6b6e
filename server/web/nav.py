"""The pages people can open, who may open them, and the navigation built from that.

Every page registers a `NavItem`; the header shows a role the items it may open, and ``/`` sends
each role to its home page. Another module adds its pages with `register` at import time::

    register(NavItem("/ops/nodes", "Nodes", roles=frozenset({"ops"}), order=40, home_for=frozenset({"ops"})))

`register` replaces an item with the same path, so re-importing a module is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.auth.roles import ROLES


@dataclass(frozen=True, slots=True)
class NavItem:
    """One page in the navigation."""

    path: str
    label: str
    roles: frozenset[str]
    order: int = 100
    home_for: frozenset[str] = field(default_factory=frozenset)
    in_nav: bool = True  # False: a page that may be opened but is not listed (e.g. a detail page)

    def allows(self, role: str) -> bool:
        return role in self.roles


_ITEMS: dict[str, NavItem] = {}

# The fallback home of a role when no registered item claims it.
DEFAULT_HOME = "/guide"


def register(item: NavItem) -> NavItem:
    """Add (or replace) a page; raises ValueError for unknown roles or a path not starting with /."""
    unknown = (item.roles | item.home_for) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)} for {item.path}")
    if not item.path.startswith("/") or item.path.startswith("//"):
        raise ValueError(f"a page path must start with one /: {item.path!r}")
    _ITEMS[item.path] = item
    return item


def items() -> list[NavItem]:
    """Every registered page, in navigation order."""
    return sorted(_ITEMS.values(), key=lambda i: (i.order, i.path))


def nav_for(role: str) -> list[NavItem]:
    """The pages listed in the header for ``role``."""
    return [i for i in items() if i.in_nav and i.allows(role)]


def item_for(path: str) -> NavItem | None:
    return _ITEMS.get(path)


def home_path(role: str) -> str:
    """Where ``/`` and the login send ``role``: the first item that names it as its home."""
    for item in items():
        if role in item.home_for and item.allows(role):
            return item.path
    listed = nav_for(role)
    return listed[0].path if listed else DEFAULT_HOME
