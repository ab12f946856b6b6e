"""A hall seen through four cameras on two nodes, fused or not, against floor truth (exact geometry).

`vision.synthetic_site`: four ceiling fisheyes, two per node, coverages overlapping down the middle;
each camera's detections are tracked and placed by its own pipeline (a scripted detector: what a
good detector would see). Four ways of counting the same frames:

- fused: every camera's people on one floor (`SiteFloor`: what the server runs for a hall across
  nodes, and a node for its own cameras);
- per camera, highest count per zone: each camera counts on its own and the server takes the
  highest count per zone (what hallwatch did before issue 12);
- per node, highest: each node fuses its own two cameras, the server takes the highest per zone;
- per node, summed: the same, the two nodes' hall counts added (people in the overlap twice).

.venv/bin/python benchmarks/fusion_site.py [--seconds 40] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Mapping

import numpy as np

from vision.accuracy import FramePrediction, FrameTruth, score
from vision.pipeline import CameraFloor, FloorRules
from vision.site_pipeline import SiteFloor, camera_people, site_floor
from vision.synthetic import detect
from vision.synthetic_site import IMAGE_SIZE, generated_site
from vision.tracking import PersonTracker


def run(seconds: float, seed: int) -> dict[str, object]:
    site = generated_site(duration_s=seconds, seed=seed)
    hall = site.hall
    cameras = list(site.poses)
    floors = {c: CameraFloor(hall, c, site.calibrations[c]) for c in cameras}
    trackers = {c: PersonTracker(hall.tracking, 0.25) for c in cameras}
    alone = {
        c: FloorRules(hall.spacing, hall.tracking, hall.zones, site.calibrations[c].scale_error)
        for c in cameras
    }
    fused: SiteFloor = site_floor(hall, site.calibrations)
    per_node = {
        node: site_floor(
            hall.model_copy(update={"cameras": [c for c in hall.cameras if c.id in cams]}),
            {c: site.calibrations[c] for c in cams},
        )
        for node, cams in site.nodes.items()
    }
    ways: dict[str, list[FramePrediction]] = {k: [] for k in ("fused", "camera_max", "node_max", "node_sum")}
    truths: list[FrameTruth] = []
    step_ms: list[float] = []
    across: list[FramePrediction] = []
    crossings: Mapping[str, Mapping[str, int]] = {}
    for frame, t_s, people in site.scene.frames():
        by_camera: dict[str, dict[str, int]] = {}
        for k, camera in enumerate(cameras):
            detections, _ = detect(
                site.poses[camera], people, IMAGE_SIZE, noise_share=0.013, seed=frame * 7 + k
            )
            placed, at_edge = floors[camera].place(
                frame, t_s, trackers[camera].update(detections), IMAGE_SIZE
            )
            by_camera[camera] = alone[camera].step(camera, frame, t_s, placed, at_edge).zone_counts
            view = camera_people(camera, t_s, placed)
            fused.add(view, arrived_s=t_s)
            next(f for n, f in per_node.items() if camera in site.nodes[n]).add(view, arrived_s=t_s)
        started = time.perf_counter()
        state = fused.step(frame)
        step_ms.append(1000 * (time.perf_counter() - started))
        crossings = state.crossings
        nodes = {n: f.step(frame).zone_counts for n, f in per_node.items()}
        ids, xy = state.people.ids, state.people.floor_xy
        pairs = tuple((v.a, v.b) for v in state.violations)
        ways["fused"].append(
            FramePrediction(frame, ids, xy, state.zone_counts, pairs, frozenset(state.uncovered))
        )
        across.append(
            FramePrediction(
                frame,
                ids,
                xy,
                {},
                tuple(
                    p
                    for p in pairs
                    if not set(state.seen_by.get(p[0], ())) & set(state.seen_by.get(p[1], ()))
                ),
            )
        )
        zones = {z for counts in by_camera.values() for z in counts}
        ways["camera_max"].append(
            FramePrediction(
                frame, ids, xy, {z: max(c.get(z, 0) for c in by_camera.values()) for z in zones}, ()
            )
        )
        node_zones = {z for counts in nodes.values() for z in counts}
        ways["node_max"].append(
            FramePrediction(
                frame, ids, xy, {z: max(c.get(z, 0) for c in nodes.values()) for z in node_zones}, ()
            )
        )
        ways["node_sum"].append(
            FramePrediction(frame, ids, xy, {"hall": sum(c.get("hall", 0) for c in nodes.values())}, ())
        )
        truths.append(
            FrameTruth(
                frame,
                np.array([p.id for p in people], np.int64),
                np.array([(p.x_m, p.y_m) for p in people], np.float64).reshape(-1, 2),
            )
        )
    reports = {k: score(v, truths, hall, person_match_m=0.5) for k, v in ways.items()}
    return {
        "reports": reports,
        "across": score(across, truths, hall, person_match_m=0.5).pairs,
        "found_across": sum(len(p.pairs) for p in across),
        "crossings": (dict(crossings.get("door", {})), site.crossings_until(seconds)),
        "step_ms": step_ms,
        "people": float(np.mean([len(t.ids) for t in truths])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    runs = [run(args.seconds, seed) for seed in args.seeds]
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}; {len(runs)} seeds x {args.seconds:g} s at 5 frames/s")
    print(f"people in the scene per frame: {np.mean([r['people'] for r in runs]):.1f}")
    labels = {
        "fused": "fused (one floor)",
        "camera_max": "per camera, highest per zone",
        "node_max": "per node, highest per zone",
        "node_sum": "per node, hall summed",
    }
    for way, label in labels.items():
        reports = [r["reports"][way] for r in runs]
        hall = np.mean([rep.zones["hall"].mae for rep in reports])
        bias = np.mean([rep.zones["hall"].bias for rep in reports])
        line = f"{label:32s} hall MAE {hall:.2f} (bias {bias:+.2f})"
        if way != "node_sum":
            windows = np.mean(
                [np.mean([rep.zones[w].mae for w in ("w1", "w2", "w3", "w4")]) for rep in reports]
            )
            split = np.mean([rep.zones["w2"].mae for rep in reports])
            queue = np.mean([rep.zones["q1"].mae for rep in reports])
            line += f", windows MAE {windows:.3f} (w2, split between cameras: {split:.3f})"
            line += f", q1 (between nodes) {queue:.3f}"
        print(line)
    fused = [r["reports"]["fused"] for r in runs]
    tp = sum(rep.people.tp for rep in fused)
    fp = sum(rep.people.fp for rep in fused)
    pairs = [rep.pairs for rep in fused]
    print(f"fused: people matched {tp}, with no true person within 0.5 m {fp} ({100 * fp / tp:.2f} %)")
    precision = np.mean([p.precision for p in pairs])
    recall = np.mean([p.recall for p in pairs])
    found = sum(r["found_across"] for r in runs)
    across = np.mean([r["across"].precision for r in runs])
    print(
        f"fused: close pairs precision {precision:.3f}, recall {recall:.3f}; "
        f"pairs whose two people no one camera saw together: {found} (precision {across:.3f})"
    )
    print(
        "fused: entrance crossings seen / true: "
        + "; ".join(f"{r['crossings'][0]} / {r['crossings'][1]}" for r in runs)
    )
    steps = np.concatenate([np.array(r["step_ms"])[10:] for r in runs])
    median, p99 = np.median(steps), np.percentile(steps, 99)
    print(f"fused step (fusion and the floor's rules, 4 cameras): median {median:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
