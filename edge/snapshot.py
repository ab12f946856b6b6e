"""Ops-requested snapshots: the one image that may ever leave a node (for floor calibration).

A node subscribes to its `nodes/{node}/snapshot_request` topic. `SnapshotResponder.answer` checks a
request (a valid `SnapshotRequest` for this node, not expired, for one of its cameras), takes the
camera's latest processed frame, blurs the people in it when asked, downscales it to at most
`MAX_SNAPSHOT_SIDE_PX` on each side and encodes it as a JPEG of at most `MAX_SNAPSHOT_JPEG_BYTES`.
Nothing else on a node encodes images, and nothing is sent without a request.

Blurring, when `blur` is asked for:
- ``people``: the boxes of the people the pipeline tracked in that very frame (the processor's
  `FrameResult.tracked` detections), each grown by `BOX_MARGIN` and pixelated beyond recognition. Someone
  the detector did not find in that frame is not blurred.
- ``frame``: when the processor gives no person boxes (a processor without detections), the whole
  picture is blurred: faces become unrecognisable, floor marks stay visible.

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

log = logging.getLogger(__name__)

#: Each person box is grown by this fraction of its size on every side before it is blurred.
BOX_MARGIN = 0.2
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
        person_boxes: `(n, 4)` x1 y1 x2 y2 in image pixels, or None when the processor gives none.
    """

    image: NDArray[np.uint8]
    captured_at: datetime
    person_boxes: NDArray[np.float64] | None


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


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / width, max_side / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


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
    for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4):
        if not np.all(np.isfinite([x1, y1, x2, y2])):
            continue
        mx, my = (x2 - x1) * BOX_MARGIN, (y2 - y1) * BOX_MARGIN
        left, top = max(0, int(np.floor(x1 - mx))), max(0, int(np.floor(y1 - my)))
        right, bottom = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
        if right - left < 2 or bottom - top < 2:
            continue
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
