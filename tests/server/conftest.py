"""Fixtures for the server tests: a temporary PostgreSQL database per run, SQLite files, the broker."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.databases import create_database, drop_database
from support.processes import require_shared_broker, unique

from server.db.connect import make_engine, migrate
from server.store import Store


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database for this test run, migrated once, dropped at the end."""
    name = unique("hallwatch_test").replace("-", "_")
    url = create_database(name)
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite file of the test's own."""
    path = tmp_path / "hallwatch.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.from_engine(make_engine(db_url))
    yield s
    s.close()


@pytest.fixture
def site() -> str:
    return unique("site")


@pytest.fixture
def shared_broker() -> None:
    """The shared mosquitto on 127.0.0.1:1883; tests use unique site names so topics never collide."""
    require_shared_broker()
