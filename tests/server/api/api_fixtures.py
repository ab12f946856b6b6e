"""An API without ingest (no broker) on a SQLite file of the test's own, logins per role, and the
data a site's pages read (`seed`, `open_alert`)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_support import login, make_settings
from support.contract import Node
from support.processes import unique

from server.alerts.engine import layout_zones
from server.alerts.model import AlertAction, AlertKey
from server.runtime import Server, build_server
from server.store.ingest_writes import IngestBatch, OccupancyDelta


@dataclass
class Api:
    server: Server
    client: TestClient
    site: str
    clock: list[float]
    logins: dict[str, dict[str, str]] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        """Bearer headers of a user with ``role`` (made once per test)."""
        if role not in self.logins:
            self.logins[role] = login(self.client, self.server.store, role)
        return self.logins[role]

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.server.store


@pytest.fixture
def make_api(sqlite_url: str, site: str) -> Iterator[Callable[..., Api]]:
    made: list[tuple[Server, TestClient]] = []

    def make(**overrides: object) -> Api:
        clock = [time.time()]
        server = build_server(
            make_settings(sqlite_url, site, **overrides), with_ingest=False, clock=lambda: clock[0]
        )
        client = TestClient(server.app, base_url="http://hallwatch.test")
        client.__enter__()
        made.append((server, client))
        return Api(server, client, site, clock)

    yield make
    for server, client in made:
        client.__exit__(None, None, None)
        server.store.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture(scope="module")
def module_api(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One API for a whole module (its tests must not depend on each other's data)."""
    path = tmp_path_factory.mktemp("module-api") / "hallwatch.sqlite3"
    shutil.copy(sqlite_template, path)
    site = unique("site")
    clock = [time.time()]
    server = build_server(make_settings(f"sqlite:///{path}", site), with_ingest=False, clock=lambda: clock[0])
    with TestClient(server.app, base_url="http://hallwatch.test") as client:
        yield Api(server, client, site, clock)
    server.store.close()


T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)


def open_alert(api: Api, subject: str = "w1", rule: str = "window_over_limit", at: datetime = T0) -> int:
    action = AlertAction(
        "open",
        AlertKey(api.site, rule, subject),
        at.timestamp(),
        value=3,
        limit=2,
        zone=subject,
        message="=cmd|' /C calc'!A0",  # type: ignore[arg-type]
    )
    (row,), _ = api.store.alerts.apply([action], 300)
    return row.id


def seed(api: Api) -> Node:
    """A node with a layout, health, a few states and events, and an hour of occupancy."""
    node = Node(api.site)
    layout = node.layout()
    batch = IngestBatch()
    batch.statuses[(api.site, "edge-1")] = (node.status(), T0)
    batch.healths[(api.site, "edge-1")] = (
        node.health({"cam-1": True}),
        datetime.fromtimestamp(api.clock[0], UTC),
    )
    batch.layouts[(api.site, "edge-1")] = (layout, T0)
    batch.events = [
        (
            node.event(
                "person_entered", zone="door", people=[i], ts=datetime.fromtimestamp(api.clock[0] - 60, UTC)
            ),
            T0,
        )
        for i in range(3)
    ] + [(node.event("spacing_violation_started", zone="w1", people=[1, 2], distance_m=0.5, ts=T0), T0)]
    batch.occupancy["minute"] = {
        (api.site, "w1", "cam-1", T0 + timedelta(minutes=m)): OccupancyDelta(
            6, 6 * (m % 4), m % 4, 60.0 * (m % 4), 60.0
        )
        for m in range(60)
    }
    batch.occupancy["hour"] = {(api.site, "w1", "cam-1", T0): OccupancyDelta(360, 540, 3, 5400.0, 3600.0)}
    day = T0.replace(hour=0, minute=0)
    batch.occupancy["day"] = {
        (api.site, "w1", "cam-1", day): OccupancyDelta(360, 540, 3, 5400.0, 3600.0),
        (api.site, "w1", "cam-2", day): OccupancyDelta(10, 40, 4, 40.0, 10.0),
    }
    batch.heatmap = {(api.site, "cam-1", T0, 2, 3): 40}
    api.store.ingest.write(batch)
    api.server.live.set_layout(api.site, layout_zones(layout))
    now = datetime.fromtimestamp(api.clock[0], UTC)
    api.server.live.update_camera(
        api.site,
        "cam-1",
        "edge-1",
        ts=now,
        received_at=now,
        zones={"w1": 3, "w2": 0, "hall": 9},
        people=12,
        violations=1,
    )
    return node


