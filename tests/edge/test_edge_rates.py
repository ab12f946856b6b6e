"""Adaptive frame rates at the node: each camera sampled at what its zones need, within a budget.

From the parts (the sources' settable rate, the feed, the health's mean target, `NodeRates`) to a
real node: two cameras on real video files in real time, a real broker; one camera's window is at
its limit and the other camera sees nobody, and the node's budget goes where the crowd is.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from edge_support import Capture, Message, camera_entry, make_video, node_config
from numpy.typing import NDArray

from edge.config import ConfigError, parse_config
from edge.health import CameraStats
from edge.node import EdgeNode
from edge.rates import NodeRates, start_fps
from edge.sources import CameraFeed, VideoFileSource
from hallwatch.contract import NodeHealth, parse_payload
from vision.processor import FrameResult
from vision.state import FloorPeople, HallState

WINDOW = {"id": "w1", "kind": "window", "max_people": 2, "polygon": [[0, 0], [2, 0], [2, 2], [0, 2]]}
ADAPTIVE = {"min_fps": 1.0, "max_fps": 9.0, "hold_s": 2.0}


def _state(camera: str, t_s: float, at_window: int) -> HallState:
    n = at_window
    people = FloorPeople(
        ids=np.arange(n, dtype=np.int64),
        floor_xy=np.array([[0.3 + 0.6 * i, 1.0] for i in range(n)]).reshape(n, 2),
        image_xy=np.zeros((n, 2)),
        scores=np.ones(n, np.float32),
    )
    return HallState(camera, 0, t_s, people, {"w1": n}, (), {})


def _config(tmp_path: Path, cameras: list[dict[str, Any]], **node: Any) -> Any:
    settings = {"camera_timeout_s": 5.0, **node}
    data = node_config(
        tmp_path, site="s", node="n", port=1883, cameras=cameras, node_settings=settings, zones=[WINDOW]
    )
    return parse_config(data)


def test_a_file_source_samples_at_the_rate_it_is_set_to(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.avi", frames=60, fps=30.0)
    source = VideoFileSource(video, fps=5.0, loop=False, stop=threading.Event(), realtime=False)
    first = [source.read() for _ in range(3)]
    source.set_fps(15.0)
    after = [source.read() for _ in range(4)]
    source.close()
    times = [round(f.t_s, 3) for f in first + after if f is not None]
    # 0.2 s apart at 5 frames/s; the next sample is already due at 0.6, then 1/15 s apart.
    assert times == [0.0, 0.2, 0.4, 0.6, 0.667, 0.733, 0.8]


def test_a_feed_keeps_its_rate_for_the_source_it_has_and_the_next_one(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.avi", frames=30, fps=30.0)
    camera = parse_config(
        node_config(tmp_path, site="s", node="n", port=1883, cameras=[camera_entry("cam-1", str(video))])
    ).cameras[0]
    opened: list[VideoFileSource] = []

    def opener(camera: Any, *, stop: threading.Event, epoch_mono: float, timeout_s: float) -> Any:
        source = VideoFileSource(video, fps=camera.fps, loop=True, stop=stop, realtime=True)
        opened.append(source)
        return source

    feed = CameraFeed(camera, opener, timeout_s=5.0, retry_first_s=0.05)
    feed.set_fps(2.5)  # before it opens: the first source gets it
    feed.start()
    try:
        deadline = time.monotonic() + 10
        while not opened and time.monotonic() < deadline:
            time.sleep(0.01)
        assert opened and opened[0]._period_s == pytest.approx(0.4)
        while feed.get(timeout=5.0) is None:  # reading: the feed holds the source it opened
            pass
        feed.set_fps(10.0)  # while it reads: the open source changes
        assert opened[0]._period_s == pytest.approx(0.1)
        assert feed.fps == 10.0
    finally:
        feed.stop()


def test_health_reports_the_mean_target_over_its_period_and_the_bounds() -> None:
    stats = CameraStats("cam-1", 2.0, fps_bounds=(1.0, 9.0), now_mono=100.0)
    stats.set_target_fps(8.0, now_mono=103.0)  # 3 s at 2, then 1 s at 8
    period = stats.take_period(connected=True, frames_dropped=0, reconnects=0, now_mono=104.0)
    assert period.target_fps == pytest.approx(3.5)
    assert period.fps_bounds == (1.0, 9.0)
    later = stats.take_period(connected=True, frames_dropped=0, reconnects=0, now_mono=106.0)
    assert later.target_fps == pytest.approx(8.0)
    assert CameraStats("fixed").take_period(connected=True, frames_dropped=0, reconnects=0).target_fps is None


def test_node_rates_follow_each_camera_and_share_the_budget_by_need(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        [
            camera_entry("busy", "a.mp4", fps=5.0, adaptive_fps=ADAPTIVE),
            camera_entry("quiet", "b.mp4", fps=5.0, adaptive_fps=ADAPTIVE),
            camera_entry("fixed", "c.mp4", fps=3.0),
        ],
        fps_budget=10.0,
    )
    applied: list[tuple[str, float]] = []
    rates = NodeRates(config, apply=lambda camera, fps: applied.append((camera, fps)))
    assert [rates.target(c) for c in ("busy", "quiet", "fixed")] == [5.0, 5.0, 3.0]  # their start rates
    assert rates.bounds("busy") == (1.0, 9.0) and rates.bounds("fixed") is None
    rates.observe("quiet", _state("quiet", 0.0, 0))
    rates.observe("busy", _state("busy", 0.0, 2))  # the window at its limit: 9 wanted
    # budget 10: fixed keeps 3, quiet its minimum 1, busy the remaining 6 (of the 9 it wants)
    assert [rates.target(c) for c in ("busy", "quiet", "fixed")] == [6.0, 1.0, 3.0]
    assert ("busy", 6.0) in applied and ("quiet", 1.0) in applied
    assert not any(camera == "fixed" for camera, _ in applied)  # a fixed rate is never touched
    rates.observe("fixed", _state("fixed", 0.0, 2))
    assert rates.target("fixed") == 3.0
    # The crowd leaves; the rate holds 2 s (hold_s), then falls back.
    rates.observe("busy", _state("busy", 1.0, 0))
    assert rates.target("busy") == 6.0
    rates.observe("busy", _state("busy", 3.5, 0))
    assert rates.target("busy") == 1.0
    rates.reset(config)
    assert rates.target("busy") == 5.0


def test_rates_change_in_steps_and_an_unchanged_rate_is_not_applied_again(tmp_path: Path) -> None:
    config = _config(tmp_path, [camera_entry("cam", "a.mp4", adaptive_fps=ADAPTIVE)])
    applied: list[float] = []
    rates = NodeRates(config, apply=lambda _camera, fps: applied.append(fps))
    for t in range(5):
        rates.observe("cam", _state("cam", float(t), 1))  # one of two: 5 frames/s, as it started
    assert applied == []
    rates.observe("cam", _state("cam", 5.0, 2))
    assert applied == [9.0]


@pytest.mark.parametrize(
    ("adaptive", "timeout", "message"),
    [
        ({"min_fps": 0.2, "max_fps": 5.0}, 5.0, "fewer than 2 frames within node.camera_timeout_s"),
        ({"min_fps": 6.0, "max_fps": 5.0}, 5.0, "min_fps .6. is larger than max_fps"),
        ({"min_fps": 1.0, "max_fps": 5.0, "typo": 1}, 5.0, "unknown key"),
    ],
)
def test_adaptive_settings_that_cannot_work_fail_at_start(
    tmp_path: Path, adaptive: dict[str, Any], timeout: float, message: str
) -> None:
    data = node_config(
        tmp_path,
        site="s",
        node="n",
        port=1883,
        cameras=[camera_entry("cam", "a.mp4", adaptive_fps=adaptive)],
        node_settings={"camera_timeout_s": timeout},
    )
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_a_camera_starts_at_its_fps_within_its_bounds(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        [
            camera_entry("a", "a.mp4", fps=20.0, adaptive_fps=ADAPTIVE),
            camera_entry("b", "b.mp4", fps=0.5, adaptive_fps=ADAPTIVE),
            camera_entry("c", "c.mp4", fps=4.0),
        ],
    )
    assert [start_fps(c) for c in config.cameras] == [9.0, 1.0, 4.0]


class CrowdAtOneCamera:
    """A scripted processor: camera `busy` always has two people at window w1 (its limit), any other
    camera sees nobody. The frames are the node's real ones, read in real time."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id

    def process(self, image_bgr: NDArray[np.uint8], frame: int, t_s: float) -> FrameResult:
        return FrameResult(_state(self.camera_id, t_s, 2 if self.camera_id == "busy" else 0), None)


