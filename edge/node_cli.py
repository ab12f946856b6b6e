"""`hallwatch edge`: run an edge node, check its set-up, generate broker credentials.

    hallwatch edge run --config node.yaml
    hallwatch edge check --config node.yaml
    hallwatch edge credentials --config node-a.yaml --config node-b.yaml --out /etc/mosquitto/hallwatch
    hallwatch edge credentials --broker nats --config node-a.yaml ... --out ./nats-creds

Exit codes: 0 fine; 1 a check failed or the node failed; 2 a configuration mistake (the message
names the field); 3 the broker refused the node's login.

`run --processor MODULE:FACTORY` (hidden from help) replaces the detector pipeline with another
`ProcessorFactory`; the tests use it to run a real node process around a scripted processor.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import NoReturn

import click

from edge.config import ConfigError, NodeConfig, load_config
from edge.credentials import (
    CredentialsError,
    NodeAccess,
    acl_text,
    bcrypt_hash,
    check_nats_names,
    check_nodes,
    hash_password,
    nats_users_text,
    new_password,
    password_file_text,
    read_password_file,
)
from edge.node import EXIT_CONFIG, EXIT_FAILURE, EXIT_REFUSED, EdgeNode
from edge.outbox import OutboxError
from edge.processors import ProcessorError, load_processor_factory
from edge.sources import quiet_opencv

log = logging.getLogger(__name__)

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The node's YAML file.",
)


def fail(message: str, exit_code: int = EXIT_FAILURE) -> NoReturn:
    """A mistake the operator can fix: one message on stderr, no traceback, a non-zero exit."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(exit_code)


def _load(path: Path) -> NodeConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)


@click.group(name="edge")
def cli() -> None:
    """Run or check an edge node; generate broker credentials."""


# ------------------------------------------------------------------------------------------ run
@cli.command()
@CONFIG_OPTION
@click.option("--processor", hidden=True, help="MODULE:FACTORY to use instead of the detector (tests).")
def run(config_path: Path, processor: str | None) -> None:
    """Run the node: read the cameras, publish over MQTT, until Ctrl-C or SIGTERM."""
    from edge.layout import node_layout
    from edge.processors import PipelineProcessors
    from edge.publisher import probe_broker

    config = _load(config_path)
    quiet_opencv()
    try:
        node_layout(config, seq=0, ts=_now())  # every calibration must hold before anything starts
        factory = load_processor_factory(processor) if processor else PipelineProcessors()
        probe = probe_broker(config.mqtt, config.node.id, client_id=f"{config.node.id}-probe", timeout_s=5.0)
    except (ConfigError, ProcessorError) as exc:
        fail(str(exc), EXIT_CONFIG)
    except ValueError as exc:  # vision.calibration.CalibrationError
        fail(f"calibration: {exc}", EXIT_CONFIG)
    if probe.refused:
        fail(probe.message, EXIT_REFUSED)
    if not probe.ok:
        log.warning(
            "%s; the node starts anyway and keeps its events in the outbox until it connects", probe.message
        )
    node = EdgeNode(config, factory, config_path=config_path)
    try:
        node.start()
    except OutboxError as exc:
        fail(str(exc))
    except (ConfigError, ProcessorError) as exc:
        fail(str(exc), EXIT_CONFIG)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        node.request_stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = node.run()
    if code == EXIT_REFUSED:
        fail("the broker refused the node's login; see the message above", EXIT_REFUSED)
    sys.exit(code)


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------- check


