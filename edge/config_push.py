"""Config pushes from the server (`nodes/{node}/config`, retained): check, merge, write back.

What a push may change (`NodeConfigPush.config`):
- `cameras`: a list of camera entries matched by `id`. The fields an entry gives replace the
  camera's current ones (for example only `calibration` and `anchor`); an id the node does not have
  adds a camera and must be complete (`source`, `calibration`, ...). Cameras a push does not name
  stay as they are: removing a camera is done in the node's file.
- `zones`: the whole zone list, replaced.
- `spacing`: the fields given replace the current ones.

Anything else is refused, as is a push whose result fails validation (the reason names the field)
or has a degenerate calibration. Nothing here touches the running node: `merge_push` returns the
new config and `write_config_file` saves it, keeping the previous file as `<name>.bak`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from edge.config import NodeConfig, format_validation_error
from hallwatch.contract import NodeConfigPush
from vision.calibration import calibration_from_config

PUSHABLE = ("cameras", "zones", "spacing")


class ConfigPushError(Exception):
    """A push the node refuses; the text says why, naming the field."""


def parse_push(payload: bytes) -> NodeConfigPush:
    """Validate a message from the config topic.

    Raises:
        ConfigPushError: it is not a `NodeConfigPush`.
    """
    try:
        return NodeConfigPush.model_validate_json(payload)
    except ValidationError as exc:
        raise ConfigPushError(f"not a config push:\n{format_validation_error(exc)}") from None
    except ValueError as exc:
        raise ConfigPushError(f"not a config push: {exc}") from None


def merge_push(current: NodeConfig, push: NodeConfigPush) -> NodeConfig:
    """The node's config with the push applied.

    Raises:
        ConfigPushError: a key that cannot be pushed, an invalid result, a degenerate calibration.
    """
    unknown = sorted(set(push.config) - set(PUSHABLE))
    if unknown:
        raise ConfigPushError(
            f"config.{unknown[0]}: cannot be pushed (a push may change only {', '.join(PUSHABLE)})"
        )
    data = current.model_dump()
    if "cameras" in push.config:
        data["cameras"] = _merge_cameras(data["cameras"], push.config["cameras"])
    if "zones" in push.config:
        data["zones"] = push.config["zones"]
    if "spacing" in push.config:
        spacing = push.config["spacing"]
        if not isinstance(spacing, dict):
            raise ConfigPushError("config.spacing: expected a mapping")
        data["spacing"] = {**data["spacing"], **spacing}
    try:
        merged = NodeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigPushError(f"the pushed config is invalid:\n{format_validation_error(exc)}") from None
    for i, cam in enumerate(merged.cameras):
        try:
            calibration_from_config(cam.calibration)
        except ValueError as exc:  # vision.calibration.CalibrationError
            raise ConfigPushError(f"cameras[{i}] ({cam.id}).calibration: {exc}") from None
    return merged


def _merge_cameras(current: list[dict[str, Any]], pushed: Any) -> list[dict[str, Any]]:
    if not isinstance(pushed, list):
        raise ConfigPushError("config.cameras: expected a list of camera entries")
    merged = [dict(cam) for cam in current]
    by_id = {cam["id"]: cam for cam in merged}
    for i, entry in enumerate(pushed):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise ConfigPushError(f"config.cameras[{i}]: expected a mapping with an `id`")
        if entry["id"] in by_id:
            by_id[entry["id"]].update(entry)
        else:
            new = dict(entry)
            merged.append(new)
            by_id[entry["id"]] = new
    return merged


def changed_cameras(old: NodeConfig, new: NodeConfig) -> tuple[set[str], set[str], bool]:
    """Which cameras a new config touches.

    Returns:
        (restart, rebuild, everything): cameras whose source must be reopened (new, or a new
        `source`, `fps` or `loop`); cameras whose processor must be rebuilt; and whether zones,
        spacing or tracking changed, so that every processor must be rebuilt.
    """
    before = {c.id: c for c in old.cameras}
    restart: set[str] = set()
    rebuild: set[str] = set()
    for cam in new.cameras:
        was = before.get(cam.id)
        if was is None or (was.source, was.fps, was.loop) != (cam.source, cam.fps, cam.loop):
            restart.add(cam.id)
        elif was != cam:
            rebuild.add(cam.id)
    everything = (old.zones, old.spacing, old.tracking) != (new.zones, new.spacing, new.tracking)
    return restart, rebuild, everything


def _entry(model: BaseModel, raw: dict[str, Any]) -> dict[str, Any]:
    """`model` as YAML data: the keys the file had or that differ from their defaults."""
    full = model.model_dump(mode="json")
    compact = model.model_dump(mode="json", exclude_defaults=True)
    keys = [k for k in raw if k in full] + [k for k in full if k not in raw and k in compact]
    return {k: full[k] for k in keys}


def write_config_file(path: Path, new: NodeConfig, keys: list[str]) -> None:
    """Write `keys` of `new` into the YAML file at `path`, keeping the rest of it as it is.

    The previous file is kept as `<name>.bak`; the new one replaces it atomically. Comments in the
    file are not kept (the `.bak` has them).

    Raises:
        ConfigPushError: the file cannot be read or written.
    """
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigPushError(f"cannot read {path} to update it ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigPushError(f"{path}: expected a mapping at the top level")
    if "cameras" in keys:
        raw_cameras = {c.get("id"): c for c in raw.get("cameras") or [] if isinstance(c, dict)}
        raw["cameras"] = [_entry(cam, raw_cameras.get(cam.id, {})) for cam in new.cameras]
    if "zones" in keys:
        raw["zones"] = [z.model_dump(mode="json", exclude_defaults=True) for z in new.zones]
    if "spacing" in keys:
        spacing = raw.get("spacing")
        raw["spacing"] = _entry(new.spacing, spacing if isinstance(spacing, dict) else {})
    body = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, default_flow_style=None)
    try:
        shutil.copy2(path, path.with_name(path.name + ".bak"))
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            shutil.copymode(path, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigPushError(f"cannot write {path} ({exc.strerror or exc})") from None