def test_a_node_spends_its_budget_where_the_crowd_is(
    tmp_path: Path, broker: Any, site: str, node_id: str, capture: Callable[..., Capture]
) -> None:
    videos = [make_video(tmp_path / f"{name}.avi", frames=120, fps=30.0) for name in ("busy", "quiet")]
    data = node_config(
        tmp_path,
        site=site,
        node=node_id,
        port=broker.port,
        cameras=[
            camera_entry(name, str(video), fps=5.0, loop=True, adaptive_fps={"min_fps": 1.0, "max_fps": 12.0})
            for name, video in zip(("busy", "quiet"), videos, strict=True)
        ],
        node_settings={"fps_budget": 10.0, "health_interval_s": 2.0, "camera_timeout_s": 5.0},
        zones=[WINDOW],
        fusion="camera",
    )
    node = EdgeNode(parse_config(data), lambda _config, camera: CrowdAtOneCamera(camera))
    cap = capture(broker.port, f"hallwatch/{site}/nodes/{node_id}/health")
    node.start()
    runner = threading.Thread(target=node.run, daemon=True)
    runner.start()

    def settled(messages: list[Message]) -> bool:
        healths = [json.loads(m.payload) for m in messages]
        return len(healths) >= 3  # the first period still holds the start rates

    try:
        assert cap.wait_for(settled, 30.0)
    finally:
        node.request_stop()
        runner.join(20)
    last = parse_payload(cap.snapshot()[-1].topic, cap.snapshot()[-1].payload)
    assert isinstance(last, NodeHealth)
    cameras = {c.camera: c for c in last.cameras}
    busy, quiet = cameras["busy"], cameras["quiet"]
    # The budget (10) minus the quiet camera's minimum (1): the busy camera aims at 9 of its 12.
    assert busy.target_fps == pytest.approx(9.0, abs=0.3)
    assert quiet.target_fps == pytest.approx(1.0, abs=0.3)
    assert (busy.min_fps, busy.max_fps, quiet.min_fps, quiet.max_fps) == (1.0, 12.0, 1.0, 12.0)
    # And the sources follow: frames are sampled at those rates (a 30 frames/s file in real time).
    assert busy.fps > 6.0
    assert quiet.fps < 2.0
