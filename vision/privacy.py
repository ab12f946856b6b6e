"""Where people are in a picture that is about to leave a node, found generously (issue 13).

A snapshot for ops is the only image that ever leaves a node, so its blur must cover everyone.
The tracker's boxes are not enough (a person the detector missed in that frame, or one under the
tracker's confidence, stays sharp), so a snapshot adds a detector pass of its own:

- over the whole frame, and over overlapping tiles of the detector's image size at the frame's
  full resolution (a 2048 px fisheye frame is seen pixel for pixel, not shrunk to 960), or at up
  to `MAX_UPSCALE` times it for frames smaller than two tiles (small people far away);
- with a low score floor (`PRIVACY_MIN_SCORE`): a pixelated chair costs nothing, a sharp face does;
- merged with the boxes the node's tracks hold (`merge_boxes`), so that each person counts once.

Example:
    >>> boxes = find_people(detector.detect, image, tile_px=detector.imgsz)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.detections import Detections

#: Detections down to this score are blurred (the tracker starts tracks only at 0.25 or more).
PRIVACY_MIN_SCORE = 0.05
#: Neighbouring tiles overlap by this share of a tile, so a person on a seam is whole in one of them.
TILE_OVERLAP = 0.25
#: Frames whose long side is under two tiles are tiled at up to this many times their size.
MAX_UPSCALE = 2.0
#: Two boxes overlapping this much (intersection over union) are one person: the same person's box
#: from the tracks, the whole frame and a tile overlap far more; two neighbours, far less.
SAME_PERSON_OVERLAP = 0.45

Detect = Callable[[NDArray[np.uint8], float], Detections]


def tile_origins(length: int, tile: int, overlap: float = TILE_OVERLAP) -> list[int]:
    """Start offsets of tiles of ``tile`` px covering ``length`` px, overlapping by ``overlap``.

    Example:
        >>> tile_origins(2048, 960)
        [0, 720, 1088]
        >>> tile_origins(500, 960)
        [0]
    """
    if length <= tile:
        return [0]
    step = max(1, int(tile * (1.0 - overlap)))
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return sorted(set(starts))


def find_people(
    detect: Detect, image: NDArray[np.uint8], *, tile_px: int, min_score: float = PRIVACY_MIN_SCORE
) -> NDArray[np.float64]:
    """Every person box the detector finds in the frame and its full-resolution tiles, `(n, 4)` pixels.

    Args:
        detect: the camera's detector (`PersonDetector.detect`), called as ``detect(image, min_score)``.
        image: the frame, `(h, w, 3)` uint8 BGR at its full resolution.
        tile_px: the tile side in pixels (the detector's image size: tiles are seen 1:1).
    """
    height, width = image.shape[:2]
    found = [np.asarray(detect(image, min_score).boxes_xyxy, np.float64).reshape(-1, 4)]
    # Small frames are tiled at up to twice their size: on vtest.avi (768 px wide, imgsz 960) a
    # walker 30 px wide was found at 1280 but at no score at 960; at 2x the tiles see them.
    scale = min(MAX_UPSCALE, max(1.0, 2.0 * tile_px / max(height, width)))
    tiled = (
        image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    )
    big_h, big_w = tiled.shape[:2]
    if max(big_h, big_w) > tile_px:
        for y0 in tile_origins(big_h, tile_px):
            for x0 in tile_origins(big_w, tile_px):
                tile = np.ascontiguousarray(tiled[y0 : y0 + tile_px, x0 : x0 + tile_px], np.uint8)
                boxes = np.asarray(detect(tile, min_score).boxes_xyxy, np.float64).reshape(-1, 4)
                found.append((boxes + np.array([x0, y0, x0, y0], np.float64)) / scale)
    return merge_boxes(np.concatenate(found))


def merge_boxes(boxes: NDArray[np.float64], same: float = SAME_PERSON_OVERLAP) -> NDArray[np.float64]:
    """One box per person: boxes whose intersection over union is ``same`` or more become their union.

    Unions only grow, so whatever any of the boxes covered stays covered.

    Example:
        >>> merge_boxes(np.array([[0, 0, 10, 20], [1, 1, 11, 21], [50, 0, 60, 20.0]])).tolist()
        [[0.0, 0.0, 11.0, 21.0], [50.0, 0.0, 60.0, 20.0]]
    """
    merged = [b for b in np.asarray(boxes, np.float64).reshape(-1, 4) if np.all(np.isfinite(b))]
    changed = True
    while changed:
        changed = False
        out: list[NDArray[np.float64]] = []
        for box in merged:
            for i, other in enumerate(out):
                if _iou(box, other) >= same:
                    out[i] = np.concatenate([np.minimum(box[:2], other[:2]), np.maximum(box[2:], other[2:])])
                    changed = True
                    break
            else:
                out.append(box)
        merged = out
    return np.asarray(merged, np.float64).reshape(-1, 4)


def _iou(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return float(w * h / union) if union > 0 else 0.0
