"""How many cameras one edge node sustains, and what each stage costs, measured in one run.

For each backend (FP32 and INT8 OpenVINO by default), rounds interleaved so that other work on a
shared machine weighs on every measure alike:

1. raw inference: the compiled model alone (what `OpenVinoPoseDetector` compiles: static shape,
   pre-processing inside, throughput hint, the same number of requests) on one prepared tensor,
   kept full through an `AsyncInferQueue`: the physical limit of this model on this CPU;
2. the detector alone: `OpenVinoPoseDetector.submit` on frames already decoded, from two threads
   with two frames in flight each (as two cameras would): letterbox, inference, candidates, NMS;
3. one camera through the node's path, as fast as it goes: a real `EdgeNode` (reader thread,
   feed, worker with frames in flight, ByteTrack, floor pipeline, reporter, outbox, MQTT to a
   mosquitto of its own) on a video file read only as fast as frames are finished;
4. N cameras the same way, aggregate frames/s (several cameras share the detector's queue).

Then the cameras it sustains at 5 frames/s each, sources in real time: a count is sustained when,
after a warm-up, every camera processes at least 95 % of its 5 frames/s and drops at most 5 %.
Targets (issue 14): one camera ≥ 0.85 of raw inference; N cameras ≥ 0.95 of the detector alone.

    .venv/bin/python benchmarks/edge_cameras.py [--imgsz 960] [--backends openvino,openvino-int8]
        [--rounds 3] [--seconds 12] [--cameras 2,4] [--max-cameras 10]
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _edge import Broker, node_config
from _frames import benchmark_video, load_frames
from numpy.typing import NDArray

from edge.config import NodeConfig
from edge.node import EdgeNode
from edge.processors import PipelineProcessors
from edge.sources import VideoFileSource
from vision.config import CameraConfig
from vision.openvino_detector import OpenVinoPoseDetector
from vision.pose_head import letterbox, letterbox_geometry
from vision.processor import FrameResult, PendingFrame


def cpu_flags() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")), "?"
    )
    flags = next((ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags")), [])
    vector = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags]
    return f"{model}, {os.cpu_count()} CPUs; {', '.join(vector) or 'no AVX2'}"


Slice = tuple[int, float, float]  # frames, wall seconds, CPU seconds of the whole process


class Clock:
    """Wall and CPU time (the whole process) since it was made."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def slice(self, frames: int) -> Slice:
        return frames, time.perf_counter() - self.wall, time.process_time() - self.cpu


def raw_inference(detector: OpenVinoPoseDetector, frame: NDArray[np.uint8], seconds: float) -> Slice:
    import openvino as ov

    box = letterbox_geometry(frame.shape[:2], detector.imgsz)
    model = detector._compiled(box.input_hw)  # the very compiled model the detector uses
    tensor = letterbox(frame, box)[np.newaxis]
    queue = ov.AsyncInferQueue(model.compiled, model.requests)
    done = [0]

    def count(_request: Any, _userdata: Any) -> None:
        done[0] += 1

    queue.set_callback(count)
    for _ in range(model.requests):
        queue.start_async({0: tensor}, share_inputs=True)
    queue.wait_all()
    done[0] = 0
    clock = Clock()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        queue.start_async({0: tensor}, share_inputs=True)
    queue.wait_all()
    return clock.slice(done[0])


