"""Ops: ask an edge node for one picture of a camera (for calibration), and fetch it.

The only time an image leaves a node (docs/mqtt.md, "Snapshots"): ops ask, the server publishes a
`SnapshotRequest` (QoS 1, not retained, expiring after `REQUEST_TTL_S`) on the node's
`snapshot_request` topic, the node answers on its `snapshot` topic, and the ingest keeps the answer
in memory (`server.ingest.snapshots`), never in the database. The picture is the camera's latest
frame, people blurred on the node unless ops turned that off.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status

from hallwatch.contract import SnapshotRequest, node_topic
from server.api.calibration import CameraPath, Operator, camera_or_404, node_or_404
from server.api.params import NodePath, SitePath
from server.deps import ServicesDep
from server.ingest.snapshots import PendingRequest, SnapshotStore, StoredSnapshot
from server.schemas.calibration import SnapshotRequestIn, SnapshotRequestOut, SnapshotStatusOut

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/nodes", tags=["snapshots"])

REQUEST_TTL_S = 60.0


def get_snapshots(services: ServicesDep) -> SnapshotStore:
    return services.snapshots


Snapshots = Annotated[SnapshotStore, Depends(get_snapshots)]


def _image_url(site: str, node: str, camera: str) -> str:
    return f"/api/v1/nodes/{site}/{node}/cameras/{camera}/snapshot.jpg"


def _status_url(site: str, node: str, request_id: uuid.UUID) -> str:
    return f"/api/v1/nodes/{site}/{node}/snapshot/{request_id}"


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@router.post(
    "/{site}/{node}/snapshot",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        404: {"description": "unknown node or camera"},
        409: {"description": "the node is not online"},
        503: {"description": "not connected to the MQTT broker"},
    },
)
def request_snapshot(
    site: SitePath,
    node: NodePath,
    body: SnapshotRequestIn,
    user: Operator,
    services: ServicesDep,
    snapshots: Snapshots,
) -> SnapshotRequestOut:
    """Ask the node for one picture of a camera (its latest frame, people blurred unless `blur` is
    false). Poll `status_url` (or watch for a `snapshot` message on the live stream's `nodes`
    topic), then load `image_url`. The node ignores the request after `expires_at`."""
    row = node_or_404(services, site, node)
    camera_or_404(services, row, body.camera)
    if row.status != "online":
        seen = row.last_seen_at.isoformat() if row.last_seen_at else "never"
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"node {node} is {row.status} (last seen {seen}): it cannot take a picture until it is back",
        )
    now = services.clock()
    request = SnapshotRequest(
        site=site,
        node=node,
        camera=body.camera,
        blur=body.blur,
        requested_by=user.username[:120],
        ts=now,
        expires_at=now + timedelta(seconds=REQUEST_TTL_S),
    )
    topic = node_topic(site, node, "snapshot_request")
    if services.ingest is None or not services.ingest.publish(topic, request.to_json(), qos=1, retain=False):
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "not connected to the MQTT broker; try again"
        )
    snapshots.requested(
        PendingRequest(
            site=site,
            node=node,
            camera=body.camera,
            request_id=request.event_id,
            requested_by=user.username,
            blur=body.blur,
            requested_at=now.timestamp(),
            expires_at=request.expires_at.timestamp(),
        )
    )
    log.info(
        "%s asked %s/%s for a snapshot of %s (%s)",
        user.username,
        site,
        node,
        body.camera,
        "people blurred" if body.blur else "NOT blurred",
    )
    return SnapshotRequestOut(
        request_id=request.event_id,
        site=site,
        node=node,
        camera=body.camera,
        blur=body.blur,
        requested_by=user.username,
        expires_at=request.expires_at,
        status_url=_status_url(site, node, request.event_id),
        image_url=_image_url(site, node, body.camera),
    )


def _answered(answer: StoredSnapshot) -> SnapshotStatusOut:
    common = {
        "request_id": answer.request_id,
        "site": answer.site,
        "node": answer.node,
        "camera": answer.camera,
        "captured_at": answer.captured_at,
        "received_at": _dt(answer.received_at),
    }
    if answer.error is not None:
        return SnapshotStatusOut(
            **common, status="failed", message=f"node {answer.node}: {answer.error}", error=answer.error
        )
    blur = {
        # Regions, not a head count: the node blurs everything its detector finds at a low score
        # (issue 13), so some regions may hold no one; saying "N people" would overstate it.
        "people": f"{answer.people_blurred or 0} places where someone may be blurred",
        "frame": "whole picture blurred (the node had no person boxes)",
    }.get(answer.blur_method or "", "not blurred")
    return SnapshotStatusOut(
        **common,
        status="ready",
        message=f"picture of {answer.camera}, {answer.width}x{answer.height}, {blur}",
        width=answer.width,
        height=answer.height,
        frame_width=answer.frame_width,
        frame_height=answer.frame_height,
        blurred=answer.blurred,
        blur_method=answer.blur_method,
        people_blurred=answer.people_blurred,
        image_url=_image_url(answer.site, answer.node, answer.camera),
    )


@router.get(
    "/{site}/{node}/snapshot/{request_id}",
    responses={404: {"description": "unknown request (forgotten after the snapshot's time to live)"}},
)
def snapshot_status(
    site: SitePath,
    node: NodePath,
    request_id: uuid.UUID,
    user: Operator,
    services: ServicesDep,
    snapshots: Snapshots,
) -> SnapshotStatusOut:
    """Whether the node answered a snapshot request: waiting, ready (a picture), failed (the node's
    reason) or expired (no answer in time)."""
    answer = snapshots.answer(request_id)
    if answer is not None and (answer.site, answer.node) == (site, node):
        return _answered(answer)
    pending = snapshots.request(request_id)
    if pending is None or (pending.site, pending.node) != (site, node):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no snapshot request {request_id} for {site}/{node} on this server (requests are forgotten "
            f"after {snapshots.ttl_s / 60:g} minutes)",
        )
    now = services.clock().timestamp()
    waiting = now < pending.expires_at + 5.0  # a little slack for the reply in flight
    return SnapshotStatusOut(
        request_id=request_id,
        site=site,
        node=node,
        camera=pending.camera,
        status="waiting" if waiting else "expired",
        message=f"waiting for node {node}"
        if waiting
        else f"node {node} did not answer within {REQUEST_TTL_S:g} s: is it online and its camera "
        "running? (A node whose hallwatch is older than the server's does not answer snapshot requests.)",
    )


@router.get("/{site}/{node}/cameras/{camera}/snapshot")
def latest_snapshot(
    site: SitePath,
    node: NodePath,
    camera: CameraPath,
    user: Operator,
    snapshots: Snapshots,
) -> SnapshotStatusOut:
    """The camera's latest snapshot the server holds (status ready or failed), or status none."""
    latest = snapshots.latest(site, camera)
    if latest is None or latest.node != node:
        return SnapshotStatusOut(
            request_id=None,
            site=site,
            node=node,
            camera=camera,
            status="none",
            message=f"no snapshot of {camera} in the last {snapshots.ttl_s / 60:g} minutes",
        )
    return _answered(latest)


@router.get(
    "/{site}/{node}/cameras/{camera}/snapshot.jpg",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "the camera's latest snapshot"},
        404: {"description": "no recent snapshot of this camera"},
    },
)
def snapshot_image(
    site: SitePath,
    node: NodePath,
    camera: CameraPath,
    user: Operator,
    snapshots: Snapshots,
) -> Response:
    """The camera's latest snapshot (JPEG), kept in the server's memory for a while after it arrived."""
    latest = snapshots.latest(site, camera)
    if latest is None or latest.node != node or not latest.jpeg:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no snapshot of camera {camera} from node {node} in the last {snapshots.ttl_s / 60:g} minutes: "
            "request one",
        )
    return Response(
        latest.jpeg,
        media_type="image/jpeg",
        headers={
            "Content-Disposition": f'inline; filename="{site}-{camera}-snapshot.jpg"',
            "X-Snapshot-Request-Id": str(latest.request_id),
            "X-Frame-Width": str(latest.frame_width),
            "X-Frame-Height": str(latest.frame_height),
        },
    )
