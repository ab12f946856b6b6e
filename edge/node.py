"""The edge node: cameras in, MQTT out, until SIGINT or SIGTERM.

`EdgeNode` wires the parts together:

    CameraFeed ─▶ CameraWorker ─▶ NodeReporter ─┬─▶ events ─▶ Outbox ─▶ OutboxPump ─▶ MqttPublisher
    (a thread     (a thread per   (HallState →   └─▶ state, positions, health (QoS 0, when connected)
     per camera)   camera)         payloads)

How the cameras' states become payloads depends on the node's fusion mode (`fusion.mode`):
`camera`, each camera publishes its own state and events; `node`, the cameras' people are fused
into one floor (`edge.floor.NodeFloor`), which publishes the floor's state, events and positions
on the node's `floor*` topics (the cameras publish only their health and lost/recovered events);
`server`, each camera publishes its floor positions with their uncertainty, which the server fuses
with other nodes' cameras.

It publishes `online` (retained) and its layout on every connection, its health every
`node.health_interval_s`, applies config pushes from `nodes/{node}/config`, answers ops' snapshot
requests from `nodes/{node}/snapshot_request` (`edge.snapshot`), and on a clean stop
sends what the outbox still holds (briefly), then `stopped` (retained). If the broker refuses the
node's login before it was ever connected, `run` returns `EXIT_REFUSED`.

Example:
    >>> node = EdgeNode(load_config("node.yaml"), PipelineProcessors(), config_path=path)  # doctest: +SKIP
    >>> node.start(); exit_code = node.run()  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from edge.camera import CameraWorker
from edge.config import FusionMode, NodeConfig
from edge.config_push import ConfigPushError, changed_cameras, merge_push, parse_push, write_config_file
from edge.events import (
    Origin,
    StateThrottle,
    camera_event,
    camera_lost,
    camera_positions,
    camera_recovered,
    camera_state,
    event_time,
    floor_event,
    floor_positions,
    floor_state,
    state_key,
)
from edge.floor import CameraCoverage, NodeFloor
from edge.health import node_health, software_version
from edge.layout import node_layout, origin_of
from edge.outbox import Outbox, OutboxError
from edge.publisher import MqttPublisher, OutboxPump
from edge.rates import NodeRates
from edge.snapshot import LatestFrame, SnapshotResponder
from edge.sources import CameraFeed, Frame, SourceOpener, open_source
from hallwatch.contract import NodeStatus, NodeTopicKind, PayloadError, camera_topic, node_topic, parse_stored
from vision.config import CameraConfig
from vision.state import HallEvent, HallState

if TYPE_CHECKING:
    from edge.processors import ProcessorFactory
    from vision.processor import FrameProcessor

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_REFUSED = 3


def _utc_now() -> datetime:
    return datetime.now(UTC)


class NodeReporter:
    """The cameras' sink: turns states and events into payloads and hands them on.

    Events go through the outbox (QoS 1, at least once); states, positions and health are
    published only while connected (QoS 0: a newer one follows within a second). With fusion mode
    `node`, the cameras' states go to the node's floor and the floor's steps are published instead.
    """

    def __init__(
        self,
        origin: Origin,
        outbox: Outbox,
        publisher: MqttPublisher,
        pump: OutboxPump,
        *,
        state_interval_s: float,
        publish_positions: bool,
        fusion: FusionMode = "camera",
        floor: NodeFloor | None = None,
        coverage: CameraCoverage | None = None,
    ) -> None:
        self.origin = origin
        self.outbox = outbox
        self.publisher = publisher
        self.pump = pump
        self.state_interval_s = state_interval_s
        self.publish_positions = publish_positions
        self.coverage = coverage
        self.encode_errors = 0
        self._throttles: dict[str, StateThrottle] = {}
        self._floor_throttle = StateThrottle(state_interval_s)
        self._lock = threading.Lock()
        self.fusion: FusionMode = "camera"
        self.floor: NodeFloor | None = None
        self.set_fusion(fusion, floor)

    def set_fusion(self, fusion: FusionMode, floor: NodeFloor | None) -> None:
        """How the cameras are counted from now on (after a config push, a new floor).

        Raises:
            ValueError: mode `node` without a floor.
        """
        if fusion == "node" and floor is None:
            raise ValueError("fusion mode node needs the node's floor")
        self.fusion, self.floor = fusion, floor
        self._floor_throttle.force()

    def _throttle(self, camera: str) -> StateThrottle:
        with self._lock:
            if camera not in self._throttles:
                self._throttles[camera] = StateThrottle(self.state_interval_s)
            return self._throttles[camera]

    def force_states(self) -> None:
        with self._lock:
            for throttle in self._throttles.values():
                throttle.force()
            self._floor_throttle.force()

    def _enqueue(self, who: str, what: str, build: Callable[[int], bytes], topic: str | None = None) -> None:
        topic = topic or camera_topic(self.origin.site, who, "events")
        try:
            self.outbox.enqueue(topic, build)
        except OutboxError as exc:
            log.error("%s: %s event lost: %s", who, what, exc)
            return
        except ValueError as exc:  # a value the contract refuses (pydantic.ValidationError)
            self.encode_errors += 1
            log.error(
                "%s: cannot encode a %s event (%s); it is dropped", who, what, " ".join(str(exc).split())
            )
            return
        self.pump.wake()

    def frame_processed(self, camera: str, frame: Frame, state: HallState) -> None:
        if self.coverage is not None:
            height, width = frame.image.shape[:2]
            self.coverage.learn(camera, (width, height))
        fusion, floor = self.fusion, self.floor
        if fusion == "node" and floor is not None:
            fused = floor.add(camera, frame.captured_at.timestamp(), state)
            if fused is not None:
                self._floor_step(fused, floor.cameras)
            return
        if fusion == "camera":
            self._camera_frame(camera, frame, state)
        if (self.publish_positions or fusion == "server") and self.publisher.connected:
            positions = camera_positions(self.origin, state, seq=self.outbox.next_seq(), ts=frame.captured_at)
            self.publisher.publish_if_connected(
                camera_topic(self.origin.site, camera, "positions"), positions.to_json()
            )

    def _camera_frame(self, camera: str, frame: Frame, state: HallState) -> None:
        """Fusion mode `camera`: the camera's own events and state."""
        for event in state.events:
            self._enqueue(
                camera,
                event.type,
                functools.partial(
                    self._event_json, camera, event, event_time(event, state, frame.captured_at)
                ),
            )
        if self.publisher.connected and self._throttle(camera).should_send(
            state_key(state), time.monotonic()
        ):
            payload = camera_state(self.origin, state, seq=self.outbox.next_seq(), ts=frame.captured_at)
            self.publisher.publish_if_connected(
                camera_topic(self.origin.site, camera, "state"), payload.to_json(), retain=True
            )

    def _floor_step(self, state: HallState, cameras: tuple[str, ...]) -> None:
        """Fusion mode `node`: one step of the fused floor: its events, state and positions."""
        site, node = self.origin.site, self.origin.node
        events_topic = node_topic(site, node, "floor_events")
        for event in state.events:
            self._enqueue(
                "floor",
                event.type,
                functools.partial(self._floor_event_json, event),
                topic=events_topic,
            )
        if not self.publisher.connected:
            return
        with self._lock:
            send = self._floor_throttle.should_send(state_key(state), time.monotonic())
        if send:
            payload = floor_state(self.origin, state, cameras, seq=self.outbox.next_seq())
            self.publisher.publish_if_connected(
                node_topic(site, node, "floor"), payload.to_json(), retain=True
            )
        if self.publish_positions:
            positions = floor_positions(self.origin, state, seq=self.outbox.next_seq())
            self.publisher.publish_if_connected(
                node_topic(site, node, "floor_positions"), positions.to_json()
            )

    def _event_json(self, camera: str, event: HallEvent, ts: datetime, seq: int) -> bytes:
        return camera_event(self.origin, camera, event, seq=seq, ts=ts).to_json()

    def _floor_event_json(self, event: HallEvent, seq: int) -> bytes:
        return floor_event(self.origin, event, seq=seq).to_json()

    def camera_lost(self, camera: str, reason: str) -> None:
        ts = _utc_now()
        self._enqueue(
            camera,
            "camera_lost",
            lambda seq: camera_lost(self.origin, camera, reason, seq=seq, ts=ts).to_json(),
        )

    def camera_recovered(self, camera: str, down_s: float) -> None:
        ts = _utc_now()
        self._enqueue(
            camera,
            "camera_recovered",
            lambda seq: camera_recovered(self.origin, camera, down_s, seq=seq, ts=ts).to_json(),
        )


