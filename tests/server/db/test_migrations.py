"""The Alembic migrations build exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from server.db.connect import alembic_config, make_engine, migrate
from server.db.tables import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'hallwatch.sqlite3'}"
    url: str = request.getfixturevalue("fresh_pg_url")
    return url


def test_upgrade_matches_the_models_and_downgrades(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    config = alembic_config(engine)
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.check(config)  # raises when the models and the migrations differ
        command.downgrade(config, "base")
        conn.commit()
    assert set(inspect(engine).get_table_names()) - {"alembic_version"} == set()
    migrate(engine)
    migrate(engine)  # a second start finds nothing to do
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    engine.dispose()


def test_replicas_starting_together_migrate_once(fresh_pg_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        engine = make_engine(fresh_pg_url)
        try:
            migrate(engine)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_alembic_ini_is_found_inside_the_package() -> None:
    config = alembic_config()
    assert Path(config.config_file_name or "").is_file()
    assert (Path(config.get_main_option("script_location") or "") / "env.py").is_file()
