"""INT8 against FP32, side by side in one run: speed, and accuracy where it can be measured.

- Speed: OpenVINO alone on a prepared tensor (at the precision the CPU plugin picks by default,
  BF16 on CPUs with AMX, and at FP32 forced); then the same frames of vtest.avi through both
  detectors, rounds interleaved: frames/s (best round) and CPU time per frame (median; less
  sensitive to other work on a shared machine).
- The real ceiling fisheye sample (../shared/data, image space): person precision and recall of
  the head anchor (`vision.accuracy.score_image_points`).
- Generated scenes with floor truth (`edge/scene.py`: people cut from bus.jpg pasted on a floor
  seen by a known camera): the accuracy harness's zone MAE and close-pair F1 (`vision.accuracy`).
- Agreement on vtest.avi: the share of FP32 people (score >= 0.25) that INT8 finds too (IoU >= 0.5).

The INT8 model is calibrated on pictures made from the ultralytics wheel's photos only
(`models/quantize.py`), never on these data.

    .venv/bin/python benchmarks/int8.py [--imgsz 960] [--frames 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from _frames import benchmark_video, load_frames

from edge import scene
from edge.config import parse_config
from edge.replay import ReplaySummary, probe_video, replay
from models.catalog import spec_for, verified_weights
from models.export import export_openvino
from models.quantize import export_openvino_int8
from vision.accuracy import FramePrediction, FrameTruth, score, score_image_points
from vision.anchors import anchor_points
from vision.detector import PersonDetector
from vision.processor import CameraProcessor

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ceiling-fisheye-sample"


def cpu_flags() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    model = next(
        (line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?"
    )
    flags = next(
        (line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []
    )
    vector = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags]
    return f"{model}; {', '.join(vector) or 'no AVX2'}"


def speed(
    detectors: dict[str, PersonDetector], frames: list[np.ndarray], rounds: int
) -> dict[str, tuple[float, float]]:
    fps: dict[str, list[float]] = {name: [] for name in detectors}
    cpu: dict[str, list[float]] = {name: [] for name in detectors}
    for _ in range(rounds):
        for name, detector in detectors.items():
            wall, used = time.perf_counter(), time.process_time()
            for image in frames:
                detector.detect(image)
            fps[name].append(len(frames) / (time.perf_counter() - wall))
            cpu[name].append(1000 * (time.process_time() - used) / len(frames))
    return {name: (max(fps[name]), float(np.median(cpu[name]))) for name in detectors}


def raw_inference(folders: dict[str, Path], shape: tuple[int, int], repeats: int = 20) -> None:
    """OpenVINO alone on a prepared tensor: each model at the precision the CPU plugin picks by
    default (BF16 on CPUs with AMX), and at FP32 forced."""
    import openvino as ov

    core = ov.Core()
    tensor = np.random.default_rng(0).random((1, 3, *shape), dtype=np.float32)
    print(f"raw OpenVINO inference, input {shape[1]}x{shape[0]}, {repeats} runs (median of CPU ms per run):")
    for name, folder in folders.items():
        (xml,) = folder.glob("*.xml")
        model = core.read_model(xml)
        model.reshape([1, 3, *shape])
        for hint in ({}, {"INFERENCE_PRECISION_HINT": "f32"}):
            compiled = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY", **hint})
            request = compiled.create_infer_request()
            for _ in range(3):
                request.infer({0: tensor})
            cpu, wall = [], []
            for _ in range(repeats):
                started, used = time.perf_counter(), time.process_time()
                request.infer({0: tensor})
                wall.append(1000 * (time.perf_counter() - started))
                cpu.append(1000 * (time.process_time() - used))
            precision = compiled.get_property("INFERENCE_PRECISION_HINT")
            print(
                f"  {name}, runs in {precision}: {np.median(cpu):.1f} CPU ms, {np.median(wall):.1f} ms wall"
            )


def ceiling(detector: PersonDetector) -> tuple[float, float] | None:
    if not SAMPLE.is_dir():
        return None
    annotations = json.loads((SAMPLE / "annotations" / "video_0.json").read_text())
    truth: dict[str, list[list[float]]] = {}
    for item in annotations["annotations"]:
        truth.setdefault(item["image_id"], []).append(item["bbox"])
    points, boxes = [], []
    for image_id, people in sorted(truth.items()):
        found = detector.detect(cv2.imread(str(SAMPLE / "video_0" / f"{image_id}.jpg")))
        found = found.take(np.argsort(-found.scores))
        points.append(anchor_points(found.take(found.scores >= 0.25), "head", 0.5))
        boxes.append(people)
    rates = score_image_points(points, boxes)
    return rates.precision, rates.recall


def generated(detector: PersonDetector, imgsz: int) -> tuple[float, float, float]:
    folder = Path(tempfile.mkdtemp())
    video = folder / "hall.mp4"
    truth_path = scene.write_video(scene.demo_day(fps=5.0, minutes=1.0, seed=3), video)
    config = parse_config(scene.hall_config(str(video), imgsz=imgsz, backend="openvino"))
    out = io.StringIO()
    processor = CameraProcessor.from_config(config, "cam-1", detector)
    replay(probe_video(video), processor, out, ReplaySummary.for_hall(config, "cam-1"))
    predictions = [FramePrediction.from_record(json.loads(line)) for line in out.getvalue().splitlines()]
    truth = []
    for line in truth_path.read_text().splitlines():
        record = json.loads(line)
        xy = np.array([[x, y] for _, x, y in record["people"]], np.float64).reshape(-1, 2)
        truth.append(FrameTruth(record["frame"], np.array([p[0] for p in record["people"]], np.int64), xy))
    report = score(predictions, truth, config)
    return report.mae("window"), report.mae("hall"), report.pairs.f1


def agreement(a: PersonDetector, b: PersonDetector, frames: list[np.ndarray]) -> float:
    found = kept = 0
    for image in frames:
        first = a.detect(image)
        second = b.detect(image)
        first = first.boxes_xyxy[first.scores >= 0.25]
        second = second.boxes_xyxy[second.scores >= 0.25]
        for box in first:
            found += 1
            if len(second) and max(_iou(box, other) for other in second) >= 0.5:
                kept += 1
    return kept / found if found else float("nan")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--imgsz", type=int, default=960)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    spec = spec_for("yolo11n-pose")
    weights = verified_weights(spec)
    detectors = {
        "fp32": PersonDetector(export_openvino(spec, weights, args.imgsz), args.imgsz, backend="openvino"),
        "int8": PersonDetector(
            export_openvino_int8(spec, weights, args.imgsz), args.imgsz, backend="openvino"
        ),
    }
    frames = load_frames(benchmark_video(args.frames), args.frames)
    height, width = frames[0].shape[:2]
    scale = args.imgsz / max(height, width)
    shape = (int(np.ceil(height * scale / 32) * 32), int(np.ceil(width * scale / 32) * 32))
    raw_inference({"fp32": detectors["fp32"].weights, "int8": detectors["int8"].weights}, shape)
    for detector in detectors.values():
        detector.warm_up(frames[0].shape[:2])
    print(f"CPU: {cpu_flags()}; yolo11n-pose OpenVINO imgsz {args.imgsz}")
    timings = speed(detectors, frames, args.rounds)
    columns = ["frames/s (best of rounds)", "CPU ms per frame", "ceiling sample head P / R"]
    columns.append("generated scenes: window MAE / hall MAE / pair F1")
    print("| | " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|")
    for name, detector in detectors.items():
        fps, cpu = timings[name]
        ceiling_pr = ceiling(detector)
        pr = "n/a (sample absent)" if ceiling_pr is None else f"{ceiling_pr[0]:.2f} / {ceiling_pr[1]:.2f}"
        window, hall, pairs = generated(detector, args.imgsz)
        print(f"| {name} | {fps:.2f} | {cpu:.1f} | {pr} | {window:.3f} / {hall:.3f} / {pairs:.3f} |")
    speedup = timings["int8"][0] / timings["fp32"][0]
    cpu_ratio = timings["fp32"][1] / timings["int8"][1]
    print(f"INT8 / FP32: {speedup:.2f}x frames/s, {cpu_ratio:.2f}x less CPU per frame")
    kept = agreement(detectors["fp32"], detectors["int8"], frames)
    print(f"FP32 people (score >= 0.25) INT8 also finds on vtest.avi: {kept:.1%}")


if __name__ == "__main__":
    main()
