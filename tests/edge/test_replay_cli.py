"""`hallwatch replay` as an operator runs it: real process, real files, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from edge import replay as replay_module
from edge import scene

# The real detector over real footage, in a subprocess per test.
pytestmark = pytest.mark.slow

HALLWATCH = [sys.executable, "-m", "hallwatch.cli"]
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def run(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HALLWATCH, "replay", *map(str, args), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def hall_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "hall.yaml"
    path.write_text(yaml.safe_dump(scene.hall_config("unused", imgsz=640, backend="openvino")))
    return path


@pytest.fixture(scope="module")
def small_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "walk.avi"
    scene.write_video(scene.standing([(2.0, 4.0), (2.7, 4.0), (7.5, 7.0)], seconds=1.6), path)
    return path


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_replay_writes_one_record_per_frame_and_a_summary(
    tmp_path: Path, hall_yaml: Path, small_video: Path
) -> None:
    out, annotated, summary = tmp_path / "out.jsonl", tmp_path / "annotated.mp4", tmp_path / "summary.json"
    result = run(small_video, "-c", hall_yaml, "-o", out, "--annotated", annotated, "--summary-json", summary)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(8))
    for record in records:
        assert set(record) >= {"frame", "camera", "people", "zones", "violations", "crossings"}
        assert record["camera"] == "cam-1"
        for person in record["people"]:
            assert set(person) >= {"id", "floor", "conf"} and len(person["floor"]) == 2
    assert len(records[-1]["people"]) == 3
    assert len(records[-1]["violations"]) == 1
    assert "camera cam-1: 8 frames (1.6 s of video)" in result.stderr
    assert json.loads(summary.read_text())["people_seen"] == 3
    cap = cv2.VideoCapture(str(annotated))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 8
    ok, frame = cap.read()
    assert ok and frame.shape == (720, 1280, 3)


def test_a_corrupt_frame_is_skipped_and_counted(tmp_path: Path, hall_yaml: Path) -> None:
    video = tmp_path / "corrupt.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 5, (320, 240))
    for i in range(10):
        writer.write(np.full((240, 320, 3), 20 * i, np.uint8))
    writer.release()
    data = bytearray(video.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    data[starts[4] : starts[4] + 200] = bytes(200)  # wipe the fifth frame's JPEG header
    video.write_bytes(bytes(data))
    out = tmp_path / "out.jsonl"
    result = run(video, "-c", hall_yaml, "-o", out)
    assert result.returncode == 0, result.stderr
    frames = [json.loads(line)["frame"] for line in out.read_text().splitlines()]
    assert frames == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert "frames that failed to decode and were skipped: 1" in result.stderr


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("site: [unclosed", ["not valid YAML at line 1"]),
        ("- just\n- a list\n", ["expected a mapping"]),
        ("site: x\ncameras: []\n", ["cameras: List should have at least 1 item"]),
        ("site: x\nsurprise: 1\ncameras: []\n", ["surprise: unknown key"]),
    ],
    ids=["malformed YAML", "not a mapping", "no cameras", "unknown key"],
)
def test_a_broken_config_is_named(
    tmp_path: Path, small_video: Path, content: str, fragments: list[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    assert_user_error(run(small_video, "-c", config, "-o", tmp_path / "o.jsonl"), *fragments)


def test_an_unknown_key_deep_in_the_config_is_named_by_its_path(tmp_path: Path, small_video: Path) -> None:
    data = scene.hall_config(str(small_video))
    data["zones"][1]["max_peple"] = 3
    config = tmp_path / "typo.yaml"
    config.write_text(yaml.safe_dump(data))
    assert_user_error(
        run(small_video, "-c", config, "-o", tmp_path / "o.jsonl"), "zones[1].max_peple: unknown key"
    )


def test_a_degenerate_calibration_names_the_points(tmp_path: Path, small_video: Path) -> None:
    data = scene.hall_config(str(small_video))
    data["cameras"][0]["calibration"] = {
        "image_points": [[0, 0], [100, 0], [200, 0], [300, 0]],
        "floor_points": [[0, 0], [1, 0], [2, 1], [3, 5]],
    }
    config = tmp_path / "flat.yaml"
    config.write_text(yaml.safe_dump(data))
    assert_user_error(
        run(small_video, "-c", config, "-o", tmp_path / "o.jsonl"),
        "cameras[cam-1].calibration: all image points (0, 1, 2 and 3) lie on one line",
    )


def test_an_inference_size_the_detector_cannot_use_is_refused(
    tmp_path: Path, hall_yaml: Path, small_video: Path
) -> None:
    result = run(small_video, "-c", hall_yaml, "-o", tmp_path / "o.jsonl", "--imgsz", "1000")
    assert_user_error(result, "Invalid value for --imgsz: Input should be a multiple of 32")


def test_an_annotated_video_that_cannot_be_written_is_named(
    tmp_path: Path, hall_yaml: Path, small_video: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run(small_video, "-c", hall_yaml, "-o", tmp_path / "o.jsonl", "--annotated", blocker / "a.mp4")
    assert_user_error(result, "Invalid value for --annotated", "cannot create the folder")


def test_a_decoder_that_fails_part_way_is_an_error_not_a_short_replay(
    monkeypatch: pytest.MonkeyPatch, small_video: Path
) -> None:
    class FailingCapture:
        """Three good frames, then the decoder raises (as OpenCV can on a damaged stream)."""

        def __init__(self, path: str) -> None:
            self.reads = 0

        def read(self) -> tuple[bool, np.ndarray]:
            self.reads += 1
            if self.reads > 3:
                raise cv2.error("decoder crashed")
            return True, np.zeros((4, 4, 3), np.uint8)

        def release(self) -> None:
            pass

    monkeypatch.setattr(replay_module.cv2, "VideoCapture", FailingCapture)
    info = replay_module.VideoInfo(small_video, fps=5.0, frame_count=8, width=4, height=4)
    seen = []
    with pytest.raises(replay_module.VideoError, match="decoding failed after frame 2 .*decoder crashed"):
        for frame in replay_module.read_frames(info):
            seen.append(frame.index)
    assert seen == [0, 1, 2]


def test_a_missing_video_is_named(tmp_path: Path, hall_yaml: Path) -> None:
    assert_user_error(run(tmp_path / "nope.mp4", "-c", hall_yaml, "-o", tmp_path / "o.jsonl"), "no such file")


def test_a_file_that_is_not_a_video_is_refused(tmp_path: Path, hall_yaml: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are not frames")
    assert_user_error(run(fake, "-c", hall_yaml, "-o", tmp_path / "o.jsonl"), "cannot decode")


def test_a_folder_given_as_the_video_is_refused(tmp_path: Path, hall_yaml: Path) -> None:
    assert_user_error(run(tmp_path, "-c", hall_yaml, "-o", tmp_path / "o.jsonl"), "not a file")


def test_an_unknown_camera_is_refused(tmp_path: Path, hall_yaml: Path, small_video: Path) -> None:
    assert_user_error(
        run(small_video, "-c", hall_yaml, "-o", tmp_path / "o.jsonl", "--camera", "cam-9"), "cam-9", "cam-1"
    )


@pytest.mark.skipif(not VTEST.is_file(), reason="Debian's opencv-doc (vtest.avi) is not installed")
def test_replays_debians_vtest_footage(tmp_path: Path) -> None:
    config = Path(__file__).resolve().parents[2] / "edge" / "demo" / "vtest-hall.yaml"
    out = tmp_path / "vtest.jsonl"
    result = run(VTEST, "-c", config, "-o", out, "--max-frames", "60")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 60
    # People walk through this footage the whole time; the tracker keeps most ids across frames.
    seen = [len(r["people"]) for r in records[5:]]
    assert min(seen) >= 2 and max(seen) <= 12
    ids = [{p["id"] for p in r["people"]} for r in records[5:]]
    kept = sum(len(a & b) / max(len(a), 1) for a, b in zip(ids, ids[1:], strict=False)) / (len(ids) - 1)
    assert kept > 0.8


def test_two_cameras_replay_onto_one_floor(tmp_path: Path, small_video: Path) -> None:
    config = scene.hall_config("unused", imgsz=640, backend="openvino")
    config["cameras"].append({**config["cameras"][0], "id": "cam-2"})  # a second camera, same view
    site_yaml = tmp_path / "site.yaml"
    site_yaml.write_text(yaml.safe_dump(config))
    out = tmp_path / "fused.jsonl"
    result = run(f"cam-1={small_video}", f"cam-2={small_video}", "-c", site_yaml, "-o", out)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 8 and all(r["camera"] == "fused" for r in records)
    last = records[-1]
    assert len(last["people"]) == 3  # each seen by both cameras, once
    assert all(p["cameras"] == ["cam-1", "cam-2"] for p in last["people"])
    assert set(last) >= {"frame", "people", "zones", "violations", "crossings"}
    assert "camera fused: 8 frames" in result.stderr


def test_two_cameras_replay_names_bad_arguments(tmp_path: Path, small_video: Path, hall_yaml: Path) -> None:
    out = tmp_path / "fused.jsonl"
    assert_user_error(run(f"cam-9={small_video}", "-c", hall_yaml, "-o", out), "'cam-9' is not a camera")
    assert_user_error(
        run(f"cam-1={small_video}", str(small_video), "-c", hall_yaml, "-o", out), "expected CAM_ID=VIDEO"
    )
    assert_user_error(
        run(f"cam-1={small_video}", f"cam-1={small_video}", "-c", hall_yaml, "-o", out), "given twice"
    )
