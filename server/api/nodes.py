"""Edge nodes, cameras and zones; config pushes to a node."""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, HTTPException, status

from hallwatch.contract import NodeConfigPush, node_topic
from server.api.params import NodePath, SitePath, SiteQuery
from server.db.tables import Camera, Node
from server.deps import NodesReader, NodesWriter, ServicesDep, ZonesReader
from server.schemas.nodes import CameraOut, ConfigPushIn, ConfigPushOut, NodeOut, ZoneOut
from server.services import Services

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["nodes"])


def node_out(node: Node, cameras: list[Camera], services: Services, now: datetime) -> NodeOut:
    silence = services.settings.alerts.node_offline.silence_s
    online = (
        node.status == "online"
        and node.health_at is not None
        and (now - node.health_at).total_seconds() <= silence
    )
    data = {c: getattr(node, c) for c in NodeOut.model_fields if c not in ("online", "cameras")}
    return NodeOut(**data, online=online, cameras=[CameraOut.model_validate(c) for c in cameras])


@router.get("/nodes")
def list_nodes(user: NodesReader, services: ServicesDep, site: SiteQuery = None) -> list[NodeOut]:
    """Nodes with their status, last health and cameras."""
    now = services.clock()
    cameras = services.store.nodes.cameras(site)
    return [
        node_out(n, [c for c in cameras if c.site == n.site and c.node == n.node], services, now)
        for n in services.store.nodes.nodes(site)
        if user.sees(n.site)
    ]


@router.get("/nodes/{site}/{node}", responses={404: {"description": "unknown node"}})
def get_node(site: SitePath, node: NodePath, user: NodesReader, services: ServicesDep) -> NodeOut:
    row = services.store.nodes.node(site, node)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no node {node!r} at site {site!r}")
    return node_out(row, services.store.nodes.cameras(site, node), services, services.clock())


@router.post(
    "/nodes/{site}/{node}/config",
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: {"description": "unknown node"}, 503: {"description": "not connected to the broker"}},
)
def push_config(
    site: SitePath, node: NodePath, body: ConfigPushIn, user: NodesWriter, services: ServicesDep
) -> ConfigPushOut:
    """Send a node new cameras, zones or spacing (retained on its config topic, applied by the node).

    The node answers with a new layout (its ``config_id`` is this push's ``event_id``), or counts
    the push in its health's ``rejected_config`` with ``last_config_error``.
    """
    if services.store.nodes.node(site, node) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no node {node!r} at site {site!r}")
    push = NodeConfigPush(issued_by=user.username, config=body.config)
    topic = node_topic(site, node, "config")
    sent = services.ingest is not None and services.ingest.publish(
        topic, push.model_dump_json().encode(), qos=1, retain=True
    )
    if not sent:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "not connected to the MQTT broker; try again"
        )
    log.info("%s pushed a config to %s/%s (%s)", user.username, site, node, ", ".join(sorted(body.config)))
    return ConfigPushOut(topic=topic, event_id=str(push.event_id), issued_by=user.username)


@router.delete(
    "/nodes/{site}/{node}/config",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "unknown node"}, 503: {"description": "not connected to the broker"}},
)
def withdraw_config(site: SitePath, node: NodePath, user: NodesWriter, services: ServicesDep) -> None:
    """Withdraw the retained config push (an empty retained message); the node keeps what it applied."""
    if services.store.nodes.node(site, node) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no node {node!r} at site {site!r}")
    topic = node_topic(site, node, "config")
    if services.ingest is None or not services.ingest.publish(topic, b"", qos=1, retain=True):
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "not connected to the MQTT broker; try again"
        )
    log.info("%s withdrew the config push of %s/%s", user.username, site, node)


@router.get("/cameras")
def list_cameras(user: NodesReader, services: ServicesDep, site: SiteQuery = None) -> list[CameraOut]:
    return [CameraOut.model_validate(c) for c in services.store.nodes.cameras(site) if user.sees(c.site)]


@router.get("/zones")
def list_zones(user: ZonesReader, services: ServicesDep, site: SiteQuery = None) -> list[ZoneOut]:
    """Zones from the nodes' layouts, with polygons in floor metres."""
    return [ZoneOut.model_validate(z) for z in services.store.nodes.zones(site) if user.sees(z.site)]
