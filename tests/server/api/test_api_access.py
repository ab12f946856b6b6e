"""Every endpoint refuses a request without a login (401) and from a role it is not for (403)."""

from __future__ import annotations

import pytest
from api_fixtures import ACCESS, PUBLIC, Api, concrete
from server_support import SECRET

from server.auth.tokens import issue_token


def test_the_table_covers_every_endpoint(api: Api) -> None:
    spec = api.client.get("/api/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert routes == set(ACCESS) | PUBLIC


@pytest.mark.parametrize(("method", "path"), sorted(ACCESS))
def test_without_a_login_every_endpoint_says_401(module_api: Api, method: str, path: str) -> None:
    api = module_api
    response = api.client.request(method, concrete(path, api.site), json={})
    assert response.status_code == 401, response.text
    forged, _ = issue_token(
        "some-other-secret-" + "y" * 32,
        user_id=1,
        username="x",
        role="ops",
        version=0,
        now=api.server.app.state.services.clock(),
        ttl_s=60,
    )
    response = api.client.request(
        method, concrete(path, api.site), json={}, headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(("method", "path"), sorted(ACCESS))
def test_every_endpoint_refuses_the_wrong_roles(module_api: Api, method: str, path: str) -> None:
    api = module_api
    for role in {"guide", "manager", "ops"} - ACCESS[(method, path)]:
        response = api.client.request(method, concrete(path, api.site), json={}, headers=api.headers(role))
        assert response.status_code == 403, f"{role}: {response.status_code} {response.text}"
    for role in ACCESS[(method, path)]:
        response = api.client.request(method, concrete(path, api.site), json={}, headers=api.headers(role))
        assert response.status_code not in (401, 403), f"{role}: {response.status_code} {response.text}"
        if path == "/api/v1/auth/logout":  # that login is over now: the next test logs in again
            api.logins.pop(role)


def test_a_token_signed_for_the_right_secret_but_a_missing_user_is_refused(api: Api) -> None:
    token, _ = issue_token(
        SECRET,
        user_id=999_999,
        username="ghost",
        role="ops",
        version=0,
        now=api.server.app.state.services.clock(),
        ttl_s=60,
    )
    response = api.client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_the_live_stream_refuses_no_login_wrong_role_and_foreign_origins(api: Api) -> None:
    from starlette.websockets import WebSocketDisconnect

    def closed_with(path: str, **kw: object) -> int:
        with api.client.websocket_connect(path, **kw) as ws:  # type: ignore[arg-type]
            assert ws.receive_json()["type"] == "bye"
            try:
                ws.receive_json()
            except WebSocketDisconnect as exc:
                return exc.code
        raise AssertionError("the stream stayed open")

    assert closed_with("/api/v1/live") == 4401
    assert closed_with("/api/v1/live?topics=nodes", headers=api.headers("guide")) == 4403
    login = api.client.post(
        "/api/v1/auth/login", json={"username": api.store.users.all()[0].username, "password": "password-123"}
    )
    assert login.status_code == 200
    cookie = {"cookie": f"hallwatch_session={login.json()['access_token']}"}
    assert closed_with("/api/v1/live", headers=cookie | {"origin": "https://evil.example"}) == 4403
    with api.client.websocket_connect("/api/v1/live", headers=cookie | {"origin": "http://testserver"}) as ws:
        assert ws.receive_json()["type"] == "hello"


def test_metrics_take_the_metrics_token(make_api: object) -> None:
    api = make_api(http={"metrics_token": "prometheus-" + "z" * 32})  # type: ignore[operator]
    assert api.client.get("/metrics").status_code == 401
    assert api.client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = api.client.get("/metrics", headers={"Authorization": "Bearer prometheus-" + "z" * 32})
    assert ok.status_code == 200 and "hallwatch_ingest_messages_total" in ok.text


@pytest.mark.timeout(30)
def test_the_live_stream_ends_when_the_login_does(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.websockets import WebSocketDisconnect

    import server.api.live

    monkeypatch.setattr(server.api.live, "HEARTBEAT_S", 0.1)
    headers = api.headers("guide")
    with api.client.websocket_connect("/api/v1/live", headers=headers) as ws:
        assert ws.receive_json()["type"] == "hello"
        assert ws.receive_json()["type"] == "ping"
        me = api.client.get("/api/v1/auth/me", headers=headers).json()
        api.store.users.update(me["id"], disabled=True)
        bye = ws.receive_json()
        while bye["type"] == "ping":
            bye = ws.receive_json()
        assert bye["type"] == "bye" and "no longer valid" in bye["reason"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4401
    headers = api.headers("manager")
    with api.client.websocket_connect("/api/v1/live", headers=headers) as ws:
        assert ws.receive_json()["type"] == "hello"
        api.clock[0] += 13 * 3600
        bye = ws.receive_json()
        while bye["type"] == "ping":
            bye = ws.receive_json()
        assert bye == {"type": "bye", "reason": "the login expired"}
