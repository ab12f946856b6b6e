"""`hallwatch eval RESULTS.jsonl --truth TRUTH --config hall.yaml`: score a replay against floor truth."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np

from edge.config import ConfigError, load_config
from vision.accuracy import AccuracyReport, FramePrediction, FrameTruth, score


class TruthError(ValueError):
    """A truth or results file that cannot be read; the text names the file and the line."""


@click.command("eval")
@click.argument("results", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--truth",
    "truth_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help='Floor truth: JSON lines ({"frame": i, "people": [[id, x, y], ...]}) or CSV '
    "(frame,id,x,y; or MOT-style frame,id,left,top,w,h,conf,x,y[,z] with world x, y in metres).",
)
@click.option(
    "-c", "--config", "config_path", required=True, type=click.Path(path_type=Path), help="The hall YAML."
)
@click.option(
    "--first-frame",
    type=int,
    default=None,
    help="Truth frame number of the video's first frame (default: 1 for MOT-style CSV, else 0).",
)
@click.option(
    "--pair-match-m",
    type=click.FloatRange(0.01, 5.0),
    default=0.5,
    show_default=True,
    help="A close pair matches a true one when both ends are this close to its ends.",
)
@click.option(
    "--person-match-m",
    type=click.FloatRange(0.01, 5.0),
    default=1.0,
    show_default=True,
    help="Farthest a person may be from the truth and still be matched to it.",
)
@click.option("--seen-only", is_flag=True, help="Leave out people reported as hidden (predicted positions).")
@click.option(
    "--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), help="Also write the report here."
)
def cli(
    results: Path,
    truth_path: Path,
    config_path: Path,
    first_frame: int | None,
    pair_match_m: float,
    person_match_m: float,
    seen_only: bool,
    json_path: Path | None,
) -> None:
    """Score RESULTS (the JSON lines of `hallwatch replay`) against floor truth.

    Reports per-zone count error (MAE and bias), windows over their limit (precision, recall, F1 over
    frames x windows), close pairs (a pair matches when both ends lie within --pair-match-m of a
    true pair's), and floor position error of the people matched one to one.
    """
    try:
        hall = load_config(config_path)
        truth = list(read_truth(truth_path, first_frame))
        predictions = list(read_results(results, include_hidden=not seen_only))
    except (ConfigError, TruthError) as exc:
        raise click.ClickException(str(exc)) from None
    report = score(predictions, truth, hall, pair_match_m=pair_match_m, person_match_m=person_match_m)
    click.echo(format_report(report))
    if json_path is not None:
        try:
            json_path.write_text(json.dumps(report.as_dict(), indent=2))
        except OSError as exc:
            raise click.ClickException(f"{json_path}: cannot write there ({exc.strerror})") from None


def read_results(path: Path, *, include_hidden: bool = True) -> Iterator[FramePrediction]:
    """The frames of a replay's JSON lines.

    Raises:
        TruthError: the file cannot be read, or a line is not a replay record.
    """
    for number, line in _lines(path):
        try:
            yield FramePrediction.from_record(json.loads(line), include_hidden=include_hidden)
        except (ValueError, KeyError, TypeError) as exc:
            raise TruthError(f"{path}:{number}: not a replay record ({exc})") from None


def read_truth(path: Path, first_frame: int | None = None) -> Iterator[FrameTruth]:
    """Per frame, who stands where, from JSON lines or CSV (see the command's help).

    Raises:
        TruthError: the file cannot be read, or a line cannot be understood; the text says which.
    """
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        offset = first_frame or 0
        for number, line in _lines(path):
            try:
                record = json.loads(line)
                people = [_person(p) for p in record["people"]]
                frame = int(record["frame"]) - offset
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise TruthError(
                    f'{path}:{number}: expected {{"frame": i, "people": [[id, x, y], ...]}} ({exc})'
                ) from None
            yield _frame(frame, people, path, number)
        return
    rows: dict[int, list[tuple[int, float, float]]] = {}
    mot = False
    for number, line in _lines(path):
        try:
            (row,) = csv.reader([line])
            values = [float(v) for v in row if v.strip() != ""]
            if len(values) >= 9:
                mot = True
                frame, pid, x, y = int(values[0]), int(values[1]), values[7], values[8]
            elif len(values) == 4:
                frame, pid, x, y = int(values[0]), int(values[1]), values[2], values[3]
            else:
                raise ValueError(f"{len(values)} columns")
        except ValueError as exc:
            raise TruthError(f"{path}:{number}: expected frame,id,x,y or a MOT-style row ({exc})") from None
        rows.setdefault(frame, []).append((pid, x, y))
    offset = first_frame if first_frame is not None else (1 if mot else 0)
    for frame in sorted(rows):
        yield _frame(frame - offset, rows[frame], path, frame)


def _person(item: Any) -> tuple[int, float, float]:
    if isinstance(item, dict):
        return int(item["id"]), float(item["floor"][0]), float(item["floor"][1])
    pid, x, y = item
    return int(pid), float(x), float(y)


def _frame(frame: int, people: list[tuple[int, float, float]], path: Path, where: int) -> FrameTruth:
    xy = np.array([(x, y) for _, x, y in people], np.float64).reshape(-1, 2)
    if not np.all(np.isfinite(xy)):
        raise TruthError(f"{path}:{where}: floor positions must be finite numbers")
    return FrameTruth(frame, np.array([p for p, _, _ in people], np.int64), xy)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip() and not line.lstrip().startswith("#"):
                    yield number, line
    except FileNotFoundError:
        raise TruthError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TruthError(f"{path}: cannot read it ({exc})") from None


def format_report(report: AccuracyReport) -> str:
    """The report as a short table for people."""

    def num(value: float) -> str:
        return "-" if not math.isfinite(value) else f"{value:.3f}"

    lines = [f"{report.frames} frames scored", "", "| what | MAE | bias |", "|---|---|---|"]
    for kind in ("window", "queue", "hall"):
        if math.isfinite(report.mae(kind)):
            lines.append(f"| {kind} count | {num(report.mae(kind))} | {num(report.bias(kind)):>6} |")
    lines += ["", "| what | precision | recall | F1 |", "|---|---|---|---|"]
    for name, rates in (
        ("window over limit", report.window_over_limit),
        ("close pairs", report.pairs),
        ("people", report.people),
    ):
        lines.append(f"| {name} | {num(rates.precision)} | {num(rates.recall)} | {num(rates.f1)} |")
    lines += [
        "",
        f"floor error: median {num(report.floor_error_median_m)} m, 90th percentile "
        f"{num(report.floor_error_p90_m)} m ({len(report.floor_error_m)} people matched)",
    ]
    return "\n".join(lines)
