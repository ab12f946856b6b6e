"""Roles per site: a user whose role holds on some sites sees and acts on those sites only, on every
route and on the live stream; what concerns the whole service needs a role on every site."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from api_fixtures import ACCESS, Api, concrete, open_alert, seed
from server_support import now
from starlette.websockets import WebSocketDisconnect
from support.processes import unique

from server.auth.passwords import hash_password
from server.ingest.processor import alert_messages
from server.store.ingest_writes import CandidateSeen, IngestBatch

#: What only a role on every site may do: users, metrics and the dead letters (which may name no site).
EVERY_SITE = {
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("PATCH", "/api/v1/users/{user_id}"),
    ("DELETE", "/api/v1/users/{user_id}"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/dead-letters"),
    ("DELETE", "/api/v1/dead-letters"),
    ("DELETE", "/api/v1/dead-letters/{letter_id}"),
}
#: Lists across sites: they show only the sites the role holds on.
LISTS = [
    ("/api/v1/sites", "guide"),
    ("/api/v1/overview", "manager"),
    ("/api/v1/alerts", "guide"),
    ("/api/v1/zones", "guide"),
    ("/api/v1/nodes", "manager"),
    ("/api/v1/cameras", "ops"),
    ("/api/v1/events", "manager"),
    ("/api/v1/quarantine/nodes", "ops"),
]


def waiting_node(api: Api) -> None:
    """A node of the site that the server heard from and nobody accepted yet."""
    batch = IngestBatch()
    batch.candidates[(api.site, "edge-new")] = CandidateSeen(now(), now())
    api.store.ingest.write(batch)


def on_sites(api: Api, role: str, sites: list[str] | None) -> dict[str, str]:
    """Bearer headers of a new user whose `role` holds on `sites` (None: every site)."""
    name = unique(role)
    api.store.users.create(name, hash_password("password-123"), role, now(), sites)
    response = api.client.post("/api/v1/auth/login", json={"username": name, "password": "password-123"})
    assert response.status_code == 200, response.text
    assert response.json()["user"]["sites"] == (None if sites is None else sorted(sites))
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def site_routes() -> list[tuple[str, str]]:
    return sorted(
        (method, path) for (method, path) in ACCESS if "{site}" in path or path.startswith("/api/v1/export/")
    )


@pytest.mark.parametrize(("method", "path"), site_routes())
def test_a_route_about_a_site_refuses_a_site_the_role_does_not_hold_on(
    module_api: Api, method: str, path: str
) -> None:
    api = module_api
    other = unique("hall-b")
    for role in sorted(ACCESS[(method, path)]):
        headers = on_sites(api, role, [api.site])
        theirs = api.client.request(method, concrete(path, api.site), json={}, headers=headers)
        assert theirs.status_code not in (401, 403), f"{role}: {theirs.status_code} {theirs.text}"
        foreign = api.client.request(method, concrete(path, other), json={}, headers=headers)
        assert foreign.status_code == 403, f"{role}: {foreign.status_code} {foreign.text}"
        assert other in foreign.json()["detail"]
        everywhere = on_sites(api, role, None)
        response = api.client.request(method, concrete(path, other), json={}, headers=everywhere)
        assert response.status_code not in (401, 403), f"{role} of every site: {response.text}"


@pytest.mark.parametrize(("method", "path"), sorted(EVERY_SITE))
def test_what_concerns_the_whole_service_needs_a_role_on_every_site(
    module_api: Api, method: str, path: str
) -> None:
    api = module_api
    url = concrete(path, api.site)
    some = api.client.request(method, url, json={}, headers=on_sites(api, "ops", [api.site]))
    assert some.status_code == 403, some.text
    every = api.client.request(method, url, json={}, headers=on_sites(api, "ops", None))
    assert every.status_code not in (401, 403), every.text


def test_lists_show_only_the_sites_the_role_holds_on(api: Api) -> None:
    other = dataclasses.replace(api, site=unique("hall-b"))
    seed(api), seed(other)
    open_alert(api), open_alert(other)
    waiting_node(api), waiting_node(other)
    for path, role in LISTS:
        mine = api.client.get(path, headers=on_sites(api, role, [api.site]))
        assert mine.status_code == 200, f"{path}: {mine.text}"
        assert api.site in mine.text and other.site not in mine.text, f"{path} as {role} of {api.site}"
        every = api.client.get(path, headers=on_sites(api, role, None))
        assert api.site in every.text and other.site in every.text, f"{path} as {role} of every site"
    both = on_sites(api, "manager", [api.site, other.site])
    sites = api.client.get("/api/v1/sites", headers=both).json()
    assert sorted(s["site"] for s in sites) == sorted([api.site, other.site])


def test_every_read_gives_nothing_of_a_site_the_role_does_not_hold_on(make_api: Callable[..., Api]) -> None:
    other_site = unique("hall-b")
    overrides = {"zone-1": {"limit": 3}, f"{other_site}/w1": {"limit": 4}}
    api = make_api(alerts={"zones": overrides})
    other = dataclasses.replace(api, site=other_site)
    seed(api), seed(other)
    open_alert(api), open_alert(other)
    waiting_node(api), waiting_node(other)
    every = api.client.get("/api/v1/rules", headers=on_sites(api, "manager", None)).json()
    assert set(every["zones"]) == set(overrides)  # the site's own override is there to be left out
    for (method, path), roles in sorted(ACCESS.items()):
        if method != "GET" or (method, path) in EVERY_SITE:
            continue
        for role in sorted(roles):
            response = api.client.get(concrete(path, api.site), headers=on_sites(api, role, [api.site]))
            assert response.status_code not in (401, 403, 500), f"{path} as {role}: {response.text}"
            assert other.site not in response.text, f"{path} as {role} of {api.site} shows {other.site}"


def test_a_guide_of_one_hall_cannot_see_or_take_another_halls_alert(api: Api) -> None:
    other = dataclasses.replace(api, site=unique("hall-b"))
    mine, theirs = open_alert(api), open_alert(other)
    guide = on_sites(api, "guide", [api.site])
    for url in (f"/api/v1/alerts/{theirs}", f"/api/v1/alerts/{theirs}/acknowledge"):
        method = "POST" if url.endswith("acknowledge") else "GET"
        assert api.client.request(method, url, headers=guide).status_code == 404
    assert api.client.post(f"/api/v1/alerts/{theirs}/resolve", headers=guide).status_code == 404
    assert api.store.alerts.get(theirs).status == "open"  # untouched
    taken = api.client.post(f"/api/v1/alerts/{mine}/acknowledge", headers=guide)
    assert taken.status_code == 200 and taken.json()["status"] == "acknowledged"


def test_the_live_stream_carries_only_the_sites_the_role_holds_on(api: Api) -> None:
    other = dataclasses.replace(api, site=unique("hall-b"))
    seed(api), seed(other)
    open_alert(api), open_alert(other)
    guide = on_sites(api, "guide", [api.site])
    with api.client.websocket_connect(f"/api/v1/live?site={other.site}", headers=guide) as ws:
        bye = ws.receive_json()
        assert bye["type"] == "bye" and other.site in bye["reason"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4403
    with api.client.websocket_connect("/api/v1/live?topics=alerts,occupancy", headers=guide) as ws:
        hello = ws.receive_json()
        assert hello["sites"] == [api.site]
        assert {z["site"] for z in hello["zones"]} == {api.site}
        assert {a["site"] for a in hello["alerts"]} == {api.site}
        theirs, mine = (api.store.alerts.get(open_alert(s, "w2")) for s in (other, api))
        api.server.hub.publish(alert_messages([theirs]) + alert_messages([mine]))
        message = ws.receive_json()
        assert (message["type"], message["site"], message["alert"]["id"]) == ("alert", api.site, mine.id)


def test_ops_give_a_user_sites_and_the_users_logins_end(api: Api) -> None:
    ops = on_sites(api, "ops", None)
    created = api.client.post(
        "/api/v1/users",
        json={"username": unique("guide"), "password": "password-123", "role": "guide", "sites": ["hall-a"]},
        headers=ops,
    )
    assert created.status_code == 201 and created.json()["sites"] == ["hall-a"]
    login = api.client.post(
        "/api/v1/auth/login", json={"username": created.json()["username"], "password": "password-123"}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert api.client.get("/api/v1/sites/hall-b/occupancy", headers=headers).status_code == 403
    moved = api.client.patch(
        f"/api/v1/users/{created.json()['id']}", json={"sites": ["hall-b", "hall-c"]}, headers=ops
    )
    assert moved.status_code == 200 and moved.json()["sites"] == ["hall-b", "hall-c"]
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401  # log in again
    kept = api.client.patch(f"/api/v1/users/{created.json()['id']}", json={"disabled": False}, headers=ops)
    assert kept.json()["sites"] == ["hall-b", "hall-c"]  # sites left out: unchanged
    everywhere = api.client.patch(f"/api/v1/users/{created.json()['id']}", json={"sites": None}, headers=ops)
    assert everywhere.json()["sites"] is None
    for bad in ([], ["../etc"], ["a b"]):
        response = api.client.patch(f"/api/v1/users/{created.json()['id']}", json={"sites": bad}, headers=ops)
        assert response.status_code == 422, bad


def test_the_last_ops_of_every_site_cannot_be_narrowed_to_some(api: Api) -> None:
    ops = on_sites(api, "ops", None)
    me = api.client.get("/api/v1/auth/me", headers=ops).json()
    for user in api.store.users.all():  # leave this one the only ops of every site
        if user.role == "ops" and user.id != me["id"]:
            api.store.users.update(user.id, disabled=True)
    refused = api.client.patch(f"/api/v1/users/{me['id']}", json={"sites": [api.site]}, headers=ops)
    assert refused.status_code == 409 and "every site" in refused.json()["detail"]
    on_sites(api, "ops", None)
    narrowed = api.client.patch(f"/api/v1/users/{me['id']}", json={"sites": [api.site]}, headers=ops)
    assert narrowed.status_code == 200


def test_the_overview_sums_up_each_hall_the_role_holds_on(api: Api) -> None:
    other = dataclasses.replace(api, site=unique("hall-b"))
    seed(api), seed(other)
    taken = open_alert(api, "w1")
    open_alert(api, "w2"), open_alert(other, "w1")
    api.store.alerts.acknowledge(taken, "someone", now())
    manager = on_sites(api, "manager", [api.site, other.site])
    halls = {h["site"]: h for h in api.client.get("/api/v1/overview", headers=manager).json()}
    assert set(halls) == {api.site, other.site}
    mine = halls[api.site]
    occupancy = api.client.get(f"/api/v1/sites/{api.site}/occupancy", headers=manager).json()
    assert mine["hall"] == occupancy["hall"] and mine["hall"]["count"] == 9
    over = [z["name"] or z["zone"] for z in occupancy["zones"] if z["level"] in ("over", "critical")]
    assert mine["zones_over"] == over and over  # w1: 3 people at a window for 2
    assert (mine["alerts_open"], mine["alerts_taken"], mine["worst_severity"]) == (1, 1, "warning")
    assert (halls[other.site]["alerts_open"], halls[other.site]["alerts_taken"]) == (1, 0)
    assert (mine["nodes"], mine["nodes_online"]) == (1, 1)
    guide = on_sites(api, "guide", [other.site])
    assert [h["site"] for h in api.client.get("/api/v1/overview", headers=guide).json()] == [other.site]
