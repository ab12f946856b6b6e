"""The ingest loop: from raw MQTT messages to stored history, alerts and live messages.

The MQTT thread only puts `RawMessage`s into a bounded queue (`offer`); one worker thread owns
everything after that, so the alert engine, the aggregates and the live state need no locks of
their own. Each round the worker:

1. takes every waiting message (up to ``batch_size``), validates it with the contract's
   `parse_payload` (times within ``ingest.clock_window_s`` of the server's clock), drops duplicate
   event ids, checks who sent it (`server.ingest.identity`: an accepted node, its own cameras, a
   snapshot that was asked for), and feeds the alert engine, the aggregates and the live state
   (camera states every one into the aggregates, but into the engine and the live state together
   at the end of the round, each camera's latest only: `latest_per_camera`);
2. ticks the alert engine and stores its actions at once (alerts are latency-sensitive), then
   publishes the changed alerts to the live stream;
3. hands the batch (events, node health, layouts; minute aggregates every ``flush_interval_s``,
   hours and days every fifth time) to the `BatchWriter`, which stores it in one transaction on
   its own thread and only then acknowledges the QoS 1 messages it held, so a crash before the
   commit makes the broker deliver them again;
4. every ``alert_sync_s`` re-reads alerts changed elsewhere (another replica, a person) and hands
   them to the engine and the live stream, and re-reads the nodes ops accepted.

Fused floors: a node that fuses its cameras publishes its floor (`FloorState`, `FloorEvent`,
`FloorPositions`), taken like a camera's under the name `fused:NODE`; the positions of nodes that
leave fusing to the server (their layout says `fusion: server`) go to `server.ingest.fusion`, whose
steps, taken each round, are the site's floor under the name `fused`.

One bad message never stops the hall: a message that is refused (by the contract or the checks
above), or whose handling fails in any way, is refused alone. It is counted by reason
(``hallwatch_ingest_rejected_total``), logged (rate-limited) with its topic and event id, kept in
the dead-letter table for ops, and acknowledged with its round, so the broker never delivers it
again; the messages around it go on. Messages of nodes ops have not accepted yet are held as a
candidate (quarantine), not stored.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hallwatch.contract import (
    CameraEvent,
    CameraPositions,
    CameraState,
    FloorEvent,
    FloorPositions,
    FloorState,
    NodeHealth,
    NodeLayout,
    NodeSnapshot,
    NodeStatus,
    Payload,
    PayloadError,
    TimeWindow,
    parse_payload,
    parse_topic,
)
from server.alerts.engine import AlertEngine, CameraCounts, layout_zones
from server.alerts.model import AlertAction
from server.ingest.dedupe import RecentIds
from server.ingest.fusion import FUSED, FusedStep, ServerFusion, node_floor
from server.ingest.identity import Identity
from server.ingest.live_state import CameraNow, LiveState, ZoneNow
from server.ingest.occupancy import OccupancyAccumulator
from server.ingest.snapshots import SnapshotStore
from server.ingest.writer import Acker, BatchWriter, Confirmer
from server.live.hub import LiveHub, LiveMessage, message
from server.logs import RateLimitedLog
from server.metrics import Metrics
from server.schemas.alerts import AlertOut
from server.schemas.events import EventOut
from server.schemas.live import (
    LiveAlert,
    LiveEvent,
    LiveLayout,
    LiveNode,
    LiveOccupancy,
    LivePerson,
    LivePositions,
    LiveSnapshot,
)
from server.schemas.occupancy import ZoneOccupancyOut
from server.settings import Settings
from server.store import Store
from server.store.alerts import to_snapshot
from server.store.ingest_writes import CameraFlag, CandidateSeen, DeadLetterRow, IngestBatch
from server.store.retention import prune
from vision.state import HallEvent

log = logging.getLogger(__name__)

FULL_SYNC_S = 60.0
IDENTITY_SYNC_S = 5.0  # accepted nodes and camera owners are re-read this often
ROLLUP_EVERY = 5  # hourly and daily aggregates are written every fifth flush
_EVENT_ID = re.compile(rb'"event_id"\s*:\s*"([0-9A-Fa-f-]{32,36})"')


_State = TypeVar("_State", CameraCounts, CameraNow)


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One MQTT message as the client thread received it."""

    topic: str
    payload: bytes
    received_at: float
    qos: int = 0
    mid: int = 0
    retain: bool = False


