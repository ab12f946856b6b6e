"""Odd and hostile requests get a clear 4xx, never a 500, and logins hold up (issue 11, items 6 and 8).

Each test here failed before the fix it names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from api_fixtures import Api
from fastapi.testclient import TestClient
from server_support import SECRET, make_settings
from support.contract import Node

from server.api.export import _cell
from server.runtime import build_server
from server.settings import Settings, SettingsError
from server.store.ingest_writes import IngestBatch

EXTREMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00Z"]
TIMED = [
    ("alerts", "since"),
    ("alerts", "until"),
    ("alerts", "updated_since"),
    ("sites/{site}/history", "start"),
    ("sites/{site}/history", "end"),
    ("sites/{site}/summary", "start"),
    ("sites/{site}/heatmap", "end"),
    ("export/occupancy.csv?site={site}", "start"),
    ("export/events.csv?site={site}", "start"),
    ("export/alerts.csv?site={site}", "end"),
    ("sites/{site}/event-counts?type=person_entered", "start"),
    ("events", "start"),
]


def with_node(api: Api) -> Node:
    """A node with a layout in the store, so that the site exists."""
    node = Node(api.site)
    now = datetime.now(UTC)
    layout = node.layout()
    api.store.ingest.write(
        IngestBatch(seen={(api.site, node.node): now}, layouts={(api.site, node.node): (layout, now)})
    )
    return node


@pytest.mark.parametrize("when", EXTREMES)
def test_extreme_dates_are_refused_not_a_server_error(api: Api, when: str) -> None:
    with_node(api)
    headers = api.headers("manager") | api.headers("ops") if False else api.headers("manager")
    for path, param in TIMED:
        url = "/api/v1/" + path.format(site=api.site)
        role = "ops" if path.startswith("events") else "manager"
        response = api.client.get(
            url, params={param: when}, headers=api.headers(role) if role == "ops" else headers
        )
        assert response.status_code == 422, (url, param, response.status_code, response.text[:200])


def test_metrics_answers_a_non_ascii_bearer_with_401(make_api: Callable[..., Api]) -> None:
    api = make_api(http={"metrics_token": "m" * 8 + "-real-metrics-token-abcdefghijk"})
    # As the attack sent it: raw bytes in the header (httpx would refuse a str with non-ASCII).
    response = api.client.get("/metrics", headers={"Authorization": "Bearer h\u00e4ll\u00f6".encode()})
    assert response.status_code == 401
    ok = api.client.get(
        "/metrics", headers={"Authorization": "Bearer mmmmmmmm-real-metrics-token-abcdefghijk"}
    )
    assert ok.status_code == 200 and b"hallwatch_ingest_rejected_total" in ok.content


FLOOR = '"floor_points": [[0, 0], [1, 0], [1, 1], [0, 1]]'
LENS = (
    '{"model": "pinhole", "camera_matrix": [[800, 0, 640], [0, 800, 360], [0, 0, 1]], '
    '"distortion": [%s, 0, 0, 0]}'
)


@pytest.mark.parametrize(
    "body",
    [
        '{"image_points": [[NaN, 1], [2, 2], [3, 3], [4, 4]], ' + FLOOR + "}",
        '{"image_points": [[1, 1], [2, 2], [3, 3], [4, 4]], "floor_points": [[0, 0], [Infinity, 0], [1, 1]]}',
        '{"image_points": [[1, 1], [500, 2], [3, 300], [400, 400]], '
        + FLOOR
        + ', "lens": '
        + LENS % "Infinity"
        + "}",
    ],
)
def test_calibration_preview_refuses_numbers_that_are_not_finite(api: Api, body: str) -> None:
    with_node(api)
    url = f"/api/v1/nodes/{api.site}/edge-1/cameras/cam-1/calibration/preview"
    headers = api.headers("ops") | {"Content-Type": "application/json"}
    response = api.client.post(url, content=body, headers=headers)
    assert response.status_code == 422, response.text[:300]


@pytest.mark.parametrize(
    ("config", "why"),
    [({"mqtt": {"host": "evil"}}, "may hold only"), ({"zones": [{"id": "x" * 900_000}]}, "larger than")],
)
def test_config_pushes_with_unknown_keys_or_too_large_are_refused(api: Api, config: dict, why: str) -> None:
    with_node(api)
    url = f"/api/v1/nodes/{api.site}/edge-1/config"
    response = api.client.post(url, json={"config": config}, headers=api.headers("ops"))
    assert response.status_code == 422 and why in response.text


def test_wrong_passwords_from_one_address_do_not_lock_the_user_out_elsewhere(api: Api) -> None:
    api.headers("manager")  # creates the user
    user = next(u.username for u in api.store.users.all() if u.role == "manager")
    attacker = TestClient(api.server.app, base_url="http://hallwatch.test", client=("203.0.113.9", 5000))
    for _ in range(6):
        attacker.post("/api/v1/auth/login", json={"username": user, "password": "guess"})
    locked = attacker.post("/api/v1/auth/login", json={"username": user, "password": "password-123"})
    assert locked.status_code == 429, "the attacker's address is limited"
    real = TestClient(api.server.app, base_url="http://hallwatch.test", client=("198.51.100.7", 5000))
    assert (
        real.post("/api/v1/auth/login", json={"username": user, "password": "password-123"}).status_code
        == 200
    )


def test_a_token_no_longer_works_after_logout(api: Api) -> None:
    headers = api.headers("guide")
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    assert api.client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    after = api.client.get("/api/v1/auth/me", headers=headers)
    assert after.status_code == 401 and "logged out" in after.text
    assert api.client.get("/api/v1/alerts", headers=headers).status_code == 401


@pytest.mark.parametrize("key", ["a" * 32, "ab" * 20, "0123456789" * 4])
def test_guessable_secret_keys_are_refused_before_the_database_is_touched(tmp_path: Path, key: str) -> None:
    db = tmp_path / "hallwatch.sqlite3"
    settings = make_settings(f"sqlite:///{db}", "site").model_copy(
        update={"secret_key": Settings(secret_key=key).secret_key}
    )  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="HALLWATCH_SECRET_KEY"):
        build_server(settings)
    assert not db.exists(), "no migration ran"
    assert len(set(SECRET)) >= 12


@pytest.mark.parametrize(
    ("value", "neutral"),
    [
        (' =HYPERLINK("http://x")', True),
        ("\n=1+1", True),
        ("\r\n @SUM(A1)", True),
        ("  -2+3", True),
        ("=cmd", True),
        ("-3.5", False),
        (" 42", False),
        ("window 1", False),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(value: str, neutral: bool) -> None:
    assert _cell(value).startswith("'") == neutral


@pytest.mark.parametrize("name", ["passwd", "hosts", "does-not-exist-9f1c"])
def test_static_paths_outside_vendor_do_not_tell_whether_a_file_exists(api: Api, name: str) -> None:
    response = api.client.get(f"/static/vendor/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2f{name}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}, "the same answer whether the file exists or not"
