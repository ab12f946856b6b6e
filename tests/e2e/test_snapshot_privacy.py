"""Issue 13: a snapshot hides every person, on real frames.

The node's own path (the camera's detector at the demo's image size, ByteTrack over the frames
before, `vision.privacy.find_people` at the frame's full resolution, `privacy_boxes`,
`encode_snapshot`) blurs a frame; a second, stricter pass then looks for the people visible in the
original frame, and each must lie inside the blurred regions and have lost its detail in the
picture. The stricter pass is independent of the first: another export of the detector (imgsz
1280) with a high score floor, and on the ceiling sample the sample's own annotations as well.

- `vtest.avi` (Debian's opencv-doc, an elevated camera in a street), frames spread over the video;
- the CEPDOF ceiling fisheye sample (`../shared/data`, never copied into the repo): skipped only
  where it is absent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from support.paths import SHARED_DATA, VTEST

from edge.snapshot import LatestFrame, RecentTracks, blurred_regions, encode_snapshot, privacy_boxes
from models.loader import load_detector
from vision.config import DetectorConfig
from vision.privacy import find_people

SAMPLE = SHARED_DATA / "ceiling-fisheye-sample"
STRICT_SCORE = 0.5  # the stricter pass: people the detector is sure of
COVERED = 0.95  # share of a visible person's box inside the blurred regions
DETAIL_LEFT = 0.35  # at most this share of the box's detail (Laplacian variance) survives

pytestmark = pytest.mark.slow


def _mask(regions: list[tuple[int, int, int, int]], width: int, height: int) -> NDArray[np.bool_]:
    mask = np.zeros((height, width), bool)
    for left, top, right, bottom in regions:
        mask[top:bottom, left:right] = True
    return mask


def _detail(image: NDArray[np.uint8]) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def corners(boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    """`(n, 4)` boxes as `(n, 4, 2)` outlines."""
    x1, y1, x2, y2 = np.asarray(boxes, np.float64).reshape(-1, 4).T
    return np.stack([np.column_stack(p) for p in ((x1, y1), (x2, y1), (x2, y2), (x1, y2))], axis=1)


def check_frame(
    frame: NDArray[np.uint8], boxes: NDArray[np.float64] | None, visible: NDArray[np.float64]
) -> tuple[int, list[str]]:
    """Encode the snapshot as a node does; return how many it says it blurred, and the people not
    hidden (``visible``: `(n, k, 2)` outlines of the people in frame pixels)."""
    snap = encode_snapshot(LatestFrame(frame, datetime.now(UTC), boxes), blur=True)
    picture = cv2.imdecode(np.frombuffer(snap.jpeg, np.uint8), cv2.IMREAD_COLOR)
    plain = encode_snapshot(LatestFrame(frame, datetime.now(UTC), None), blur=False)
    sharp = cv2.imdecode(np.frombuffer(plain.jpeg, np.uint8), cv2.IMREAD_COLOR)
    scale = np.array([snap.width / snap.frame_width, snap.height / snap.frame_height])
    assert boxes is not None and snap.blur_method == "people"
    scaled = boxes * np.tile(scale, 2)
    mask = _mask(blurred_regions(scaled, snap.width, snap.height), snap.width, snap.height)
    problems = []
    for outline in visible * scale:
        person = np.zeros(mask.shape, np.uint8)
        cv2.fillPoly(person, [np.round(outline).astype(np.int32)], 1)
        inside = person.astype(bool)
        if inside.sum() < 4:
            continue
        covered = float(mask[inside].mean())
        x1, y1 = np.floor(np.maximum(outline.min(axis=0), 0)).astype(int)
        x2, y2 = np.ceil(np.minimum(outline.max(axis=0), [snap.width, snap.height])).astype(int)
        before, after = _detail(sharp[y1:y2, x1:x2]), _detail(picture[y1:y2, x1:x2])
        if covered < COVERED or after > DETAIL_LEFT * max(before, 1.0):
            where = outline.mean(axis=0).round().tolist()
            problems.append(f"person at {where}: {covered:.0%} covered, detail {after:.0f}/{before:.0f}")
    assert snap.people_blurred == len(boxes)  # the count ops see is the number of people blurred
    return snap.people_blurred, problems


@pytest.mark.skipif(not VTEST.is_file(), reason=f"{VTEST} (Debian's opencv-doc) is needed")
def test_every_person_in_vtest_frames_is_blurred() -> None:
    from vision.config import TrackingConfig
    from vision.tracking import PersonTracker

    node_detector = load_detector(DetectorConfig(backend="openvino", imgsz=960), 960)  # the demo's
    strict = load_detector(DetectorConfig(backend="openvino", imgsz=1280), 1280)
    tracker = PersonTracker(TrackingConfig(), confidence=0.25)
    recent = RecentTracks()
    video = cv2.VideoCapture(str(VTEST))
    fps = video.get(cv2.CAP_PROP_FPS) or 10.0
    problems: list[str] = []
    checked = blurred_total = visible_total = 0
    index = 0
    while True:
        ok, frame = video.read()
        if not ok or index > 700:
            break
        if index % 2 == 0:  # the node's 5 frames/s of this 10 frames/s video
            tracked = tracker.update(node_detector.detect(frame))
            recent.update(index / fps, tracked.boxes_xyxy.astype(np.float64), tracked.track_ids)
            if index % 70 == 0 and index > 0:
                boxes = privacy_boxes(recent.boxes(), find_people(node_detector.detect, frame, tile_px=960))
                sure = strict.detect(frame, STRICT_SCORE)
                visible = corners(np.asarray(sure.boxes_xyxy, np.float64))
                blurred, missed = check_frame(frame, boxes, visible)
                problems += [f"frame {index}: {p}" for p in missed]
                checked += 1
                blurred_total += blurred
                visible_total += len(visible)
        index += 1
    print(f"\nvtest: {checked} frames, {visible_total} people visible, {blurred_total} blurred")
    print("\n".join(problems))
    assert checked == 10 and visible_total >= 30
    assert problems == []
    assert blurred_total >= visible_total


@pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"{SAMPLE} (shared evaluation data) is not here")
def test_every_person_in_the_ceiling_fisheye_sample_is_blurred() -> None:
    annotations = json.loads((SAMPLE / "annotations" / "video_0.json").read_text())
    truth: dict[str, list[list[float]]] = {}
    for item in annotations["annotations"]:
        truth.setdefault(item["image_id"], []).append(item["bbox"])
    node_detector = load_detector(DetectorConfig(backend="openvino", imgsz=960), 960)
    strict = load_detector(DetectorConfig(backend="openvino", imgsz=1280), 1280)
    problems: list[str] = []
    visible_total = blurred_total = 0
    for image_id, people in sorted(truth.items()):
        frame = cv2.imread(str(SAMPLE / "video_0" / f"{image_id}.jpg"))
        annotated = np.array(
            [cv2.boxPoints(((cx, cy), (w, h), angle)) for cx, cy, w, h, angle in people], np.float64
        )
        visible = np.concatenate(
            [annotated, corners(np.asarray(strict.detect(frame, STRICT_SCORE).boxes_xyxy, np.float64))]
        )
        boxes = privacy_boxes(None, find_people(node_detector.detect, frame, tile_px=960))
        blurred, missed = check_frame(frame, boxes, visible)
        problems += [f"{image_id}: {p}" for p in missed]
        visible_total += len(people)
        blurred_total += blurred
    print(f"\nfisheye: {visible_total} annotated people, {blurred_total} blurred")
    print("\n".join(problems))
    assert visible_total == 70
    assert problems == []
    assert blurred_total >= visible_total