# (method, path) -> roles allowed. Public: only login and the health check.
ACCESS: dict[tuple[str, str], set[str]] = {
    ("POST", "/api/v1/auth/logout"): {"guide", "manager", "ops"},
    ("GET", "/api/v1/auth/me"): {"guide", "manager", "ops"},
    ("GET", "/api/v1/alerts"): {"guide", "manager", "ops"},
    ("GET", "/api/v1/alerts/{alert_id}"): {"guide", "manager", "ops"},
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): {"guide", "manager", "ops"},
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): {"guide", "manager", "ops"},
    ("GET", "/api/v1/sites"): {"guide", "manager", "ops"},
    ("GET", "/api/v1/overview"): {"guide", "manager", "ops"},
    ("GET", "/api/v1/sites/{site}/occupancy"): {"guide", "manager", "ops"},
    ("GET", "/api/v1/sites/{site}/history"): {"manager"},
    ("GET", "/api/v1/sites/{site}/heatmap"): {"manager"},
    ("GET", "/api/v1/sites/{site}/summary"): {"manager"},
    ("GET", "/api/v1/sites/{site}/layout"): {"guide", "manager", "ops"},
    ("GET", "/api/v1/sites/{site}/queues"): {"manager"},
    ("GET", "/api/v1/sites/{site}/waits"): {"manager"},
    ("GET", "/api/v1/sites/{site}/event-counts"): {"manager"},
    ("GET", "/api/v1/sites/{site}/accuracy"): {"manager"},
    ("POST", "/api/v1/sites/{site}/count-checks"): {"guide", "manager", "ops"},
    ("GET", "/api/v1/nodes"): {"manager", "ops"},
    ("GET", "/api/v1/nodes/{site}/{node}"): {"manager", "ops"},
    ("POST", "/api/v1/nodes/{site}/{node}/config"): {"ops"},
    ("DELETE", "/api/v1/nodes/{site}/{node}/config"): {"ops"},
    ("GET", "/api/v1/nodes/{site}/{node}/config"): {"ops"},
    ("GET", "/api/v1/nodes/{site}/{node}/config.yaml"): {"ops"},
    ("POST", "/api/v1/nodes/{site}/{node}/zones"): {"ops"},
    ("POST", "/api/v1/nodes/{site}/{node}/cameras/{camera}/calibration"): {"ops"},
    ("POST", "/api/v1/nodes/{site}/{node}/cameras/{camera}/calibration/preview"): {"ops"},
    ("POST", "/api/v1/nodes/{site}/{node}/snapshot"): {"ops"},
    ("GET", "/api/v1/nodes/{site}/{node}/snapshot/{request_id}"): {"ops"},
    ("GET", "/api/v1/nodes/{site}/{node}/cameras/{camera}/snapshot.jpg"): {"ops"},
    ("GET", "/api/v1/nodes/{site}/{node}/cameras/{camera}/snapshot"): {"ops"},
    ("GET", "/api/v1/cameras"): {"manager", "ops"},
    ("GET", "/api/v1/sites/{site}/cameras"): {"manager", "ops"},
    ("GET", "/api/v1/zones"): {"guide", "manager", "ops"},
    ("GET", "/api/v1/events"): {"manager", "ops"},
    ("GET", "/api/v1/export/occupancy.csv"): {"manager"},
    ("GET", "/api/v1/export/events.csv"): {"manager"},
    ("GET", "/api/v1/export/alerts.csv"): {"manager"},
    ("GET", "/api/v1/users"): {"ops"},
    ("POST", "/api/v1/users"): {"ops"},
    ("PATCH", "/api/v1/users/{user_id}"): {"ops"},
    ("DELETE", "/api/v1/users/{user_id}"): {"ops"},
    ("GET", "/api/v1/rules"): {"manager", "ops"},
    ("GET", "/metrics"): {"ops"},
    ("GET", "/api/v1/dead-letters"): {"ops"},
    ("DELETE", "/api/v1/dead-letters"): {"ops"},
    ("DELETE", "/api/v1/dead-letters/{letter_id}"): {"ops"},
    ("GET", "/api/v1/quarantine/nodes"): {"ops"},
    ("POST", "/api/v1/quarantine/nodes/{site}/{node}/accept"): {"ops"},
    ("DELETE", "/api/v1/quarantine/nodes/{site}/{node}"): {"ops"},
}
PUBLIC = {("POST", "/api/v1/auth/login"), ("GET", "/healthz")}


def concrete(path: str, site: str) -> str:
    return (
        path.replace("{site}", site)
        .replace("{node}", "edge-1")
        .replace("{camera}", "cam-1")
        .replace("{request_id}", "00000000-0000-0000-0000-000000000001")
        .replace("{alert_id}", "999999")
        .replace("{user_id}", "999999")
        .replace("{letter_id}", "999999")
        .replace("export/occupancy.csv", f"export/occupancy.csv?site={site}")
        .replace("export/events.csv", f"export/events.csv?site={site}")
        .replace("export/alerts.csv", f"export/alerts.csv?site={site}")
    )
