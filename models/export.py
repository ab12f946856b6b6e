"""Turning catalogued weights into something the detector loads, exporting to OpenVINO on first use.

An OpenVINO export is made once per (weights hash, imgsz) and kept in the cache folder
(`HALLWATCH_MODEL_CACHE`, default `models/cache/`, git-ignored). PyTorch is the fallback when an
export is impossible. Exports are serialised with a file lock so two processes starting together
export once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from models.catalog import ModelError, ModelSpec, spec_for, verified_weights
from vision.config import Backend

log = logging.getLogger(__name__)

ResolvedBackend = Literal["openvino", "openvino-int8", "pytorch"]


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    spec: ModelSpec
    backend: ResolvedBackend
    path: Path
    imgsz: int


def cache_dir() -> Path:
    configured = os.environ.get("HALLWATCH_MODEL_CACHE")
    return Path(configured) if configured else Path(__file__).resolve().parent / "cache"


def openvino_dir(spec: ModelSpec, imgsz: int) -> Path:
    return cache_dir() / f"{spec.name}-{spec.sha256[:12]}-{imgsz}_openvino_model"


def resolve(name: str, backend: Backend, imgsz: int) -> ResolvedModel:
    """Find (and if needed export) the model for a backend.

    Args:
        name: catalog name, e.g. "yolo11n-pose".
        backend: "pytorch", "openvino", "openvino-int8" (quantized with NNCF, made on first use), or
            "auto" (OpenVINO, falling back to PyTorch with a warning).
        imgsz: inference size in pixels; OpenVINO exports are made per size.

    Raises:
        ModelError: the weights are missing or damaged, or OpenVINO was asked for and cannot export.
    """
    spec = spec_for(name)
    weights = verified_weights(spec)
    if backend == "pytorch":
        return ResolvedModel(spec, "pytorch", weights, imgsz)
    if backend == "openvino-int8":
        from models.quantize import export_openvino_int8

        return ResolvedModel(spec, "openvino-int8", export_openvino_int8(spec, weights, imgsz), imgsz)
    try:
        return ResolvedModel(spec, "openvino", export_openvino(spec, weights, imgsz), imgsz)
    except ModelError:
        if backend == "openvino":
            raise
        log.warning(
            "OpenVINO export of %s failed; using PyTorch, which is slower on CPU", name, exc_info=True
        )
        return ResolvedModel(spec, "pytorch", weights, imgsz)


def export_openvino(spec: ModelSpec, weights: Path, imgsz: int) -> Path:
    """The cached OpenVINO export for these weights and size, made now if absent."""
    target = openvino_dir(spec, imgsz)
    if _complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{target.name}.lock"):
        if _complete(target):  # another process finished it while we waited
            return target
        log.info("exporting %s to OpenVINO at imgsz %d (once; cached in %s)", spec.name, imgsz, target)
        try:
            from ultralytics import YOLO

            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                # ultralytics writes the export next to the weights, so work on a private copy.
                local = Path(tmp) / weights.name
                shutil.copyfile(weights, local)
                exported = Path(
                    YOLO(str(local), task="pose").export(format="openvino", imgsz=imgsz, dynamic=True)
                )
                shutil.rmtree(target, ignore_errors=True)
                shutil.move(str(exported), target)
        except Exception as exc:  # the exporter raises many kinds; all mean "no OpenVINO model"
            raise ModelError(f"OpenVINO export of {spec.name} at imgsz {imgsz} failed: {exc}") from exc
    return target


def cached_exports() -> list[Path]:
    root = cache_dir()
    return sorted(p for p in root.glob("*_openvino_model") if _complete(p)) if root.is_dir() else []


def _complete(folder: Path) -> bool:
    return (folder / "metadata.yaml").is_file() and any(folder.glob("*.bin")) and any(folder.glob("*.xml"))


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with lock_path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


__all__ = ["ModelError", "ResolvedModel", "cache_dir", "cached_exports", "export_openvino", "resolve"]