@cli.command()
@CONFIG_OPTION
@click.option(
    "--timeout", "timeout_s", default=10.0, show_default=True, help="Seconds per camera and broker."
)
def check(config_path: Path, timeout_s: float) -> None:
    """Check a node's set-up: config, calibrations, cameras, outbox, broker login and ACL."""
    from edge.layout import node_layout
    from edge.publisher import probe_broker
    from hallwatch.contract import node_topic

    config = _load(config_path)
    quiet_opencv()
    problems = 0

    def report(what: str, ok: bool, message: str, *, warn: bool = False) -> None:
        nonlocal problems
        problems += 0 if ok else 1
        mark = "PROBLEM" if not ok else "warning" if warn else "ok     "
        click.echo(f"{mark} {what}: {message}")

    report(
        "config",
        True,
        f"{config_path}: node {config.node.id} of site {config.site}, "
        f"{len(config.cameras)} camera(s), {len(config.zones)} zone(s)",
    )
    cameras = _check_cameras(config, timeout_s)
    calibrations_ok = True
    for i, cam in enumerate(config.cameras):
        ok, message = _check_calibration(config, i, cameras[cam.id][2])
        calibrations_ok &= ok
        report(f"calibration {cam.id}", ok, message.splitlines()[0], warn="\n" in message)
        for advice in message.splitlines()[1:]:
            click.echo(f"          - {advice}")
    for ok, message in _check_agreement(config):
        report("calibrations", ok, message)
    for cam_id, (ok, message, _) in cameras.items():
        report(f"camera {cam_id}", ok, message)
    report("outbox", *_check_outbox(config))
    layout = None
    if calibrations_ok:
        layout = node_layout(config, seq=0, ts=_now()).to_json()
    try:
        probe = probe_broker(
            config.mqtt,
            config.node.id,
            client_id=f"{config.node.id}-check",
            timeout_s=timeout_s,
            test_publish=(node_topic(config.site, config.node.id, "layout"), layout) if layout else None,
        )
    except ConfigError as exc:
        report("broker", False, str(exc))
    else:
        report("broker", probe.ok, probe.message)
        if probe.ok and layout is not None:
            if probe.publish_refused:
                report("broker ACL", False, probe.publish_refused)
            elif config.mqtt.protocol == "5":
                report("broker ACL", True, f"{config.node.id} may publish its layout")
    if problems:
        fail(f"{problems} problem(s) found", EXIT_FAILURE)
    click.echo("all checks passed")


def _check_calibration(
    config: NodeConfig, index: int, image_size: tuple[int, int] | None
) -> tuple[bool, str]:
    """Whether a camera's calibration holds, and what to tell ops: a first line, then advice lines.

    A poor calibration, or an anchor that cannot place people with it, is a problem; an error that
    cannot be measured (4 marks) or marks that cover too little of the hall is advice.
    """
    from vision.calibration import CalibrationError, calibration_from_config
    from vision.calibration_report import report_calibration
    from vision.config import HallZone
    from vision.placement import FloorPlacer

    cam = config.cameras[index]
    hall = next((list(z.polygon) for z in config.zones_for(cam.id) if isinstance(z, HallZone)), None)
    try:
        cal = calibration_from_config(cam.calibration)
        FloorPlacer(
            cam.anchor, cal, keypoint_conf=0.5, mounting_height_m=cam.calibration.mounting_height_m
        ).check(image_size)
    except CalibrationError as exc:
        return False, f"cameras[{index}].calibration: {exc}"
    quality = report_calibration(
        cal, hall_polygon=hall, image_size=image_size, mounting_height_m=cam.calibration.mounting_height_m
    )
    pose = (
        "" if quality.height_m is None else f"; camera {quality.height_m} m up, tilted {quality.tilt_deg} deg"
    )
    return quality.verdict != "poor", "\n".join([quality.summary() + pose, *quality.advice])


def _check_agreement(config: NodeConfig) -> list[tuple[bool, str]]:
    """For each pair of cameras calibrated on shared floor marks: how far apart they place them.

    Two calibrations more than `vision.calibration_report.AGREE_WITHIN_CM` apart on a shared mark
    would place the same person apart (and fusion would see two people): a problem.
    """
    from itertools import combinations

    from vision.calibration import CalibrationError, calibration_from_config
    from vision.calibration_report import pair_agreement

    calibrations = []
    for cam in config.cameras:
        try:
            calibrations.append((cam.id, calibration_from_config(cam.calibration)))
        except CalibrationError:
            continue  # reported on its own line
    results = []
    for first, second in combinations(calibrations, 2):
        agreement = pair_agreement(first, second)
        if agreement.agrees is not None:
            results.append((agreement.agrees, agreement.summary()))
    return results


def _check_cameras(
    config: NodeConfig, timeout_s: float
) -> dict[str, tuple[bool, str, tuple[int, int] | None]]:
    """Open every camera once, in parallel, and read one frame from each (and learn its size)."""
    from edge.sources import SourceError, open_source

    results: dict[str, tuple[bool, str, tuple[int, int] | None]] = {
        cam.id: (False, f"no frame within {timeout_s:g} s", None) for cam in config.cameras
    }
    stop = threading.Event()

    def one(index: int) -> None:
        cam = config.cameras[index]
        try:
            source = open_source(cam, stop=stop, epoch_mono=time.monotonic(), timeout_s=timeout_s)
        except SourceError as exc:
            results[cam.id] = (False, str(exc), None)
            return
        except Exception as exc:
            results[cam.id] = (False, f"cannot open {cam.source}: {exc}", None)
            return
        try:
            frame = source.read()
            if frame is None:
                results[cam.id] = (False, f"{source.description} gave no frame", None)
            else:
                h, w = frame.image.shape[:2]
                results[cam.id] = (True, f"{source.description}: {w}x{h}", (w, h))
        except SourceError as exc:
            results[cam.id] = (False, str(exc), None)
        finally:
            source.close()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(config.cameras))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout_s + 1.0
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stop.set()
    return dict(results)


