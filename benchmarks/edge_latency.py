"""Edge latency from a frame's capture to its event's PUBACK, and the outbox's replay rate.

1. Latency: a real node (real video source, real detector and pipeline, outbox, mosquitto of its
   own) with one camera at 5 frames/s. So that every frame has an event to time, the benchmark
   adds one `person_entered` event to each state the real pipeline returns; its time is the
   frame's capture time. The PUBACK time is when the node deletes the event from its outbox
   (right after the broker acknowledged it). Reported: p50 and p99 in milliseconds.
2. Replay rate: the outbox is filled with N real event payloads while no broker is reachable,
   then a broker comes up; the time until the last one is acknowledged gives events/s.

    .venv/bin/python benchmarks/edge_latency.py [--seconds 30] [--imgsz 960] [--replay-events 20000]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import tempfile
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from _edge import Broker, node_config
from _frames import benchmark_video
from numpy.typing import NDArray

from edge.config import MqttConfig, NodeConfig
from edge.events import Origin, camera_event
from edge.node import EdgeNode
from edge.outbox import Outbox
from edge.processors import PipelineProcessors
from edge.publisher import MqttPublisher, OutboxPump
from hallwatch.contract import CameraEvent, camera_topic
from vision.processor import FrameResult
from vision.state import HallEvent


class EventPerFrame:
    """The real processor, plus one event per frame so that every frame's latency is measured."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.camera_id = inner.camera_id

    def process(self, image: NDArray[np.uint8], frame: int, t_s: float) -> FrameResult:
        result: FrameResult = self.inner.process(image, frame, t_s)
        extra = HallEvent("person_entered", t_s, zone="bench", people=(frame,))
        state = dataclasses.replace(result.state, events=(*result.state.events, extra))
        return FrameResult(state, result.tracked)


def latency(video: Path, broker: Broker, workdir: Path, args: argparse.Namespace) -> list[float]:
    factory = PipelineProcessors()

    def wrapped(config: NodeConfig, camera_id: str) -> EventPerFrame:
        return EventPerFrame(factory(config, camera_id))

    config = node_config(video, broker.port, workdir, cameras=1, imgsz=args.imgsz, backend=args.backend)
    node = EdgeNode(config, wrapped)
    captured: dict[int, float] = {}  # seq -> capture time (epoch seconds)
    acked: dict[int, float] = {}
    measuring = threading.Event()
    node.start()
    outbox = node.outbox
    enqueue, delete = outbox.enqueue, outbox.delete

    def timed_enqueue(topic: str, build: Any) -> int:
        def build_and_note(seq: int) -> bytes:
            payload: bytes = build(seq)
            if measuring.is_set():
                captured[seq] = CameraEvent.model_validate_json(payload).ts.timestamp()
            return payload

        return enqueue(topic, build_and_note)

    def timed_delete(seqs: Iterable[int]) -> int:
        seqs = list(seqs)
        now = time.time()
        for seq in seqs:
            acked.setdefault(seq, now)
        return delete(seqs)

    outbox.enqueue = timed_enqueue  # type: ignore[method-assign]
    outbox.delete = timed_delete  # type: ignore[method-assign]
    runner = threading.Thread(target=node.run, daemon=True)
    runner.start()
    try:
        time.sleep(args.warmup)
        measuring.set()
        time.sleep(args.seconds)
        measuring.clear()
        time.sleep(1.0)
    finally:
        node.request_stop()
        runner.join(30)
    return [1000.0 * (acked[s] - t) for s, t in captured.items() if s in acked]


def replay_rate(broker: Broker, workdir: Path, events: int) -> float:
    outbox = Outbox(workdir / "replay.sqlite", max_events=events + 10)
    origin = Origin("bench-site", "bench-node")
    topic = camera_topic("bench-site", "cam-1", "events")
    event = HallEvent("spacing_violation_started", 1.0, zone="window-1", people=(3, 5), distance_m=0.8)
    now = datetime.now(UTC)
    for _ in range(events):
        outbox.enqueue(topic, lambda seq: camera_event(origin, "cam-1", event, seq=seq, ts=now).to_json())
    broker.stop()
    holder: dict[str, OutboxPump] = {}
    pub = MqttPublisher(
        MqttConfig(host="127.0.0.1", port=broker.port, reconnect_min_s=0.1, reconnect_max_s=1.0),
        node="bench-replay",
        will=lambda: ("hallwatch/bench-site/nodes/bench-replay/status", b"offline"),
        on_connected=lambda: holder["pump"].connected(),
        on_ack=lambda: holder["pump"].wake(),
    )
    pump = holder["pump"] = OutboxPump(outbox, pub)
    pump.start()
    pub.start()
    time.sleep(0.5)
    broker.start()
    assert pub.wait_connected(10.0), "the broker did not come back"
    started = time.perf_counter()
    while outbox.depth and time.perf_counter() - started < 300:
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    pump.stop()
    pub.stop()
    outbox.close()
    return events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--imgsz", type=int, default=960)
    parser.add_argument("--backend", default="openvino", choices=["openvino", "pytorch"])
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--replay-events", type=int, default=20_000)
    args = parser.parse_args()

    video = benchmark_video(1000)
    workdir = Path(tempfile.mkdtemp(prefix="hallwatch-edge-latency-"))
    broker = Broker().start()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.node()}")
    try:
        values = np.array(latency(video, broker, workdir, args))
        print(
            f"video: {video.name}; {args.backend} imgsz {args.imgsz}; one camera at 5 frames/s; "
            f"{len(values)} events"
        )
        if len(values):
            p50, p99 = np.percentile(values, [50, 99])
            print(f"capture -> PUBACK: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {values.max():.1f} ms")
        rate = replay_rate(broker, workdir, args.replay_events)
        print(f"outbox replay after an outage: {args.replay_events} events at {rate:.0f} events/s")
    finally:
        broker.cleanup()


if __name__ == "__main__":
    main()
