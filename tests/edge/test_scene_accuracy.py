"""The accuracy harness on exact-geometry scenes: an oblique camera and ceiling cameras (pinhole and
fisheye) watch the same busy hall; the real tracker and pipeline run on what a good detector would
report, and `vision.accuracy` scores the replay records against the floor truth.

These scenes check geometry and code paths (placement, counting from tracks, hidden people, pairs,
the scorer); they say nothing of how a real detector sees real people.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.scene_replay import SceneRun, replay_scene, scene_camera
from hallwatch.cli import root
from vision.accuracy import score
from vision.config import HallConfig
from vision.synthetic import busy_hall

pytestmark = pytest.mark.slow


def run(kind: str, seed: int = 0, **tracking: float) -> tuple[SceneRun, HallConfig]:
    pose, size, calibration, hall = scene_camera(kind)
    if tracking:
        hall = hall.model_copy(update={"tracking": hall.tracking.model_copy(update=tracking)})
    scene = busy_hall(area=((0.5, 0.5), (11.5, 9.5)), windows=[(3, 9), (9, 9)], walkers=10, seed=seed)
    # Detector noise as measured on real footage: 1.3 % of a person's box height.
    return replay_scene(scene, hall, "cam", pose, calibration, size, noise_share=0.013, seed=seed), hall


@pytest.mark.parametrize(
    ("kind", "floor_median_m", "floor_p90_m"),
    [("oblique", 0.25, 0.32), ("ceiling pinhole", 0.03, 0.08), ("ceiling fisheye", 0.03, 0.15)],
)
def test_counts_pairs_and_positions_on_a_busy_hall(
    kind: str, floor_median_m: float, floor_p90_m: float
) -> None:
    scene, hall = run(kind)
    report = score(scene.predictions(), scene.truth, hall)

    assert report.frames == 200
    assert (
        report.mae("window") < 0.3 and report.bias("window") < 0.05
    )  # people hidden in groups: a small undercount
    assert report.window_over_limit.f1 > 0.5
    assert report.pairs.precision > 0.95
    assert report.people.recall > 0.85 and report.people.precision > 0.95
    assert report.floor_error_median_m < floor_median_m and report.floor_error_p90_m < floor_p90_m


@pytest.mark.parametrize("kind", ["oblique", "ceiling fisheye"])
def test_counting_hidden_people_on_shrinks_the_undercount(kind: str) -> None:
    held, hall = run(kind, hidden_hold_s=2.0)
    dropped, _ = run(kind, hidden_hold_s=0.0)
    with_hold = score(held.predictions(), held.truth, hall)
    without = score(dropped.predictions(), dropped.truth, hall)
    assert with_hold.bias("hall") > without.bias("hall")  # fewer people lost behind others
    assert with_hold.mae("hall") < without.mae("hall")


def test_the_eval_command_scores_replay_output(tmp_path: Path) -> None:
    scene, hall = run("ceiling pinhole", seed=1)
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in scene.records))
    truth = tmp_path / "truth.csv"  # MOT-style: 1-based frames, world x, y in columns 8 and 9
    truth.write_text(
        "".join(
            f"{f.frame + 1},{pid},0,0,10,10,1,{x:.4f},{y:.4f},0\n"
            for f in scene.truth
            for pid, (x, y) in zip(f.ids.tolist(), f.floor_xy.tolist(), strict=True)
        )
    )
    config = tmp_path / "hall.yaml"
    config.write_text(json.dumps(hall.model_dump(mode="json")))
    out = tmp_path / "report.json"

    result = CliRunner().invoke(
        root, ["eval", str(results), "--truth", str(truth), "-c", str(config), "--json", str(out)]
    )

    assert result.exit_code == 0, result.output
    assert "| window count |" in result.output and "floor error: median" in result.output
    written = json.loads(out.read_text())
    expected = score(scene.predictions(), scene.truth, hall).as_dict()
    assert written["window_count"] == expected["window_count"]
    assert written["close_pairs"] == expected["close_pairs"]
    assert written["floor_error_m"]["median"] == pytest.approx(expected["floor_error_m"]["median"], abs=1e-3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1,2,3\n", "truth.csv:1: expected frame,id,x,y"),
        ("0,1,nan,2\n", "must be finite"),
        ("0,1,x,2\n", "truth.csv:1"),
    ],
)
def test_the_eval_command_names_a_bad_truth_line(tmp_path: Path, content: str, message: str) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_text(content)
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps({"frame": 0, "people": [], "zones": {}, "violations": []}) + "\n")
    config = tmp_path / "hall.yaml"
    _, _, _, hall = scene_camera("oblique")
    config.write_text(json.dumps(hall.model_dump(mode="json")))
    result = CliRunner().invoke(root, ["eval", str(results), "--truth", str(truth), "-c", str(config)])
    assert result.exit_code != 0 and message in result.output


def test_a_missing_frame_counts_as_nothing_reported() -> None:
    scene, hall = run("ceiling pinhole", seed=2)
    full = score(scene.predictions(), scene.truth, hall)
    gaps = score([p for p in scene.predictions() if p.frame % 2], scene.truth, hall)
    assert gaps.people.recall < full.people.recall - 0.3
    assert np.isfinite(gaps.mae("hall")) and gaps.mae("hall") > full.mae("hall")
