"""The ingest's fast receive path: PUBLISH packets cut out of the read-ahead buffer, as paho reads them.

`split_publishes` is checked against paho's own PUBLISH decoder on streams of packets of every kind
(MQTT 3.1.1 and 5, QoS 0, 1 and 2, properties, other packet types, cut anywhere), and the client
against the real mosquitto: a burst arrives whole, once, in order per QoS, with its QoS 1 packet ids
acknowledged through paho once "stored" (without the acknowledgements the broker stops sending:
MQTT 3.1.1 brokers allow few unacknowledged messages in flight).
"""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTProtocolVersion
from support.processes import unique, wait_until

from server.ingest.mqtt_client import MqttIngestClient, Publish, split_publishes
from server.ingest.processor import RawMessage
from server.metrics import Metrics
from server.settings import BrokerAddress, MqttSettings


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)


def publish_packet(
    topic: bytes, payload: bytes, qos: int, mid: int, retain: bool, props: bytes | None
) -> bytes:
    """A PUBLISH packet; ``props`` (MQTT 5 only) are its raw property bytes."""
    body = len(topic).to_bytes(2, "big") + topic
    if qos:
        body += mid.to_bytes(2, "big")
    if props is not None:
        body += varint(len(props)) + props
    body += payload
    return bytes([0x30 | qos << 1 | int(retain)]) + varint(len(body)) + body


# A PUBLISH property set paho must skip: message expiry (0x02, 4 bytes) and a user property (0x26).
PROPS = b"\x02\x00\x00\x00\x3c" + b"\x26\x00\x01k\x00\x02vv"
OTHER_PACKETS = [b"\x40\x02\x00\x07", b"\xd0\x00", b"\x90\x03\x00\x01\x00"]  # PUBACK, PINGRESP, SUBACK

publishes = st.tuples(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00#+"), min_size=1, max_size=40).map(
        str.encode
    ),
    st.binary(max_size=300),
    st.sampled_from([0, 1, 2]),
    st.integers(1, 65535),
    st.booleans(),
    st.booleans(),
)
packets = st.lists(st.one_of(publishes, st.sampled_from(OTHER_PACKETS)), max_size=30)


def reference(stream: list[bytes], v5: bool) -> tuple[list[Publish], int]:
    """What paho's decoder makes of the leading complete QoS 0/1 PUBLISH packets."""
    out: list[Publish] = []
    used = 0
    protocol = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
    for packet in stream:
        header = packet[0]
        if header >> 4 != 3 or (header >> 1) & 3 == 2:
            break
        length, i, mult = 0, 1, 1
        while True:
            length += (packet[i] & 127) * mult
            mult *= 128
            i += 1
            if not packet[i - 1] & 128:
                break
        decoded = _packet.decode_publish(header, packet[i:], protocol)
        out.append((decoded.topic, bytes(decoded.payload), decoded.qos, decoded.mid, decoded.retain))
        used += len(packet)
    return out, used


@given(packets, st.booleans(), st.data())
def test_split_publishes_reads_what_paho_reads_and_leaves_the_rest(
    items: list[object], v5: bool, data: st.DataObject
) -> None:
    stream = [
        item
        if isinstance(item, bytes)
        else publish_packet(
            item[0], item[1], item[2], item[3], item[4], (PROPS if item[5] else b"") if v5 else None
        )  # type: ignore[index]
        for item in items
    ]
    whole = b"".join(stream)
    expected, used = reference(stream, v5)
    assert split_publishes(whole, v5) == (expected, used)
    # Cut anywhere (a read ends mid-packet): only the complete packets before the cut, never more.
    cut = data.draw(st.integers(0, len(whole)))
    got, got_used = split_publishes(whole[:cut], v5)
    assert got == expected[: len(got)]
    assert got_used <= min(cut, used)
    assert got_used == sum(len(p) for p in stream[: len(got)])
    if got_used < used:  # stopped early: the next packet was not whole before the cut
        assert got_used + len(stream[len(got)]) > cut


def test_split_publishes_stops_at_a_malformed_packet_and_at_its_limit() -> None:
    good = publish_packet(b"a/b", b"{}", 0, 0, False, None)
    too_long = b"\x30\xff\xff\xff\xff\x7f"  # a remaining length of five bytes: paho's to refuse
    assert split_publishes(good + too_long + good, v5=False) == ([(b"a/b", b"{}", 0, 0, False)], len(good))
    empty_topic = publish_packet(b"", b"x", 0, 0, False, None)  # not allowed before MQTT 5
    assert split_publishes(empty_topic, v5=False) == ([], 0)
    many, used = split_publishes(good * 10, v5=False, limit=4)
    assert len(many) == 4 and used == 4 * len(good)


@pytest.mark.usefixtures("shared_broker")
@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_burst_arrives_whole_in_order_and_once_mostly_through_the_fast_path(protocol: str) -> None:
    site = unique("fast")
    received: list[RawMessage] = []
    lock = threading.Lock()

    def deliver(raw: RawMessage) -> None:
        with lock:
            received.append(raw)  # "stored": now acknowledged, as the writer does after a commit
        if raw.qos == 1:
            client.ack(raw.mid, raw.qos)

    settings = MqttSettings(client_id=unique("hw-fast"), sites=[site], session_expiry_s=0)  # type: ignore[call-arg]
    address = BrokerAddress(
        host="127.0.0.1",
        port=1883,
        tls=False,
        username=None,
        password=None,
        protocol=protocol,
        shared_group=None,
    )  # type: ignore[arg-type]
    client = MqttIngestClient(address, settings, deliver, Metrics())
    batches: list[int] = []
    fast = client._on_publishes
    client._client.deliver_many = lambda packets: (batches.append(len(packets)), fast(packets))  # type: ignore[attr-defined]
    client.start()
    pub = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=unique("pub"),
        protocol=mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311,
    )
    pub.max_inflight_messages_set(1000)
    pub.connect("127.0.0.1", 1883)
    pub.loop_start()
    try:
        assert client.wait_connected(10)
        time.sleep(0.3)  # the subscriptions settle
        n = 3000
        for i in range(n):
            kind, qos = ("events", 1) if i % 10 == 0 else ("state", 0)
            pub.publish(f"hallwatch/{site}/cameras/cam-{i % 7}/{kind}", b'{"i":%d}' % i, qos=qos)
        wait_until(lambda: len(received) >= n, timeout_s=30)
        time.sleep(0.2)
        numbers = [int(r.payload[5:-1]) for r in received]
        assert sorted(numbers) == list(range(n))  # whole and once
        for qos in (0, 1):  # in order per QoS (a broker may send QoS 0 ahead of QoS 1 held back)
            mine = [i for i, r in zip(numbers, received, strict=True) if r.qos == qos]
            assert mine == sorted(mine)
        assert {(r.qos, r.topic.endswith("/events")) for r in received} == {(0, False), (1, True)}
        assert all(r.mid > 0 for r in received if r.qos == 1)
        assert sum(batches) > n // 2  # most came through the fast path, in batches
        assert max(batches) > 1
    finally:
        pub.loop_stop()
        pub.disconnect()
        client.stop()
