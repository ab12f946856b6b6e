"""An API without ingest (no broker) on a SQLite file of the test's own, and logins per role."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_support import login, make_settings
from support.processes import unique

from server.runtime import Server, build_server


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
