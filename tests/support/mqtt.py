"""Publishing contract messages to a real broker, as an edge node would, and cleaning up after it."""

from __future__ import annotations

import time
from collections.abc import Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hallwatch.contract import Envelope
from support.contract import topic_of
from support.processes import SHARED_BROKER, unique

# What an edge node sends with QoS 1, and what it retains (docs/mqtt.md).
QOS1_KINDS = frozenset({"event", "floor_event", "layout", "status"})
RETAINED_KINDS = frozenset({"layout", "status"})


class Publisher:
    """A paho client (MQTT 5 unless told) that publishes contract messages and waits for the broker.

    `send` uses the node's QoS and retain flag for the message's kind unless told otherwise; a QoS 1
    message returns once the broker acknowledged it. `close` clears the retained topics it set, so
    the shared broker keeps nothing of a test.
    """

    def __init__(
        self,
        port: int = SHARED_BROKER[1],
        protocol: int = mqtt.MQTTv5,
        *,
        client_prefix: str = "pub",
    ) -> None:
        self._retained: set[str] = set()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=unique(client_prefix), protocol=protocol
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect(SHARED_BROKER[0], port)
        self.client.loop_start()

    def send(self, msg: Envelope, *, qos: int | None = None, retain: bool | None = None) -> float:
        """Publish ``msg`` on its topic; returns when (``time.time()``) the broker had it."""
        kind = getattr(msg, "kind", "")
        qos = (1 if kind in QOS1_KINDS else 0) if qos is None else qos
        retain = kind in RETAINED_KINDS if retain is None else retain
        return self.raw(topic_of(msg), msg.to_json(), qos=qos, retain=retain)

    def raw(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> float:
        """Publish any bytes on any topic (QoS 1: and wait for the broker's acknowledgement)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0:
            info.wait_for_publish(10)
            if not info.is_published():
                raise AssertionError(f"the broker did not acknowledge {topic}")
        if retain and payload:
            self._retained.add(topic)
        elif retain:
            self._retained.discard(topic)
        return time.time()

    def send_all(self, messages: Iterable[Envelope], *, chunk: int = 250, pause_s: float = 0.15) -> int:
        """Publish many messages with QoS 1, ``chunk`` at a time with a pause between chunks.

        The pause keeps a burst within what the broker queues for the server while the server
        acknowledges after storing (mosquitto's default ``max_queued_messages`` is 1000; beyond
        it, it drops). Returns how many were sent.
        """
        infos: list[mqtt.MQTTMessageInfo] = []
        sent = 0
        for msg in messages:
            infos.append(self.client.publish(topic_of(msg), msg.to_json(), qos=1))
            sent += 1
            if len(infos) >= chunk:
                for info in infos:
                    info.wait_for_publish(10)
                infos.clear()
                time.sleep(pause_s)
        for info in infos:
            info.wait_for_publish(10)
        return sent

    def clear_retained(self, topic: str) -> None:
        self.raw(topic, b"", qos=1, retain=True)

    def close(self) -> None:
        """Clear the retained messages this publisher left, and disconnect."""
        for topic in sorted(self._retained):
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        self._retained.clear()
        self.client.disconnect()
        self.client.loop_stop()


def clear_retained(port: int, topics: Iterable[str], host: str = "127.0.0.1") -> None:
    """Remove retained messages a test left on a broker (nothing to do if the broker is gone)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("cleaner"))
    try:
        client.connect(host, port)
    except OSError:
        return
    client.loop_start()
    for topic in topics:
        client.publish(topic, b"", qos=1, retain=True).wait_for_publish(2)
    client.disconnect()
    client.loop_stop()