class EdgeNode:
    """One edge node. `start`, then `run` (blocks until `request_stop`), which also shuts down.

    Args:
        config: the node's validated config.
        processor_factory: builds a camera's processor from the config and its id.
        config_path: the node's YAML file; applied config pushes are written back to it.
        opener: opens camera sources (OpenCV by default).
    """

    def __init__(
        self,
        config: NodeConfig,
        processor_factory: ProcessorFactory,
        *,
        config_path: Path | None = None,
        opener: SourceOpener = open_source,
        version: str | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.version = version or software_version()
        self._factory = processor_factory
        self._opener = opener
        self.origin = origin_of(config)
        self._control: queue.Queue[tuple[str, bytes | str | None]] = queue.Queue()
        self._stopping = threading.Event()
        self._started_mono = time.monotonic()
        self.workers: dict[str, CameraWorker] = {}
        self.rejected_config = 0
        self.refused_confirmations = 0  # storage confirmations that did not follow the contract
        self.last_config_error: str | None = None
        self.applied_config_id: uuid.UUID | None = None
        self._rejected_ids: set[uuid.UUID] = set()
        self._exit_code = EXIT_OK
        self._health_thread: threading.Thread | None = None
        self.outbox: Outbox
        self.publisher: MqttPublisher
        self.pump: OutboxPump
        self.reporter: NodeReporter
        self.snapshots: SnapshotResponder
        self.coverage = CameraCoverage(config, on_new=lambda _camera: self._control.put(("layout", None)))
        self.rates = NodeRates(config, apply=self._apply_rate)

    # ------------------------------------------------------------------------------------ topics
    def _node_topic(self, kind: NodeTopicKind) -> str:
        return node_topic(self.origin.site, self.origin.node, kind)

    def _status(self, status: Literal["online", "offline", "stopped"]) -> bytes:
        return NodeStatus(
            site=self.origin.site,
            node=self.origin.node,
            seq=self.outbox.next_seq(),
            ts=_utc_now(),
            status=status,
            version=self.version,
        ).to_json()

    # ------------------------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Open the outbox, build every camera's processor, connect, and start the cameras.

        Raises:
            OutboxError: the outbox file cannot be opened.
            edge.publisher.ConfigError: the MQTT section cannot be used.
            Exception: whatever the processor factory raises for a camera it cannot build.
        """
        cfg = self.config
        self.outbox = Outbox(cfg.outbox.path, cfg.outbox.max_events)
        try:
            processors = {cam.id: self._factory(cfg, cam.id) for cam in cfg.cameras}
            self.publisher = MqttPublisher(
                cfg.mqtt,
                node=cfg.node.id,
                will=lambda: (self._node_topic("status"), self._status("offline")),
                subscriptions=[self._node_topic("config"), self._node_topic("snapshot_request")]
                + ([self._node_topic("stored")] if cfg.outbox.confirm == "server" else []),
                on_connected=self._connected,
                on_message=self._message,
                on_ack=lambda: self.pump.wake(),
                on_refused=lambda message: self._control.put(("refused", message)),
            )
        except BaseException:
            self.outbox.close()
            raise
        self.pump = OutboxPump(
            self.outbox, self.publisher, confirm=cfg.outbox.confirm, resend_after_s=cfg.outbox.resend_after_s
        )
        self.snapshots = SnapshotResponder(
            self.origin,
            latest_frame=self._latest_frame,
            cameras=lambda: list(self.workers),
            next_seq=self.outbox.next_seq,
        )
        self.reporter = NodeReporter(
            self.origin,
            self.outbox,
            self.publisher,
            self.pump,
            state_interval_s=cfg.node.state_interval_s,
            publish_positions=cfg.mqtt.publish_positions,
            fusion=cfg.fusion_mode,
            floor=self._floor(cfg),
            coverage=self.coverage,
        )
        log.info(
            "node %s of site %s: %d camera(s), counted %s; outbox %s (%d events waiting)",
            cfg.node.id,
            cfg.site,
            len(cfg.cameras),
            _FUSION_WORDS[cfg.fusion_mode],
            cfg.outbox.path,
            self.outbox.depth,
        )
        self.pump.start()
        self.publisher.start()
        for cam in cfg.cameras:
            self._start_worker(cam, processors[cam.id])
        self._health_thread = threading.Thread(target=self._health_loop, name="health", daemon=True)
        self._health_thread.start()

    def _floor(self, config: NodeConfig) -> NodeFloor | None:
        return NodeFloor(config, self.coverage) if config.fusion_mode == "node" else None

    def _start_worker(self, camera: CameraConfig, processor: FrameProcessor) -> None:
        feed = CameraFeed(
            camera,
            self._opener,
            timeout_s=self.config.node.camera_timeout_s,
            retry_max_s=self.config.node.camera_retry_max_s,
        )
        feed.set_fps(self.rates.target(camera.id))
        worker = CameraWorker(
            camera,
            processor,
            feed,
            self.reporter,
            timeout_s=self.config.node.camera_timeout_s,
            frames_in_flight=self.config.node.frames_in_flight,
            on_state=self.rates.observe,
            fps_bounds=self.rates.bounds(camera.id),
        )
        self.workers[camera.id] = worker
        worker.start()

    def _apply_rate(self, camera: str, fps: float) -> None:
        """An adaptive camera's rate changed (`edge.rates.NodeRates`): its source samples at it."""
        worker = self.workers.get(camera)
        if worker is not None:
            worker.set_fps(fps, self.rates.bounds(camera))
            log.debug("%s: %.2f frames/s", camera, fps)

    def request_stop(self) -> None:
        """Ask `run` to stop (safe from a signal handler or another thread)."""
        self._control.put(("stop", None))

    def run(self) -> int:
        """Serve until asked to stop, then shut down cleanly; returns the process exit code."""
        try:
            while True:
                try:
                    kind, data = self._control.get(timeout=0.5)
                except queue.Empty:
                    continue
                if kind == "stop":
                    log.info("stopping")
                    break
                if kind == "refused":
                    log.error("stopping: %s", data)
                    self._exit_code = EXIT_REFUSED
                    break
                if kind == "config" and isinstance(data, bytes):
                    self.handle_config_push(data)
                if kind == "snapshot" and isinstance(data, bytes):
                    self.handle_snapshot_request(data)
                if kind == "layout" and self.publisher.connected:
                    self._publish_layout()  # a camera's coverage became known
        finally:
            self.shutdown()
        return self._exit_code

    def shutdown(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        for worker in self.workers.values():
            worker.request_stop()
        for worker in self.workers.values():
            worker.stop()
        if self._health_thread is not None:
            self._health_thread.join(2.0)
        if self.publisher.connected and self.outbox.depth:
            log.info("sending the %d events still in the outbox", self.outbox.depth)
            self.pump.wait_drained(3.0)
        self.pump.stop()
        final = (self._node_topic("status"), self._status("stopped")) if self._exit_code == EXIT_OK else None
        said_stopped = self.publisher.stop(final)
        if self.outbox.depth:
            log.info("%d events stay in the outbox for the next start", self.outbox.depth)
        self.outbox.close()
        log.info("stopped%s", " (status 'stopped' published)" if said_stopped else "")

    # ------------------------------------------------------------------------ paho's thread
    def _connected(self) -> None:
        self.publisher.publish(self._node_topic("status"), self._status("online"), qos=1, retain=True)
        self._publish_layout()
        self.reporter.force_states()
        self.pump.connected()

    def _message(self, topic: str, payload: bytes) -> None:
        if topic == self._node_topic("config"):
            self._control.put(("config", payload))
        elif topic == self._node_topic("snapshot_request"):
            self._control.put(("snapshot", payload))
        elif topic == self._node_topic("stored"):
            self.handle_stored(payload)

    def handle_stored(self, payload: bytes) -> bool:
        """The server's confirmation of stored events: they leave the outbox. False if refused."""
        try:
            stored = parse_stored(self._node_topic("stored"), payload)
        except PayloadError as exc:
            self.refused_confirmations += 1
            log.warning("a storage confirmation was refused (%s); its events stay in the outbox", exc)
            return False
        if stored.seqs:
            self.pump.confirm(stored.seqs)
        if stored.resend:
            self.pump.resend_unconfirmed()
        return True

    def _publish_layout(self) -> None:
        layout = node_layout(
            self.config,
            seq=self.outbox.next_seq(),
            ts=_utc_now(),
            config_id=self.applied_config_id,
            coverage=self.coverage.known(),
        )
        self.publisher.publish(self._node_topic("layout"), layout.to_json(), qos=1, retain=True)

    # ---------------------------------------------------------------------------- health
    def _health_loop(self) -> None:
        interval = self.config.node.health_interval_s
        while not self._stopping.wait(interval):
            try:
                self.publish_health()
            except Exception:
                log.exception("could not build the health message")

    def publish_health(self) -> bool:
        cameras = [w.take_period() for w in list(self.workers.values())]
        if not self.publisher.connected:
            return False
        health = node_health(
            self.origin,
            cameras,
            seq=self.outbox.next_seq(),
            ts=_utc_now(),
            uptime_s=time.monotonic() - self._started_mono,
            outbox_depth=self.outbox.depth,
            outbox_dropped=self.outbox.dropped,
            published=self.pump.published,
            refused=self.pump.refused,
            rejected_config=self.rejected_config,
            last_config_error=self.last_config_error,
            version=self.version,
        )
        return self.publisher.publish_if_connected(self._node_topic("health"), health.to_json())

    # ------------------------------------------------------------------------ snapshots
    def _latest_frame(self, camera: str) -> LatestFrame | None:
        worker = self.workers.get(camera)
        return worker.latest_frame() if worker is not None else None

    def handle_snapshot_request(self, payload: bytes) -> bool:
        """Answer one snapshot request (a picture, or an error in words); True when a reply went out.

        Invalid and expired requests get no reply. Never raises.
        """
        reply = self.snapshots.answer(self._node_topic("snapshot_request"), payload)
        if reply is None:
            return False
        sent = self.publisher.publish_if_connected(self._node_topic("snapshot"), reply.to_json(), qos=1)
        if not sent:
            log.warning("could not send the snapshot for request %s: not connected", reply.request_id)
        return sent

    # ------------------------------------------------------------------------ config pushes
    def handle_config_push(self, payload: bytes) -> bool:
        """Check and apply one config push; True when it changed the node. Never raises."""
        if not payload:
            return False  # the server cleared its retained push
        try:
            push = parse_push(payload)
        except ConfigPushError as exc:
            self._reject(None, str(exc))
            return False
        if push.event_id in self._rejected_ids:
            return False
        try:
            return self._apply(
                push.event_id, push.issued_by, merge_push(self.config, push), list(push.config)
            )
        except ConfigPushError as exc:
            self._reject(push.event_id, str(exc))
            return False
        except Exception as exc:  # a processor that cannot be built, for instance
            self._reject(push.event_id, f"cannot apply it: {exc}")
            return False

    def _apply(self, push_id: uuid.UUID, issued_by: str, new: NodeConfig, keys: list[str]) -> bool:
        if new == self.config:
            if self.applied_config_id != push_id:
                self.applied_config_id = push_id
                log.info("config push %s is already in effect", push_id)
                self._publish_layout()
            return False
        restart, rebuild, everything = changed_cameras(self.config, new)
        targets = {c.id for c in new.cameras} if everything else restart | rebuild
        processors = {cam_id: self._factory(new, cam_id) for cam_id in sorted(targets)}
        floor = self._floor(new)  # before anything changes: it raises for a config it cannot use
        if self.config_path is not None:
            write_config_file(self.config_path, new, keys)
        self.config = new
        self.coverage.reset(new, targets)
        self.rates.reset(new)
        self.reporter.set_fusion(new.fusion_mode, floor)
        for cam in new.cameras:
            if cam.id in restart:
                old = self.workers.pop(cam.id, None)
                if old is not None:
                    old.stop()
                self._start_worker(cam, processors[cam.id])
            elif cam.id in processors:
                self.workers[cam.id].replace_processor(processors[cam.id])
            if cam.id not in restart and cam.id in self.workers:  # its rate starts over with the config
                self.workers[cam.id].set_fps(self.rates.target(cam.id), self.rates.bounds(cam.id))
        self.applied_config_id = push_id
        self._publish_layout()
        log.info(
            "applied config push %s from %s (%s): %s",
            push_id,
            issued_by or "unknown",
            ", ".join(keys),
            _describe_changes(restart, set(processors) - restart),
        )
        return True

    def _reject(self, push_id: uuid.UUID | None, reason: str) -> None:
        self.rejected_config += 1
        self.last_config_error = reason
        if push_id is not None:
            self._rejected_ids.add(push_id)
        log.warning("refused a config push%s: %s", f" ({push_id})" if push_id else "", reason)


_FUSION_WORDS: dict[FusionMode, str] = {
    "camera": "camera by camera",
    "node": "on one floor fused here",
    "server": "on a floor the server fuses (positions published)",
}


def _describe_changes(restarted: set[str], rebuilt: set[str]) -> str:
    parts = []
    if restarted:
        parts.append("cameras (re)started: " + ", ".join(sorted(restarted)))
    if rebuilt:
        parts.append("pipelines rebuilt: " + ", ".join(sorted(rebuilt)))
    return "; ".join(parts) or "nothing to restart"
