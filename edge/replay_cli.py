"""`hallwatch replay VIDEO --config hall.yaml --out results.jsonl [--annotated annotated.mp4]`, or
`hallwatch replay CAM_ID=VIDEO [CAM_ID=VIDEO ...] --config site.yaml --out fused.jsonl` for several
cameras onto one floor."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

import click
from pydantic import ValidationError
from tqdm import tqdm

from edge.annotate import AnnotatedVideo, Annotator
from edge.config import ConfigError, NodeConfig, load_config
from edge.replay import ReplaySummary, VideoError, VideoFrame, probe_video, read_frames, replay
from edge.site_replay import replay_site
from models.catalog import ModelError
from models.loader import load_detector
from vision.calibration import CalibrationError, calibration_from_config
from vision.calibration_report import report_calibration
from vision.config import DetectorConfig, HallZone
from vision.detections import Detections
from vision.pipeline import HallPipeline
from vision.processor import CameraProcessor, FrameResult
from vision.site_pipeline import SitePipeline
from vision.smoothing import zone_limits


@click.command("replay")
@click.argument("videos", nargs=-1, required=True)
@click.option(
    "-c", "--config", "config_path", required=True, type=click.Path(path_type=Path), help="Hall YAML."
)
@click.option(
    "-o",
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON lines, one object per frame ('-' for standard output).",
)
@click.option(
    "--annotated",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a video with boxes, ids, zones and violating pairs drawn.",
)
@click.option("--camera", help="Which camera of the config filmed the video (default: the first).")
@click.option("--imgsz", type=click.IntRange(160, 2048), help="Override the detector's inference size.")
@click.option(
    "--backend",
    type=click.Choice(["auto", "openvino", "openvino-int8", "pytorch"]),
    help="Override the backend.",
)
@click.option("--max-frames", type=click.IntRange(min=1), help="Stop after this many frames.")
@click.option(
    "--summary-json", type=click.Path(path_type=Path, dir_okay=False), help="Write the summary here."
)
@click.option("--no-progress", is_flag=True, help="No progress bar (for logs).")
def cli(
    videos: tuple[str, ...],
    config_path: Path,
    out_path: Path,
    annotated: Path | None,
    camera: str | None,
    imgsz: int | None,
    backend: str | None,
    max_frames: int | None,
    summary_json: Path | None,
    no_progress: bool,
) -> None:
    """Run the vision pipeline over a recorded VIDEO and write what it saw, frame by frame.

    Each output line holds the frame's people (track id, floor position in metres, confidence), the
    count per zone, pairs closer than the minimum distance, and entrance crossings so far. A summary
    follows on standard error.

    With several CAM_ID=VIDEO arguments (one per camera of the config, recorded together), the videos
    are replayed in lock step by frame time and fused onto one floor: one line per step, `camera`
    "fused", and per person the cameras that saw them.
    """
    if any("=" in v for v in videos):
        _replay_site(videos, config_path, out_path, imgsz, backend, max_frames, summary_json, no_progress)
        return
    if len(videos) != 1:
        raise click.BadParameter("give one VIDEO, or CAM_ID=VIDEO for each camera", param_hint="VIDEOS")
    video = Path(videos[0])
    try:
        config = load_config(config_path)
        camera_id = camera or config.cameras[0].id
        cam = config.camera(camera_id)
        info = probe_video(video)
    except (ConfigError, VideoError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--camera") from None

    detector_config = _detector_config(cam.detector, imgsz=imgsz, backend=backend)
    size = imgsz or cam.effective_imgsz
    processor, annotator = _build(config, camera_id, detector_config, size, (info.width, info.height))
    calibration = report_calibration(
        processor.pipeline.calibration,
        hall_polygon=_hall_polygon(config, camera_id),
        image_size=(info.width, info.height),
        mounting_height_m=cam.calibration.mounting_height_m,
    )

    with ExitStack() as stack:
        out: TextIO = sys.stdout if str(out_path) == "-" else stack.enter_context(_open_out(out_path))
        writer: AnnotatedVideo | None = None
        if annotated is not None:
            try:
                writer = AnnotatedVideo(annotated, info.fps, (info.width, info.height))
            except OSError as exc:
                raise click.BadParameter(str(exc), param_hint="--annotated") from None
            stack.callback(writer.close)
        known = [n for n in (info.frame_count, max_frames) if n]
        bar = stack.enter_context(
            tqdm(
                total=min(known) if known else None,
                unit="frame",
                desc=video.name,
                disable=no_progress,
                file=sys.stderr,
                leave=False,
            )
        )

        def on_frame(item: VideoFrame, result: FrameResult) -> None:
            bar.update(1)
            if writer is not None:
                tracked = result.tracked if result.tracked is not None else Detections.empty()
                writer.write(annotator.draw(item.image, result.state, tracked))

        try:
            summary = replay(
                info,
                processor,
                out,
                ReplaySummary.for_hall(config, camera_id, calibration),
                max_frames=max_frames,
                on_frame=on_frame,
            )
        except VideoError as exc:
            raise click.ClickException(str(exc)) from None

    _print_summary(summary, size, processor.detector.backend)
    _write_summary(summary, summary_json)


def _replay_site(
    videos: tuple[str, ...],
    config_path: Path,
    out_path: Path,
    imgsz: int | None,
    backend: str | None,
    max_frames: int | None,
    summary_json: Path | None,
    no_progress: bool,
) -> None:
    """Several cameras' videos onto one floor (see `edge.site_replay`)."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    pairs: dict[str, Path] = {}
    known = [c.id for c in config.cameras]
    for argument in videos:
        camera, sep, path = argument.partition("=")
        if not sep or not camera or not path:
            raise click.BadParameter(f"{argument!r}: expected CAM_ID=VIDEO", param_hint="VIDEOS")
        if camera not in known:
            raise click.BadParameter(
                f"{camera!r} is not a camera of {config_path}: {known}", param_hint="VIDEOS"
            )
        if camera in pairs:
            raise click.BadParameter(f"camera {camera!r} is given twice", param_hint="VIDEOS")
        pairs[camera] = Path(path)
    try:
        infos = {camera: probe_video(path) for camera, path in pairs.items()}
    except VideoError as exc:
        raise click.ClickException(str(exc)) from None
    first = config.camera(next(iter(pairs)))
    size = imgsz or first.effective_imgsz
    try:
        site = SitePipeline(
            config.model_copy(update={"cameras": [config.camera(c) for c in pairs]}),
            {camera: calibration_from_config(config.camera(camera).calibration) for camera in pairs},
        )
        for camera, info in infos.items():
            site.floors[camera].placer.check((info.width, info.height))
        detector = load_detector(_detector_config(first.detector, imgsz=imgsz, backend=backend), size)
    except CalibrationError as exc:
        raise click.ClickException(f"calibration: {exc}") from None
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None
    summary = ReplaySummary(camera="fused", limits={lim.zone: lim.limit for lim in zone_limits(config.zones)})
    with ExitStack() as stack:
        out: TextIO = sys.stdout if str(out_path) == "-" else stack.enter_context(_open_out(out_path))
        counts = [n for n in (min(i.frame_count for i in infos.values()), max_frames) if n]
        bar = stack.enter_context(
            tqdm(
                total=min(counts) if counts else None,
                unit="step",
                desc="fused",
                disable=no_progress,
                file=sys.stderr,
                leave=False,
            )
        )
        frames = {camera: read_frames(info, max_frames) for camera, info in infos.items()}
        try:
            replay_site(
                frames,
                {camera: info.fps for camera, info in infos.items()},
                site,
                detector,
                out,
                summary,
                on_step=lambda _: bar.update(1),
            )
        except VideoError as exc:
            raise click.ClickException(str(exc)) from None
    _print_summary(summary, size, detector.backend)
    _write_summary(summary, summary_json)


