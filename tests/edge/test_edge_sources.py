"""Frame sources: real video files and a real HTTP MJPEG stream through OpenCV."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from edge_support import CALIBRATION, MjpegServer, make_video
from support.processes import wait_until

from edge.sources import (
    Backoff,
    CameraFeed,
    LiveSource,
    SourceError,
    VideoFileSource,
    describe_source,
    open_source,
    source_kind,
)
from vision.config import CameraConfig


def camera(source: str | int, **extra: object) -> CameraConfig:
    return CameraConfig.model_validate({"id": "cam-1", "source": source, "calibration": CALIBRATION, **extra})


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("rtsp://10.0.0.5:554/stream1", "stream"),
        ("RTSP://cam.local/live", "stream"),
        ("http://cam/mjpg", "stream"),
        ("https://cam/mjpg", "stream"),
        (0, "device"),
        ("2", "device"),
        ("/data/hall.mp4", "file"),
        ("videos/demo.avi", "file"),
    ],
)
def test_source_kind(source: str | int, kind: str) -> None:
    assert source_kind(source) == kind


def test_described_stream_hides_its_password() -> None:
    text = describe_source("rtsp://admin:hunter2@10.0.0.5:554/stream1")
    assert "hunter2" not in text and "admin" not in text
    assert text == "stream rtsp://***@10.0.0.5:554/stream1"


def test_file_is_sampled_at_the_camera_rate_and_played_in_real_time(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.avi", frames=45, fps=30.0)  # 1.5 s
    src = VideoFileSource(video, fps=5.0, loop=False, stop=threading.Event())
    start = time.monotonic()
    frames = []
    while (frame := src.read()) is not None:
        frames.append(frame)
    elapsed = time.monotonic() - start
    src.close()
    assert [f.index for f in frames] == [0, 6, 12, 18, 24, 30, 36, 42]
    assert [round(f.t_s, 3) for f in frames] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4]
    assert 1.3 <= elapsed < 2.5, f"a 1.5 s file played in {elapsed:.2f} s"
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype.name == "uint8"


def test_looped_file_keeps_time_and_index_increasing(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.avi", frames=6, fps=30.0)  # 0.2 s
    src = VideoFileSource(video, fps=30.0, loop=True, stop=threading.Event(), realtime=False)
    frames = [src.read() for _ in range(20)]
    src.close()
    assert all(f is not None for f in frames)
    ts = [f.t_s for f in frames if f is not None]
    idx = [f.index for f in frames if f is not None]
    assert idx == list(range(20))
    assert all(b > a for a, b in zip(ts, ts[1:], strict=False))
    assert ts[-1] == pytest.approx(19 / 30.0)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: d, "is a directory"),
        (lambda d: (d / "notes.mp4").write_text("not a video") and d / "notes.mp4", "OpenCV cannot read it"),
    ],
)
def test_file_that_cannot_be_opened_says_which_and_why(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    with pytest.raises(SourceError, match=message) as err:
        VideoFileSource(path, fps=5.0, loop=False, stop=threading.Event())
    assert str(path) in str(err.value)


def test_stream_is_read_and_sampled_with_capture_times() -> None:
    server = MjpegServer(fps=30.0).start()
    try:
        epoch = time.monotonic()
        src = LiveSource(server.url, fps=5.0, stop=threading.Event(), epoch_mono=epoch, timeout_s=3.0)
        frames = [src.read() for _ in range(6)]
        src.close()
    finally:
        server.stop()
    assert all(f is not None for f in frames)
    ts = [f.t_s for f in frames if f is not None]
    gaps = [b - a for a, b in zip(ts, ts[1:], strict=False)]
    assert all(0.1 < g < 0.4 for g in gaps), gaps  # about 5 per second out of 30
    assert all(f is not None and f.captured_mono - epoch == pytest.approx(f.t_s) for f in frames)


def test_unreachable_stream_fails_to_open_with_its_name() -> None:
    with pytest.raises(SourceError, match=r"cannot open stream http://127\.0\.0\.1:9/"):
        open_source(
            camera("http://127.0.0.1:9/x.mjpg"), stop=threading.Event(), epoch_mono=0.0, timeout_s=1.0
        )


def test_stream_that_hangs_fails_within_its_timeout() -> None:
    server = MjpegServer(fps=20.0).start()
    try:
        src = LiveSource(
            server.url, fps=5.0, stop=threading.Event(), epoch_mono=time.monotonic(), timeout_s=1.0
        )
        assert src.read() is not None
        server.hang.set()
        start = time.monotonic()
        with pytest.raises(SourceError, match="stopped delivering frames"):
            for _ in range(100):
                src.read()
        assert time.monotonic() - start < 4.0
        src.close()
    finally:
        server.stop()


def test_backoff_doubles_up_to_its_limit_and_resets() -> None:
    b = Backoff(0.5, 3.0)
    assert [b.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.next() == 0.5


def test_feed_reopens_a_camera_that_comes_back_and_counts_it(tmp_path: Path) -> None:
    server = MjpegServer(fps=20.0).start()
    feed = CameraFeed(
        camera(server.url, fps=10.0), open_source, timeout_s=1.0, retry_first_s=0.1, retry_max_s=0.4
    )
    feed.start()
    try:
        assert feed.get(timeout=5.0) is not None
        assert feed.status().connected
        first = feed.get(timeout=2.0)
        assert first is not None
        server.stop()
        assert wait_until(lambda: not feed.status().connected, 5.0)
        assert "127.0.0.1" in (feed.status().last_error or "")
        server = MjpegServer(port=server.port, fps=20.0).start()
        assert wait_until(lambda: feed.status().connected, 10.0)
        assert feed.status().reconnects >= 1
        again = feed.get(timeout=2.0)
        assert again is not None and again.t_s > first.t_s and again.index > first.index
    finally:
        feed.stop()
        server.stop()


def test_feed_counts_frames_replaced_before_they_were_taken(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.avi", frames=60, fps=30.0)
    feed = CameraFeed(camera(str(video), fps=30.0), open_source, timeout_s=1.0)
    feed.start()
    try:
        assert feed.get(timeout=2.0) is not None
        time.sleep(0.5)  # nobody takes frames: about 15 arrive, one slot keeps the newest
        assert feed.status().frames_dropped >= 8
        newest = feed.get(timeout=0.1)
        assert newest is not None and newest.index >= 10
    finally:
        feed.stop()


def test_feed_of_a_file_that_ends_says_so(tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.avi", frames=3, fps=30.0)
    feed = CameraFeed(camera(str(video), fps=30.0), open_source, timeout_s=1.0)
    feed.start()
    try:
        assert wait_until(lambda: feed.status().ended, 5.0)
        assert "ended" in (feed.status().last_error or "")
    finally:
        feed.stop()


class HangingSource:
    """A source whose every read blocks until the test releases it (a stream that hangs)."""

    def __init__(self, number: int) -> None:
        self.description = f"hanging source {number}"
        self.release = threading.Event()
        self.reading = threading.Event()
        self.closed = False

    def read(self) -> None:
        self.reading.set()
        self.release.wait(10.0)
        return None

    def close(self) -> None:
        self.closed = True


def test_a_reader_that_hangs_is_replaced_and_the_old_one_never_hides_the_new_one() -> None:
    opened: list[HangingSource] = []

    def opener(camera: CameraConfig, **_: object) -> HangingSource:
        opened.append(HangingSource(len(opened)))
        return opened[-1]

    feed = CameraFeed(camera("rtsp://cam/hangs"), opener, timeout_s=0.1, stuck_after_s=0.2)
    feed.start()
    try:
        assert wait_until(lambda: bool(opened) and opened[0].reading.is_set(), 2.0)
        assert not feed.check_stuck()  # blocked, but not for long yet
        assert wait_until(feed.check_stuck, 2.0)
        assert "hung while reading" in (feed.status().last_error or "")
        assert wait_until(lambda: len(opened) == 2 and opened[1].reading.is_set(), 2.0)
        # The abandoned reader's read returns now; the fresh one is still stuck and must be seen so.
        opened[0].release.set()
        assert wait_until(lambda: opened[0].closed, 2.0)
        time.sleep(0.3)
        assert feed.check_stuck()
        assert wait_until(lambda: len(opened) == 3, 2.0)
        assert not feed.status().ended  # an abandoned reader's end is not the camera's
    finally:
        for source in opened:
            source.release.set()
        feed.stop()


def test_module_examples() -> None:
    import doctest

    import edge.sources

    result = doctest.testmod(edge.sources)
    assert result.attempted > 0 and result.failed == 0
