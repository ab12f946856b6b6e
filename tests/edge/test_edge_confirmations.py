"""End-to-end acknowledgements at the node (issue 16): events stay in the outbox until the server
confirms storing them, and what a crashed broker lost is sent again."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from support.processes import Mosquitto, wait_until

from edge.config import MqttConfig
from edge.confirmations import MAX_RESEND_S, Unconfirmed
from edge.outbox import Outbox
from edge.publisher import MqttPublisher, OutboxPump
from hallwatch.contract import PayloadError, StoredEvents, node_topic, parse_stored, stored_messages

SITE, NODE = "s", "node-1"
EVENTS = f"hallwatch/{SITE}/cameras/c/events"
STORED = node_topic(SITE, NODE, "stored")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_event_waits_for_its_confirmation_and_is_sent_again_later_and_later() -> None:
    clock = Clock()
    waiting = Unconfirmed(resend_after_s=10.0, clock=clock)
    for seq in (1, 2, 3):
        waiting.acked(seq)
    waiting.confirm([(2, 2)], in_flight=set())
    assert len(waiting) == 2
    clock.now = 9.9
    assert waiting.take_due() == []
    clock.now = 10.0
    assert waiting.take_due() == [1, 3]
    clock.now = 29.9  # the next try after twice as long: 20 s
    assert waiting.take_due() == []
    clock.now = 30.0
    assert waiting.take_due() == [1, 3]
    for _ in range(20):  # the interval stops growing at an hour
        clock.now += MAX_RESEND_S
        assert waiting.take_due() == [1, 3]


def test_a_confirmation_that_overtakes_the_puback_is_kept() -> None:
    waiting = Unconfirmed(resend_after_s=10.0)
    waiting.confirm([(5, 9)], in_flight={7, 12})
    waiting.acked(7)  # the broker's PUBACK after the server's confirmation: nothing to wait for
    waiting.acked(12)
    assert len(waiting) == 1 and waiting.take_all() == [12]


def test_ranges_are_not_expanded_and_overlapping_ones_count() -> None:
    waiting = Unconfirmed(resend_after_s=10.0)
    for seq in (3, 50, 2**40):
        waiting.acked(seq)
    waiting.confirm([(0, 2**50), (1, 2)], in_flight=set())  # a billion billion seqs, at once
    assert len(waiting) == 0


def test_confirmations_are_ranges_of_the_node_s_own_topic() -> None:
    (message,) = stored_messages(SITE, NODE, [7, 3, 4, 5, 9, 8])
    stored = parse_stored(STORED, message.to_json())
    assert stored.seqs == [(3, 5), (7, 9)]
    with pytest.raises(PayloadError, match="mismatch|topic of"):
        parse_stored(node_topic(SITE, "node-2", "stored"), message.to_json())
    bad = json.loads(message.to_json()) | {"seqs": [[9, 3]]}
    with pytest.raises(PayloadError, match=r"seq range \[9, 3\]"):
        parse_stored(STORED, json.dumps(bad).encode())
    many = stored_messages(SITE, NODE, range(0, 3000, 2))  # 1500 ranges: three messages of 500
    assert [len(m.seqs) for m in many] == [500, 500, 500]


class FakeServer:
    """Reads the node's events like the server does and confirms the ones it is told to store."""

    def __init__(self, port: int) -> None:
        self.received: list[int] = []
        self.store = True
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="server", protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(0.2, 1.0)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: mqtt.ConnectFlags, *_a: Any) -> None:
        client.subscribe(f"hallwatch/{SITE}/cameras/+/events", qos=1)
        if not flags.session_present:  # like the server: what the broker queued for it may be gone
            client.publish(STORED, StoredEvents(site=SITE, node=NODE, resend=True).to_json(), qos=1)

    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        seq = json.loads(message.payload)["seq"]
        with self._lock:
            self.received.append(seq)
            if self.store:
                for confirmation in stored_messages(SITE, NODE, [seq]):
                    client.publish(STORED, confirmation.to_json(), qos=1)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_pump(
    outbox: Outbox, port: int, on_stored: Callable[[bytes], None]
) -> tuple[MqttPublisher, OutboxPump]:
    holder: dict[str, OutboxPump] = {}
    pub = MqttPublisher(
        MqttConfig.model_validate({"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.2}),
        node=NODE,
        will=lambda: (node_topic(SITE, NODE, "status"), b"offline"),
        subscriptions=[STORED],
        on_connected=lambda: holder["pump"].connected(),
        on_message=lambda _topic, payload: on_stored(payload),
        on_ack=lambda: holder["pump"].wake(),
    )
    pump = holder["pump"] = OutboxPump(outbox, pub, window=20, confirm="server", resend_after_s=600.0)
    pump.start()
    pub.start()
    return pub, pump


def test_a_broker_crash_loses_nothing_the_server_has_not_confirmed(
    tmp_path: Path, make_broker: Callable[..., Mosquitto]
) -> None:
    broker = make_broker()
    server = FakeServer(broker.port)
    outbox = Outbox(tmp_path / "o.sqlite", max_events=10_000)

    def on_stored(payload: bytes) -> None:  # what the node does with it (EdgeNode.handle_stored)
        stored = parse_stored(STORED, payload)
        pump.confirm(stored.seqs)
        if stored.resend:
            pump.resend_unconfirmed()

    pub, pump = start_pump(outbox, broker.port, on_stored)
    try:
        assert pub.wait_connected(5.0)
        first = [outbox.enqueue(EVENTS, lambda s: json.dumps({"seq": s}).encode()) for _ in range(40)]
        assert wait_until(lambda: outbox.depth == 0, 10.0), "confirmed events leave the outbox"
        assert pump.confirmed == 40 and pump.unconfirmed == 0
        # The server stops storing (it is down, say): the broker acknowledges, the events stay.
        server.store = False
        second = [outbox.enqueue(EVENTS, lambda s: json.dumps({"seq": s}).encode()) for _ in range(60)]
        assert wait_until(lambda: pump.published == 100 and pump.unconfirmed == 60, 10.0)
        assert outbox.depth == 60, "a PUBACK alone leaves an event in the outbox"
        # The broker crashes and comes back empty (no persistence): what it held is gone, but the
        # node sends again everything the server has not confirmed once it reconnects.
        broker.kill()
        server.store = True
        broker.start()
        assert wait_until(lambda: outbox.depth == 0, 20.0), f"{outbox.depth} events never confirmed"
        assert set(second) <= set(server.received[-len(second) * 2 :])
        assert pump.resent >= 60 and set(first) | set(second) == set(server.received)
    finally:
        server.stop()
        pump.stop()
        pub.stop()
        outbox.close()
