"""The last snapshot per camera, in memory only: ops' calibration pictures never reach the database.

A node sends a `NodeSnapshot` only in answer to an ops request (`POST .../snapshot`). The ingest
worker puts each one here; the API hands the latest one per camera to ops for `ttl_s` seconds, then
forgets it. Nothing here is written to disk, and a restart forgets every picture.

Requests are remembered too (briefly), so that the API can tell "still waiting for the node" from
"the node answered" and "the node never answered", and so that the ingest takes a snapshot only as
the first answer to a request this server sent, for that node and camera, before it expired
(`claim`): a node cannot push pictures nobody asked for, nor replace another camera's.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from hallwatch.contract import NodeSnapshot


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """One node's answer, as ops see it: a picture, or why there is none."""

    site: str
    node: str
    camera: str
    request_id: uuid.UUID
    captured_at: datetime
    received_at: float
    jpeg: bytes
    width: int | None
    height: int | None
    frame_width: int | None
    frame_height: int | None
    blurred: bool
    blur_method: str | None
    people_blurred: int | None
    error: str | None

    @classmethod
    def from_message(cls, msg: NodeSnapshot, received_at: float) -> StoredSnapshot:
        return cls(
            site=msg.site,
            node=msg.node,
            camera=msg.camera,
            request_id=msg.request_id,
            captured_at=msg.ts,
            received_at=received_at,
            jpeg=msg.jpeg(),
            width=msg.width,
            height=msg.height,
            frame_width=msg.frame_width,
            frame_height=msg.frame_height,
            blurred=msg.blurred,
            blur_method=msg.blur_method,
            people_blurred=msg.people_blurred,
            error=msg.error,
        )


@dataclass(frozen=True, slots=True)
class PendingRequest:
    site: str
    node: str
    camera: str
    request_id: uuid.UUID
    requested_by: str
    blur: bool
    requested_at: float
    expires_at: float


ANSWER_GRACE_S = 10.0  # a node answers before expires_at; the answer may take this long to arrive


class SnapshotStore:
    """Thread-safe: the ingest worker `put`s, API requests read. Bounded in count and in time.

    Args:
        ttl_s: how long a picture is kept after it arrived.
        max_cameras: most pictures kept at once (the oldest goes first).
        clock: seconds (time.time by default).
    """

    def __init__(
        self, *, ttl_s: float = 900.0, max_cameras: int = 64, clock: Callable[[], float] = time.time
    ) -> None:
        self.ttl_s = ttl_s
        self.max_cameras = max_cameras
        self._clock = clock
        self._lock = threading.Lock()
        self._latest: OrderedDict[tuple[str, str], StoredSnapshot] = OrderedDict()
        self._requests: OrderedDict[uuid.UUID, PendingRequest] = OrderedDict()
        self._answered: set[uuid.UUID] = set()
        self.received = 0
        # Replicas: tells the others about a request (`server.live.relay`), so that whichever replica
        # a page asks next knows it and each keeps the answer (every replica receives it).
        self.share: Callable[[PendingRequest], object] | None = None

    def requested(self, request: PendingRequest) -> None:
        """Remember a request this server sent (to report on it), and tell the other replicas."""
        self.remember(request)
        if self.share is not None:
            self.share(request)

    def remember(self, request: PendingRequest) -> None:
        """Remember a request this server or another replica sent."""
        with self._lock:
            self._requests[request.request_id] = request
            while len(self._requests) > 4 * self.max_cameras:
                self._answered.discard(self._requests.popitem(last=False)[0])

    def request(self, request_id: uuid.UUID) -> PendingRequest | None:
        with self._lock:
            return self._requests.get(request_id)

    def claim(self, msg: NodeSnapshot, received_at: float) -> str | None:
        """Take ``msg`` as the answer to its request; None if it may be kept, else why not.

        It must answer a request this server sent and still remembers, from the node and for the
        camera that request named, arrive before the request expired (plus ``ANSWER_GRACE_S`` for
        the trip), and be the first answer.
        """
        with self._lock:
            request = self._requests.get(msg.request_id)
            if request is None:
                return f"no request {msg.request_id} is pending here (a snapshot nobody asked for)"
            if (request.site, request.node, request.camera) != (msg.site, msg.node, msg.camera):
                return (
                    f"request {msg.request_id} asked {request.node} for {request.camera}; "
                    f"this answer is {msg.node}'s for {msg.camera}"
                )
            if received_at > request.expires_at + ANSWER_GRACE_S:
                return f"request {msg.request_id} expired before this answer came"
            if msg.request_id in self._answered:
                return f"request {msg.request_id} was answered already"
            self._answered.add(msg.request_id)
            return None

    def put(self, msg: NodeSnapshot, received_at: float) -> StoredSnapshot:
        """Keep a node's answer as the camera's latest."""
        stored = StoredSnapshot.from_message(msg, received_at)
        with self._lock:
            key = (msg.site, msg.camera)
            self._latest.pop(key, None)
            self._latest[key] = stored
            self.received += 1
            self._expire()
            while len(self._latest) > self.max_cameras:
                self._latest.popitem(last=False)
        return stored

    def latest(self, site: str, camera: str) -> StoredSnapshot | None:
        """The camera's latest answer, while it is younger than `ttl_s`."""
        with self._lock:
            self._expire()
            return self._latest.get((site, camera))

    def answer(self, request_id: uuid.UUID) -> StoredSnapshot | None:
        """The answer to one request, if it arrived and is still kept."""
        with self._lock:
            self._expire()
            return next((s for s in self._latest.values() if s.request_id == request_id), None)

    def _expire(self) -> None:
        cutoff = self._clock() - self.ttl_s
        for key in [k for k, s in self._latest.items() if s.received_at < cutoff]:
            del self._latest[key]
        for rid in [r for r, p in self._requests.items() if p.expires_at < cutoff]:
            del self._requests[rid]
        self._answered &= set(self._requests)
