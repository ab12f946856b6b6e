"""Accuracy against known truth: synthetic halls whose every person's floor position is known.

People from bus.jpg are pasted at random floor positions of the synthetic camera (edge/scene.py)
at several densities, held still for a second, and replayed through the real pipeline (detector,
ByteTrack, homography, zones, spacing). Reported per density: floor position error (people matched
to the nearest truth within 0.5 m), people found, zone counts exactly right, and close pairs
(< 1 m) found against the truth's.

    .venv/bin/python benchmarks/synthetic_accuracy.py [--scenes 10] [--imgsz 1280]
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge import scene
from edge.config import parse_config
from edge.replay import ReplaySummary, probe_video, replay
from models.loader import load_detector
from vision.processor import CameraProcessor
from vision.spacing import close_pairs

SETTLE = 2  # frames before ByteTrack has confirmed everyone


def random_positions(rng: np.random.Generator, n: int) -> list[tuple[float, float]]:
    """n floor points inside the hall, at least 0.6 m apart (people do not stand inside each other)."""
    points: list[tuple[float, float]] = []
    while len(points) < n:
        p = (float(rng.uniform(0.8, 9.2)), float(rng.uniform(0.8, 7.6)))
        if all(np.hypot(p[0] - q[0], p[1] - q[1]) >= 0.6 for q in points):
            points.append(p)
    return points


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenes", type=int, default=10, help="scenes per density")
    parser.add_argument("--densities", type=int, nargs="+", default=[2, 5, 10, 15])
    parser.add_argument("--imgsz", type=int, default=1280)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    base = parse_config(scene.hall_config("x", imgsz=args.imgsz, backend="openvino"))
    detector = load_detector(base.cameras[0].detector, args.imgsz)
    print(f"synthetic camera 1280x720, openvino imgsz {args.imgsz}, {args.scenes} scenes per density")
    print(
        "| people | floor error mean / p95 (m) | people found | zone counts exact "
        "| close pairs: recall / precision |"
    )
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.densities:
            errors: list[float] = []
            found = expected = exact = frames = 0
            pairs_true = pairs_found = pairs_hit = 0
            for k in range(args.scenes):
                truth_xy = random_positions(rng, n)
                s = scene.standing(truth_xy, seconds=1.0)
                video = Path(tmp) / f"s{n}-{k}.mp4"
                scene.write_video(s, video)
                config = parse_config(scene.hall_config(str(video), imgsz=args.imgsz))
                out = io.StringIO()
                processor = CameraProcessor.from_config(config, "cam-1", detector)
                replay(probe_video(video), processor, out, ReplaySummary.for_hall(config, "cam-1"))
                truth_counts = scene.truth_counts(s.truth(0))
                t = np.array(truth_xy)
                ids = np.arange(n)
                true_pairs = {(v.a, v.b) for v in close_pairs(ids, t, 1.0)}
                for line in out.getvalue().splitlines()[SETTLE:]:
                    record = json.loads(line)
                    frames += 1
                    exact += record["zones"] == truth_counts
                    xy = np.array([p["floor"] for p in record["people"]]).reshape(-1, 2)
                    expected += n
                    cost = np.hypot(xy[:, None, 0] - t[None, :, 0], xy[:, None, 1] - t[None, :, 1])
                    rows, cols = linear_sum_assignment(cost) if len(xy) else ([], [])
                    match = {int(r): int(c) for r, c in zip(rows, cols, strict=True) if cost[r, c] < 0.5}
                    found += len(match)
                    errors += [float(cost[r, c]) for r, c in match.items()]
                    id_of = {p["id"]: i for i, p in enumerate(record["people"])}
                    seen_pairs = set()
                    for v in record["violations"]:
                        a, b = match.get(id_of[v["a"]]), match.get(id_of[v["b"]])
                        if a is not None and b is not None:
                            seen_pairs.add((min(a, b), max(a, b)))
                    pairs_true += len(true_pairs)
                    pairs_found += len(record["violations"])
                    pairs_hit += len(true_pairs & seen_pairs)
            err = np.array(errors) if errors else np.array([np.nan])
            recall = f"{pairs_hit / pairs_true:.0%}" if pairs_true else "–"
            precision = f"{pairs_hit / pairs_found:.0%}" if pairs_found else "–"
            print(
                f"| {n} | {err.mean():.2f} / {np.percentile(err, 95):.2f} | {found / expected:.0%} "
                f"| {exact / frames:.0%} | {recall} / {precision} ({pairs_true} true) |"
            )


if __name__ == "__main__":
    main()
