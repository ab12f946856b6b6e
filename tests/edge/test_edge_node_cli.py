"""`hallwatch edge check` and `hallwatch edge run`: what an operator sees when something is wrong."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from edge_support import CALIBRATION, Capture, camera_entry, make_video, node_config, write_yaml
from support.processes import HALLWATCH, Mosquitto, free_port, wait_until

from edge.credentials import hash_password
from hallwatch.cli import root


def check(config: Path) -> Any:
    return CliRunner().invoke(root, ["edge", "check", "--config", str(config), "--timeout", "3"])


def run_node(config: Path, *extra: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    return subprocess.run(
        [str(HALLWATCH), "edge", "run", "--config", str(config), *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_check_passes_on_a_good_node(tmp_path: Path, broker: Mosquitto, site: str, node_id: str) -> None:
    video = make_video(tmp_path / "v.avi")
    cfg = node_config(
        tmp_path, site=site, node=node_id, port=broker.port, cameras=[camera_entry("cam-1", str(video))]
    )
    result = check(write_yaml(tmp_path / "node.yaml", cfg))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"ok      camera cam-1: video file {video}: 64x48" in lines
    # Four marks fit any homography exactly: the error is unknown, and the check says so.
    assert "warning calibration cam-1: error unknown (4 points: at least 6 are needed to measure it)" in lines
    assert any(line.strip().startswith("- add floor points: 4 now, at least 6") for line in lines)
    assert (
        f"ok      broker: connected to the broker at 127.0.0.1:{broker.port} as {node_id} (MQTT 5)" in lines
    )
    assert f"ok      broker ACL: {node_id} may publish its layout" in lines
    assert lines[-1] == "all checks passed"


def test_check_says_in_plain_words_what_is_wrong(tmp_path: Path, site: str, node_id: str) -> None:
    port = free_port()
    dead_stream = f"http://127.0.0.1:{free_port()}/live"
    cams = [camera_entry("cam-1", str(tmp_path / "missing.mp4")), camera_entry("cam-2", dead_stream)]
    cfg = node_config(
        tmp_path,
        site=site,
        node=node_id,
        port=port,
        cameras=cams,
        outbox={"path": str(tmp_path / "not-a-db.sqlite")},
    )
    (tmp_path / "not-a-db.sqlite").write_text("garbage" * 1000)
    result = check(write_yaml(tmp_path / "node.yaml", cfg))
    assert result.exit_code == 1
    out = result.output
    assert f"PROBLEM camera cam-1: video file {tmp_path / 'missing.mp4'}: no such file" in out
    assert f"PROBLEM camera cam-2: cannot open stream {dead_stream}" in out
    assert "PROBLEM outbox: " in out and "cannot read it as an outbox" in out
    assert f"PROBLEM broker: nothing accepts connections at 127.0.0.1:{port} (connection refused)" in out
    assert "error: 4 problem(s) found" in out
    assert "Traceback" not in out


def test_check_reports_a_refused_login_and_a_refusing_acl(
    tmp_path: Path, make_broker: Callable[..., Mosquitto], site: str
) -> None:
    (tmp_path / "passwd").write_text(f"node-1:{hash_password('right')}\n")
    (tmp_path / "acl").write_text(f"user node-1\ntopic write hallwatch/{site}/nodes/node-1/status\n")
    b = make_broker(password_file=tmp_path / "passwd", acl_file=tmp_path / "acl")
    video = make_video(tmp_path / "v.avi")
    for password, expected in [
        ("wrong", "PROBLEM broker: the broker refused node-1's user name or password (user 'node-1'"),
        (
            "right",
            "PROBLEM broker ACL: the broker refused node-1's publish on "
            f"hallwatch/{site}/nodes/node-1/layout: Not authorized (check the broker's ACL for this user)",
        ),
    ]:
        cfg = node_config(
            tmp_path,
            site=site,
            node="node-1",
            port=b.port,
            cameras=[camera_entry("c", str(video))],
            mqtt_settings={"username": "node-1", "password": password},
        )
        result = check(write_yaml(tmp_path / "node.yaml", cfg))
        assert result.exit_code == 1
        assert expected in result.output, result.output


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c["cameras"][0].update(fps=0), "cameras[0].fps: Input should be greater than 0"),
        (lambda c: c["node"].update(idd="x"), "node.idd: unknown key (check its spelling"),
        (lambda c: c["mqtt"].update(port=70000), "mqtt.port: Input should be less than or equal to 65535"),
        (
            lambda c: c["zones"].append(
                {"id": "q", "kind": "queue", "window": "nope", "polygon": [[0, 0], [1, 0], [1, 1]]}
            ),
            "window 'nope' is not a window zone",
        ),
    ],
)
def test_malformed_config_names_the_field(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    cfg = node_config(tmp_path, site="s", node="n", port=1883, cameras=[camera_entry("cam-1", "a.mp4")])
    mutate(cfg)
    result = check(write_yaml(tmp_path / "node.yaml", cfg))
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    (tmp_path / "node.yaml").write_text("site: s\ncameras: [\n  - id: x\n")
    result = check(tmp_path / "node.yaml")
    assert result.exit_code == 2 and "not valid YAML at line" in result.output


def test_run_refuses_a_bad_config_a_degenerate_calibration_and_a_refused_login(
    tmp_path: Path, make_broker: Callable[..., Mosquitto]
) -> None:
    bad = node_config(
        tmp_path, site="s", node="n", port=1883, cameras=[camera_entry("cam-1", "a.mp4", fps=-1)]
    )
    result = run_node(write_yaml(tmp_path / "bad.yaml", bad))
    assert result.returncode == 2 and "cameras[0].fps" in result.stderr and "Traceback" not in result.stderr

    line = {**CALIBRATION, "floor_points": [[0, 0], [1, 0], [2, 0], [3, 0]]}
    flat = node_config(
        tmp_path, site="s", node="n", port=1883, cameras=[camera_entry("cam-1", "a.mp4", calibration=line)]
    )
    result = run_node(write_yaml(tmp_path / "flat.yaml", flat))
    assert result.returncode == 2 and "calibration" in result.stderr and "Traceback" not in result.stderr

    (tmp_path / "passwd").write_text(f"n:{hash_password('right')}\n")
    b = make_broker(password_file=tmp_path / "passwd")
    video = make_video(tmp_path / "v.avi")
    refused = node_config(
        tmp_path,
        site="s",
        node="n",
        port=b.port,
        cameras=[camera_entry("cam-1", str(video))],
        mqtt_settings={"username": "n", "password": "wrong"},
    )
    result = run_node(
        write_yaml(tmp_path / "refused.yaml", refused), "--processor", "scripted_processor:factory"
    )
    assert result.returncode == 3
    assert "error: the broker refused n's user name or password" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_starts_without_a_broker_and_stops_cleanly_on_sigterm(
    tmp_path: Path, capture: Callable[..., Capture]
) -> None:
    port = free_port()
    video = make_video(tmp_path / "v.avi")
    cfg = node_config(
        tmp_path,
        site="s",
        node="n",
        port=port,
        cameras=[camera_entry("cam-1", str(video), loop=True, fps=10.0)],
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.Popen(
        [
            str(HALLWATCH),
            "edge",
            "run",
            "--config",
            str(write_yaml(tmp_path / "n.yaml", cfg)),
            "--processor",
            "scripted_processor:factory",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert wait_until(lambda: (tmp_path / "n-outbox.sqlite").exists(), 10.0)
        time.sleep(1.0)
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert f"nothing accepts connections at 127.0.0.1:{port} (connection refused)" in out
    assert "the node starts anyway" in out
    assert "events stay in the outbox for the next start" in out
    assert "Traceback" not in out


def test_run_help_hides_the_test_processor_option() -> None:
    result = CliRunner().invoke(root, ["edge", "run", "--help"])
    assert result.exit_code == 0 and "--config" in result.output and "--processor" not in result.output


def test_check_names_the_mark_that_spoils_a_calibration(tmp_path: Path, site: str, node_id: str) -> None:
    video = make_video(tmp_path / "v.avi")
    # A 60 x 40 px image of a 6 x 4 m floor, marked at 8 points; point 5 clicked 8 px (0.8 m) off.
    floor = [(0, 0), (6, 0), (6, 4), (0, 4), (3, 0), (3, 4), (0, 2), (6, 2)]
    image = [(10 * x + 2, 10 * y + 4) for x, y in floor]
    image[5] = (image[5][0] + 8, image[5][1])
    cam = {**camera_entry("cam-1", str(video)), "calibration": {"image_points": image, "floor_points": floor}}
    cfg = node_config(tmp_path, site=site, node=node_id, port=free_port(), cameras=[cam])
    result = check(write_yaml(tmp_path / "node.yaml", cfg))
    lines = result.output.splitlines()
    (line,) = [line for line in lines if "calibration cam-1" in line]
    assert line.startswith("PROBLEM calibration cam-1: leave-one-out error") and "suspect: point 5" in line
    assert any("point 5 is" in line and "off a calibration of the other points" in line for line in lines)


def test_check_compares_two_cameras_on_their_shared_marks(tmp_path: Path, site: str, node_id: str) -> None:
    video = make_video(tmp_path / "v.avi")
    floor = [(0, 0), (6, 0), (6, 4), (0, 4), (3, 2), (1, 3)]
    agree = [(10 * x + 2, 10 * y + 4) for x, y in floor]
    apart = [(10 * x + 2, 10 * y + 4) for x, y in floor]
    apart[4] = (apart[4][0] + 3, apart[4][1])  # cam-2 clicked the middle mark 3 px (0.3 m) off
    cams = [
        {**camera_entry("cam-1", str(video)), "calibration": {"image_points": agree, "floor_points": floor}},
        {**camera_entry("cam-2", str(video)), "calibration": {"image_points": apart, "floor_points": floor}},
    ]
    cfg = node_config(tmp_path, site=site, node=node_id, port=free_port(), cameras=cams)
    lines = check(write_yaml(tmp_path / "node.yaml", cfg)).output.splitlines()
    (line,) = [line for line in lines if line.split()[1:2] == ["calibrations:"]]
    assert line.startswith("PROBLEM calibrations: cam-1 and cam-2 agree within")
    assert "on 6 shared mark(s)" in line
