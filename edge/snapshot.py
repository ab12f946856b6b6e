"""Ops-requested snapshots: the one image that may ever leave a node (for floor calibration).

A node subscribes to its `nodes/{node}/snapshot_request` topic. `SnapshotResponder.answer` checks a
request (a valid `SnapshotRequest` for this node, not expired, for one of its cameras), takes the
camera's latest processed frame, blurs the people in it when asked, downscales it to at most
`MAX_SNAPSHOT_SIDE_PX` on each side and encodes it as a JPEG of at most `MAX_SNAPSHOT_JPEG_BYTES`.
Nothing else on a node encodes images, and nothing is sent without a request.

Blurring, when `blur` is asked for (the default; ops must untick it to get a sharp picture):
- ``people``: everyone the camera's detector finds in that frame at the frame's full resolution
  with a low score floor (`vision.privacy.find_people`: whole frame and full-resolution tiles),
  together with every box the node's tracks held in the last `TRACK_MEMORY_S` seconds (someone the
  detector misses in that frame but saw a moment ago), merged so that each person counts once
  (`people_blurred` is that count), each grown by `BOX_MARGIN` and pixelated beyond recognition.
- ``frame``: when the node has neither a detector nor person boxes (a scripted processor), the
  whole picture is blurred: faces become unrecognisable, floor marks stay visible.

Example:
    >>> responder = SnapshotResponder(origin, latest_frame=lambda cam: None, cameras=lambda: ["cam-1"],
    ...                               next_seq=lambda: 1)  # doctest: +SKIP
    >>> reply = responder.answer(topic, payload)  # a NodeSnapshot to publish, or None  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from edge.events import Origin
from hallwatch.contract import (
    MAX_SNAPSHOT_JPEG_BYTES,
    MAX_SNAPSHOT_SIDE_PX,
    NodeSnapshot,
    PayloadError,
    SnapshotRequest,
    clean_text,
    parse_snapshot_request,
)
from vision.detections import Detections
from vision.privacy import merge_boxes

log = logging.getLogger(__name__)

#: Each person box is grown by this fraction of its size on every side before it is blurred.
BOX_MARGIN = 0.2
#: A track's box is blurred for this long after it was last seen (people the detector misses for a
#: frame or two, while walking behind someone).
TRACK_MEMORY_S = 2.0
#: JPEG qualities tried in turn until the picture fits `MAX_SNAPSHOT_JPEG_BYTES`.
JPEG_QUALITIES = (85, 70, 55, 40)


BlurMethod = Literal["people", "frame"]


class SnapshotError(Exception):
    """A picture that cannot be encoded within the limits."""


@dataclass(frozen=True, slots=True)
class LatestFrame:
    """A camera's latest processed frame, with the person boxes found in it (None: unknown).

    Attributes:
        image: `(h, w, 3)` uint8 BGR, as the camera delivered it.
        captured_at: UTC capture time.
        person_boxes: `(n, 4)` x1 y1 x2 y2 in image pixels (the tracks' boxes of this frame and the
            last `TRACK_MEMORY_S`), or None when the processor gives none.
        find_people: the camera's detector pass for a snapshot (`vision.privacy.find_people` on a
            frame), or None when the camera has no detector (a scripted processor).
    """

    image: NDArray[np.uint8]
    captured_at: datetime
    person_boxes: NDArray[np.float64] | None
    find_people: Callable[[NDArray[np.uint8]], NDArray[np.float64]] | None = None


@dataclass(frozen=True, slots=True)
class EncodedSnapshot:
    jpeg: bytes
    width: int
    height: int
    frame_width: int
    frame_height: int
    blur_method: BlurMethod | None
    people_blurred: int | None


def person_boxes(tracked: Detections | None) -> NDArray[np.float64] | None:
    """The person boxes of a frame's tracked people, as the snapshot keeps them.

    None (a processor that does not know where people are, such as a scripted one) stays None, and
    the whole frame is blurred instead.
    """
    if tracked is None:
        return None
    return np.asarray(tracked.boxes_xyxy, np.float64).reshape(-1, 4).copy()


class RecentTracks:
    """The latest box of every track seen in the last `TRACK_MEMORY_S` seconds of frame time.

    Example:
        >>> recent = RecentTracks()
        >>> recent.update(0.0, np.array([[0, 0, 10, 20.0]]), np.array([7]))
        >>> recent.update(1.0, np.zeros((0, 4)), np.zeros(0, np.int64))
        >>> recent.boxes().tolist()
        [[0.0, 0.0, 10.0, 20.0]]
        >>> recent.update(2.5, np.zeros((0, 4)), np.zeros(0, np.int64))
        >>> len(recent.boxes())
        0
    """

    def __init__(self, memory_s: float = TRACK_MEMORY_S) -> None:
        self.memory_s = memory_s
        self._last: dict[int, tuple[float, NDArray[np.float64]]] = {}
        self._untracked: NDArray[np.float64] = np.zeros((0, 4))

    def update(self, t_s: float, boxes: NDArray[np.float64], track_ids: NDArray[np.int64]) -> None:
        """One frame's tracked boxes at frame time ``t_s`` (ids < 0: untracked, kept for this frame)."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        ids = np.asarray(track_ids).reshape(-1)
        for box, track in zip(boxes, ids, strict=True):
            if track >= 0:
                self._last[int(track)] = (t_s, box.copy())
        self._untracked = boxes[ids < 0].copy()
        for held, (seen, _) in list(self._last.items()):
            if t_s - seen > self.memory_s:
                del self._last[held]

    def boxes(self) -> NDArray[np.float64]:
        held = [box for _, box in self._last.values()]
        return np.concatenate([np.asarray(held, np.float64).reshape(-1, 4), self._untracked])


