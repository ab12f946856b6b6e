"""The running PostgreSQL (127.0.0.1:5432, trust auth) and Redis (127.0.0.1:6379) the tests use."""

from __future__ import annotations

import psycopg
import pytest

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def create_database(name: str) -> str:
    """An empty database ``name``; its SQLAlchemy URL. Fails the test clearly if PostgreSQL is away."""
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 (user postgres, trust) is needed: {exc}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def require_redis() -> str:
    """The running Redis's URL; fails the test clearly if it does not answer."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis on 127.0.0.1:6379 is needed (`.ci/run` starts it): {exc}")
    return REDIS_URL
