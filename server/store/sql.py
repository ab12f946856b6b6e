"""Small helpers that hide the differences between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement


def insert_for(engine: Engine | Connection, table: Any) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing/update`` on this engine's dialect."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def greatest(engine: Engine | Connection, a: Any, b: Any) -> ColumnElement[Any]:
    """The larger of two SQL values (GREATEST on PostgreSQL, two-argument MAX on SQLite)."""
    if engine.dialect.name == "postgresql":
        return func.greatest(a, b)
    return func.max(a, b)


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A write transaction (``BEGIN IMMEDIATE`` on SQLite): committed on success, rolled back on error."""
    with engine.execution_options(sqlite_immediate=True).begin() as conn:
        yield conn
