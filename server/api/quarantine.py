"""Ops: what ingest set aside. Dead letters (refused messages) and nodes waiting to be accepted.

A message that breaks the contract, claims another node's camera, answers no snapshot request, or
that the database refused, is kept as a dead letter (its first bytes, never run or shown as HTML)
until ops delete it. A node the server had not heard of is quarantined until ops accept it here:
its messages are held, never stored, and raise no alert (issue 11).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status

from server.api.nodes import node_out
from server.api.params import Limit, NodePath, Offset, SitePath, SiteQuery
from server.db.tables import DeadLetter, NodeCandidate
from server.deps import DeadLettersManager, NodesWriter, ServicesDep
from server.schemas.nodes import NodeOut
from server.schemas.quarantine import CandidateOut, DeadLetterOut, DeadLetterPage, DeadLettersDeleted
from server.store.quarantine import CandidateGone

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["quarantine"])
PREVIEW_BYTES = 600


def preview(payload: bytes) -> str:
    """The payload's first bytes as safe text: every control and non-ASCII character escaped.

    >>> preview(b'{"reason": "a\\x00\\xe2\\x80\\xae"}')
    '{\\\\"reason\\\\": \\\\"a\\\\u0000\\\\u202e\\\\"}'
    """
    text = payload[:PREVIEW_BYTES].decode("utf-8", "backslashreplace")
    return json.dumps(text)[1:-1]


def dead_letter_out(row: DeadLetter) -> DeadLetterOut:
    data: dict[str, Any] = {c: getattr(row, c) for c in DeadLetterOut.model_fields if c != "payload_preview"}
    return DeadLetterOut(**data, payload_preview=preview(row.payload))


def candidate_out(row: NodeCandidate) -> CandidateOut:
    layout = row.layout or {}
    return CandidateOut(
        site=row.site,
        node=row.node,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        messages=row.messages,
        version=row.version,
        zones=[str(z.get("id")) for z in layout.get("zones", []) if isinstance(z, dict)],
        cameras=[str(c.get("id")) for c in layout.get("cameras", []) if isinstance(c, dict)],
    )


@router.get("/dead-letters")
def list_dead_letters(
    user: DeadLettersManager,
    services: ServicesDep,
    site: SiteQuery = None,
    node: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DeadLetterPage:
    """Messages ingest refused or could not store, newest first (at most 10,000 are kept). Only for
    ops of every site: a refused message may name no site, or the wrong one."""
    rows, total = services.store.quarantine.dead_letters(site, node, limit, offset)
    return DeadLetterPage(items=[dead_letter_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.delete("/dead-letters/{letter_id}", responses={404: {"description": "no such dead letter"}})
def delete_dead_letter(
    letter_id: Annotated[int, Path(ge=1, le=2**62)], user: DeadLettersManager, services: ServicesDep
) -> DeadLettersDeleted:
    deleted = services.store.quarantine.delete_dead_letters([letter_id])
    if not deleted:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dead letter {letter_id}")
    return DeadLettersDeleted(deleted=deleted)


@router.delete("/dead-letters")
def delete_dead_letters(
    user: DeadLettersManager, services: ServicesDep, site: SiteQuery = None
) -> DeadLettersDeleted:
    """Delete every dead letter (of one site, with ``site``)."""
    deleted = services.store.quarantine.delete_dead_letters(None, site)
    log.info("%s deleted %d dead letters%s", user.username, deleted, f" of {site}" if site else "")
    return DeadLettersDeleted(deleted=deleted)


@router.get("/quarantine/nodes")
def list_candidates(user: NodesWriter, services: ServicesDep, site: SiteQuery = None) -> list[CandidateOut]:
    """Nodes the server heard from that ops have not accepted: their messages are held, not stored."""
    return [candidate_out(c) for c in services.store.quarantine.candidates(site) if user.sees(c.site)]


_GONE: dict[int | str, dict[str, Any]] = {404: {"description": "no such node waits to be accepted"}}


@router.post("/quarantine/nodes/{site}/{node}/accept", responses=_GONE)
def accept_candidate(site: SitePath, node: NodePath, user: NodesWriter, services: ServicesDep) -> NodeOut:
    """Accept a node: it becomes a node of the site (with the zones of its last layout), and its
    messages are stored from now on."""
    try:
        row = services.store.quarantine.accept(site, node, services.clock())
    except CandidateGone as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    if services.ingest is not None:
        services.ingest.request_identity_sync()
    log.info("%s accepted node %s of site %s", user.username, node, site)
    return node_out(row, [], services, services.clock())


@router.delete("/quarantine/nodes/{site}/{node}", status_code=status.HTTP_204_NO_CONTENT, responses=_GONE)
def dismiss_candidate(site: SitePath, node: NodePath, user: NodesWriter, services: ServicesDep) -> None:
    """Forget a waiting node (it is listed again if it keeps sending)."""
    try:
        services.store.quarantine.dismiss(site, node)
    except CandidateGone as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    log.info("%s dismissed waiting node %s of site %s", user.username, node, site)