def _check_outbox(config: NodeConfig) -> tuple[bool, str]:
    import sqlite3

    path = config.outbox.path
    if path.exists():
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                (depth,) = db.execute("SELECT COUNT(*) FROM events").fetchone()
        except sqlite3.Error as exc:
            return False, f"{path}: cannot read it as an outbox ({exc})"
        if not os.access(path, os.W_OK):
            return False, f"{path}: not writable by this user"
        return True, f"{path}: {depth} event(s) waiting"
    parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), Path("."))
    if not os.access(parent, os.W_OK):
        return False, f"{path}: cannot be created ({parent} is not writable by this user)"
    return True, f"{path}: will be created on first run"


# ---------------------------------------------------------------------------------- credentials
@cli.command()
@click.option(
    "--config",
    "config_paths",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A node's YAML file; repeat for every node that uses this broker.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the password file, the permissions (acl or hallwatch-users.conf) and one "
    "<user>.password file per new user.",
)
@click.option(
    "--server-user",
    "server_users",
    multiple=True,
    default=("hallwatch-server",),
    show_default=True,
    help="The server's broker user; repeat for each replica (the broker makes a login's client id its "
    "user name, so replicas need users of their own).",
)
@click.option(
    "--rotate", multiple=True, help="Give this user a new password even if it has one (repeatable)."
)
@click.option(
    "--broker",
    type=click.Choice(["mosquitto", "nats"]),
    default="mosquitto",
    show_default=True,
    help="mosquitto: passwd and acl; nats: nats-passwd (bcrypt hashes) and hallwatch-users.conf, the "
    "users and permissions that deploy/nats/hallwatch.conf includes.",
)
def credentials(
    config_paths: tuple[Path, ...],
    out_dir: Path,
    server_users: tuple[str, ...],
    rotate: tuple[str, ...],
    broker: str,
) -> None:
    """Write the broker's users (password hashes) and their permissions for these nodes and the server.

    Users already in OUT's password file keep their passwords unless named with --rotate; each new
    or rotated user gets OUT/<user>.password (mode 600), and nodes also OUT/<user>.env with the
    variable their config's `mqtt.password_env` names.
    """
    nodes = [NodeAccess.from_config(_load(path)) for path in config_paths]
    nats = broker == "nats"
    try:  # before any file is written
        (check_nats_names if nats else check_nodes)(nodes, server_users)
    except CredentialsError as exc:
        fail(str(exc), EXIT_CONFIG)
    if nats:  # refuse what NATS cannot take before any file is written
        try:
            nats_users_text(
                nodes, server_users, dict.fromkeys([n.user for n in nodes] + list(server_users), "")
            )
        except CredentialsError as exc:
            fail(str(exc), EXIT_CONFIG)
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    passwd_path = out_dir / ("nats-passwd" if nats else "passwd")
    entries = read_password_file(passwd_path)
    envs = {n.user: n.password_env or "HALLWATCH_MQTT_PASSWORD" for n in nodes}
    written: list[str] = []
    for user in [*(n.user for n in nodes), *server_users]:
        if user in entries and user not in rotate:
            continue
        password = new_password()
        entries[user] = bcrypt_hash(password) if nats else hash_password(password)
        _write_secret(out_dir / f"{user}.password", password + "\n")
        if user in envs:
            _write_secret(out_dir / f"{user}.env", f"{envs[user]}={password}\n")
        written.append(user)
    # Both name every user and topic (and NATS's holds the hashes): not for everyone to read.
    rules_path = out_dir / ("hallwatch-users.conf" if nats else "acl")
    rules = nats_users_text(nodes, server_users, entries) if nats else acl_text(nodes, server_users)
    _write_secret(passwd_path, password_file_text(entries))
    _write_secret(rules_path, rules)
    click.echo(f"wrote {passwd_path} ({len(entries)} users) and {rules_path}")
    for user in written:
        click.echo(f"new password for {user}: {out_dir / f'{user}.password'}")
    kept = sorted(set(entries) - set(written))
    if kept:
        click.echo(f"kept the passwords of: {', '.join(kept)}")
    if nats:
        click.echo(
            "copy hallwatch-users.conf next to hallwatch.conf on every NATS node and reload them "
            "(nats-server --signal reload, or systemctl reload)"
        )
    else:
        click.echo("reload the broker (systemctl reload mosquitto) to apply them")


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)
