"""What ingest set aside for ops: dead letters (refused messages) and quarantined nodes (issue 11)."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from hallwatch.contract import NodeLayout
from server.db.tables import DeadLetter, Node, NodeCandidate
from server.store.ingest_writes import write_layout_zones
from server.store.sql import insert_for, write


class CandidateGone(LookupError):
    """No quarantined node by that name (accepted or dismissed meanwhile)."""


class QuarantineStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def counts(self) -> tuple[int, int]:
        """(dead letters kept, nodes waiting to be accepted)."""
        with Session(self._engine) as session:
            letters = session.execute(select(func.count()).select_from(DeadLetter)).scalar_one()
            candidates = session.execute(select(func.count()).select_from(NodeCandidate)).scalar_one()
        return int(letters), int(candidates)

    # ------------------------------------------------------------------------------ dead letters
    def dead_letters(
        self, site: str | None, node: str | None, limit: int, offset: int
    ) -> tuple[list[DeadLetter], int]:
        """Newest first, and how many match."""
        where = []
        if site is not None:
            where.append(DeadLetter.site == site)
        if node is not None:
            where.append(DeadLetter.node == node)
        with Session(self._engine, expire_on_commit=False) as session:
            total = session.execute(select(func.count()).select_from(DeadLetter).where(*where)).scalar_one()
            rows = session.execute(
                select(DeadLetter).where(*where).order_by(DeadLetter.id.desc()).limit(limit).offset(offset)
            ).scalars()
            return list(rows), int(total)

    def delete_dead_letters(self, ids: list[int] | None, site: str | None = None) -> int:
        """Delete the given dead letters (all of them, or a site's, when ``ids`` is None)."""
        stmt = delete(DeadLetter)
        if ids is not None:
            stmt = stmt.where(DeadLetter.id.in_(ids))
        if site is not None:
            stmt = stmt.where(DeadLetter.site == site)
        with write(self._engine) as conn:
            return int(conn.execute(stmt).rowcount)

    # ------------------------------------------------------------------------------ candidates
    def candidates(self, site: str | None = None) -> list[NodeCandidate]:
        stmt = select(NodeCandidate).order_by(NodeCandidate.site, NodeCandidate.node)
        if site is not None:
            stmt = stmt.where(NodeCandidate.site == site)
        with Session(self._engine, expire_on_commit=False) as session:
            return list(session.execute(stmt).scalars())

    def accept(self, site: str, node: str, now: datetime) -> Node:
        """Make a quarantined node a node: its row, and its zones from the layout it sent.

        Raises:
            CandidateGone: no such candidate.
        """
        with write(self._engine) as conn:
            row = conn.execute(
                select(NodeCandidate).where(NodeCandidate.site == site, NodeCandidate.node == node)
            ).first()
            if row is None:
                raise CandidateGone(f"no node {node!r} of site {site!r} waits to be accepted")
            layout = _layout(row.layout)
            conn.execute(
                insert_for(conn, Node)
                .values(
                    site=site,
                    node=node,
                    status="unknown",
                    version=row.version,
                    first_seen_at=row.first_seen_at,
                    last_seen_at=row.last_seen_at,
                    layout=layout.model_dump(mode="json") if layout else None,
                    layout_at=now if layout else None,
                )
                .on_conflict_do_nothing(index_elements=["site", "node"])
            )
            if layout is not None:
                write_layout_zones(conn, layout, now)
            conn.execute(delete(NodeCandidate).where(NodeCandidate.site == site, NodeCandidate.node == node))
        with Session(self._engine, expire_on_commit=False) as session:
            accepted = session.get(Node, (site, node))
        assert accepted is not None  # written just above
        return accepted

    def dismiss(self, site: str, node: str) -> None:
        """Forget a candidate (it comes back if the node keeps sending).

        Raises:
            CandidateGone: no such candidate.
        """
        with write(self._engine) as conn:
            stmt = delete(NodeCandidate).where(NodeCandidate.site == site, NodeCandidate.node == node)
            if conn.execute(stmt).rowcount == 0:
                raise CandidateGone(f"no node {node!r} of site {site!r} waits to be accepted")


def _layout(data: object) -> NodeLayout | None:
    if not data:
        return None
    try:
        return NodeLayout.model_validate(data)
    except ValidationError:
        return None
