"""The resources the pages read: alerts, occupancy, history, nodes, zones, events, CSV, users."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from api_fixtures import T0, Api, open_alert, seed


def test_alerts_list_filter_acknowledge_resolve(api: Api) -> None:
    first, second = open_alert(api, "w1"), open_alert(api, "w2", at=T0 + timedelta(minutes=1))
    guide = api.headers("guide")
    page = api.client.get("/api/v1/alerts", params={"site": api.site, "status": "open"}, headers=guide).json()
    assert [a["id"] for a in page["items"]] == [second, first] and page["total"] == 2
    taken = api.client.post(f"/api/v1/alerts/{first}/acknowledge", json={"note": "on it"}, headers=guide)
    assert taken.status_code == 200
    assert (taken.json()["status"], taken.json()["note"], taken.json()["escalated"]) == (
        "acknowledged",
        "on it",
        False,
    )
    other = api.client.post(f"/api/v1/alerts/{first}/acknowledge", headers=api.headers("manager"))
    assert other.status_code == 409 and "already acknowledged" in other.json()["detail"]
    done = api.client.post(f"/api/v1/alerts/{first}/resolve", headers=api.headers("manager"))
    assert done.json()["resolved_by"] == done.json()["resolved_by"] and done.json()["status"] == "resolved"
    assert api.client.post(f"/api/v1/alerts/{first}/resolve", headers=guide).status_code == 409
    assert api.client.get("/api/v1/alerts/999999", headers=guide).status_code == 404
    statuses = api.client.get(
        "/api/v1/alerts",
        params=[("site", api.site), ("status", "open"), ("status", "resolved")],
        headers=guide,
    ).json()
    assert sorted(a["status"] for a in statuses["items"]) == ["open", "resolved"]
    assert api.client.get("/api/v1/alerts", params={"status": "bogus"}, headers=guide).status_code == 422


def test_live_occupancy_with_hall_and_entries_today(api: Api) -> None:
    seed(api)
    body = api.client.get(f"/api/v1/sites/{api.site}/occupancy", headers=api.headers("guide")).json()
    zones = {z["zone"]: (z["count"], z["level"], z["limit"]) for z in body["zones"]}
    assert zones == {
        "w1": (3, "over", 2),
        "w2": (0, "ok", 2),
        "hall": (9, "warning", 10),
        "q1": (None, "unknown", 5),
    }
    assert body["hall"] == {"zone": "hall", "count": 9, "capacity": 10, "ratio": 0.9}
    assert (body["violations_now"], body["entries_today"], body["exits_today"]) == (1, 3, 0)
    assert api.client.get("/api/v1/sites/nowhere/occupancy", headers=api.headers("guide")).status_code == 404


def test_history_heatmap_and_layout(api: Api) -> None:
    seed(api)
    manager = api.headers("manager")
    params = {"start": T0.isoformat(), "end": (T0 + timedelta(minutes=5)).isoformat(), "resolution": "minute"}
    body = api.client.get(f"/api/v1/sites/{api.site}/history", params=params, headers=manager).json()
    (series,) = body["series"]
    assert (series["zone"], series["kind"], series["limit"]) == ("w1", "window", 2)
    assert [(p["mean"], p["max"]) for p in series["points"]] == [
        (0.0, 0),
        (1.0, 1),
        (2.0, 2),
        (3.0, 3),
        (0.0, 0),
    ]
    hourly = api.client.get(
        f"/api/v1/sites/{api.site}/history",
        params={"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat(), "resolution": "hour"},
        headers=manager,
    ).json()
    assert [(p["mean"], p["max"], p["samples"]) for p in hourly["series"][0]["points"]] == [(1.5, 3, 360)]
    too_long = {"start": T0.isoformat(), "end": (T0 + timedelta(days=40)).isoformat(), "resolution": "minute"}
    assert (
        api.client.get(f"/api/v1/sites/{api.site}/history", params=too_long, headers=manager).status_code
        == 422
    )
    backwards = {"start": T0.isoformat(), "end": (T0 - timedelta(hours=1)).isoformat()}
    assert (
        api.client.get(f"/api/v1/sites/{api.site}/history", params=backwards, headers=manager).status_code
        == 422
    )
    naive = {"start": "2026-01-01T00:00:00"}
    assert (
        api.client.get(f"/api/v1/sites/{api.site}/history", params=naive, headers=manager).status_code == 422
    )
    heat = api.client.get(f"/api/v1/sites/{api.site}/heatmap", headers=manager).json()
    assert (
        heat["cells"] == [{"camera": "cam-1", "cell_x": 2, "cell_y": 3, "samples": 40}]
        and heat["cell_m"] == 0.5
    )
    layout = api.client.get(f"/api/v1/sites/{api.site}/layout", headers=api.headers("guide")).json()
    assert {z["zone"] for z in layout["zones"]} == {"w1", "w2", "q1", "hall"}
    w1 = next(z for z in layout["zones"] if z["zone"] == "w1")
    assert w1["polygon"] == [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]] and w1["name"] == "Window 1"
    assert layout["nodes"][0]["layout"]["min_distance_m"] == 1.0
    sites = api.client.get("/api/v1/sites", headers=api.headers("guide")).json()
    assert {"site": api.site, "nodes": 1, "zones": 4} in sites


def test_daily_summary_for_reports(api: Api) -> None:
    seed(api)
    first = open_alert(api, "w1", at=T0)
    api.store.alerts.acknowledge(first, "ann", T0 + timedelta(seconds=90))
    open_alert(api, "w2", at=T0 + timedelta(minutes=2))
    params = {"start": (T0 - timedelta(days=1)).isoformat(), "end": (T0 + timedelta(days=1)).isoformat()}
    body = api.client.get(
        f"/api/v1/sites/{api.site}/summary", params=params, headers=api.headers("manager")
    ).json()
    days = body["days"]
    assert body["timezone"] == "UTC" and days
    assert sum(d["entries"] for d in days) == 3 and sum(d["violations"] for d in days) == 1
    assert sum(d["alerts"] for d in days) == 2 and sum(d["acknowledged"] for d in days) == 1
    assert [d["median_ack_s"] for d in days if d["acknowledged"]] == [90.0]
    zones = [z for d in days for z in d["zones"] if z["zone"] == "w1"]
    assert sum(z["minutes_over_limit"] for z in zones) == 15  # the minutes with 3 at a window for 2
    assert max(z["peak"] or 0 for z in zones) == 4  # the busiest camera's peak


def test_nodes_cameras_zones_events(api: Api) -> None:
    seed(api)
    ops = api.headers("ops")
    (node,) = api.client.get("/api/v1/nodes", params={"site": api.site}, headers=ops).json()
    assert (node["status"], node["online"], [c["camera"] for c in node["cameras"]]) == (
        "online",
        True,
        ["cam-1"],
    )
    api.clock[0] += 120  # no health since: no longer online
    assert api.client.get(f"/api/v1/nodes/{api.site}/edge-1", headers=ops).json()["online"] is False
    assert api.client.get(f"/api/v1/nodes/{api.site}/nope", headers=ops).status_code == 404
    assert [
        c["camera"] for c in api.client.get("/api/v1/cameras", params={"site": api.site}, headers=ops).json()
    ] == ["cam-1"]
    assert len(api.client.get("/api/v1/zones", params={"site": api.site}, headers=ops).json()) == 4
    events = api.client.get(
        "/api/v1/events", params={"site": api.site, "type": "person_entered"}, headers=ops
    ).json()
    assert events["total"] == 3 and {e["type"] for e in events["items"]} == {"person_entered"}
    assert api.client.get("/api/v1/events", params={"type": "nope"}, headers=ops).status_code == 422
    # a config push needs the broker, which this API has not got
    push = api.client.post(
        f"/api/v1/nodes/{api.site}/edge-1/config", json={"config": {"zones": []}}, headers=ops
    )
    assert push.status_code == 503


def test_csv_exports(api: Api) -> None:
    seed(api)
    open_alert(api)
    manager = api.headers("manager")
    params = {"site": api.site, "start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}
    occupancy = api.client.get(
        "/api/v1/export/occupancy.csv", params=params | {"resolution": "minute"}, headers=manager
    )
    assert occupancy.headers["content-type"].startswith("text/csv")
    assert "attachment" in occupancy.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(occupancy.text)))
    assert len(rows) == 60 and rows[3]["mean"] == "3.0" and rows[3]["zone"] == "w1"
    alerts = list(
        csv.DictReader(
            io.StringIO(api.client.get("/api/v1/export/alerts.csv", params=params, headers=manager).text)
        )
    )
    assert alerts[0]["message"] == "'=cmd|' /C calc'!A0"  # a spreadsheet formula is defused
    assert alerts[0]["rule"] == "window_over_limit"
    events = list(
        csv.DictReader(
            io.StringIO(
                api.client.get("/api/v1/export/events.csv", params={"site": api.site}, headers=manager).text
            )
        )
    )
    assert {e["type"] for e in events} == {"person_entered", "spacing_violation_started"}
    assert api.client.get("/api/v1/export/events.csv", headers=manager).status_code == 422  # site is required


def test_users_are_managed_by_ops(api: Api) -> None:
    ops = api.headers("ops")
    created = api.client.post(
        "/api/v1/users", json={"username": "gina", "password": "long-enough", "role": "guide"}, headers=ops
    )
    assert created.status_code == 201
    assert (
        api.client.post(
            "/api/v1/users",
            json={"username": "gina", "password": "long-enough", "role": "guide"},
            headers=ops,
        ).status_code
        == 409
    )
    assert (
        api.client.post(
            "/api/v1/users", json={"username": "x", "password": "short", "role": "guide"}, headers=ops
        ).status_code
        == 422
    )
    assert (
        api.client.post(
            "/api/v1/users", json={"username": "y", "password": "long-enough", "role": "admin"}, headers=ops
        ).status_code
        == 422
    )
    gina = created.json()["id"]
    login = api.client.post("/api/v1/auth/login", json={"username": "gina", "password": "long-enough"}).json()
    promoted = api.client.patch(f"/api/v1/users/{gina}", json={"role": "manager"}, headers=ops)
    assert promoted.json()["role"] == "manager"
    assert (
        api.client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {login['access_token']}"}
        ).status_code
        == 401
    )
    names = [u["username"] for u in api.client.get("/api/v1/users", headers=ops).json()]
    assert "gina" in names
    assert api.client.delete(f"/api/v1/users/{gina}", headers=ops).status_code == 204
    assert api.client.delete(f"/api/v1/users/{gina}", headers=ops).status_code == 404


def test_the_last_ops_user_cannot_lock_everyone_out(api: Api) -> None:
    ops = api.headers("ops")
    me = api.client.get("/api/v1/auth/me", headers=ops).json()
    assert (
        api.client.patch(f"/api/v1/users/{me['id']}", json={"role": "guide"}, headers=ops).status_code == 409
    )
    assert (
        api.client.patch(f"/api/v1/users/{me['id']}", json={"disabled": True}, headers=ops).status_code == 409
    )
    assert api.client.delete(f"/api/v1/users/{me['id']}", headers=ops).status_code == 409


def test_rules_and_health(api: Api) -> None:
    rules = api.client.get("/api/v1/rules", headers=api.headers("manager")).json()
    assert rules["hall"]["warning_ratio"] == 0.8 and rules["node_offline"]["silence_s"] == 30.0
    health = api.client.get("/healthz").json()
    assert {k: health[k] for k in ("status", "database", "mqtt_connected", "queue_depth", "store_ok")} == {
        "status": "ok",
        "database": True,
        "mqtt_connected": None,
        "queue_depth": 0,
        "store_ok": None,
    }
    assert health["problems"] == [] and health["ingest_lag_s"] == 0.0
    assert health["dead_letters"] >= 0 and health["quarantined_nodes"] >= 0


@pytest.mark.parametrize(
    "path", ["/api/v1/sites/bad site/occupancy", "/api/v1/nodes/x/y%00z", "/api/v1/sites/-x/layout"]
)
def test_odd_names_in_paths_are_refused(api: Api, path: str) -> None:
    assert api.client.get(path, headers=api.headers("ops")).status_code == 422
