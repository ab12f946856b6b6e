"""The accuracy harness on exact-geometry scenes, hallwatch against the plain recipe, in one run.

A busy hall (people walking, queueing, standing at two windows in twos and threes, waiting in
groups closer than a metre) is watched by an oblique camera and by ceiling cameras (pinhole and
fisheye); what a good detector would report (boxes and keypoints, noise of 1.3 % of a box's height
as measured on real footage, people mostly hidden behind nearer people left out) goes through:

- hallwatch: ByteTrack, placement, counting from tracks, spacing (`hallwatch replay`'s records);
- the plain recipe: each frame alone, the box's bottom centre through the same homography, point
  in polygon, every pair under 1 m, no tracking.

These scenes test geometry and code paths. They cannot tell how a detector or an anchor behaves on
real people; the README keeps their figures apart from real-footage ones.

    .venv/bin/python benchmarks/scene_accuracy.py [--seeds 4]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from edge.scene_replay import replay_scene, scene_camera
from vision.accuracy import AccuracyReport, FramePrediction, score
from vision.spacing import close_pairs
from vision.synthetic import busy_hall, detect
from vision.zones import points_in_polygon

CAMERAS = ("oblique", "ceiling pinhole", "ceiling fisheye")


def plain_recipe(kind: str, seed: int) -> tuple[list[FramePrediction], AccuracyReport]:
    pose, size, calibration, hall = scene_camera(kind)
    scene = busy_hall(area=((0.5, 0.5), (11.5, 9.5)), windows=[(3, 9), (9, 9)], walkers=10, seed=seed)
    predictions = []
    for frame, _, people in scene.frames():
        detections, _ = detect(pose, people, size, noise_share=0.013, seed=seed * 100_003 + frame)
        boxes = detections.boxes_xyxy
        xy = calibration.floor_from_image(np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]]))
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        ids = np.arange(len(xy))
        zones = {
            z.id: int(points_in_polygon(xy, z.polygon).sum()) for z in hall.zones if hasattr(z, "polygon")
        }
        pairs = tuple((v.a, v.b) for v in close_pairs(ids, xy, hall.spacing.min_distance_m))
        predictions.append(FramePrediction(frame, ids, xy, zones, pairs))
    truth = replay_scene(scene, hall, "cam", pose, calibration, size, noise_share=0.013, seed=seed).truth
    return predictions, score(predictions, truth, hall)


def row(name: str, reports: list[AccuracyReport]) -> str:
    def mean(metric: Callable[[AccuracyReport], float]) -> float:
        return float(np.nanmean([metric(r) for r in reports]))

    window = f"{mean(lambda r: r.mae('window')):.3f} ({mean(lambda r: r.bias('window')):+.3f})"
    hall = f"{mean(lambda r: r.mae('hall')):.3f} ({mean(lambda r: r.bias('hall')):+.3f})"
    pairs = f"{mean(lambda r: r.pairs.precision):.2f} / {mean(lambda r: r.pairs.recall):.2f}"
    floor = f"{mean(lambda r: r.floor_error_median_m):.3f} / {mean(lambda r: r.floor_error_p90_m):.3f}"
    return (
        f"| {name} | {window} | {hall} | {mean(lambda r: r.window_over_limit.f1):.2f} | {pairs} | {floor} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    columns = [
        "window MAE (bias)",
        "hall MAE (bias)",
        "over-limit F1",
        "pairs P / R",
        "floor error median / p90 m",
    ]
    print("| camera, method | " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|")
    for kind in CAMERAS:
        ours, plain = [], []
        for seed in range(args.seeds):
            pose, size, calibration, hall = scene_camera(kind)
            scene = busy_hall(area=((0.5, 0.5), (11.5, 9.5)), windows=[(3, 9), (9, 9)], walkers=10, seed=seed)
            run = replay_scene(scene, hall, "cam", pose, calibration, size, noise_share=0.013, seed=seed)
            ours.append(score(run.predictions(), run.truth, hall))
            plain.append(plain_recipe(kind, seed)[1])
        print(row(f"{kind}, hallwatch", ours))
        print(row(f"{kind}, plain recipe", plain))


if __name__ == "__main__":
    main()
