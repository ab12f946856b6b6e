"""The server's MQTT client (paho 2.x, callback API v2): subscribe, hand messages over, publish pushes.

Subscriptions, per configured site (``+`` for all):

- camera ``state`` and ``positions`` and a node's fused ``floor`` and ``floor_positions`` (the
  high-volume topics) through the shared subscription ``$share/{group}/...``, so that replicas split
  them (a floor the server fuses itself needs all of a site's positions: one replica, see
  docs/server.md);
- camera ``events``, a node's ``floor_events`` and node ``status``/``health``/``layout``/``snapshot``
  plainly: every replica
  sees all of them (events are stored once thanks to their event id, alerts once thanks to
  ``open_key``; a snapshot is kept in memory by every replica, so ops can fetch it from any), and
  the retained status and layout arrive on subscribe, which a shared subscription would not do.

The session is persistent (``clean_start`` off, a session expiry) under a stable client id, and
QoS 1 messages are acknowledged only after they are stored (`IngestProcessor` calls `ack`), so a
server that stops or crashes gets the events it missed when it comes back.

Receiving at the broker's pace (issue 14): paho handles one packet per turn of its loop (a
select(), a few reads, a message object, its properties decoded, topic callbacks matched under
locks), which costs more than the message's whole handling at the server. The socket is read in
large chunks (`_ReadAhead`), and after each packet paho reads, the complete QoS 0 and QoS 1
PUBLISH packets already in the buffer are cut out by `split_publishes` and handed over in one go
(`deliver_many`); anything else (acks, a partial packet, QoS 2, a malformed packet) is left to paho,
in order. Acknowledgements still go through paho's `ack`, after storage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hallwatch.contract import TOPIC_ROOT, StoredEvents, node_topic, stored_messages
from hallwatch.mqtt import TlsFiles, new_client
from server.ingest.processor import RawMessage
from server.metrics import Metrics
from server.settings import BrokerAddress, MqttSettings

log = logging.getLogger(__name__)

RECEIVE_MAXIMUM = 1000  # QoS 1 messages the broker may send before our acknowledgements
READ_CHUNK = 256 * 1024
FAST_BATCH = 2000  # PUBLISH packets cut out of the buffer at most per turn of paho's loop

#: One PUBLISH as `split_publishes` cuts it out: topic (raw bytes), payload, QoS, packet id, retain.
Publish = tuple[bytes, bytes, int, int, bool]


def split_publishes(
    buffer: bytes | bytearray, v5: bool, limit: int = FAST_BATCH
) -> tuple[list[Publish], int]:
    """The complete QoS 0 and 1 PUBLISH packets at the start of ``buffer``, and the bytes they take.

    Stops at the first packet that is anything else (another packet type, QoS 2, not complete yet,
    or malformed), so that paho reads it as it would have; ``v5`` skips each packet's properties.

    >>> packet = bytes([0x30, 7, 0, 3]) + b"a/b" + b"hi"
    >>> split_publishes(packet + b"\x30", v5=False)
    ([(b'a/b', b'hi', 0, 0, False)], 9)
    """
    out: list[Publish] = []
    pos, size = 0, len(buffer)
    while len(out) < limit and pos + 2 <= size:
        header = buffer[pos]
        qos = (header >> 1) & 3
        if header >> 4 != 3 or qos == 3 or qos == 2:
            break
        # remaining length: 1 to 4 bytes of 7 bits
        length, mult, i = 0, 1, pos + 1
        while True:
            if i >= size or i - pos > 4:
                return out, pos
            byte = buffer[i]
            length += (byte & 127) * mult
            mult *= 128
            i += 1
            if not byte & 128:
                break
        end = i + length
        if end > size:
            break
        if length < 2:
            break
        topic_len = (buffer[i] << 8) | buffer[i + 1]
        j = i + 2 + topic_len
        mid = 0
        if qos:
            if j + 2 > end:
                break
            mid = (buffer[j] << 8) | buffer[j + 1]
            j += 2
        if v5:  # properties: a variable byte integer length, then that many bytes
            plen, mult, k = 0, 1, j
            while True:
                if k >= end or k - j >= 4:
                    return out, pos
                byte = buffer[k]
                plen += (byte & 127) * mult
                mult *= 128
                k += 1
                if not byte & 128:
                    break
            j = k + plen
        if j > end or (not v5 and topic_len == 0):
            break
        out.append(
            (bytes(buffer[i + 2 : i + 2 + topic_len]), bytes(buffer[j:end]), qos, mid, bool(header & 1))
        )
        pos = end
    return out, pos


class _ReadAhead:
    """A socket that reads in large chunks and hands paho the small reads it asks for.

    paho reads each packet with a system call per header byte plus one for the body; at thousands
    of messages a second that is most of the ingest's CPU. ``pending()`` tells paho's loop that
    buffered bytes wait, so it reads them without waiting in select() (as it does for TLS).
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def recv(self, bufsize: int) -> bytes:
        if not self._buffer:
            data = self._sock.recv(max(bufsize, READ_CHUNK))
            if len(data) <= bufsize:
                return bytes(data)
            self._buffer += data
        chunk = bytes(self._buffer[:bufsize])
        del self._buffer[:bufsize]
        return chunk

    def take_publishes(self, v5: bool) -> list[Publish]:
        """Cut the complete QoS 0/1 PUBLISH packets off the front of the buffer (`split_publishes`)."""
        if not self._buffer:
            return []
        packets, used = split_publishes(self._buffer, v5)
        if used:
            del self._buffer[:used]
        return packets

    def pending(self) -> int:
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return len(self._buffer) + int(inner)

    def send(self, buffer: bytes | bytearray) -> int:
        return int(self._sock.send(buffer))

    def close(self) -> None:
        self._buffer.clear()
        self._sock.close()

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Client(mqtt.Client):
    """paho's client, reading through `_ReadAhead`; ``deliver_many`` (when set) takes the PUBLISH
    packets that wait in the buffer after each packet paho reads."""

    deliver_many: Callable[[list[Publish]], None] | None = None

    def _create_socket(self) -> Any:
        return _ReadAhead(super()._create_socket())

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        sock, deliver = self._sock, self.deliver_many
        # Only between packets: a packet paho has begun to read is paho's to finish.
        if rc or deliver is None or not isinstance(sock, _ReadAhead) or self._in_packet["command"]:
            return rc
        packets = sock.take_publishes(self._protocol == mqtt.MQTTv5)
        if packets:
            self._last_bytes_received = time.monotonic()
            deliver(packets)
        return rc


