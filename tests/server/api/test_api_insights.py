"""The dashboard's derived views: queues, waits measured per person, events per hour or day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from api_fixtures import Api
from support.contract import Node

from server.alerts.engine import layout_zones
from server.api.insights import wait_figures
from server.store.ingest_writes import IngestBatch, OccupancyDelta


def _now(api: Api) -> datetime:
    return datetime.fromtimestamp(api.clock[0], UTC)


def _minutes(api: Api, zone: str, mean: float, minutes: int, *, back: int = 40) -> dict:  # type: ignore[type-arg]
    """``minutes`` minute buckets ending ``back`` minutes ago, each with a time-weighted mean of ``mean``."""
    start = _now(api).replace(second=0, microsecond=0) - timedelta(minutes=back)
    return {
        (api.site, zone, "cam-1", start + timedelta(minutes=m)): OccupancyDelta(
            6, 6 * mean, round(mean + 0.5), 60.0 * mean, 60.0
        )
        for m in range(minutes)
    }


def _seed_queues(api: Api) -> None:
    """Windows w1 (mean 1.5) and w2 (mean 0.5) over the last hour, w1's queue q1 (mean 3); waits in q1:
    five that ended in the last 15 minutes (60, 120, 180, 240 and 600 s) and two older ones."""
    node = Node(api.site)
    layout = node.layout()  # w1, w2 (limit 2), q1 (limit 5, for w1), hall (limit 10)
    batch = IngestBatch()
    batch.layouts[(api.site, "edge-1")] = (layout, _now(api))
    batch.occupancy["minute"] = (
        _minutes(api, "w1", 1.5, 30) | _minutes(api, "w2", 0.5, 30) | _minutes(api, "q1", 3.0, 20)
    )
    # an older hour that must not count
    batch.occupancy["minute"] |= _minutes(api, "q1", 9.0, 10, back=120)
    ended = [(2, 60.0), (4, 120.0), (6, 180.0), (9, 240.0), (14, 600.0), (20, 3000.0), (90, 2500.0)]
    batch.events = [
        (
            node.event(
                "queue_left",
                zone="q1",
                people=[i],
                duration_s=wait_s,
                ts=_now(api) - timedelta(minutes=minutes_ago),
            ),
            _now(api),
        )
        for i, (minutes_ago, wait_s) in enumerate(ended)
    ] + [(node.event("person_entered", zone="door", people=[99], ts=_now(api)), _now(api))]
    api.store.ingest.write(batch)
    api.server.live.set_layout(api.site, layout_zones(layout))
    api.server.live.update_camera(
        api.site,
        "cam-1",
        "edge-1",
        ts=_now(api),
        received_at=_now(api),
        zones={"w1": 2, "w2": 0, "q1": 4},
        people=6,
        violations=0,
    )


def test_queues_now_and_their_means(api: Api) -> None:
    _seed_queues(api)
    body = api.client.get(f"/api/v1/sites/{api.site}/queues", headers=api.headers("manager")).json()
    windows = {w["window"]: w for w in body["windows"]}
    assert set(windows) == {"w1", "w2"}
    w1, w2 = windows["w1"], windows["w2"]
    assert (w1["count"], w1["limit"], w1["queues"], w1["queue_now"], w1["queue_limit"]) == (
        2,
        2,
        ["q1"],
        4,
        5,
    )
    assert (w1["window_mean"], w1["queue_mean"]) == (1.5, 3.0)
    assert (w2["queues"], w2["queue_now"], w2["queue_mean"]) == ([], None, None)
    # No wait is estimated from lengths and entries any more (issue 13: "24 min" with nobody queued).
    assert not {"wait_s", "served_per_hour"} & set(w1) and "arrivals" not in body


def test_waits_are_the_median_of_the_waits_people_had(api: Api) -> None:
    _seed_queues(api)
    url = f"/api/v1/sites/{api.site}/waits"
    body = api.client.get(url, headers=api.headers("manager")).json()
    assert body["min_waits"] == 3
    assert datetime.fromisoformat(body["end"]) - datetime.fromisoformat(body["start"]) == timedelta(
        minutes=15
    )
    windows = {w["zone"]: w for w in body["windows"]}
    # the five waits of the last 15 minutes: 60, 120, 180, 240, 600 s
    assert (windows["w1"]["waits"], windows["w1"]["median_s"], windows["w1"]["queues"]) == (5, 180.0, ["q1"])
    assert windows["w1"]["p90_s"] == pytest.approx(456.0)  # 240 + 0.6 x (600 - 240)
    assert (windows["w2"]["waits"], windows["w2"]["median_s"], windows["w2"]["p90_s"]) == (0, None, None)
    assert [(q["zone"], q["waits"], q["median_s"]) for q in body["queues"]] == [("q1", 5, 180.0)]

    # a chosen period: the hour before the last 10 minutes holds four waits (240, 600, 3000, 2500 s)
    end = _now(api) - timedelta(minutes=8)
    hour = {"start": (end - timedelta(hours=2)).isoformat(), "end": end.isoformat()}
    q1 = api.client.get(url, params=hour, headers=api.headers("manager")).json()["queues"][0]
    assert (q1["waits"], q1["median_s"]) == (4, 1550.0)


def test_too_few_waits_are_not_enough_data(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(waits={"min_waits": 6})
    _seed_queues(api)
    body = api.client.get(f"/api/v1/sites/{api.site}/waits", headers=api.headers("manager")).json()
    assert body["min_waits"] == 6
    assert [(q["waits"], q["median_s"], q["p90_s"]) for q in body["queues"]] == [(5, None, None)]


@pytest.mark.parametrize(
    ("waits", "min_waits", "expected"),
    [
        ([], 1, (None, None)),
        ([42.0], 1, (42.0, 42.0)),
        ([30.0, 90.0], 3, (None, None)),
        ([90.0, 30.0, 60.0], 3, (60.0, 84.0)),
        ([10.0, 20.0, 30.0, 40.0], 3, (25.0, 37.0)),
    ],
)
def test_wait_figures(
    waits: list[float], min_waits: int, expected: tuple[float | None, float | None]
) -> None:
    assert wait_figures(waits, min_waits) == expected


def test_event_counts_per_hour_and_per_local_day(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(timezone="Europe/Vienna")
    node = Node(api.site)
    now = (_now(api) - timedelta(hours=1)).replace(minute=30, second=0, microsecond=0)  # never in the future
    api.clock[0] = now.timestamp()
    times = [now - timedelta(minutes=m) for m in (1, 2, 70)] + [now - timedelta(days=1)]
    batch = IngestBatch()
    batch.layouts[(api.site, "edge-1")] = (node.layout(), now)
    batch.events = [(node.event("spacing_violation_started", people=[1, 2], ts=t), now) for t in times]
    batch.events.append(
        (node.event("person_entered", zone="door", people=[3], ts=now - timedelta(seconds=5)), now)
    )
    api.store.ingest.write(batch)
    manager = api.headers("manager")
    url = f"/api/v1/sites/{api.site}/event-counts"

    hourly = api.client.get(
        url,
        params={"type": "spacing_violation_started", "start": (now - timedelta(hours=3)).isoformat()},
        headers=manager,
    ).json()
    assert hourly["total"] == 3 and hourly["resolution"] == "hour"
    counts = {datetime.fromisoformat(b["t"]): b["count"] for b in hourly["buckets"]}
    hour = now.replace(minute=0)
    assert counts == {
        hour - timedelta(hours=3): 0,
        hour - timedelta(hours=2): 0,
        hour - timedelta(hours=1): 1,
        hour: 2,
    }

    daily = api.client.get(
        url,
        params=[
            ("type", "spacing_violation_started"),
            ("type", "person_entered"),
            ("resolution", "day"),
            ("start", (now - timedelta(days=2)).isoformat()),
        ],
        headers=manager,
    ).json()
    assert daily["total"] == 5 and daily["types"] == ["person_entered", "spacing_violation_started"]
    starts = [datetime.fromisoformat(b["t"]) for b in daily["buckets"]]
    vienna = [t.astimezone(ZoneInfo("Europe/Vienna")) for t in starts]
    assert all((t.hour, t.minute) == (0, 0) for t in vienna)  # local midnights
    assert len(starts) == 3 and sum(b["count"] for b in daily["buckets"]) == 5


def test_insights_are_for_managers(api: Api) -> None:
    _seed_queues(api)
    for path in ("queues", "waits", "event-counts?type=person_entered"):
        url = f"/api/v1/sites/{api.site}/{path}"
        assert api.client.get(url, headers=api.headers("manager")).status_code == 200
        assert api.client.get(url, headers=api.headers("guide")).status_code == 403
        assert api.client.get(url, headers=api.headers("ops")).status_code == 403
    manager = api.headers("manager")
    assert api.client.get("/api/v1/sites/nowhere/queues", headers=manager).status_code == 404
    assert api.client.get(f"/api/v1/sites/{api.site}/queues?minutes=2", headers=manager).status_code == 422
    assert api.client.get(f"/api/v1/sites/{api.site}/event-counts", headers=manager).status_code == 422
    assert api.client.get("/api/v1/sites/nowhere/waits", headers=manager).status_code == 404
    a_year = {"start": (_now(api) - timedelta(days=365)).isoformat()}
    assert (
        api.client.get(f"/api/v1/sites/{api.site}/waits", params=a_year, headers=manager).status_code == 422
    )
    too_long = {"type": "person_entered", "start": (_now(api) - timedelta(days=40)).isoformat()}
    assert (
        api.client.get(f"/api/v1/sites/{api.site}/event-counts", params=too_long, headers=manager).status_code
        == 422
    )
