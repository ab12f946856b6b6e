"""Two replicas on one PostgreSQL with a shared subscription, and a server restarted mid-alert."""

from __future__ import annotations

import time

import pytest
from server_support import make_settings, running
from sqlalchemy import func, select
from support.contract import Node
from support.mqtt import Publisher
from support.processes import unique, wait_until

from server.db.tables import Alert, Event, OccupancyMinute
from server.store.alerts import AlertFilter

pytestmark = pytest.mark.usefixtures("shared_broker")


def alerts(server: object, site: str) -> list[Alert]:
    rows, _ = server.store.alerts.search(AlertFilter(site=site), 100, 0)  # type: ignore[attr-defined]
    return rows


def scalar(server: object, stmt: object) -> int:
    with server.store.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(stmt).scalar_one())  # type: ignore[call-overload]


def test_two_replicas_store_each_event_once_and_raise_each_alert_once(pg_url: str, site: str) -> None:
    group = unique("grp")
    first = make_settings(pg_url, site, mqtt={"shared_group": group, "client_id": unique("replica-a")})
    second = make_settings(pg_url, site, mqtt={"shared_group": group, "client_id": unique("replica-b")})
    node = Node(site)
    pub = Publisher()
    try:
        with running(first) as (a, _), running(second) as (b, _):
            pub.send(node.layout(), retain=False)
            wait_until(
                lambda: (
                    a.live.zones(site, a.app.state.services.clock())
                    and b.live.zones(site, b.app.state.services.clock())
                )
            )
            states = 400
            for i in range(states):
                crowded = 50 <= i < 250  # windows w1 and w2 over their limit for a while
                pub.send(node.state({"w1": 3 if crowded else 1, "w2": 4 if crowded else 0, "hall": 5}))
                if i % 20 == 0:
                    pub.send(node.event("person_entered", zone="door", people=[i]))
                time.sleep(0.002)
            pa, pb = a.ingest.processor, b.ingest.processor  # type: ignore[union-attr]
            # every state is handled by exactly one replica; every event by both
            wait_until(lambda: pa.handled + pb.handled >= states + 2 * 20 + 2, 20)
            time.sleep(0.5)  # the last aggregates are flushed
            events = scalar(a, select(func.count()).select_from(Event).where(Event.site == site))
            assert events == 20
            samples = scalar(
                a,
                select(func.sum(OccupancyMinute.samples)).where(
                    OccupancyMinute.site == site, OccupancyMinute.zone == "w1"
                ),
            )
            assert samples == states  # each state counted once, whichever replica took it
            assert pa.handled > 50 and pb.handled > 50  # and they shared the work
            wait_until(
                lambda: (
                    {(x.subject, x.status) for x in alerts(a, site)}
                    == {("w1", "resolved"), ("w2", "resolved")}
                ),
                10,
            )
            rows = alerts(a, site)
            assert sorted(x.subject for x in rows) == [
                "w1",
                "w2",
            ]  # one alert per window, not one per replica
    finally:
        pub.close()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_a_restart_mid_alert_neither_duplicates_nor_loses_it(
    db: str, site: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue("sqlite_url" if db == "sqlite" else "pg_url")
    settings_ = make_settings(url, site, alerts={"window": {"trigger_s": 0.0, "clear_s": 1.0}})
    node = Node(site)
    pub = Publisher()
    try:
        with running(settings_) as (server, _):
            pub.send(node.layout(), retain=False)
            wait_until(lambda: server.live.zones(site, server.app.state.services.clock()))
            pub.send(node.state({"w1": 4}))
            (alert,) = wait_until(lambda: alerts(server, site))
            assert alert.status == "open"
        # the server is down; the crowd is still there when it comes back
        with running(settings_) as (server, _):
            pub.send(node.layout(), retain=False)
            for _ in range(10):
                pub.send(node.state({"w1": 5}))
                time.sleep(0.05)
            wait_until(lambda: server.ingest.processor.handled >= 11)  # type: ignore[union-attr]
            time.sleep(0.3)
            (same,) = alerts(server, site)
            assert (same.id, same.status) == (alert.id, "open")
            pub.send(node.state({"w1": 1}))
            for _ in range(30):  # at or under the limit for the clear time
                pub.send(node.state({"w1": 1}))
                time.sleep(0.05)
            (done,) = wait_until(lambda: [x for x in alerts(server, site) if x.status == "resolved"])
            assert done.id == alert.id and done.resolved_by is None
            assert len(alerts(server, site)) == 1
    finally:
        pub.close()