def privacy_boxes(
    tracked: NDArray[np.float64] | None, found: NDArray[np.float64] | None
) -> NDArray[np.float64] | None:
    """The tracks' boxes and the detector's, one box per person (None: neither is known).

    Example:
        >>> tracked, found = np.array([[0, 0, 10, 20.0]]), np.array([[1, 1, 10, 21.0], [40, 0, 50, 20]])
        >>> privacy_boxes(tracked, found).tolist()
        [[0.0, 0.0, 10.0, 21.0], [40.0, 0.0, 50.0, 20.0]]
        >>> privacy_boxes(None, None) is None
        True
    """
    known = [np.asarray(b, np.float64).reshape(-1, 4) for b in (tracked, found) if b is not None]
    return merge_boxes(np.concatenate(known)) if known else None


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / width, max_side / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def blurred_regions(boxes: NDArray[np.float64], width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The rectangles `blur_boxes` pixelates: each box grown by `BOX_MARGIN`, clipped to the image.

    Example:
        >>> blurred_regions(np.array([[10.0, 10.0, 20.0, 30.0]]), 100, 100)
        [(8, 6, 22, 34)]
    """
    regions = []
    for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4):
        if not np.all(np.isfinite([x1, y1, x2, y2])):
            continue
        mx, my = (x2 - x1) * BOX_MARGIN, (y2 - y1) * BOX_MARGIN
        left, top = max(0, int(np.floor(x1 - mx))), max(0, int(np.floor(y1 - my)))
        right, bottom = min(width, int(np.ceil(x2 + mx))), min(height, int(np.ceil(y2 + my)))
        if right - left >= 2 and bottom - top >= 2:
            regions.append((left, top, right, bottom))
    return regions


def blur_boxes(image: NDArray[np.uint8], boxes: NDArray[np.float64]) -> NDArray[np.uint8]:
    """A copy of `image` with each box (grown by `BOX_MARGIN`) pixelated and smoothed.

    Example:
        >>> img = np.tile(np.arange(64, dtype=np.uint8), (64, 1))[..., None].repeat(3, axis=2)
        >>> out = blur_boxes(img, np.array([[8.0, 8.0, 40.0, 56.0]]))
        >>> bool((out[:2] == img[:2]).all()) and not bool((out[20:40, 10:30] == img[20:40, 10:30]).all())
        True
    """
    out = image.copy()
    h, w = image.shape[:2]
    for left, top, right, bottom in blurred_regions(boxes, w, h):
        region = out[top:bottom, left:right]
        # About 6 blocks across a person: no face, no clothing pattern survives.
        blocks_x = max(1, (right - left) // max(4, (right - left) // 6))
        blocks_y = max(1, (bottom - top) // max(4, (right - left) // 6))
        small = cv2.resize(region, (blocks_x, blocks_y), interpolation=cv2.INTER_AREA)
        mosaic = cv2.resize(small, (right - left, bottom - top), interpolation=cv2.INTER_NEAREST)
        out[top:bottom, left:right] = cv2.GaussianBlur(mosaic, (0, 0), 2.0)
    return out


def blur_frame(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The whole picture blurred: faces unrecognisable, large floor marks still visible."""
    sigma = max(4.0, image.shape[1] / 160.0)
    return np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), np.uint8)


