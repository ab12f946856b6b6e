"""The ops pages: nodes and cameras, floor calibration from a node's snapshot, and the zone editor.

| path | who | what |
|---|---|---|
| ``/ops/nodes`` | ops | every node and camera with its health, updating live, and recent events |
| ``/ops/calibration`` | ops | a snapshot, clicked image points with floor coordinates, the error, save |
| ``/ops/zones`` | ops | a node's zones on the floor plan (metres): drag vertices, add, remove, save |

Each page checks the role on the server (`render_page`): a guide or a manager gets a 403 page, and
the API calls behind the pages are ops-only too (`server.api.calibration`, `server.api.snapshots`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from server.web.nav import NavItem, register
from server.web.pages import render_page

router = APIRouter(include_in_schema=False)

OPS = frozenset({"ops"})
NODES = register(NavItem("/ops/nodes", "Nodes", OPS, order=40))
CALIBRATION = register(NavItem("/ops/calibration", "Calibration", OPS, order=41))
ZONES = register(NavItem("/ops/zones", "Zones", OPS, order=42))


@router.get(NODES.path)
def nodes_page(request: Request) -> Response:
    return render_page(
        request, "ops-nodes.html", title="Nodes and cameras", roles=NODES.roles, page="ops-nodes"
    )


@router.get(CALIBRATION.path)
def calibration_page(request: Request) -> Response:
    return render_page(
        request, "ops-calibration.html", title="Calibration", roles=CALIBRATION.roles, page="ops-calibration"
    )


@router.get(ZONES.path)
def zones_page(request: Request) -> Response:
    return render_page(request, "ops-zones.html", title="Zone editor", roles=ZONES.roles, page="ops-zones")
