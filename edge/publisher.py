"""The node's MQTT connection (paho-mqtt 2.x) and the pump that moves outbox events onto it.

`MqttPublisher` owns one paho client: callback API v2, `connect_async` + `loop_start`, client id =
node id, MQTT 5 (or 3.1.1), user name and password, TLS with a CA and an optional client
certificate, the retained last will `offline`, and reconnection with exponential backoff. A broker
that refuses the login is reported in plain words (`describe_connack`).

`OutboxPump` publishes the outbox's events in `seq` order with QoS 1, at most `window` at a time,
and deletes each one only when it is safe: on its PUBACK (`outbox.confirm: broker`), or once the
server confirms storing it (`confirm: server`, `edge.confirmations`), sending what the server has
not confirmed again after each reconnection and after a backoff. After a reconnection it first
waits for the events that were in flight before the outage (paho sends them again) so order is kept.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import ConfigError, MqttConfig
from edge.confirmations import Unconfirmed
from edge.outbox import Outbox, OutboxError
from hallwatch.mqtt import MqttSetupError, TlsFiles, new_client

log = logging.getLogger(__name__)

# CONNACK reason codes that mean "this login will not work until someone changes something".
REFUSAL_CODES = frozenset({0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C})
BAD_LOGIN_CODES = frozenset({0x86, 0x87})  # bad user name or password; not authorized
# After a reconnection, how long the pump waits for the PUBACKs of what paho resends before it
# gives up on them and sends the outbox again from its oldest event.
RESEND_WAIT_S = 30.0


def broker_address(cfg: MqttConfig) -> str:
    return f"{cfg.host}:{cfg.port}"


def describe_connack(reason: ReasonCode, node: str, cfg: MqttConfig) -> str:
    """A refused CONNACK in an operator's words.

    Mosquitto answers a wrong password with "Not authorized", so both mean the login.
    """
    said = reason.getName()
    if reason.value in BAD_LOGIN_CODES:
        user = f"user {cfg.username!r}" if cfg.username else "no user name given"
        return (
            f"the broker refused {node}'s user name or password ({user}; the broker said: {said}). "
            "Check mqtt.username and the password against the broker's password file"
        )
    if reason.value == 0x84:
        return (
            f"the broker at {broker_address(cfg)} does not accept MQTT {cfg.protocol}; "
            "try mqtt.protocol: '3.1.1'"
        )
    if reason.value == 0x85:
        return f"the broker refused the client id {node!r} (the node id); is it allowed on this broker?"
    if reason.value == 0x8A:
        return f"the broker has banned {node}"
    return f"the broker refused {node}'s connection: {said}"


def make_client(cfg: MqttConfig, client_id: str) -> mqtt.Client:
    """A paho client set up from the config, not yet connected.

    Raises:
        ConfigError: a TLS file is missing or unusable, or the password's environment variable is unset.
    """
    if cfg.username is None and (cfg.password is not None or cfg.password_env is not None):
        raise ConfigError("mqtt.username: a password is set but no user name")
    tls = None
    if cfg.tls is not None:
        tls = TlsFiles(cfg.tls.ca_file, cfg.tls.cert_file, cfg.tls.key_file, cfg.tls.insecure)
    try:
        client = new_client(
            client_id,
            protocol=cfg.protocol,
            username=cfg.username,
            password=cfg.resolved_password() if cfg.username is not None else None,
            tls=tls,
        )
    except MqttSetupError as exc:
        where = "mqtt" if exc.setting in ("tls", "username") else "mqtt.tls"
        raise ConfigError(f"{where}.{exc.setting}: {exc.reason}") from None
    # paho does float arithmetic on these although it annotates them as int.
    client.reconnect_delay_set(
        min_delay=cast(int, cfg.reconnect_min_s), max_delay=cast(int, cfg.reconnect_max_s)
    )
    return client


def describe_connect_error(exc: BaseException, cfg: MqttConfig) -> str:
    """Why a TCP/TLS connection to the broker failed, in plain words."""
    where = broker_address(cfg)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS: the broker's certificate at {where} could not be verified ({exc.verify_message}); "
            "check mqtt.tls.ca_file and that mqtt.host matches the certificate"
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f"TLS handshake with {where} failed ({exc.reason or exc}); "
            "is it a TLS port, and are the certificates right?"
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"nothing accepts connections at {where} (connection refused): "
            "is the broker running, is the port right?"
        )
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the broker's host name {cfg.host!r} ({exc.strerror})"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer from {where} in time: wrong address, or a firewall in the way?"
    if isinstance(exc, OSError):
        return f"cannot connect to {where}: {exc.strerror or exc}"
    return f"cannot connect to {where}: {exc}"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    refused: bool
    message: str
    publish_refused: str | None = None


def probe_broker(
    cfg: MqttConfig,
    node: str,
    *,
    client_id: str,
    timeout_s: float = 5.0,
    test_publish: tuple[str, bytes] | None = None,
) -> ProbeResult:
    """Connect once, synchronously, and report what happened in plain words.

    With `test_publish` (topic, payload), also publish it with QoS 1 (not retained) and report
    whether the broker accepted it (MQTT 5 brokers say when an ACL refuses a publish; 3.1.1 ones
    do not).

    Raises:
        ConfigError: the MQTT section cannot be used (missing TLS file, unset password variable).
    """
    client = make_client(cfg, client_id)
    client.connect_timeout = timeout_s
    result: dict[str, Any] = {}
    done = threading.Event()

    def on_connect(
        c: mqtt.Client, _u: Any, _f: mqtt.ConnectFlags, reason: ReasonCode, _p: Properties | None
    ) -> None:
        result["connack"] = reason
        done.set()

    def on_publish(c: mqtt.Client, _u: Any, mid: int, reason: ReasonCode, _p: Properties | None) -> None:
        result["puback"] = reason
        done.set()

    client.on_connect = on_connect
    client.on_publish = on_publish
    try:
        client.connect(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
    except (OSError, ssl.SSLError) as exc:
        return ProbeResult(False, False, describe_connect_error(exc, cfg))
    try:
        deadline = time.monotonic() + timeout_s
        while "connack" not in result and time.monotonic() < deadline:
            if client.loop(timeout=0.1) not in (MQTTErrorCode.MQTT_ERR_SUCCESS,):
                break
        reason = result.get("connack")
        if reason is None:
            return ProbeResult(
                False,
                False,
                f"the broker at {broker_address(cfg)} closed the connection without answering "
                "(a TLS port reached without TLS, or the wrong protocol?)",
            )
        if reason.is_failure:
            return ProbeResult(False, reason.value in REFUSAL_CODES, describe_connack(reason, node, cfg))
        message = f"connected to the broker at {broker_address(cfg)} as {node} (MQTT {cfg.protocol})"
        if test_publish is None:
            return ProbeResult(True, False, message)
        done.clear()
        topic, payload = test_publish
        client.publish(topic, payload, qos=1, retain=False)
        deadline = time.monotonic() + timeout_s
        while "puback" not in result and time.monotonic() < deadline:
            client.loop(timeout=0.1)
        puback = result.get("puback")
        if puback is None:
            return ProbeResult(True, False, message, f"no acknowledgement for a publish on {topic}")
        if puback.is_failure:
            return ProbeResult(
                True,
                False,
                message,
                f"the broker refused {node}'s publish on {topic}: {puback.getName()} "
                "(check the broker's ACL for this user)",
            )
        return ProbeResult(True, False, message)
    finally:
        try:
            client.disconnect()
            client.loop(timeout=0.1)
        except Exception:  # the probe is over either way
            pass


class MqttPublisher:
    """One node's MQTT connection, reconnecting on its own (paho's network thread).

    Args:
        cfg: the `mqtt` section.
        node: the node id; also the client id.
        will: called before each connection attempt for the last will's (topic, payload); the will
            is published retained with QoS 1.
        subscriptions: topics to subscribe to (QoS 1) on every connection.
        on_connected: called on paho's thread after each successful connection.
        on_message: called on paho's thread with (topic, payload) for every message; must not block.
        on_ack: called on paho's thread after a PUBACK was queued on `acks`; must not block.
        on_refused: called on paho's thread when the broker refuses the login before this
            process was ever connected (a setup mistake), with the reason in plain words.
    """

    def __init__(
        self,
        cfg: MqttConfig,
        *,
        node: str,
        will: Callable[[], tuple[str, bytes]],
        subscriptions: Sequence[str] = (),
        on_connected: Callable[[], None] = lambda: None,
        on_message: Callable[[str, bytes], None] = lambda topic, payload: None,
        on_ack: Callable[[], None] = lambda: None,
        on_refused: Callable[[str], None] = lambda message: None,
        max_inflight: int = 100,
    ) -> None:
        self.cfg = cfg
        self.node = node
        self._will = will
        self._subscriptions = list(subscriptions)
        self._on_connected = on_connected
        self._on_message_cb = on_message
        self._on_ack = on_ack
        self._on_refused = on_refused
        self.acks: queue.SimpleQueue[tuple[int, ReasonCode]] = queue.SimpleQueue()
        self._connected = threading.Event()
        self._stopping = False
        self.ever_connected = False
        self.connections = 0
        self._fail_logged = False
        self._refusal_logged: str | None = None
        # The broker (use_username_as_clientid) makes a login's client id its user name; ask for the
        # same, so the session the node keeps is the one the broker keeps.
        self._client = make_client(cfg, client_id=cfg.username or node)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_connect_fail = self._handle_connect_fail
        self._client.on_publish = self._handle_publish
        self._client.on_message = self._handle_message
        self._set_will()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def start(self) -> None:
        log.info(
            "connecting to the broker at %s as %s (MQTT %s)",
            broker_address(self.cfg),
            self.node,
            self.cfg.protocol,
        )
        kwargs: dict[str, Any] = {"keepalive": self.cfg.keepalive_s}
        if self.cfg.protocol == "5":
            kwargs["clean_start"] = True
        self._client.connect_async(self.cfg.host, self.cfg.port, **kwargs)
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Hand a message to paho; QoS 1 messages are kept and sent again across reconnections."""
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def publish_if_connected(self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False) -> bool:
        """Publish now if connected; False (nothing queued) otherwise. For state and health."""
        if not self.connected:
            return False
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def stop(self, final: tuple[str, bytes] | None = None, timeout_s: float = 3.0) -> bool:
        """Publish `final` (retained, QoS 1) if connected, disconnect cleanly, stop the thread.

        Returns whether `final` was acknowledged.
        """
        self._stopping = True
        delivered = False
        if final is not None and self.connected:
            topic, payload = final
            info = self._client.publish(topic, payload, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout_s)
                delivered = info.is_published()
            except (RuntimeError, ValueError) as exc:
                log.warning("could not publish the final status: %s", exc)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        return delivered

    # -------------------------------------------------------------------------------- callbacks
    def _set_will(self) -> None:
        topic, payload = self._will()
        self._client.will_set(topic, payload, qos=1, retain=True)

    def _handle_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            message = describe_connack(reason, self.node, self.cfg)
            if self._refusal_logged != message:
                log.error("%s", message)
                self._refusal_logged = message
            if reason.value in REFUSAL_CODES and not self.ever_connected:
                _call_safely("the refused-login handler", self._on_refused, message)
            return
        self._refusal_logged = None
        self._fail_logged = False
        self.ever_connected = True
        self.connections += 1
        log.info(
            "%s to the broker at %s (MQTT %s)",
            "connected" if self.connections == 1 else "reconnected",
            broker_address(self.cfg),
            self.cfg.protocol,
        )
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        # Before `connected` turns true, so that the outbox pump learns of the new connection
        # before it may send anything on it.
        _call_safely("the on-connect handler", self._on_connected)
        self._connected.set()

    def _handle_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        was_connected = self.connected
        self._connected.clear()
        if self._stopping:
            return
        if was_connected:
            why = "connection closed" if reason.value == 0x80 else reason.getName()
            log.warning(
                "lost the broker at %s (%s); reconnecting with backoff, events wait in the outbox",
                broker_address(self.cfg),
                why,
            )
        # A fresh seq and time for the next connection's last will (the old one stays if this fails).
        _call_safely("the last will", self._set_will)

    def _handle_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        if self._stopping:
            return
        level = logging.DEBUG if self._fail_logged else logging.WARNING
        self._fail_logged = True
        log.log(
            level,
            "cannot reach the broker at %s; retrying with backoff (events wait in the outbox; "
            "`hallwatch edge check` says why)",
            broker_address(self.cfg),
        )

    def _handle_publish(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        mid: int,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        # Called with paho's message lock held: only queue it, never block here.
        self.acks.put((mid, reason))
        _call_safely("the acknowledgement handler", self._on_ack)

    def _handle_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        _call_safely(
            f"the handler of a message on {message.topic}",
            self._on_message_cb,
            message.topic,
            bytes(message.payload),
        )


def _call_safely(what: str, callback: Callable[..., None], *args: Any) -> None:
    """Run one of our callbacks on paho's network thread, logging what it raises.

    paho re-raises a callback's exception out of its loop, which ends the network thread: the node
    would silently stop publishing and reconnecting. A failing handler loses its own work only.
    """
    try:
        callback(*args)
    except Exception:
        log.exception("%s failed; the MQTT connection carries on", what)


class OutboxPump:
    """Moves outbox events to the broker in `seq` order, QoS 1, deleting each once it is safe."""

    def __init__(
        self,
        outbox: Outbox,
        publisher: MqttPublisher,
        *,
        window: int = 50,
        confirm: str = "broker",
        resend_after_s: float = 300.0,
    ) -> None:
        self.outbox = outbox
        self.publisher = publisher
        self.window = window
        self.by_server = confirm == "server"
        self.published = 0  # acknowledged by the broker since start
        self.refused = 0  # PUBACK with an error reason (the ACL), since start
        self.confirmed = 0  # events the server confirmed storing (and left the outbox) since start
        self.resent = 0  # events sent again because the server had not confirmed them
        self._inflight: dict[int, int] = {}  # paho mid -> seq
        self._sent_upto = -1
        self._unconfirmed = Unconfirmed(resend_after_s)
        self._resend: list[int] = []  # seqs to send again before new ones, oldest first
        self._confirms: queue.SimpleQueue[list[tuple[int, int]]] = queue.SimpleQueue()
        self._resend_all = threading.Event()
        # (Re)connections so far and when the last one came, set on paho's thread under the lock;
        # the pump thread handles each new connection once.
        self._lock = threading.Lock()
        self._connections = 0
        self._connected_at = 0.0
        self._handled_connections = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-pump", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(5.0)

    def wake(self) -> None:
        self._wake.set()

    def confirm(self, ranges: list[tuple[int, int]]) -> None:
        """The server stored these seq ranges (`nodes/{node}/stored`); safe from any thread."""
        self._confirms.put(ranges)
        self._wake.set()

    def resend_unconfirmed(self) -> None:
        """The server lost its session (`StoredEvents.resend`): send again what it has not confirmed."""
        self._resend_all.set()
        self._wake.set()

    @property
    def unconfirmed(self) -> int:
        """Events the broker took that the server has not confirmed yet."""
        return len(self._unconfirmed)

    def connected(self) -> None:
        """Call on every (re)connection: events in flight before it go first (paho resends them)."""
        with self._lock:
            self._connections += 1
            self._connected_at = time.monotonic()
        self._wake.set()

    def wait_drained(self, timeout_s: float) -> bool:
        """Wait until the outbox is empty (everything acknowledged); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.outbox.depth == 0:
                return True
            self._wake.set()
            time.sleep(0.02)
        return self.outbox.depth == 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.25)
            self._wake.clear()
            try:
                self._collect_acks()
                self._collect_confirms()
                if self.publisher.connected:
                    self._send()
            except OutboxError as exc:
                log.error("%s", exc)
                self._stop.wait(1.0)
            except Exception:
                log.exception("outbox pump failed; retrying in 1 s")
                self._stop.wait(1.0)

    def _collect_acks(self) -> None:
        done: list[int] = []
        while True:
            try:
                mid, reason = self.publisher.acks.get_nowait()
            except queue.Empty:
                break
            seq = self._inflight.pop(mid, None)
            if seq is None:
                continue  # a status or layout message, not an event
            if reason.is_failure:
                self.refused += 1
                log.error(
                    "the broker refused event seq %d: %s (check the ACL for user %r); it is dropped",
                    seq,
                    reason.getName(),
                    self.publisher.cfg.username,
                )
                self._unconfirmed.forget([seq])
            else:
                self.published += 1
                if self.by_server:
                    self._unconfirmed.acked(seq)  # it stays in the outbox until the server says so
                    continue
            done.append(seq)
        if done:
            self.outbox.delete(done)

    def _collect_confirms(self) -> None:
        ranges: list[tuple[int, int]] = []
        while True:
            try:
                ranges += self._confirms.get_nowait()
            except queue.Empty:
                break
        if not ranges:
            return
        self._unconfirmed.confirm(ranges, in_flight=set(self._inflight.values()))
        self.confirmed += self.outbox.delete_ranges(ranges)

    def _send(self) -> None:
        with self._lock:
            connections, connected_at = self._connections, self._connected_at
        if connections != self._handled_connections and self.by_server:
            # Everything not confirmed goes again, what was in flight included, without waiting
            # for paho's own resends: the server drops whatever arrives twice.
            lost = sorted(self._inflight.values())
            self._inflight.clear()
            again = self._unconfirmed.take_all() if self._handled_connections else []
            self._queue_resend(sorted({*lost, *again}), "after reconnecting")
            self._handled_connections = connections
        if connections != self._handled_connections:
            if self._inflight:
                if time.monotonic() - connected_at < RESEND_WAIT_S:
                    return  # wait for paho to resend what was in flight before the outage
                log.warning(
                    "%d events sent before the outage were never acknowledged; sending the outbox again",
                    len(self._inflight),
                )
                self._inflight.clear()
                self._sent_upto = -1
            self._handled_connections = connections
        if self.by_server and self._resend_all.is_set():
            self._resend_all.clear()
            self._queue_resend(self._unconfirmed.take_all(), "the server asked: it lost its broker session")
        if self.by_server:
            self._queue_resend(self._unconfirmed.take_due(), "not confirmed in time")
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        if self._resend:
            batch, self._resend = self._resend[:room], self._resend[room:]
            rows = self.outbox.rows(batch)
            self._unconfirmed.forget(set(batch) - {row.seq for row in rows})  # dropped meanwhile
            for row in rows:
                info = self.publisher.publish(row.topic, row.payload, qos=1)
                self._inflight[info.mid] = row.seq
            self.resent += len(rows)
            room -= len(rows)
            if room <= 0:
                return
        for row in self.outbox.pending(after_seq=self._sent_upto, limit=room):
            info = self.publisher.publish(row.topic, row.payload, qos=1)
            self._inflight[info.mid] = row.seq
            self._sent_upto = row.seq

    def _queue_resend(self, seqs: list[int], why: str) -> None:
        fresh = [seq for seq in seqs if seq <= self._sent_upto and seq not in self._resend]
        if fresh:
            log.info(
                "sending %d events again that the server has not confirmed storing (%s)", len(fresh), why
            )
            self._resend = sorted({*self._resend, *fresh})