def detector_alone(
    detector: OpenVinoPoseDetector, frames: list[NDArray[np.uint8]], seconds: float, threads: int, depth: int
) -> Slice:
    """`threads` threads (as cameras would) each keep `depth` decoded frames in the detector."""
    counts = [0] * threads
    end = time.perf_counter() + seconds

    def submit(thread: int) -> None:
        pending: deque[Any] = deque()
        while time.perf_counter() < end:
            pending.append(detector.submit(frames[(counts[thread] * threads + thread) % len(frames)]))
            counts[thread] += 1
            if len(pending) >= depth:
                pending.popleft().result()
        while pending:
            pending.popleft().result()

    clock = Clock()
    workers = [threading.Thread(target=submit, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return clock.slice(sum(counts))


class Paced:
    """Backpressure for the unthrottled runs: a camera's source reads its next frame as soon as the
    worker has taken the last one, never before, so a frame always waits for the worker (a camera
    faster than the node) yet none is decoded in vain or dropped; `running` pauses the camera."""

    def __init__(self) -> None:
        self.token = threading.Semaphore(1)
        self.running = threading.Event()


class Releasing:
    """The real processor; taking a frame (start, or process) lets the source read the next."""

    def __init__(self, inner: Any, paced: Paced) -> None:
        self.inner = inner
        self.paced = paced
        self.camera_id = inner.camera_id

    def process(self, image: NDArray[np.uint8], frame: int, t_s: float) -> FrameResult:
        self.paced.token.release()
        return self.inner.process(image, frame, t_s)  # type: ignore[no-any-return]

    def start(self, image: NDArray[np.uint8], frame: int, t_s: float) -> PendingFrame:
        self.paced.token.release()
        return self.inner.start(image, frame, t_s)  # type: ignore[no-any-return]

    def finish(self, pending: PendingFrame) -> FrameResult:
        return self.inner.finish(pending)  # type: ignore[no-any-return]

    def find_all_people(self, image: NDArray[np.uint8]) -> Any:
        return self.inner.find_all_people(image)


class UnthrottledNode:
    """A real node whose cameras read a video as fast as the node takes frames, paused between
    measurements (so that several nodes and the other measures can take turns in short slices)."""

    def __init__(
        self, video: Path, broker: Broker, workdir: Path, cameras: int, imgsz: int, backend: str,
        factory: PipelineProcessors, in_flight: int | None = None,
    ) -> None:  # fmt: skip
        config = node_config(
            video, broker.port, workdir, cameras=cameras, imgsz=imgsz, backend=backend, fps=60.0,
            node_id=f"bench-node-{cameras}", frames_in_flight=in_flight,
        )  # fmt: skip
        self.paced = paced = {cam.id: Paced() for cam in config.cameras}

        class PacedSource(VideoFileSource):
            def __init__(self, path: Path, camera: str, **kwargs: Any) -> None:
                super().__init__(path, **kwargs)
                self.camera = camera

            def read(self) -> Any:
                gate = paced[self.camera]
                while not (gate.running.wait(0.1) and gate.token.acquire(timeout=0.1)):
                    if self._stop.is_set():
                        return None
                return super().read()

        def opener(
            camera: CameraConfig, *, stop: threading.Event, epoch_mono: float, timeout_s: float
        ) -> Any:
            return PacedSource(
                Path(str(camera.source)), camera.id, fps=60.0, loop=True, stop=stop, realtime=False
            )

        def releasing(config: NodeConfig, camera_id: str) -> Any:
            return Releasing(factory(config, camera_id), paced[camera_id])

        self.node = EdgeNode(config, releasing, opener=opener)
        self.node.start()
        self.runner = threading.Thread(target=self.node.run, daemon=True)
        self.runner.start()

    def measure(self, seconds: float, settle_s: float = 0.5) -> tuple[Slice, list[float]]:
        """Frames, wall and CPU seconds, and frames/s per camera, over `seconds` of running."""
        for gate in self.paced.values():
            gate.running.set()
        time.sleep(settle_s)  # let every camera fill its frames in flight
        workers = list(self.node.workers.values())
        for worker in workers:
            worker.take_period()
        wall, cpu = time.perf_counter(), time.process_time()
        time.sleep(seconds)
        periods = [worker.take_period() for worker in workers]
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        for gate in self.paced.values():
            gate.running.clear()
        fps = [p.fps for p in periods]
        return (round(sum(fps) * wall), wall, cpu), fps

    def slice(self, seconds: float) -> Slice:
        return self.measure(seconds)[0]

    def close(self) -> None:
        for gate in self.paced.values():
            gate.running.set()
        self.node.request_stop()
        self.runner.join(30)


def run_node(config: NodeConfig, factory: Any, warmup: float, seconds: float) -> tuple[list[Any], int]:
    node = EdgeNode(config, factory)
    node.start()
    runner = threading.Thread(target=node.run, daemon=True)
    runner.start()
    try:
        time.sleep(warmup)
        before = {cid: w.feed.status().frames_dropped for cid, w in node.workers.items()}
        for w in node.workers.values():
            w.take_period()
        time.sleep(seconds)
        periods = [w.take_period() for w in node.workers.values()]
        dropped = sum(w.feed.status().frames_dropped - before[cid] for cid, w in node.workers.items())
    finally:
        node.request_stop()
        runner.join(30)
    return periods, dropped


def sustained(
    video: Path, broker: Broker, workdir: Path, cameras: int, args: argparse.Namespace, backend: str,
    factory: PipelineProcessors,
) -> tuple[bool, list[float], int]:  # fmt: skip
    config = node_config(
        video, broker.port, workdir, cameras=cameras, imgsz=args.imgsz, backend=backend,
        node_id=f"bench-sustained-{cameras}", frames_in_flight=args.in_flight,
    )  # fmt: skip
    periods, dropped = run_node(config, factory, args.warmup, args.sustain_seconds)
    fps = [p.fps for p in periods]
    processed = round(sum(fps) * args.sustain_seconds)
    ok = min(fps) >= 0.95 * 5.0 and dropped <= 0.05 * max(processed + dropped, 1)
    return ok, fps, dropped


def total_rate(parts: list[Slice]) -> float:
    return sum(f for f, _w, _c in parts) / sum(w for _f, w, _c in parts)


def ratio_rounds(a: list[Slice], b: list[Slice]) -> str:
    return ", ".join(f"{(x[0] / x[1]) / (y[0] / y[1]):.3f}" for x, y in zip(a, b, strict=True))


def compare(
    backend: str, args: argparse.Namespace, video: Path, frames: list[NDArray[np.uint8]], broker: Broker,
    workdir: Path, factory: PipelineProcessors, detector: OpenVinoPoseDetector, in_flight: int,
) -> float:  # fmt: skip
    """The four measures in short slices taking turns (slow changes in what else runs on the
    machine weigh on each alike); rates are totals over all slices. Returns the best node rate."""
    counts = [int(n) for n in args.cameras.split(",") if n]
    nodes = {
        n: UnthrottledNode(video, broker, workdir, n, args.imgsz, backend, factory, args.in_flight)
        for n in counts
    }
    measures: dict[str, Callable[[], Slice]] = {
        "raw inference (prepared tensor)": functools.partial(
            raw_inference, detector, frames[0], args.seconds
        ),
        "detector alone (decoded frames)": functools.partial(
            detector_alone, detector, frames, args.seconds, 2, in_flight
        ),
    }
    for n, node in nodes.items():
        name = "node, one camera" if n == 1 else f"node, {n} cameras (sum)"
        measures[name] = functools.partial(node.slice, args.seconds)
    slices: dict[str, list[Slice]] = {name: [] for name in measures}
    try:
        for run in measures.values():  # once first: compile, fill the queues, warm the caches
            run()
        for round_ in range(args.rounds):
            for name, run in measures.items():
                slices[name].append(run())
            rates = ", ".join(
                f"{name.split(' (')[0]} {total_rate(parts[-1:]):.2f}" for name, parts in slices.items()
            )
            print(f"round {round_ + 1}: {rates} frames/s", flush=True)
    finally:
        for node in nodes.values():
            node.close()
    for name, parts in slices.items():
        cpu_ms = 1000.0 * sum(c for _f, _w, c in parts) / max(sum(f for f, _w, _c in parts), 1)
        print(f"{name:34} {total_rate(parts):6.2f} frames/s, {cpu_ms:5.0f} ms CPU per frame (whole process)")
    raw, alone = slices["raw inference (prepared tensor)"], slices["detector alone (decoded frames)"]
    for name, parts in slices.items():
        if name == "node, one camera":
            print(f"ratio one camera / raw inference: {total_rate(parts) / total_rate(raw):.3f} "
                  f"(rounds: {ratio_rounds(parts, raw)}; target >= 0.85)")  # fmt: skip
        elif name.startswith("node"):
            share = total_rate(parts) / total_rate(alone)
            print(f"ratio {name.removeprefix('node, ')} / detector alone: {share:.3f} "
                  f"(rounds: {ratio_rounds(parts, alone)}; target >= 0.95)")  # fmt: skip
    return max(total_rate(parts) for name, parts in slices.items() if name.startswith("node"))


def sustained_count(
    backend: str, args: argparse.Namespace, video: Path, broker: Broker, workdir: Path,
    factory: PipelineProcessors, aggregate: float,
) -> int:  # fmt: skip
    """The most cameras sustained at 5 frames/s: start near what the aggregate rate allows, then
    walk to the edge."""
    best = 0
    n = max(1, min(args.max_cameras, int(aggregate // 5)))
    tried: set[int] = set()
    while 1 <= n <= args.max_cameras and n not in tried:
        ok, fps, dropped = sustained(video, broker, workdir, n, args, backend, factory)
        tried.add(n)
        each = ", ".join(f"{v:.2f}" for v in fps)
        verdict = "sustained" if ok else "NOT sustained"
        print(f"{n} camera(s) at 5 frames/s: {verdict}; fps per camera {each}; {dropped} dropped", flush=True)
        if ok:
            best = max(best, n)
            n += 1
        else:
            n -= 1
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--imgsz", type=int, default=960)
    parser.add_argument("--backends", default="openvino,openvino-int8")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of the measures, taking turns")
    parser.add_argument("--cameras", default="1,2,4", help="camera counts of the unthrottled nodes")
    parser.add_argument("--max-cameras", type=int, default=12, help="0: skip the sustained count")
    parser.add_argument(
        "--warmup", type=float, default=6.0, help="seconds before a sustained run is measured"
    )
    parser.add_argument("--in-flight", type=int, help="frames in flight per camera (default: the node's)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per slice of a measure")
    parser.add_argument("--sustain-seconds", type=float, default=20.0, help="seconds per sustained-count run")
    args = parser.parse_args()

    video = benchmark_video(1000)
    frames = load_frames(video, 100)
    workdir = Path(tempfile.mkdtemp(prefix="hallwatch-edge-bench-"))
    broker = Broker().start()
    print(f"machine: {cpu_flags()}")
    print(f"video: {video.name} ({frames[0].shape[1]}x{frames[0].shape[0]}); imgsz {args.imgsz}; "
          f"{args.rounds} rounds of {args.seconds:g} s slices")  # fmt: skip
    try:
        for backend in args.backends.split(","):
            factory = PipelineProcessors()
            config = node_config(
                video,
                1,
                workdir,
                cameras=1,
                imgsz=args.imgsz,
                backend=backend,
                frames_in_flight=args.in_flight,
            )
            detector = factory.detector(config.cameras[0].detector, args.imgsz)
            assert isinstance(detector, OpenVinoPoseDetector), "this benchmark measures the OpenVINO adapter"
            detector.warm_up(frames[0].shape[:2])
            in_flight = config.node.frames_in_flight
            print(f"\n== {backend}: {detector.requests_for(frames[0].shape[:2])} inference requests, "
                  f"{in_flight} frames in flight per camera")  # fmt: skip
            aggregate = compare(backend, args, video, frames, broker, workdir, factory, detector, in_flight)
            if args.max_cameras:
                best = sustained_count(backend, args, video, broker, workdir, factory, aggregate)
                print(f"cameras sustained at 5 frames/s ({backend}, imgsz {args.imgsz}): {best}")
            detector.close()
    finally:
        broker.cleanup()


if __name__ == "__main__":
    main()
