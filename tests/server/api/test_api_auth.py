"""Logging in: tokens, cookies with CSRF, the rate limit, logouts that stick, CORS closed by default."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api_fixtures import Api
from server_support import now
from support.processes import unique

from server.auth.passwords import hash_password


def make_user(api: Api, name: str, role: str = "guide", password: str = "password-123") -> None:
    api.store.users.create(name, hash_password(password), role, now())


def test_login_returns_a_token_and_sets_strict_cookies(api: Api) -> None:
    make_user(api, "ann", "manager")
    response = api.client.post("/api/v1/auth/login", json={"username": "ann", "password": "password-123"})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["user"]["role"] == "manager"
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("hallwatch_session="))
    csrf = next(c for c in cookies if c.startswith("hallwatch_csrf="))
    assert "HttpOnly" in session and "SameSite=strict" in session and "Secure" in session
    assert "HttpOnly" not in csrf and body["csrf_token"] in csrf
    me = api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["username"] == "ann" and me.json()["last_login_at"] is not None


def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    make_user(api, "bob")
    wrong = api.client.post("/api/v1/auth/login", json={"username": "bob", "password": "nope-nope"})
    unknown = api.client.post("/api/v1/auth/login", json={"username": "nobody", "password": "nope-nope"})
    assert (
        (wrong.status_code, wrong.json())
        == (unknown.status_code, unknown.json())
        == (
            401,
            {"detail": "wrong user name or password"},
        )
    )


def test_failed_logins_are_rate_limited(api: Api) -> None:
    make_user(api, "cat")
    for _ in range(5):
        assert (
            api.client.post(
                "/api/v1/auth/login", json={"username": "cat", "password": "bad-bad-bad"}
            ).status_code
            == 401
        )
    limited = api.client.post("/api/v1/auth/login", json={"username": "cat", "password": "password-123"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    api.clock[0] += 301  # the window passes
    assert (
        api.client.post(
            "/api/v1/auth/login", json={"username": "cat", "password": "password-123"}
        ).status_code
        == 200
    )


def test_cookie_requests_need_the_csrf_header_for_changes(api: Api) -> None:
    make_user(api, "dan")
    login = api.client.post("/api/v1/auth/login", json={"username": "dan", "password": "password-123"}).json()
    cookie = {"cookie": f"hallwatch_session={login['access_token']}"}
    assert api.client.get("/api/v1/auth/me", headers=cookie).status_code == 200
    assert api.client.post("/api/v1/auth/logout", headers=cookie).status_code == 403
    assert (
        api.client.post("/api/v1/auth/logout", headers=cookie | {"X-CSRF-Token": "guess"}).status_code == 403
    )
    assert (
        api.client.post(
            "/api/v1/auth/logout", headers=cookie | {"X-CSRF-Token": login["csrf_token"]}
        ).status_code
        == 204
    )
    again = api.client.post("/api/v1/auth/login", json={"username": "dan", "password": "password-123"}).json()
    bearer = {"Authorization": f"Bearer {again['access_token']}"}
    assert (
        api.client.post("/api/v1/auth/logout", headers=bearer).status_code == 204
    )  # a bearer cannot be forged
    gone = {"Authorization": f"Bearer {login['access_token']}"}
    assert api.client.get("/api/v1/auth/me", headers=gone).status_code == 401, "logging out ended that login"


def test_a_password_change_or_disabling_ends_existing_logins(api: Api) -> None:
    make_user(api, "eve")
    login = api.client.post("/api/v1/auth/login", json={"username": "eve", "password": "password-123"}).json()
    bearer = {"Authorization": f"Bearer {login['access_token']}"}
    user = api.store.users.by_name("eve")
    assert user is not None
    api.store.users.update(user.id, password_hash=hash_password("another-password"))
    assert api.client.get("/api/v1/auth/me", headers=bearer).status_code == 401
    login = api.client.post(
        "/api/v1/auth/login", json={"username": "eve", "password": "another-password"}
    ).json()
    api.store.users.update(user.id, disabled=True)
    assert (
        api.client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {login['access_token']}"}
        ).status_code
        == 401
    )
    assert (
        api.client.post(
            "/api/v1/auth/login", json={"username": "eve", "password": "another-password"}
        ).status_code
        == 401
    )


def test_tokens_expire(api: Api) -> None:
    headers = api.headers("guide")
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    api.clock[0] += 12 * 3600 + 1
    response = api.client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_cors_is_closed_by_default_and_opens_per_origin(make_api: Callable[..., Api]) -> None:
    closed = make_api()
    preflight = {"Origin": "https://dash.example", "Access-Control-Request-Method": "GET"}
    response = closed.client.options("/api/v1/alerts", headers=preflight)
    assert "access-control-allow-origin" not in response.headers
    assert (
        "access-control-allow-origin"
        not in closed.client.get("/healthz", headers={"Origin": "https://dash.example"}).headers
    )
    opened = make_api(http={"cors_origins": ["https://dash.example"]})
    response = opened.client.options("/api/v1/alerts", headers=preflight)
    assert response.headers["access-control-allow-origin"] == "https://dash.example"
    response = opened.client.options("/api/v1/alerts", headers=preflight | {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_security_headers(api: Api) -> None:
    response = api.client.get("/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert (
        api.client.get("/api/v1/sites", headers=api.headers("guide")).headers["cache-control"] == "no-store"
    )


def test_demo_mode_cookies_work_over_plain_http(make_api: Callable[..., Api]) -> None:
    api = make_api(demo=True)
    response = api.client.post("/api/v1/auth/login", json={"username": "guide", "password": "guide"})
    assert response.status_code == 200
    session = next(c for c in response.headers.get_list("set-cookie") if c.startswith("hallwatch_session="))
    assert "Secure" not in session


def _fail(api: Api, name: str, times: int) -> None:
    for _ in range(times):
        bad = api.client.post("/api/v1/auth/login", json={"username": name, "password": "bad-bad-bad"})
        assert bad.status_code == 401


@pytest.mark.parametrize("shared", [True, False], ids=["replicas-share-redis", "apart"])
def test_replicas_sharing_redis_count_failed_logins_together(
    make_api: Callable[..., Api], redis_url: str, shared: bool
) -> None:
    live = {"redis_url": redis_url, "channel": unique("live")} if shared else {}
    first, second = make_api(live=live), make_api(live=live)
    make_user(first, "dog")
    _fail(first, "dog", 3)  # the attacker spreads the attempts over the replicas
    _fail(second, "dog", 2)
    right = second.client.post("/api/v1/auth/login", json={"username": "dog", "password": "password-123"})
    assert right.status_code == (429 if shared else 200)


def test_with_redis_down_failed_logins_are_still_limited_per_replica(make_api: Callable[..., Api]) -> None:
    api = make_api(live={"redis_url": "redis://127.0.0.1:1/0"})
    make_user(api, "eel")
    _fail(api, "eel", 5)
    limited = api.client.post("/api/v1/auth/login", json={"username": "eel", "password": "password-123"})
    assert limited.status_code == 429
