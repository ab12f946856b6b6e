"""An INT8 detector: post-training quantization of the OpenVINO export with NNCF.

Calibration uses only pictures the project may ship or make: the two photos in the ultralytics
wheel (`bus.jpg`, `zidane.jpg`), cropped, scaled and tiled into mosaics so that people appear at
the sizes ceiling and elevated cameras see them (40 to 400 pixels tall). Never evaluation footage.
As ultralytics does for its own INT8 export, the pose head's final layers (sigmoids, box and
keypoint decoding) stay in floating point: they decide where a keypoint lands, and quantizing them
costs accuracy for little speed.

The quantized model is cached next to the FP32 export, keyed the same way (weights hash and
imgsz), in a folder ultralytics loads like any OpenVINO export.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from models.catalog import ModelError, ModelSpec
from models.export import _complete, _locked, cache_dir, export_openvino

log = logging.getLogger(__name__)

CALIBRATION_FRAMES = 96
PAD_VALUE = 114  # ultralytics' letterbox grey


def int8_dir(spec: ModelSpec, imgsz: int) -> Path:
    return cache_dir() / f"{spec.name}-{spec.sha256[:12]}-{imgsz}_int8_openvino_model"


def export_openvino_int8(spec: ModelSpec, weights: Path, imgsz: int) -> Path:
    """The cached INT8 export for these weights and size, quantized now if absent (a minute or two).

    Raises:
        ModelError: NNCF is not installed, or quantization failed.
    """
    target = int8_dir(spec, imgsz)
    if _complete(target):
        return target
    fp32 = export_openvino(spec, weights, imgsz)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{target.name}.lock"):
        if _complete(target):
            return target
        log.info("quantizing %s to INT8 at imgsz %d (once; cached in %s)", spec.name, imgsz, target)
        try:
            import nncf
            import openvino as ov
        except ImportError as exc:
            raise ModelError(f"INT8 needs NNCF and OpenVINO (pip install 'hallwatch[edge]'): {exc}") from None
        try:
            (xml,) = fp32.glob("*.xml")
            model = ov.Core().read_model(xml)
            frames = calibration_frames(imgsz)
            quantized = nncf.quantize(
                model=model,
                calibration_dataset=nncf.Dataset(frames),
                preset=nncf.QuantizationPreset.MIXED,
                subset_size=len(frames),
                ignored_scope=_pose_head(model, nncf),
            )
            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                staging = Path(tmp) / target.name
                staging.mkdir()
                ov.save_model(quantized, staging / xml.name)
                shutil.copyfile(fp32 / "metadata.yaml", staging / "metadata.yaml")
                shutil.rmtree(target, ignore_errors=True)
                shutil.move(str(staging), target)
        except ModelError:
            raise
        except Exception as exc:  # NNCF and OpenVINO raise many kinds; all mean "no INT8 model"
            raise ModelError(f"INT8 quantization of {spec.name} at imgsz {imgsz} failed: {exc}") from exc
    return target


def _pose_head(model: object, nncf: object) -> object:
    """The pose head's sigmoids and decoding layers (left in floating point), found as ultralytics
    finds them: the scope of the last sigmoid."""
    operations = model.get_ordered_ops()  # type: ignore[attr-defined]
    sigmoids = [op.get_friendly_name() for op in operations if op.get_type_name() == "Sigmoid"]
    if not sigmoids:
        return nncf.IgnoredScope()  # type: ignore[attr-defined]
    head = sigmoids[-1].split("/", 1)[0]
    names = [
        op.get_friendly_name()
        for op in operations
        if op.get_type_name() == "Sigmoid" or op.get_friendly_name().startswith((f"{head}/", f"{head}.dfl"))
    ]
    return nncf.IgnoredScope(names=names)  # type: ignore[attr-defined]


def calibration_frames(
    imgsz: int, count: int = CALIBRATION_FRAMES, seed: int = 0
) -> list[NDArray[np.float32]]:
    """`count` letterboxed network inputs `(1, 3, imgsz, imgsz)`, RGB in [0, 1], made from the photos
    in the ultralytics wheel: whole, cropped, and tiled into mosaics of 2 x 2 to 4 x 4 scaled copies.

    Example:
        >>> frames = calibration_frames(320, count=4)  # doctest: +SKIP
        >>> frames[0].shape  # doctest: +SKIP
        (1, 3, 320, 320)
    """
    rng = np.random.default_rng(seed)
    photos = _photos()
    frames = []
    for k in range(count):
        if k % 3 == 0:
            image = _random_crop(photos[k % len(photos)], rng)
        else:
            image = _mosaic(photos, int(rng.integers(2, 5)), rng)
        if rng.random() < 0.5:
            image = np.ascontiguousarray(image[:, ::-1])
        frames.append(_network_input(image, imgsz))
    return frames


def _photos() -> list[NDArray[np.uint8]]:
    import ultralytics

    assets = Path(ultralytics.__file__).parent / "assets"
    photos = []
    for name in ("bus.jpg", "zidane.jpg"):
        image = cv2.imread(str(assets / name))
        if image is None:
            raise ModelError(
                f"{assets / name} is missing from the installed ultralytics: no calibration pictures"
            )
        photos.append(np.asarray(image, np.uint8))
    return photos


def _random_crop(image: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    h, w = image.shape[:2]
    share = float(rng.uniform(0.5, 1.0))
    ch, cw = int(h * share), int(w * share)
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return np.ascontiguousarray(image[top : top + ch, left : left + cw])


def _mosaic(photos: list[NDArray[np.uint8]], tiles: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """A `tiles` x `tiles` grid of scaled crops: many small people, as far-away cameras see them."""
    cell = 320
    canvas = np.full((cell * tiles, cell * tiles, 3), PAD_VALUE, np.uint8)
    for row in range(tiles):
        for col in range(tiles):
            crop = _random_crop(photos[int(rng.integers(0, len(photos)))], rng)
            scale = cell / max(crop.shape[:2])
            resized = cv2.resize(
                crop, (max(1, int(crop.shape[1] * scale)), max(1, int(crop.shape[0] * scale)))
            )
            canvas[row * cell : row * cell + resized.shape[0], col * cell : col * cell + resized.shape[1]] = (
                resized
            )
    return canvas


def _network_input(image: NDArray[np.uint8], imgsz: int) -> NDArray[np.float32]:
    """Letterboxed as ultralytics does (scale the long side to imgsz, pad with grey), BGR to RGB, CHW."""
    h, w = image.shape[:2]
    scale = imgsz / max(h, w)
    resized = cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_LINEAR
    )
    canvas = np.full((imgsz, imgsz, 3), PAD_VALUE, np.uint8)
    top, left = (imgsz - resized.shape[0]) // 2, (imgsz - resized.shape[1]) // 2
    canvas[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    rgb = canvas[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255.0
    return np.ascontiguousarray(rgb[None])
