"""The dashboard's derived views: queues with an estimated wait (Little's law), events per hour or day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from api_fixtures import Api
from support.contract import Node

from server.alerts.engine import layout_zones
from server.api.insights import estimate_waits
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
    """Windows w1 (mean 1.5) and w2 (mean 0.5) over the last hour, w1's queue q1 (mean 3), 12 entries."""
    node = Node(api.site)
    layout = node.layout()  # w1, w2 (limit 2), q1 (limit 5, for w1), hall (limit 10)
    batch = IngestBatch()
    batch.layouts[(api.site, "edge-1")] = (layout, _now(api))
    batch.occupancy["minute"] = (
        _minutes(api, "w1", 1.5, 30) | _minutes(api, "w2", 0.5, 30) | _minutes(api, "q1", 3.0, 20)
    )
    # an older hour that must not count
    batch.occupancy["minute"] |= _minutes(api, "q1", 9.0, 10, back=120)
    batch.events = [
        (
            node.event(
                "person_entered", zone="door", people=[i], ts=_now(api) - timedelta(minutes=5 + 4 * i)
            ),
            _now(api),
        )
        for i in range(12)
    ] + [
        (node.event("person_entered", zone="door", people=[99], ts=_now(api) - timedelta(hours=3)), _now(api))
    ]
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


def test_queues_estimate_the_wait_by_littles_law(api: Api) -> None:
    _seed_queues(api)
    body = api.client.get(f"/api/v1/sites/{api.site}/queues", headers=api.headers("manager")).json()
    assert (body["arrivals"], body["arrivals_per_hour"]) == (12, 12.0)
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
    # w1 serves 1.5 / (1.5 + 0.5) of the 12 arrivals an hour: 9 an hour; 3 waiting: a third of an hour
    assert (w1["served_per_hour"], w1["wait_s"]) == (9.0, 1200.0)
    assert (w2["served_per_hour"], w2["wait_s"], w2["queues"], w2["queue_now"]) == (3.0, None, [], None)


def test_queues_without_entries_or_history_have_no_estimate(api: Api) -> None:
    _seed_queues(api)
    manager = api.headers("manager")  # logged in now (a token must not be issued in the future)
    api.clock[0] += 4 * 3600  # four hours later: nothing in the last hour
    body = api.client.get(f"/api/v1/sites/{api.site}/queues", params={"minutes": 30}, headers=manager).json()
    assert body["arrivals"] == 0
    assert all(w["wait_s"] is None and w["window_mean"] is None for w in body["windows"])


@pytest.mark.parametrize(
    ("arrivals", "windows", "queues", "expected"),
    [
        (60.0, {"w1": 1.5, "w2": 0.5}, {"w1": 3.0, "w2": None}, {"w1": (45.0, 240.0), "w2": (15.0, None)}),
        (0.0, {"w1": 1.0}, {"w1": 2.0}, {"w1": (None, None)}),  # no entrance line: no arrivals
        (
            30.0,
            {"w1": None, "w2": 0.0},
            {"w1": 2.0},
            {"w1": (None, None), "w2": (None, None)},
        ),  # nobody served
        (30.0, {"w1": 2.0}, {"w1": 0.0}, {"w1": (30.0, 0.0)}),  # an empty queue: no wait
    ],
)
def test_estimate_waits(
    arrivals: float,
    windows: dict[str, float | None],
    queues: dict[str, float | None],
    expected: dict[str, tuple[float | None, float | None]],
) -> None:
    assert estimate_waits(arrivals, windows, queues) == expected


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
    for path in ("queues", "event-counts?type=person_entered"):
        url = f"/api/v1/sites/{api.site}/{path}"
        assert api.client.get(url, headers=api.headers("manager")).status_code == 200
        assert api.client.get(url, headers=api.headers("guide")).status_code == 403
        assert api.client.get(url, headers=api.headers("ops")).status_code == 403
    manager = api.headers("manager")
    assert api.client.get("/api/v1/sites/nowhere/queues", headers=manager).status_code == 404
    assert api.client.get(f"/api/v1/sites/{api.site}/queues?minutes=2", headers=manager).status_code == 422
    assert api.client.get(f"/api/v1/sites/{api.site}/event-counts", headers=manager).status_code == 422
    too_long = {"type": "person_entered", "start": (_now(api) - timedelta(days=40)).isoformat()}
    assert (
        api.client.get(f"/api/v1/sites/{api.site}/event-counts", params=too_long, headers=manager).status_code
        == 422
    )
