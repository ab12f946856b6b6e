"""The live hub: fan-out by topic and site, each alert version once, slow clients cut off."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from server.live.hub import LiveHub, LiveMessage, message
from server.metrics import Metrics
from server.schemas.alerts import AlertOut
from server.schemas.live import LiveAlert, LiveLayout, parse_live

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def alert(alert_id: int, version: int, site: str = "a") -> LiveMessage:
    row = AlertOut(
        id=alert_id,
        site=site,
        rule="window_over_limit",
        subject="w1",
        zone="w1",
        camera=None,
        node=None,
        severity="warning",
        status="open",
        message="3 people at w1 (limit 2)",
        value=3,
        limit=2,
        peak=3,
        opened_at=NOW,
        reopened_at=None,
        reopen_count=0,
        acknowledged_at=None,
        acknowledged_by=None,
        escalated_at=None,
        resolved_at=None,
        resolved_by=None,
        note=None,
        updated_at=NOW,
        version=version,
    )
    return message("alerts", site, LiveAlert(site=site, alert=row))


def test_a_message_is_its_model_as_the_pages_receive_it() -> None:
    sent = alert(7, 3, "b")
    assert sent.alert_version == (7, 3)
    received = parse_live(sent.text)
    assert isinstance(received, LiveAlert) and (received.site, received.alert.id) == ("b", 7)


async def test_subscribers_get_what_they_asked_for() -> None:
    hub = LiveHub(Metrics(), queue_size=10)
    hub.bind(asyncio.get_running_loop())
    everything = hub.subscribe(["alerts", "occupancy"], None)
    site_b_alerts = hub.subscribe(["alerts"], ["b"])
    hub.publish(
        [alert(1, 1, "a"), alert(2, 1, "b"), message("occupancy", "b", LiveLayout(site="b", node="n1"))]
    )
    await asyncio.sleep(0.05)
    assert everything.queue.qsize() == 3 and site_b_alerts.queue.qsize() == 1
    assert '"id":2' in (await site_b_alerts.queue.get()).text  # type: ignore[union-attr]


async def test_a_message_without_a_site_goes_only_to_those_of_every_site() -> None:
    hub = LiveHub(Metrics())
    hub.bind(asyncio.get_running_loop())
    everything, site_b = hub.subscribe(["alerts"], None), hub.subscribe(["alerts"], ["b"])
    hub.publish([LiveMessage("alerts", None, "{}", None)])
    await asyncio.sleep(0)
    assert (everything.queue.qsize(), site_b.queue.qsize()) == (1, 0)


async def test_each_alert_version_goes_out_once() -> None:
    hub = LiveHub(Metrics())
    hub.bind(asyncio.get_running_loop())
    sub = hub.subscribe(["alerts"], None)
    hub.publish([alert(1, 1), alert(1, 1), alert(1, 2), alert(1, 1)])
    await asyncio.sleep(0.05)
    assert sub.queue.qsize() == 2


async def test_a_slow_client_is_cut_off_and_counted() -> None:
    metrics = Metrics()
    hub = LiveHub(metrics, queue_size=5)
    hub.bind(asyncio.get_running_loop())
    slow = hub.subscribe(["occupancy"], None)
    fast = hub.subscribe(["occupancy"], None)
    hub.publish([message("occupancy", "a", LiveLayout(site="a", node=f"n{i}")) for i in range(8)])
    await asyncio.sleep(0.05)
    assert slow.overflowed and (await slow.queue.get()) is None
    assert metrics.registry.get_sample_value("hallwatch_live_dropped_total") == 2  # both fell behind
    assert fast.overflowed
    hub.unsubscribe(slow)
    assert metrics.registry.get_sample_value("hallwatch_live_clients") == 1


def test_publishing_without_a_loop_is_harmless() -> None:
    LiveHub(Metrics()).publish([alert(1, 1)])