def subscriptions(
    sites: list[str], shared_group: str | None, part: Literal["all", "plain", "shared"] = "all"
) -> list[tuple[str, int]]:
    """The topic filters (and QoS) the server subscribes to: `all`, or the `shared` ones (camera
    states and positions, split between replicas) and the `plain` ones (the rest) apart.

    >>> subscriptions(["+"], "hallwatch-server")[0]
    ('$share/hallwatch-server/hallwatch/+/cameras/+/state', 0)
    >>> len(subscriptions(["+"], "g", "shared")), len(subscriptions(["+"], "g", "plain"))
    (4, 6)
    """
    result: list[tuple[str, int]] = []
    for site in sites:
        base = f"{TOPIC_ROOT}/{site}"
        share = f"$share/{shared_group}/" if shared_group else ""
        if part != "plain":
            result += [
                (f"{share}{base}/cameras/+/state", 0),
                (f"{share}{base}/cameras/+/positions", 0),
                (f"{share}{base}/nodes/+/floor", 0),
                (f"{share}{base}/nodes/+/floor_positions", 0),
            ]
        if part != "shared":
            result += [
                (f"{base}/cameras/+/events", 1),
                (f"{base}/nodes/+/floor_events", 1),
                (f"{base}/nodes/+/status", 1),
                (f"{base}/nodes/+/health", 0),
                (f"{base}/nodes/+/layout", 1),
                (f"{base}/nodes/+/snapshot", 1),
            ]
    return result


