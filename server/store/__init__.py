"""The server's storage: one `Store` with a part per concern, on SQLite or PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from server.db.connect import make_engine, migrate
from server.store.alerts import AlertStore
from server.store.audit import AuditStore
from server.store.history import HistoryStore
from server.store.ingest_writes import IngestWriter
from server.store.nodes import NodeStore
from server.store.quarantine import QuarantineStore
from server.store.users import UserStore


@dataclass(frozen=True)
class Store:
    """The parts of the database each caller needs, sharing one engine (and its pool)."""

    engine: Engine
    alerts: AlertStore
    history: HistoryStore
    ingest: IngestWriter
    nodes: NodeStore
    users: UserStore
    quarantine: QuarantineStore
    audit: AuditStore

    @classmethod
    def from_engine(cls, engine: Engine) -> Store:
        return cls(
            engine=engine,
            alerts=AlertStore(engine),
            history=HistoryStore(engine),
            ingest=IngestWriter(engine),
            nodes=NodeStore(engine),
            users=UserStore(engine),
            quarantine=QuarantineStore(engine),
            audit=AuditStore(engine),
        )

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str, *, upgrade: bool = True) -> Store:
    """Connect to ``url`` and (by default) bring its schema up to date."""
    engine = make_engine(url)
    if upgrade:
        migrate(engine)
    return Store.from_engine(engine)