@dataclass(slots=True)
class _Round:
    batch: IngestBatch = field(default_factory=IngestBatch)
    actions: list[AlertAction] = field(default_factory=list)
    live: list[LiveMessage] = field(default_factory=list)
    acks: list[tuple[int, int]] = field(default_factory=list)
    states: list[CameraCounts] = field(default_factory=list)
    cameras: list[CameraNow] = field(default_factory=list)
    oldest: float | None = None
    received_at: float = -1.0  # the last receive time turned into a datetime, and that datetime
    received: datetime = datetime.min


class Refused(Exception):
    """A message refused by the server's own checks (after the contract's)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class IngestProcessor:
    """Owns the alert engine, aggregates and live state; fed by `offer` from any thread."""

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
        self._settings = settings
        # Ops' snapshots: kept in memory only, never in a batch for the database.
        self.snapshots = snapshots if snapshots is not None else SnapshotStore(clock=clock)
        self._ingest = settings.ingest
        self._store = store
        self._hub = hub
        self._live = live
        self._metrics = metrics
        self._clock = clock
        # A deque (appends and pops are atomic) and an event set when it stops being empty: cheaper
        # per message than queue.Queue, whose lock and condition cost more than the message.
        self._queue: deque[RawMessage] = deque()
        self._queue_size = settings.ingest.queue_size
        self._wake = threading.Event()
        self._engine = AlertEngine(settings.alerts)
        self._aggregates = OccupancyAccumulator(
            settings.zoneinfo, settings.ingest.max_state_gap_s, settings.ingest.heatmap_cell_m
        )
        self._seen = RecentIds(settings.ingest.dedupe_window)
        self._fusion = ServerFusion(
            max_lag_s=settings.ingest.fusion_max_lag_s, max_wait_s=settings.ingest.fusion_max_wait_s
        )
        self._window = TimeWindow(
            past_s=settings.ingest.clock_window_s,
            future_s=settings.ingest.clock_window_s,
            replay_past_s=settings.ingest.replay_window_s,
        )
        accept = settings.ingest.accept_new_nodes
        self.identity = Identity(accept_new_nodes=settings.demo if accept is None else accept)
        self._identity_now = threading.Event()
        self._next_identity = 0.0
        self._bad = RateLimitedLog(log)
        self._writer = BatchWriter(store.ingest.write, metrics)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._sync_now = threading.Event()
        self._pending_actions: list[AlertAction] = []
        self._positions_sent: dict[tuple[str, str], float] = {}
        self._next_flush = 0.0
        self._flushes = 0
        self._next_sync = 0.0
        self._next_full_sync = 0.0
        self._next_prune = 0.0
        self._last_sync_at: datetime | None = None
        self.handled = 0  # messages taken off the queue (accepted, refused or duplicate)
        # Replicas (issue 16): `share` sends a round's camera states and live messages to the other
        # replicas (`server.live.relay`); theirs arrive through `take_remote_cameras`.
        self.share: Callable[[Sequence[CameraNow], Sequence[LiveMessage]], object] | None = None
        self._remote: deque[list[CameraNow]] = deque()
        # Replicas that split by site (`server.ingest.partition`): False for a message another
        # replica takes. None: this replica takes everything it receives.
        self.keeps: Callable[[str], bool] | None = None
        self._alerts_out: list[LiveMessage] = []  # alert messages of this round, for `share`
        self._received: dict[str, Any] = {}  # metric children per payload kind (labels() is slow)

    # ------------------------------------------------------------------------------ threads
    @property
    def acker(self) -> Acker | None:
        """Called with (mid, qos) for every QoS 1 message once it is handled and stored."""
        return self._writer.acker

    @acker.setter
    def acker(self, acker: Acker | None) -> None:
        self._writer.acker = acker

    @property
    def confirmer(self) -> Confirmer | None:
        """Called, once a batch is written, with each node's event seqs it stored."""
        return self._writer.confirmer

    @confirmer.setter
    def confirmer(self, confirmer: Confirmer | None) -> None:
        self._writer.confirmer = confirmer

    @property
    def writer(self) -> BatchWriter:
        return self._writer

    def offer(self, msg: RawMessage) -> None:
        """Queue one message; never blocks. A full queue drops it (counted and logged)."""
        if len(self._queue) >= self._queue_size:
            self._metrics.dropped.labels(reason="queue_full").inc()
            self._bad.error(
                "queue_full",
                "ingest queue full (%d messages): dropping messages. The database is too slow or "
                "unreachable; check it, or raise ingest.queue_size / add replicas",
                self._queue_size,
            )
            if msg.qos > 0 and self.acker is not None:
                self.acker(msg.mid, msg.qos)
            return
        self._queue.append(msg)
        if not self._wake.is_set():
            self._wake.set()

    def start(self) -> None:
        """Load alert state and accepted nodes from the database and start the worker and writer threads."""
        self._full_sync(self._clock())
        self._identity_sync(self._clock())
        self._writer.start()
        self._thread = threading.Thread(target=self._run, name="hallwatch-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Handle what is queued, write everything out, and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error(
                    "the ingest worker did not stop within %.0f s; some data may not be stored", timeout_s
                )
            self._thread = None

    def request_alert_sync(self) -> None:
        """Re-read changed alerts soon (after a person acknowledged or resolved one)."""
        self._sync_now.set()

    def request_identity_sync(self) -> None:
        """Re-read the accepted nodes soon (after ops accepted one)."""
        self._identity_now.set()

    def lag_s(self, now: float) -> float:
        """Age of the oldest received message not stored yet (0 when everything is)."""
        oldest = self._writer.oldest_unstored
        try:
            head = self._queue[0].received_at
        except IndexError:
            head = None
        times = [t for t in (oldest, head) if t is not None]
        return max(0.0, now - min(times)) if times else 0.0

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    def _run(self) -> None:
        while True:
            stopping = self._stop.is_set()
            try:
                self.run_round(wait_s=0.0 if stopping else self._ingest.tick_s, final=stopping)
            except Exception:  # the worker must survive anything; the log says what happened
                log.exception("ingest round failed; continuing (this is a bug, please report it)")
                time.sleep(0.5)
            if stopping and not self._queue:
                return

    # ------------------------------------------------------------------------------ one round
    def take_remote_cameras(self, cameras: list[CameraNow]) -> None:
        """Other replicas' camera states, for the live state; safe from any thread."""
        self._remote.append(cameras)
        self._wake.set()

    def run_round(self, wait_s: float, final: bool = False) -> int:
        """Handle the waiting messages (waiting up to ``wait_s`` for the first); returns how many."""
        items = self._take(wait_s)
        now = self._clock()
        if self._identity_now.is_set():  # ops just accepted a node: take its messages from now on
            self._identity_now.clear()
            self._maintain_identity(now)
        rnd = _Round()
        for raw in items:
            self._handle(raw, rnd)
        if items:
            rnd.oldest = min(raw.received_at for raw in items)
        self.handled += len(items)
        for step in self._fusion.steps(now):
            self._fused_step(step, now, rnd)
        own: list[CameraNow] = []
        if rnd.states:
            rnd.actions.extend(self._engine.observe_states(latest_per_camera(rnd.states, pairs=True)))
            own = latest_per_camera(rnd.cameras, pairs=False)
            rnd.live.extend(self._zone_changes(self._live.update_cameras(own)))
        while self._remote:  # other replicas' cameras: the live state only (their engines judge them)
            rnd.live.extend(self._zone_changes(self._live.update_cameras(self._remote.popleft())))
        rnd.actions.extend(self._engine.tick(now))
        self._apply_alerts(rnd.actions, now)
        rnd.live.extend(self._zone_changes(self._live.expire(_dt(now))))
        if final or now >= self._next_flush:
            self._flushes += 1
            rollups = final or self._flushes % ROLLUP_EVERY == 0
            occupancy, heatmap = self._aggregates.drain(rollups=rollups)
            rnd.batch.occupancy, rnd.batch.heatmap = occupancy, heatmap
            self._next_flush = now + self._ingest.flush_interval_s
        self._writer.submit(rnd.batch, rnd.acks, rnd.oldest)
        self._hub.publish(rnd.live)
        if self.share is not None:
            self.share(own, rnd.live + self._alerts_out)
        self._alerts_out = []
        self._metrics.queue_depth.set(len(self._queue))
        self._metrics.ingest_lag.set(self.lag_s(now))
        self._maintain(now)
        return len(items)

    def _take(self, wait_s: float) -> list[RawMessage]:
        if not self._queue and not self._remote and wait_s > 0:
            self._wake.clear()
            if not self._queue and not self._remote:  # nothing arrived between the check and the clear
                self._wake.wait(wait_s)
        items: list[RawMessage] = []
        pop = self._queue.popleft
        for _ in range(min(len(self._queue), self._ingest.batch_size)):
            items.append(pop())
        return items

    def _handle(self, raw: RawMessage, rnd: _Round) -> None:
        if raw.qos > 0:
            rnd.acks.append((raw.mid, raw.qos))
        keeps = self.keeps
        if keeps is not None and not keeps(raw.topic):
            self._metrics.other_replica.inc()
            return
        if not raw.payload:  # someone cleared a retained message: normal, counted but not a warning
            self._metrics.rejected.labels(reason="empty").inc()
            log.debug("empty message on %s (a retained message was cleared)", raw.topic[:200])
            return
        try:
            self._take_message(raw, rnd)
        except PayloadError as exc:
            self._refuse(raw, rnd, exc.reason, str(exc))
        except Refused as exc:
            self._refuse(raw, rnd, exc.reason, str(exc))
        except Exception as exc:  # a bug or a value nobody foresaw: this message only
            log.exception("could not handle a message on %s", raw.topic[:200])
            self._refuse(raw, rnd, "error", f"could not handle it: {type(exc).__name__}: {exc}")

    def _take_message(self, raw: RawMessage, rnd: _Round) -> None:
        now = raw.received_at
        if now != rnd.received_at:  # messages read together share their receive time
            rnd.received_at, rnd.received = now, _dt(now)
        received = rnd.received
        msg = parse_payload(raw.topic, raw.payload, now=received, window=self._window)
        # Who sent it is checked before repeats are: a repeat is confirmed to its node as stored,
        # so a message of a node not accepted yet (held, never stored) or one naming another
        # node must never pass for one.
        if not self.identity.accepted(msg.site, msg.node):
            if not self.identity.accept_new_nodes:
                self._quarantine(msg, raw, rnd)
                return
            self.identity.accept(msg.site, msg.node)
        refusal = self.identity.check(msg)
        if refusal is not None:
            raise Refused(refusal.reason, refusal.detail)
        if not self._seen.add(msg.event_id):
            self._metrics.duplicates.inc()
            self._confirm(msg, rnd)  # stored before, or in this round: the node may forget it
            return
        self._confirm(msg, rnd)
        if isinstance(msg, NodeSnapshot):
            problem = self.snapshots.claim(msg, raw.received_at)
            if problem is not None:
                raise Refused("unsolicited", problem)
        self.identity.bind(msg)
        counter = self._received.get(msg.kind)
        if counter is None:
            counter = self._received[msg.kind] = self._metrics.received.labels(kind=msg.kind)
        counter.inc()
        if isinstance(msg, CameraState):  # judged together at the end of the round
            rnd.states.append(
                CameraCounts(msg.site, msg.camera, msg.ts.timestamp(), msg.zones, msg.violations, now)
            )
        elif isinstance(msg, FloorState):
            rnd.states.append(
                CameraCounts(
                    msg.site,
                    node_floor(msg.node),
                    msg.ts.timestamp(),
                    msg.zones,
                    msg.violations,
                    now,
                    tuple(msg.uncovered),
                )
            )
        elif isinstance(msg, FloorEvent):
            rnd.actions.extend(self._engine.observe_event(floor_event(msg), now))
        else:
            rnd.actions.extend(self._engine.observe(msg, now))
        self._dispatch(msg, received, rnd)

    @staticmethod
    def _confirm(msg: Payload, rnd: _Round) -> None:
        """Confirm a node's event (from its outbox) to it once this round is written."""
        if isinstance(msg, CameraEvent | FloorEvent):
            rnd.batch.confirms.setdefault((msg.site, msg.node), []).append(msg.seq)

    def _refuse(self, raw: RawMessage, rnd: _Round, reason: str, detail: str) -> None:
        """Count, log and set aside one message; it is acknowledged with the round."""
        self._metrics.rejected.labels(reason=reason).inc()
        match = _EVENT_ID.search(raw.payload[:4096])
        event_id = match.group(1).decode() if match else None
        topic = parse_topic(raw.topic)
        site = topic.site if topic else None
        node = None
        if topic is not None:
            node = topic.name if topic.scope == "nodes" else self.identity.owner(topic.site, topic.name)
        self._bad.warning(
            f"rejected:{reason}",
            "refused a message on %s (event %s, %s): %s",
            raw.topic[:200],
            event_id,
            reason,
            detail[:300],
        )
        if reason == "stale" and raw.retain:
            return  # an old retained message (a dead camera's last state): normal, counted only
        self._metrics.dead_letters.labels(reason=reason).inc()
        rnd.batch.dead_letters.append(
            DeadLetterRow(
                received_at=_dt(raw.received_at),
                topic=raw.topic,
                site=site,
                node=node,
                event_id=event_id,
                reason=reason,
                detail=detail,
                payload=raw.payload,
            )
        )

    def _quarantine(self, msg: Payload, raw: RawMessage, rnd: _Round) -> None:
        """Hold a message of a node ops have not accepted: counted, never stored or alerted.

        Only node topics (which the broker's ACL ties to the node's login) make a candidate; camera
        messages of an unknown node are counted only, so no payload can invent candidates.
        """
        self._metrics.quarantined.inc()
        self._bad.warning(
            f"quarantined:{msg.site}/{msg.node}",
            "node %s of site %s is not accepted yet: its messages are held, not stored (ops accept it "
            "on the nodes page)",
            msg.node,
            msg.site,
        )
        if not isinstance(msg, NodeStatus | NodeHealth | NodeLayout):
            return
        received = _dt(raw.received_at)
        seen = CandidateSeen(
            first_seen_at=received,
            last_seen_at=received,
            version=msg.version if isinstance(msg, NodeStatus | NodeHealth) else None,
            layout=msg.model_dump(mode="json") if isinstance(msg, NodeLayout) else None,
        )
        key = (msg.site, msg.node)
        mine = rnd.batch.candidates.get(key)
        if mine is None:
            rnd.batch.candidates[key] = seen
        else:
            mine.merge(seen)

    def _dispatch(self, msg: Payload, received: datetime, rnd: _Round) -> None:
        batch = rnd.batch
        key = (msg.site, msg.node)
        if isinstance(msg, CameraState):
            batch.seen[key] = received
            self._aggregates.add_state(msg.site, msg.camera, msg.ts, msg.zones)
            rnd.cameras.append(
                CameraNow(
                    msg.site, msg.camera, msg.node, msg.people, msg.violations, msg.ts, received, msg.zones
                )
            )
        elif isinstance(msg, CameraEvent):
            batch.seen[key] = received
            batch.events.append((msg, received))
            if msg.type in ("camera_lost", "camera_recovered"):
                lost = msg.type == "camera_lost"
                batch.camera_flags[(msg.site, msg.camera)] = CameraFlag(msg.node, lost, msg.ts, msg.reason)
            event = EventOut.model_validate(_event_view(msg, received))
            rnd.live.append(message("events", msg.site, LiveEvent(site=msg.site, event=event)))
        elif isinstance(msg, CameraPositions):
            batch.seen[key] = received
            if self._fusion.add(msg, received.timestamp()):
                return  # on the server's fused floor: its steps feed the heatmap and the dots
            self._aggregates.add_positions(msg.site, msg.camera, msg.ts, ((p.x, p.y) for p in msg.people))
            self._positions(
                msg.site, msg.camera, msg.ts, [LivePerson(id=p.id, x=p.x, y=p.y) for p in msg.people], rnd
            )
        elif isinstance(msg, FloorState):
            batch.seen[key] = received
            source = node_floor(msg.node)
            self._aggregates.add_state(msg.site, source, msg.ts, msg.zones)
            rnd.cameras.append(
                CameraNow(
                    msg.site,
                    source,
                    msg.node,
                    msg.people,
                    msg.violations,
                    msg.ts,
                    received,
                    msg.zones,
                    msg.possible_violations,
                    tuple(msg.uncovered),
                )
            )
        elif isinstance(msg, FloorEvent):
            batch.seen[key] = received
            floor = floor_event(msg)
            batch.events.append((floor, received))
            event = EventOut.model_validate(_event_view(floor, received))
            rnd.live.append(message("events", msg.site, LiveEvent(site=msg.site, event=event)))
        elif isinstance(msg, FloorPositions):
            batch.seen[key] = received
            source = node_floor(msg.node)
            self._aggregates.add_positions(msg.site, source, msg.ts, ((p.x, p.y) for p in msg.people))
            people = [LivePerson(id=p.id, x=p.x, y=p.y, cameras=list(p.cameras)) for p in msg.people]
            self._positions(msg.site, source, msg.ts, people, rnd)
        elif isinstance(msg, NodeStatus):
            batch.statuses[key] = (msg, received)
            status = LiveNode(
                site=msg.site, node=msg.node, status=msg.status, version=msg.version, at=received
            )
            rnd.live.append(message("nodes", msg.site, status))
        elif isinstance(msg, NodeHealth):
            batch.healths[key] = (msg, received)
            health = msg.model_dump(mode="json", exclude={"schema_version", "event_id", "seq", "kind"})
            node_health = LiveNode(site=msg.site, node=msg.node, status="online", health=health, at=received)
            rnd.live.append(message("nodes", msg.site, node_health))
        elif isinstance(msg, NodeSnapshot):
            stored = self.snapshots.put(msg, received.timestamp())
            snapshot = LiveSnapshot(
                site=msg.site,
                node=msg.node,
                camera=msg.camera,
                request_id=str(msg.request_id),
                error=stored.error,
                at=received,
            )
            rnd.live.append(message("nodes", msg.site, snapshot))
        elif isinstance(msg, NodeLayout):
            batch.layouts[key] = (msg, received)
            self._fusion.set_layout(msg)
            self._live.set_layout(msg.site, layout_zones(msg))
            rnd.live.append(message("occupancy", msg.site, LiveLayout(site=msg.site, node=msg.node)))

    def _positions(
        self,
        site: str,
        camera: str,
        ts: datetime,
        people: list[LivePerson],
        rnd: _Round,
        now: float | None = None,
    ) -> None:
        key = (site, camera)
        now = self._clock() if now is None else now
        if not self._hub.wants("positions") and self.share is None:  # other replicas' pages may want them
            return
        if now - self._positions_sent.get(key, 0.0) < self._ingest.positions_interval_s:
            return
        self._positions_sent[key] = now
        payload = LivePositions(site=site, camera=camera, ts=ts, people=people)
        rnd.live.append(message("positions", site, payload))

    def _fused_step(self, step: FusedStep, now: float, rnd: _Round) -> None:
        """One step of a floor the server fuses: counts, pairs and events like a camera's, named
        `fused` (the node column too: no one node saw them)."""
        state, site = step.state, step.site
        ts = _dt(state.t_s)
        received = _dt(now)
        zones = {zone: int(n) for zone, n in state.zone_counts.items()}
        alerting = state.alerting_pairs
        possible = max(0, len(state.violations) + len(state.possible) - alerting)
        rnd.states.append(CameraCounts(site, FUSED, state.t_s, zones, alerting, now, state.uncovered))
        rnd.cameras.append(
            CameraNow(
                site,
                FUSED,
                FUSED,
                len(state.people),
                alerting,
                ts,
                received,
                zones,
                possible,
                state.uncovered,
            )
        )
        self._aggregates.add_state(site, FUSED, ts, zones)
        xy = state.people.floor_xy.tolist()
        self._aggregates.add_positions(site, FUSED, ts, ((x, y) for x, y in xy))
        for hall_event in state.events:
            event = fused_event(site, hall_event)
            rnd.actions.extend(self._engine.observe_event(event, now))
            rnd.batch.events.append((event, received))
            view = EventOut.model_validate(_event_view(event, received))
            rnd.live.append(message("events", site, LiveEvent(site=site, event=view)))
        people = [
            LivePerson(id=int(i), x=x, y=y, cameras=list(state.seen_by.get(int(i), ())))
            for i, (x, y) in zip(state.people.ids.tolist(), xy, strict=True)
        ]
        self._positions(site, FUSED, ts, people, rnd, now)

    def _zone_changes(self, zones: list[ZoneNow]) -> list[LiveMessage]:
        return [
            message("occupancy", z.site, LiveOccupancy(site=z.site, zone=ZoneOccupancyOut.model_validate(z)))
            for z in zones
        ]

    # ------------------------------------------------------------------------------ alerts
    def _apply_alerts(self, actions: list[AlertAction], now: float) -> None:
        if self._pending_actions:
            actions = self._pending_actions + actions
            self._pending_actions = []
        if not actions:
            return
        try:
            changed, lost = self._store.alerts.apply(actions, self._settings.alerts.cooldown_s)
        except Exception as exc:
            self._metrics.store_errors.labels(what="alerts").inc()
            self._bad.error("alerts", "could not store %d alert changes, retrying: %s", len(actions), exc)
            self._pending_actions = actions[-10_000:]
            return
        for action in actions:
            self._metrics.alert_actions.labels(action=action.kind).inc()
        if lost:
            log.debug("%d alert changes were made elsewhere first; re-reading alerts", len(lost))
            self._sync_now.set()
        changed_messages = alert_messages(changed)
        self._hub.publish(changed_messages)
        self._alerts_out.extend(changed_messages)

    def _full_sync(self, now: float) -> None:
        snapshots = self._store.alerts.snapshots(_dt(now), self._settings.alerts.cooldown_s)
        self._engine.load(snapshots, now, complete=True)
        self._last_sync_at = _dt(now)
        self._next_full_sync = now + FULL_SYNC_S

    def _sync(self, now: float) -> None:
        since = (self._last_sync_at or _dt(now)) - timedelta(seconds=5)  # margin for clocks and commits
        rows = self._store.alerts.changed_since(since)
        self._last_sync_at = _dt(now)
        if rows:
            self._engine.load([to_snapshot(r) for r in rows], now)
            self._hub.publish(alert_messages(rows))

    # ------------------------------------------------------------------------------ storing
    def _identity_sync(self, now: float) -> None:
        """Re-read accepted nodes and camera owners; nodes accepted since bring their layout."""
        for layout in self.identity.load(self._store.nodes.nodes(), self._store.nodes.cameras()):
            self._fusion.set_layout(layout)
            zones = layout_zones(layout)
            self._engine.set_layout(layout.site, zones)
            self._live.set_layout(layout.site, zones)
        self._next_identity = now + IDENTITY_SYNC_S

    def _maintain_identity(self, now: float) -> None:
        try:
            self._identity_sync(now)
        except Exception as exc:
            self._metrics.store_errors.labels(what="maintenance").inc()
            self._bad.error("identity", "could not re-read the accepted nodes, retrying later: %s", exc)

    def _maintain(self, now: float) -> None:
        try:
            if now >= self._next_identity:
                self._identity_sync(now)
            if now >= self._next_full_sync:
                self._full_sync(now)
                self._engine.forget_resolved(now)
                self._aggregates.forget_idle(_dt(now))
            elif self._sync_now.is_set() or now >= self._next_sync:
                self._sync_now.clear()
                self._sync(now)
                self._next_sync = now + self._ingest.alert_sync_s
            if now >= self._next_prune:
                self._next_prune = now + self._settings.retention.prune_interval_s
                prune(self._store.engine, self._settings.retention, _dt(now))
        except Exception as exc:
            self._metrics.store_errors.labels(what="maintenance").inc()
            self._bad.error("maintenance", "alert sync or retention failed, retrying later: %s", exc)


