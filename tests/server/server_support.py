"""Helpers for the server tests: settings for an in-process server, running it, logging in.

Payloads come from `support.contract`, publishing from `support.mqtt`, waiting from
`support.processes`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from support.processes import unique

from server.runtime import Server, build_server
from server.settings import Settings

SECRET = "test-secret-q7Kz2mWb9XpL4vNc8RtY3hJd6FsA1gEu"  # long, and as varied as a random key


def now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------ servers
def make_settings(db_url: str, site: str, **overrides: Any) -> Settings:
    """Settings for a server on the shared broker that only listens to ``site``."""
    mqtt_settings: dict[str, Any] = {
        "url": "mqtt://127.0.0.1:1883",
        "client_id": unique("hw-test"),
        "sites": [site],
        "shared_group": unique("grp"),
        "session_expiry_s": 0,
    }
    mqtt_settings |= overrides.pop("mqtt", {})
    # Nodes are accepted at once (as in demo mode); the quarantine tests turn that off.
    ingest = {"tick_s": 0.05, "alert_sync_s": 0.3, "flush_interval_s": 0.2, "accept_new_nodes": True}
    ingest |= overrides.pop("ingest", {})
    alerts = {
        "window": {"trigger_s": 0.0, "clear_s": 0.0},
        "queue": {"trigger_s": 0.0, "clear_s": 0.0},
        "hall": {"trigger_s": 0.0, "clear_s": 0.0},
        "spacing": {"trigger_s": 0.0, "clear_s": 0.0},
    } | overrides.pop("alerts", {})
    return Settings(
        secret_key=SECRET,  # type: ignore[arg-type]
        database_url=db_url,
        mqtt=mqtt_settings,  # type: ignore[arg-type]
        ingest=ingest,  # type: ignore[arg-type]
        alerts=alerts,  # type: ignore[arg-type]
        **overrides,
    )


@contextlib.contextmanager
def running(settings: Settings, **kw: Any) -> Iterator[tuple[Server, TestClient]]:
    """A server with its ingest started (connected to the broker), and a client for its API."""
    server = build_server(settings, **kw)
    try:
        with TestClient(server.app) as client:
            if server.ingest is not None:
                assert server.ingest.client.wait_connected(10), "the server did not connect to the broker"
                time.sleep(0.2)  # let the subscriptions settle
            yield server, client
    finally:
        server.store.close()


def login(client: TestClient, store: Any, role: str, username: str | None = None) -> dict[str, str]:
    """Create a user with ``role`` (if needed) and return bearer headers for it."""
    from server.auth.passwords import hash_password

    username = username or unique(role)
    if store.users.by_name(username) is None:
        store.users.create(username, hash_password("password-123"), role, now())
    response = client.post("/api/v1/auth/login", json={"username": username, "password": "password-123"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