def encode_snapshot(
    latest: LatestFrame,
    *,
    blur: bool,
    max_side: int = MAX_SNAPSHOT_SIDE_PX,
    max_bytes: int = MAX_SNAPSHOT_JPEG_BYTES,
) -> EncodedSnapshot:
    """Downscale, blur when asked, and encode one frame as a JPEG within the limits.

    Raises:
        SnapshotError: the frame is not an image, or no quality and size fits `max_bytes`.
    """
    image = latest.image
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
        raise SnapshotError(f"the frame is not a BGR image (shape {image.shape}, {image.dtype})")
    frame_h, frame_w = image.shape[:2]
    width, height = _fit(frame_w, frame_h, max_side)
    while True:
        scaled = (
            image
            if (width, height) == (frame_w, frame_h)
            else cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        )
        method: BlurMethod | None = None
        people: int | None = None
        if blur and latest.person_boxes is not None:
            boxes = latest.person_boxes * np.array([width / frame_w, height / frame_h] * 2)
            scaled = blur_boxes(np.asarray(scaled, np.uint8), boxes)
            method, people = "people", len(boxes)
        elif blur:
            scaled = blur_frame(np.asarray(scaled, np.uint8))
            method = "frame"
        for quality in JPEG_QUALITIES:
            ok, buf = cv2.imencode(".jpg", scaled, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise SnapshotError("OpenCV could not encode the frame as a JPEG")
            if len(buf) <= max_bytes:
                return EncodedSnapshot(buf.tobytes(), width, height, frame_w, frame_h, method, people)
        if width <= 160 or height <= 160:
            raise SnapshotError(f"the picture does not fit in {max_bytes} bytes even at {width}x{height}")
        width, height = _fit(width, height, int(max(width, height) * 0.75))


class SnapshotResponder:
    """Answers snapshot requests for one node. Call `answer` on one thread at a time.

    Args:
        origin: the node's site and id.
        latest_frame: camera id -> its latest processed frame (None before the first one).
        cameras: the node's camera ids now (they change with config pushes).
        next_seq: the node's next `seq`.
        clock: UTC now (for expiry).
    """

    def __init__(
        self,
        origin: Origin,
        *,
        latest_frame: Callable[[str], LatestFrame | None],
        cameras: Callable[[], Sequence[str]],
        next_seq: Callable[[], int],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.origin = origin
        self._latest_frame = latest_frame
        self._cameras = cameras
        self._next_seq = next_seq
        self._clock = clock
        self.ignored = 0  # invalid or expired requests, since start
        self.sent = 0  # pictures sent, since start

    def answer(self, topic: str, payload: bytes) -> NodeSnapshot | None:
        """The reply to one message from the request topic; None when it deserves none. Never raises."""
        try:
            request = parse_snapshot_request(topic, payload)
        except PayloadError as exc:
            self.ignored += 1
            log.warning("ignored a snapshot request: %s", exc)
            return None
        if (request.site, request.node) != (self.origin.site, self.origin.node):
            self.ignored += 1
            log.warning("ignored a snapshot request for %s/%s", request.site, request.node)
            return None
        now = self._clock()
        if request.expired(now):
            self.ignored += 1
            log.info(
                "ignored snapshot request %s from %s: it expired at %s",
                request.event_id,
                request.requested_by,
                request.expires_at.isoformat(),
            )
            return None
        try:
            return self._reply(request, now)
        except Exception as exc:  # a reply must never take the node down
            log.exception("snapshot request %s failed", request.event_id)
            return self._error(request, now, f"the node could not take the picture: {exc}"[:300])

    def _reply(self, request: SnapshotRequest, now: datetime) -> NodeSnapshot:
        cameras = list(self._cameras())
        if request.camera not in cameras:
            return self._error(
                request,
                now,
                f"node {self.origin.node} has no camera {request.camera!r}; its cameras: "
                f"{', '.join(cameras) or 'none'}",
            )
        latest = self._latest_frame(request.camera)
        if latest is None:
            return self._error(
                request,
                now,
                f"camera {request.camera} has not delivered a frame yet (is it connected?); "
                "try again in a few seconds",
            )
        if request.blur:
            latest = LatestFrame(
                latest.image,
                latest.captured_at,
                privacy_boxes(
                    latest.person_boxes,
                    latest.find_people(latest.image) if latest.find_people is not None else None,
                ),
            )
        try:
            encoded = encode_snapshot(latest, blur=request.blur)
        except SnapshotError as exc:
            return self._error(request, now, str(exc))
        self.sent += 1
        log.info(
            "snapshot of %s for %s (request %s): %dx%d, %d bytes, %s",
            request.camera,
            request.requested_by,
            request.event_id,
            encoded.width,
            encoded.height,
            len(encoded.jpeg),
            f"blurred ({encoded.blur_method})" if encoded.blur_method else "not blurred",
        )
        return NodeSnapshot(
            site=self.origin.site,
            node=self.origin.node,
            camera=request.camera,
            seq=self._next_seq(),
            ts=latest.captured_at,
            request_id=request.event_id,
            width=encoded.width,
            height=encoded.height,
            frame_width=encoded.frame_width,
            frame_height=encoded.frame_height,
            jpeg_base64=base64.b64encode(encoded.jpeg).decode("ascii"),
            blurred=encoded.blur_method is not None,
            blur_method=encoded.blur_method,
            people_blurred=encoded.people_blurred,
        )

    def _error(self, request: SnapshotRequest, now: datetime, reason: str) -> NodeSnapshot:
        log.warning("snapshot request %s of %s: %s", request.event_id, request.camera, reason)
        return NodeSnapshot(
            site=self.origin.site,
            node=self.origin.node,
            camera=request.camera,
            seq=self._next_seq(),
            ts=now,
            request_id=request.event_id,
            error=clean_text(reason, 300),
        )