def _write_summary(summary: ReplaySummary, path: Path | None) -> None:
    if path is None:
        return
    try:
        path.write_text(json.dumps(summary.as_dict(), indent=2))
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot write there ({exc.strerror})") from None


def _detector_config(base: DetectorConfig, *, imgsz: int | None, backend: str | None) -> DetectorConfig:
    """The camera's detector settings with the command line's overrides, validated like the file."""
    overrides = {k: v for k, v in {"imgsz": imgsz, "backend": backend}.items() if v is not None}
    try:
        return DetectorConfig.model_validate({**base.model_dump(), **overrides})
    except ValidationError as exc:
        (error, *_) = exc.errors()
        option = f"--{error['loc'][0]}" if error["loc"] else None
        raise click.BadParameter(error["msg"], param_hint=option) from None


def _build(
    config: NodeConfig,
    camera_id: str,
    detector_config: DetectorConfig,
    size: int,
    image_size: tuple[int, int],
) -> tuple[CameraProcessor, Annotator]:
    try:
        calibration = calibration_from_config(config.camera(camera_id).calibration)
        # A head anchor whose camera pose cannot be recovered fails here, not on the first frame.
        HallPipeline(config, camera_id, calibration).placer.check(image_size)
        detector = load_detector(detector_config, size)
    except CalibrationError as exc:
        raise click.ClickException(f"cameras[{camera_id}].calibration: {exc}") from None
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None
    processor = CameraProcessor.from_config(config, camera_id, detector, calibration)
    return processor, Annotator(config, camera_id, calibration)


def _hall_polygon(config: NodeConfig, camera_id: str) -> list[tuple[float, float]] | None:
    return next((list(z.polygon) for z in config.zones_for(camera_id) if isinstance(z, HallZone)), None)


def _open_out(path: Path) -> TextIO:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("w", encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot write there ({exc.strerror})") from None


def _print_summary(summary: ReplaySummary, imgsz: int, backend: str) -> None:
    s = summary.as_dict()

    def echo(text: str) -> None:
        click.echo(text, err=True)

    echo(
        f"camera {s['camera']}: {s['frames']} frames ({s['video_seconds']} s of video) "
        f"at {s['frames_per_second']} frames/s, {backend} imgsz {imgsz}"
    )
    if s["bad_frames"]:
        echo(f"  frames that failed to decode and were skipped: {s['bad_frames']}")
    echo(f"  people seen (track ids): {s['people_seen']}")
    for zone, peak in sorted(s["peak"].items()):
        limit = s["limits"].get(zone)
        over = s["over_limit_s"].get(zone, 0.0)
        echo(f"  {zone}: peak {peak}" + (f" (limit {limit}, over it for {over} s)" if limit else ""))
    echo(f"  spacing violations (lasting the minimum duration): {s['spacing_violations']}")
    if summary.calibration is not None:
        report = summary.calibration
        pose = (
            ""
            if report.height_m is None
            else f"; camera {report.height_m} m up, tilted {report.tilt_deg} deg"
        )
        echo(f"  calibration: {report.summary()}{pose}")
        for advice in report.advice:
            echo(f"    - {advice}")
    for line, counts in sorted(s["crossings"].items()):
        echo(f"  {line}: {counts.get('in', 0)} in, {counts.get('out', 0)} out")
