"""Putting the server together: store, ingest (broker, MQTT client, worker), live state, the app.

`build_server` is what `hallwatch server run` and the tests use; `Ingest` is the running ingest as
the API sees it (`server.services.IngestHandle`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import FastAPI

from server.app import create_app
from server.auth.passwords import hash_password
from server.broker import EmbeddedBroker
from server.ingest.live_state import LiveState
from server.ingest.mqtt_client import MqttIngestClient
from server.ingest.partition import SitePartition
from server.ingest.processor import IngestProcessor
from server.ingest.snapshots import PendingRequest, SnapshotStore
from server.live.hub import LiveHub
from server.live.membership import RedisMembership
from server.live.relay import RedisRelay
from server.metrics import Metrics
from server.settings import Settings
from server.store import Store, open_store
from server.store.users import UserExists

log = logging.getLogger(__name__)

DEMO_USERS = {"guide": "guide", "manager": "manager", "ops": "ops"}  # user name = role = password


class Ingest:
    """The embedded broker (if no URL is set), the MQTT client and the worker, started together."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        hub: LiveHub,
        live: LiveState,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
        snapshots: SnapshotStore | None = None,
    ) -> None:
        self.processor = IngestProcessor(
            settings, store, hub, live, metrics, clock=clock, snapshots=snapshots
        )
        self.broker = EmbeddedBroker(settings.embedded_broker) if settings.uses_embedded_broker else None
        shared = settings.shared_broker()
        self.client = MqttIngestClient(
            settings.broker(),
            settings.mqtt,
            self.processor.offer,
            metrics,
            clock=clock,
            part="all" if shared is None else "plain",
        )
        # Replicas: the shared subscription on a connection without a session of its own, so that the
        # broker stops sending a dead replica its share at once (with a session it keeps sending it
        # there until the replica returns). Its messages are QoS 0: nothing for the processor to ack.
        self.shared_client: MqttIngestClient | None = None
        if shared is not None:
            client_id = f"{settings.mqtt.client_id[:57]}-shared"
            self.shared_client = MqttIngestClient(
                shared,
                settings.mqtt.model_copy(update={"client_id": client_id, "session_expiry_s": 0}),
                self.processor.offer,
                metrics,
                clock=clock,
                part="shared",
            )
        self.processor.acker = self.client.ack
        self.processor.confirmer = self.client.confirm
        self.client.on_new_session = self._ask_nodes_to_resend
        self._store = store
        self._sites = settings.mqtt.sites
        self._clock = clock
        self.relay: RedisRelay | None = None
        if settings.live.redis_url is not None:
            self.relay = RedisRelay(
                settings.live.redis_url,
                settings.live.channel,
                f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}",
                metrics,
                on_cameras=self.processor.take_remote_cameras,
                on_live=hub.publish,
                on_requests=self._remember_requests,
            )
            self.processor.share = self.relay.publish
            self.processor.snapshots.share = self.relay.share_request
        # Replicas that split by site: each takes the camera states of the sites it owns among the
        # replicas alive (the settings refuse split: site without Redis).
        self.membership: RedisMembership | None = None
        if settings.mqtt.split == "site" and settings.live.redis_url is not None:
            partition = SitePartition(settings.mqtt.client_id)
            self.membership = RedisMembership(
                settings.live.redis_url,
                settings.live.channel,
                partition.me,
                partition.update,
                ready=lambda: self.client.connected,  # a replica without the broker keeps no site
            )
            self.processor.keeps = partition.keeps
        elif settings.live.redis_url is not None and settings.broker().shared_group is None:
            log.warning(
                "replicas (live.redis_url is set) on a broker that gives each of them every camera state "
                "(MQTT 3.1.1, or no shared group): each replica judges every camera. Set mqtt.split: site "
                "(HALLWATCH_MQTT__SPLIT=site) so that each site goes to one replica"
            )

    def _remember_requests(self, requests: list[PendingRequest]) -> None:
        for request in requests:
            self.processor.snapshots.remember(request)

    def _ask_nodes_to_resend(self) -> None:
        nodes = [
            (n.site, n.node) for n in self._store.nodes.nodes() if "+" in self._sites or n.site in self._sites
        ]
        self.client.ask_to_resend(nodes)

    def start(self) -> None:
        if self.broker is not None:
            self.broker.start()
        if self.membership is not None:  # before messages arrive: the sites are split from the first
            self.membership.start()
        self.processor.start()
        if self.relay is not None:
            self.relay.start()
        self.client.start()
        if self.shared_client is not None:
            self.shared_client.start()

    def stop(self) -> None:
        if self.shared_client is not None:
            self.shared_client.stop()
        self.client.stop()
        self.processor.stop()
        if self.membership is not None:  # the others take this replica's sites at once
            self.membership.stop()
        if self.relay is not None:
            self.relay.stop()
        if self.broker is not None:
            self.broker.stop()

    def request_alert_sync(self) -> None:
        self.processor.request_alert_sync()

    def request_identity_sync(self) -> None:
        self.processor.request_identity_sync()

    @property
    def store_healthy(self) -> bool:
        return self.processor.writer.healthy

    def lag_s(self) -> float:
        return self.processor.lag_s(self._clock())

    @property
    def queue_depth(self) -> int:
        return self.processor.queue_depth

    @property
    def mqtt_connected(self) -> bool:
        return self.client.connected and (self.shared_client is None or self.shared_client.connected)

    def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> bool:
        return self.client.publish(topic, payload, qos=qos, retain=retain)


@dataclass
class Server:
    app: FastAPI
    store: Store
    ingest: Ingest | None
    metrics: Metrics
    hub: LiveHub
    live: LiveState


def ensure_demo_users(store: Store, now: datetime) -> list[str]:
    """Create the demo accounts that do not exist yet; returns their names."""
    created = []
    for name, password in DEMO_USERS.items():
        try:
            store.users.create(name, hash_password(password), name, now)
            created.append(name)
        except UserExists:
            pass
    return created


def build_server(
    settings: Settings,
    *,
    with_ingest: bool = True,
    clock: Callable[[], float] = time.time,
    store: Store | None = None,
) -> Server:
    """Open the store (migrating it), build the ingest and the app; nothing runs until the app starts.

    Raises:
        server.settings.SettingsError: placeholder secrets outside demo mode.
    """
    settings.check_secrets()
    store = store or open_store(settings.database_url)
    metrics = Metrics()
    hub = LiveHub(metrics)
    live = LiveState(settings.alerts)
    if settings.demo:
        created = ensure_demo_users(store, datetime.now(UTC))
        if created:
            log.warning(
                "demo mode: created users %s (password = user name); never use this in a hall", created
            )
    elif not store.users.count_role("ops") and not store.users.all():
        log.warning("no users yet: create one with `hallwatch server create-user NAME --role ops`")
    snapshots = SnapshotStore(clock=clock)
    ingest = (
        Ingest(settings, store, hub, live, metrics, clock=clock, snapshots=snapshots) if with_ingest else None
    )
    app = create_app(
        settings,
        store=store,
        hub=hub,
        live=live,
        metrics=metrics,
        ingest=ingest,
        clock=lambda: datetime.fromtimestamp(clock(), UTC),
        snapshots=snapshots,
    )
    return Server(app=app, store=store, ingest=ingest, metrics=metrics, hub=hub, live=live)


def random_secret() -> str:
    return secrets.token_urlsafe(48)
