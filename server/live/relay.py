"""Replicas share what pages see, through Redis pub/sub (issue 16).

The broker splits camera states and positions between replicas (a shared subscription), so alone
each replica knows only its share of the cameras. With `live.redis_url` set, each replica publishes,
once per ingest round, the camera states it took (as the live state keeps them) and the live
messages only it makes (positions, the alerts it changed), and takes in what the other replicas
publish: their cameras into its live state (so its occupancy and its pages cover every camera),
their messages to its pages. Snapshot requests travel the same way, so every replica keeps a node's
answer and ops may ask any replica for it. Each batch names the replica that sent it; a replica
skips its own.

Redis pub/sub keeps nothing: a replica that starts, or that lost Redis for a while, has the others'
cameras again from their next state. The live stream is all that travels here; storage, alerts and
acknowledgements never depend on Redis, and a Redis that is down or slow costs ingest one short
timeout per retry period, not a stall (`publish` backs off). A batch that is not a relay batch is
refused alone, counted and logged.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server.ingest.live_state import CameraNow
from server.ingest.snapshots import PendingRequest
from server.live.hub import LiveMessage
from server.metrics import Metrics

log = logging.getLogger(__name__)

#: Topics whose messages only the replica that made them has (the rest every replica makes itself:
#: events, node status and layouts reach every replica; occupancy follows from the shared cameras).
RELAYED_TOPICS = frozenset({"positions", "alerts"})
_TIMEOUT_S = 0.5
_RETRY_S = (1.0, 30.0)  # after a failure, wait from the first to the second, doubling


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RelayCamera(_Model):
    site: str = Field(min_length=1, max_length=200)
    camera: str = Field(min_length=1, max_length=200)
    node: str = Field(min_length=1, max_length=200)
    people: int = Field(ge=0)
    violations: int = Field(ge=0)
    ts: datetime
    received_at: datetime
    zones: dict[str, int]
    possible_violations: int = Field(default=0, ge=0)
    uncovered: tuple[str, ...] = ()

    @classmethod
    def of(cls, cam: CameraNow) -> RelayCamera:
        return cls.model_validate(dataclasses.asdict(cam))

    def camera_now(self) -> CameraNow:
        return CameraNow(**self.model_dump())


class RelayMessage(_Model):
    topic: str
    site: str | None
    text: str
    alert_version: tuple[int, int] | None = None


class RelayRequest(_Model):
    """A snapshot request one replica sent to a node (`server.ingest.snapshots.PendingRequest`)."""

    site: str = Field(min_length=1, max_length=200)
    node: str = Field(min_length=1, max_length=200)
    camera: str = Field(min_length=1, max_length=200)
    request_id: uuid.UUID
    requested_by: str
    blur: bool
    requested_at: float
    expires_at: float

    def pending(self) -> PendingRequest:
        return PendingRequest(**self.model_dump())


class RelayBatch(_Model):
    origin: str = Field(min_length=1, max_length=200)
    cameras: list[RelayCamera] = Field(default_factory=list)
    live: list[RelayMessage] = Field(default_factory=list)
    requests: list[RelayRequest] = Field(default_factory=list)


class RedisRelay:
    """One replica's side of the relay: `publish` from the ingest thread, a thread that listens.

    Args:
        url: Redis URL (``redis://host:6379/0``).
        channel: the pub/sub channel every replica of the service uses.
        origin: this replica's id (distinct per replica).
        on_cameras: takes the other replicas' camera states (from the listening thread).
        on_live: takes the other replicas' live messages (from the listening thread).
        on_requests: takes the snapshot requests the other replicas sent to nodes.
    """

    def __init__(
        self,
        url: str,
        channel: str,
        origin: str,
        metrics: Metrics,
        *,
        on_cameras: Callable[[list[CameraNow]], None],
        on_live: Callable[[list[LiveMessage]], None],
        on_requests: Callable[[list[PendingRequest]], None] = lambda _: None,
    ) -> None:
        self.channel = channel
        self.origin = origin
        self._metrics = metrics
        self._on_cameras = on_cameras
        self._on_live = on_live
        self._on_requests = on_requests
        self._client = redis.Redis.from_url(
            url, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S, health_check_interval=10
        )
        self._retry_at = 0.0
        self._retry_s = _RETRY_S[0]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while subscribed

    # ------------------------------------------------------------------------------ sending
    def publish(self, cameras: Sequence[CameraNow], live: Sequence[LiveMessage]) -> bool:
        """Send one round's cameras and relayed messages; False when not sent (never raises)."""
        shared = [m for m in live if m.topic in RELAYED_TOPICS]
        if not cameras and not shared:
            return True
        batch = RelayBatch(
            origin=self.origin,
            cameras=[RelayCamera.of(c) for c in cameras],
            live=[
                RelayMessage(topic=m.topic, site=m.site, text=m.text, alert_version=m.alert_version)
                for m in shared
            ],
        )
        return self._send(batch)

    def share_request(self, request: PendingRequest) -> bool:
        """Tell the other replicas about a snapshot request this one sent; False when not sent."""
        try:
            shared = RelayRequest.model_validate(dataclasses.asdict(request))
        except ValidationError as exc:
            self._metrics.relay.labels("unsent").inc()
            log.warning("live relay: snapshot request %s not shared: %s", request.request_id, exc)
            return False
        return self._send(RelayBatch(origin=self.origin, requests=[shared]))

    def _send(self, batch: RelayBatch) -> bool:
        now = time.monotonic()
        if now < self._retry_at:
            self._metrics.relay.labels("unsent").inc()
            return False
        try:
            self._client.publish(self.channel, batch.model_dump_json())
        except redis.RedisError as exc:
            self._metrics.relay.labels("unsent").inc()
            if self._retry_s == _RETRY_S[0]:
                log.warning(
                    "live relay: cannot publish to Redis (%s); other replicas' pages miss this replica's "
                    "cameras until it is back (check live.redis_url); retrying",
                    exc,
                )
            self._retry_at = now + self._retry_s
            self._retry_s = min(self._retry_s * 2, _RETRY_S[1])
            return False
        if self._retry_s != _RETRY_S[0]:
            log.info("live relay: publishing to Redis again")
        self._retry_s = _RETRY_S[0]
        self._metrics.relay.labels("sent").inc()
        return True

    # ------------------------------------------------------------------------------ receiving
    def start(self) -> None:
        self._thread = threading.Thread(target=self._listen, name="live-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._client.close()

    def take(self, data: bytes | str) -> bool:
        """Handle one message from the channel; False (counted, logged) when it is refused."""
        try:
            batch = RelayBatch.model_validate_json(data)
        except ValidationError as exc:
            self._metrics.relay.labels("refused").inc()
            log.warning("live relay: refused a message on %s: %s", self.channel, exc.errors()[0]["msg"])
            return False
        if batch.origin == self.origin:
            return True
        self._metrics.relay.labels("received").inc()
        if batch.cameras:
            self._on_cameras([c.camera_now() for c in batch.cameras])
        if batch.live:
            self._on_live([LiveMessage(m.topic, m.site, m.text, m.alert_version) for m in batch.live])
        if batch.requests:
            self._on_requests([r.pending() for r in batch.requests])
        return True

    def _take_safely(self, data: bytes | str) -> None:
        try:
            self.take(data)
        except Exception:  # one bad batch never stops the relay
            self._metrics.relay.labels("refused").inc()
            log.exception("live relay: a batch from another replica could not be applied")

    def _listen(self) -> None:
        wait_s = _RETRY_S[0]
        while not self._stop.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.channel)
                self.listening.set()
                if wait_s != _RETRY_S[0]:
                    log.info("live relay: listening to Redis again")
                wait_s = _RETRY_S[0]
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=0.2)
                    if msg is not None and msg.get("type") == "message":
                        self._take_safely(msg["data"])
            except redis.RedisError as exc:
                self.listening.clear()
                if wait_s == _RETRY_S[0]:
                    log.warning(
                        "live relay: lost Redis (%s); this replica's pages miss the other replicas' "
                        "cameras until it is back; retrying",
                        exc,
                    )
                self._stop.wait(wait_s)
                wait_s = min(wait_s * 2, _RETRY_S[1])
            finally:
                self.listening.clear()
                pubsub.close()
