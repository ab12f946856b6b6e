"""Nodes, cameras and zones as the edge last reported them."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from server.db.tables import Camera, Node, Zone


class NodeStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def nodes(self, site: str | None = None) -> list[Node]:
        stmt = select(Node).order_by(Node.site, Node.node)
        if site is not None:
            stmt = stmt.where(Node.site == site)
        with Session(self._engine, expire_on_commit=False) as session:
            return list(session.execute(stmt).scalars())

    def node(self, site: str, node: str) -> Node | None:
        with Session(self._engine, expire_on_commit=False) as session:
            return session.get(Node, (site, node))

    def cameras(self, site: str | None = None, node: str | None = None) -> list[Camera]:
        stmt = select(Camera).order_by(Camera.site, Camera.camera)
        if site is not None:
            stmt = stmt.where(Camera.site == site)
        if node is not None:
            stmt = stmt.where(Camera.node == node)
        with Session(self._engine, expire_on_commit=False) as session:
            return list(session.execute(stmt).scalars())

    def zones(self, site: str | None = None) -> list[Zone]:
        stmt = select(Zone).order_by(Zone.site, Zone.zone)
        if site is not None:
            stmt = stmt.where(Zone.site == site)
        with Session(self._engine, expire_on_commit=False) as session:
            return list(session.execute(stmt).scalars())

    def sites(self) -> list[str]:
        with Session(self._engine) as session:
            return list(session.execute(select(Node.site).distinct().order_by(Node.site)).scalars())