class MqttIngestClient:
    """Connects, subscribes on every (re)connect, and passes each message to ``deliver``.

    Raises (on construction):
        hallwatch.mqtt.MqttSetupError: a TLS file in the settings is missing or unusable.
    """

    def __init__(
        self,
        address: BrokerAddress,
        settings: MqttSettings,
        deliver: Callable[[RawMessage], None],
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
        part: Literal["all", "plain", "shared"] = "all",
    ) -> None:
        self._address = address
        self._settings = settings
        self._deliver = deliver
        self._metrics = metrics
        self._clock = clock
        self._connected = threading.Event()
        self._stopping = False
        self._v5 = address.protocol == "5"
        tls = TlsFiles(settings.ca_file, settings.cert_file, settings.key_file) if address.tls else None
        self._client = new_client(
            settings.client_id,
            protocol=address.protocol,
            username=address.username,
            password=address.password,
            tls=tls,
            clean_session=settings.session_expiry_s == 0,
            manual_ack=True,
            client_class=_Client,
        )
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(10_000)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        if isinstance(self._client, _Client):
            self._client.deliver_many = self._on_publishes
        self._topics = subscriptions(settings.sites, address.shared_group, part)
        # Called (on a thread of its own) after connecting without the old session: the broker lost
        # it or it expired, and with it whatever was queued for the server (see `ask_to_resend`).
        self.on_new_session: Callable[[], None] | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def start(self) -> None:
        log.info("connecting to the MQTT broker at %s:%d", self._address.host, self._address.port)
        properties = None
        if self._v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self._settings.session_expiry_s
            properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self._client.connect_async(
            self._address.host,
            self._address.port,
            keepalive=self._settings.keepalive_s,
            clean_start=False if self._v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        self._client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        self._metrics.mqtt_connected.set(0)

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a QoS 1 message once it is stored."""
        self._client.ack(mid, qos)

    def confirm(self, stored: dict[tuple[str, str], list[int]]) -> None:
        """Tell each node which of its events are stored (`nodes/{node}/stored`, QoS 1), so that
        it may drop them from its outbox. A confirmation that cannot go out now is not retried:
        the node sends those events again later, and they are confirmed as repeats."""
        for (site, node), seqs in stored.items():
            for message in stored_messages(site, node, seqs):
                if not self.publish(node_topic(site, node, "stored"), message.to_json(), qos=1):
                    self._metrics.confirmations_unsent.inc()

    def ask_to_resend(self, nodes: list[tuple[str, str]]) -> int:
        """Ask these (site, node)s to send again every event the server has not confirmed (after a
        new session: the events the broker queued for the old one may be gone); how many were asked."""
        asked = 0
        for site, node in nodes:
            message = StoredEvents(site=site, node=node, resend=True)
            asked += self.publish(node_topic(site, node, "stored"), message.to_json(), qos=1)
        if asked:
            log.info("new session at the broker: asked %d node(s) to send again what is not confirmed", asked)
        return asked

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> bool:
        """Publish (config pushes); False when not connected or paho refused it."""
        if not self.connected:
            return False
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    # ------------------------------------------------------------------------------ callbacks
    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error(
                "the MQTT broker at %s:%d refused the connection: %s. Check mqtt.url, the user name and "
                "password, and that the broker speaks MQTT %s",
                self._address.host,
                self._address.port,
                reason,
                self._address.protocol,
            )
            return
        for topic, qos in self._topics:
            client.subscribe(topic, qos=qos)
        self._connected.set()
        self._metrics.mqtt_connected.set(1)
        log.info("connected to the MQTT broker; subscribed to %d topic filters", len(self._topics))
        hook = self.on_new_session
        if not flags.session_present and hook is not None:
            threading.Thread(target=_call_logged, args=(hook,), name="ask-to-resend", daemon=True).start()

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        for reason in reasons:
            if reason.is_failure:
                log.error(
                    "the broker refused a subscription (%s); check its ACL lets the server read hallwatch/#",
                    reason,
                )

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
        self._metrics.mqtt_connected.set(0)
        if not self._stopping:
            log.warning(
                "lost the MQTT broker at %s:%d (%s); reconnecting with backoff",
                self._address.host,
                self._address.port,
                reason,
            )

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # a topic that is not UTF-8: refuse it like any bad message
            topic = msg._topic.decode("utf-8", "replace")
        payload = bytes(msg.payload)
        self._deliver(RawMessage(topic, payload, self._clock(), msg.qos, msg.mid, bool(msg.retain)))

    def _on_publishes(self, packets: list[Publish]) -> None:
        """The PUBLISH packets `_Client` cut out of its buffer, as if each came through `_on_message`."""
        deliver, now = self._deliver, self._clock()
        for raw_topic, payload, qos, mid, retain in packets:
            try:
                topic = raw_topic.decode()
            except UnicodeDecodeError:  # refused by the processor like any bad message
                topic = raw_topic.decode("utf-8", "replace")
            deliver(RawMessage(topic, payload, now, qos, mid, retain))


def _call_logged(hook: Callable[[], None]) -> None:
    try:
        hook()
    except Exception:
        log.exception("could not ask the nodes to send again what is not confirmed")