def latest_per_camera(states: list[_State], *, pairs: bool) -> list[_State]:
    """A round's camera states without those a later state of the same camera makes redundant.

    The alert engine and the live state keep each camera's latest count per zone and judge each
    zone once per round, so an earlier state of a camera adds nothing once a later one names the
    same zones (issue 14: states coalesced per camera). Kept all the same, in order: a state whose
    zones the later one lacks, any state of a fused floor with zones it does not see, and (with
    ``pairs``, for the engine, which ends a camera's spacing pairs that began before a state without
    violations) the state without violations of the latest time, when no later kept state has one.

    >>> from server.alerts.engine import CameraCounts
    >>> states = [CameraCounts("s", "c", t, {"w": t}, 0, t) for t in (1, 2, 3)]
    >>> [s.ts for s in latest_per_camera(states, pairs=True)]
    [3]
    """
    if len(states) < 2:
        return states
    later: dict[tuple[str, str], _State] = {}
    calm: dict[tuple[str, str], Any] = {}  # the latest time of a kept state without violations
    kept: list[_State] = []
    for state in reversed(states):
        key = (state.site, state.camera)
        last = later.get(key)
        keep = (
            last is None
            or bool(state.uncovered or last.uncovered)
            or not state.zones.keys() <= last.zones.keys()
            or (pairs and state.violations == 0 and (key not in calm or state.ts > calm[key]))
        )
        if keep:
            later[key] = state
            kept.append(state)
            if state.violations == 0 and (key not in calm or state.ts > calm[key]):
                calm[key] = state.ts
    kept.reverse()
    return kept


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def alert_messages(rows: list[Any]) -> list[LiveMessage]:
    """Live messages for changed alert rows."""
    out = []
    for row in rows:
        alert = AlertOut.model_validate(row)
        out.append(message("alerts", row.site, LiveAlert(site=row.site, alert=alert)))
    return out


