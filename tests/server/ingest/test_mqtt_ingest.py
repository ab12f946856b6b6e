"""Ingest against the real mosquitto: retained layouts, alerts, the live stream, fuzzing, restarts."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import login, make_settings, running
from support.contract import Node
from support.mqtt import Publisher
from support.processes import unique, wait_until
from test_ingest_processor import hostile_messages

from hallwatch.contract import camera_topic
from server.schemas.live import LiveAlert, LiveHello, LiveOccupancy, parse_live
from server.store.alerts import AlertFilter
from server.store.history import EventFilter

pytestmark = pytest.mark.usefixtures("shared_broker")


def open_alerts(server: object, site: str) -> list[object]:
    rows, _ = server.store.alerts.search(AlertFilter(site=site, status=("open",)), 100, 0)  # type: ignore[attr-defined]
    return rows


def test_retained_layout_and_status_arrive_and_states_raise_an_alert(db_url: str, site: str) -> None:
    node = Node(site)
    pub = Publisher()
    try:
        pub.send(node.layout())  # retained, published before the server runs
        pub.send(node.status("online"))
        with running(make_settings(db_url, site)) as (server, client):
            wait_until(lambda: server.store.nodes.zones(site))
            assert {z.zone for z in server.store.nodes.zones(site)} == {"w1", "w2", "q1", "hall"}
            pub.send(node.state({"w1": 3, "w2": 1, "hall": 4}))
            (alert,) = wait_until(lambda: open_alerts(server, site))
            assert (alert.rule, alert.subject, alert.value) == ("window_over_limit", "w1", 3)
            headers = login(client, server.store, "guide")
            body = client.get(f"/api/v1/sites/{site}/occupancy", headers=headers).json()
            assert {z["zone"]: z["count"] for z in body["zones"]} == {"w1": 3, "w2": 1, "hall": 4, "q1": None}
            pub.send(node.state({"w1": 1, "w2": 1, "hall": 2}))
            wait_until(lambda: not open_alerts(server, site))
    finally:
        for kind in ("layout", "status"):
            pub.clear_retained(f"hallwatch/{site}/nodes/edge-1/{kind}")
        pub.close()


@pytest.mark.timeout(60)
def test_the_live_stream_pushes_occupancy_and_alerts(sqlite_url: str, site: str) -> None:
    node = Node(site)
    pub = Publisher()
    try:
        with running(make_settings(sqlite_url, site)) as (server, client):
            headers = login(client, server.store, "guide")
            pub.send(node.layout(), retain=False)
            wait_until(lambda: server.live.zones(site, server.app.state.services.clock()))
            with client.websocket_connect(f"/api/v1/live?site={site}", headers=headers) as ws:
                # Every message is read through the live stream's models (server.schemas.live).
                hello = parse_live(ws.receive_text())
                assert isinstance(hello, LiveHello) and hello.topics == ["alerts", "occupancy", "positions"]
                pub.send(node.state({"w1": 4}))
                alerts: list[LiveAlert] = []
                occupancy: list[LiveOccupancy] = []
                while not alerts or not occupancy:
                    msg = parse_live(ws.receive_text())
                    if isinstance(msg, LiveAlert):
                        alerts.append(msg)
                    elif isinstance(msg, LiveOccupancy) and msg.zone.zone == "w1":
                        occupancy.append(msg)
                alert = alerts[0].alert
                assert (alert.rule, alert.status, alert.value) == ("window_over_limit", "open", 4)
                assert occupancy[0].zone.count == 4
                # a guide takes it; the stream carries the change
                taken = client.post(f"/api/v1/alerts/{alert.id}/acknowledge", headers=headers)
                assert taken.status_code == 200
                while True:
                    msg = parse_live(ws.receive_text())
                    if isinstance(msg, LiveAlert) and msg.alert.status == "acknowledged":
                        break
    finally:
        pub.close()


def test_fuzzed_messages_on_the_broker_are_refused_counted_and_the_server_answers(
    sqlite_url: str, site: str
) -> None:
    pub = Publisher()
    published = 0
    try:
        with running(make_settings(sqlite_url, site)) as (server, client):
            processor = server.ingest.processor  # type: ignore[union-attr]

            @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
            @given(st.data())
            def publish(data: st.DataObject) -> None:
                nonlocal published
                topic, payload = data.draw(hostile_messages(site))
                pub.raw(topic, payload, qos=1)
                published += 1

            publish()
            rng = random.Random(4)
            for _ in range(50):  # plain random bytes too
                pub.raw(
                    camera_topic(site, "cam-1", rng.choice(["state", "events"])),
                    rng.randbytes(rng.randint(0, 500)),
                    qos=1,
                )
                published += 1
            wait_until(lambda: processor.handled >= published, 20)
            samples = server.metrics.registry.get_sample_value
            rejected = sum(
                samples("hallwatch_ingest_rejected_total", {"reason": r}) or 0
                for r in ("invalid", "mismatch", "topic", "too_large", "config_topic", "empty")
            )
            assert rejected == published
            assert client.get("/healthz").json()["status"] == "ok"
            node = Node(site)
            pub.send(node.layout(), retain=False)
            pub.send(node.state({"w1": 3}))
            wait_until(lambda: open_alerts(server, site))
    finally:
        pub.close()


def test_events_published_while_the_server_is_down_are_not_lost(pg_url: str, site: str) -> None:
    """A persistent session and acks after storing: the broker keeps QoS 1 events for us."""
    settings_ = make_settings(pg_url, site, mqtt={"client_id": unique("hw-persist"), "session_expiry_s": 60})
    node = Node(site)
    pub = Publisher()
    try:
        with running(settings_) as (server, _client):
            pub.send(node.event("person_entered", zone="door", people=[1]))
            wait_until(lambda: server.store.history.events(EventFilter(site=site), 10, 0)[1] == 1)
        for i in range(20):
            pub.send(node.event("person_entered", zone="door", people=[i + 2]))
        with running(settings_) as (server, _client):
            wait_until(lambda: server.store.history.events(EventFilter(site=site), 100, 0)[1] == 21, 15)
    finally:
        pub.close()


def test_rejected_retained_garbage_does_not_stop_the_server(sqlite_url: str, site: str) -> None:
    pub = Publisher()
    topic = f"hallwatch/{site}/nodes/edge-9/layout"
    try:
        pub.raw(topic, json.dumps({"kind": "layout", "zones": "nope"}).encode(), qos=1, retain=True)
        with running(make_settings(sqlite_url, site)) as (server, client):
            wait_until(
                lambda: server.metrics.registry.get_sample_value(
                    "hallwatch_ingest_rejected_total", {"reason": "invalid"}
                )
            )
            assert client.get("/healthz").status_code == 200
    finally:
        pub.clear_retained(topic)
        pub.close()


def test_ops_push_a_config_that_the_node_finds_retained(sqlite_url: str, site: str) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from hallwatch.contract import NodeConfigPush

    node = Node(site)
    received: list[bytes] = []
    topic = f"hallwatch/{site}/nodes/edge-1/config"
    pub = Publisher()
    try:
        with running(make_settings(sqlite_url, site)) as (server, client):
            pub.send(node.status(), retain=False)
            wait_until(lambda: server.store.nodes.node(site, "edge-1"))
            body = {"config": {"spacing": {"min_distance_m": 1.5}}}
            response = client.post(
                f"/api/v1/nodes/{site}/edge-1/config", json=body, headers=login(client, server.store, "ops")
            )
            assert response.status_code == 202, response.text
            # the node subscribes later and still gets it: the push is retained
            sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("node"))
            sub.on_message = lambda _c, _u, m: received.append(m.payload)
            sub.connect("127.0.0.1", 1883)
            sub.subscribe(topic, qos=1)
            sub.loop_start()
            wait_until(lambda: received)
            push = NodeConfigPush.model_validate_json(received[0])
            assert push.config == body["config"] and push.issued_by.startswith("ops-")
            assert str(push.event_id) == response.json()["event_id"]
            ops = login(client, server.store, "ops", username=push.issued_by)
            assert client.delete(f"/api/v1/nodes/{site}/edge-1/config", headers=ops).status_code == 204
            wait_until(lambda: received[-1] == b"")  # withdrawn: the retained message is cleared
            sub.loop_stop()
            sub.disconnect()
    finally:
        pub.clear_retained(topic)
        pub.close()
