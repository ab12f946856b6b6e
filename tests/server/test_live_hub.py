"""The live hub: fan-out by topic and site, each alert version once, slow clients cut off."""

from __future__ import annotations

import asyncio

from server.live.hub import LiveHub, message
from server.metrics import Metrics


def alert(alert_id: int, version: int, site: str = "a") -> object:
    return message(
        "alerts", site, {"type": "alert", "site": site, "alert": {"id": alert_id, "version": version}}
    )


async def test_subscribers_get_what_they_asked_for() -> None:
    hub = LiveHub(Metrics(), queue_size=10)
    hub.bind(asyncio.get_running_loop())
    everything = hub.subscribe(["alerts", "occupancy"], None)
    site_b_alerts = hub.subscribe(["alerts"], ["b"])
    hub.publish([alert(1, 1, "a"), alert(2, 1, "b"), message("occupancy", "b", {"type": "occupancy"})])
    await asyncio.sleep(0.05)
    assert everything.queue.qsize() == 3 and site_b_alerts.queue.qsize() == 1
    assert '"id":2' in (await site_b_alerts.queue.get()).text  # type: ignore[union-attr]


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
    hub.publish([message("occupancy", "a", {"n": i}) for i in range(8)])
    await asyncio.sleep(0.05)
    assert slow.overflowed and (await slow.queue.get()) is None
    assert metrics.registry.get_sample_value("hallwatch_live_dropped_total") == 2  # both fell behind
    assert fast.overflowed
    hub.unsubscribe(slow)
    assert metrics.registry.get_sample_value("hallwatch_live_clients") == 1


def test_publishing_without_a_loop_is_harmless() -> None:
    LiveHub(Metrics()).publish([alert(1, 1)])