def floor_event(msg: FloorEvent) -> CameraEvent:
    """A node's fused-floor event as it is stored and judged: a camera event of `fused:NODE`.

    Built without validation on purpose: the name is not a camera id (no camera can take it), and
    the rest was validated when the message arrived.
    """
    return CameraEvent.model_construct(
        schema_version=msg.schema_version,
        event_id=msg.event_id,
        site=msg.site,
        node=msg.node,
        camera=node_floor(msg.node),
        seq=msg.seq,
        ts=msg.ts,
        kind="event",
        type=msg.type,
        zone=msg.zone,
        count=msg.count,
        limit=msg.limit,
        people=list(msg.people),
        distance_m=msg.distance_m,
        floor=msg.floor,
        duration_s=msg.duration_s,
        reason=None,
    )


def fused_event(site: str, event: HallEvent) -> CameraEvent:
    """An event of the floor the server fuses, as it is stored and judged (camera and node `fused`)."""
    return CameraEvent.model_construct(
        schema_version=1,
        event_id=uuid.uuid4(),
        site=site,
        node=FUSED,
        camera=FUSED,
        seq=0,
        ts=_dt(event.t_s),
        kind="event",
        type=event.type,
        zone=event.zone,
        count=event.count,
        limit=event.limit,
        people=[int(p) for p in event.people[:2]],
        distance_m=event.distance_m,
        floor=event.floor,
        duration_s=event.duration_s,
        reason=None,
    )


def _event_view(msg: CameraEvent, received: datetime) -> dict[str, Any]:
    return {
        "id": msg.event_id,
        "site": msg.site,
        "node": msg.node,
        "camera": msg.camera,
        "seq": msg.seq,
        "type": msg.type,
        "ts": msg.ts,
        "received_at": received,
        "zone": msg.zone,
        "count": msg.count,
        "limit": msg.limit,
        "people": list(msg.people) or None,
        "distance_m": msg.distance_m,
        "floor_x": msg.floor[0] if msg.floor else None,
        "floor_y": msg.floor[1] if msg.floor else None,
        "duration_s": msg.duration_s,
        "reason": msg.reason,
    }
