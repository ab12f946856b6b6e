"""What the API's routes share: settings, store, live state and hub, metrics, and the ingest handle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from server.auth.ratelimit import LoginLimiter
from server.ingest.live_state import LiveState
from server.ingest.snapshots import SnapshotStore
from server.live.hub import LiveHub
from server.metrics import Metrics
from server.settings import Settings
from server.store import Store


class IngestHandle(Protocol):
    """What the API needs from a running ingest (absent when the API runs without one)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def request_alert_sync(self) -> None: ...

    def request_identity_sync(self) -> None: ...

    @property
    def store_healthy(self) -> bool: ...

    def lag_s(self) -> float: ...

    @property
    def queue_depth(self) -> int: ...

    @property
    def mqtt_connected(self) -> bool: ...

    def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> bool: ...


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    hub: LiveHub
    live: LiveState
    metrics: Metrics
    limiter: LoginLimiter
    clock: Callable[[], datetime]
    ingest: IngestHandle | None = None
    snapshots: SnapshotStore = field(default_factory=SnapshotStore)  # ops' pictures, memory only
