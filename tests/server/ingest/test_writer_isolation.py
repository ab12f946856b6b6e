"""The batch writer on PostgreSQL: a row the database refuses is set aside alone; a database that is
down costs nothing and shows (issue 11).

Before: a NUL in a text field, or NaN in a layout's JSON, made every later write fail for good
(0 of 50 later events stored, ``store_errors_total`` climbing, ``/healthz`` ok, a restart no help).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from support.contract import Node
from support.processes import unique, wait_until

from hallwatch.contract import CameraEvent, LayoutCamera, NodeLayout
from server.db.connect import make_engine, migrate
from server.ingest.writer import BatchWriter
from server.metrics import Metrics
from server.store import Store
from server.store.history import EventFilter
from server.store.ingest_writes import IngestBatch

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_store(fresh_pg_url: str) -> Iterator[Store]:
    store = Store.from_engine(make_engine(fresh_pg_url))
    migrate(store.engine)
    yield store
    store.close()


def writer_for(store: Store) -> tuple[BatchWriter, list[tuple[int, int]], Metrics]:
    metrics = Metrics()
    writer = BatchWriter(store.ingest.write, metrics)
    acks: list[tuple[int, int]] = []
    writer.acker = lambda mid, qos: acks.append((mid, qos))
    writer.start()
    return writer, acks, metrics


def test_a_row_the_database_refuses_is_set_aside_alone(pg_store: Store) -> None:
    site = unique("site")
    node = Node(site)
    now = datetime.now(UTC)
    good = [(node.event("person_entered", zone="door", people=[i]), now) for i in range(50)]
    # What the contract now refuses, built past it, as a future contract gap would let through.
    nul = CameraEvent.model_construct(**(dict(node.event("camera_lost", reason="x")) | {"reason": "a\x00b"}))
    cam = LayoutCamera.model_construct(
        id="cam-1",
        anchor="feet",
        reprojection_error_cm=1.0,
        image_points=[(float("nan"), 1.0)] * 4,
        floor_points=[(0.0, 0.0)] * 4,
        lens=None,
    )
    nan_layout = NodeLayout.model_construct(**(dict(node.layout()) | {"cameras": [cam]}))
    writer, acks, metrics = writer_for(pg_store)
    try:
        writer.submit(IngestBatch(layouts={(site, "edge-1"): (nan_layout, now)}), [(1, 1)])
        writer.submit(IngestBatch(events=[(nul, now), *good[:25]]), [(2, 1)])
        assert writer.flush(20)
        writer.submit(IngestBatch(events=good[25:]), [(3, 1)])
        assert writer.flush(20)
    finally:
        writer.stop()
    assert len(pg_store.history.all_events(EventFilter(site=site))) == 50
    assert sorted(acks) == [(1, 1), (2, 1), (3, 1)]
    letters, total = pg_store.quarantine.dead_letters(site, None, 10, 0)
    assert total == 2 and {d.reason for d in letters} == {"store"}
    assert {d.topic.rsplit("/", 1)[1] for d in letters} == {"layout", "events"}
    assert str(nul.event_id) in {d.event_id for d in letters}
    assert writer.healthy
    assert metrics.registry.get_sample_value("hallwatch_ingest_dead_letters_total", {"reason": "store"}) == 2


def _connections(dbname: str, allow: bool) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (dbname,)
            )


def test_a_database_that_is_down_costs_nothing_and_shows(pg_store: Store, fresh_pg_url: str) -> None:
    site = unique("site")
    node = Node(site)
    dbname = fresh_pg_url.rsplit("/", 1)[1]
    writer, acks, metrics = writer_for(pg_store)
    try:
        _connections(dbname, allow=False)
        now = datetime.now(UTC)
        writer.submit(
            IngestBatch(events=[(node.event("camera_lost", reason="x"), now)]), [(7, 1)], time.time()
        )
        wait_until(lambda: not writer.healthy, 10, explain="the writer never noticed the database was down")
        assert acks == [], "nothing is acknowledged while it cannot be stored"
        assert writer.oldest_unstored is not None
        assert metrics.registry.get_sample_value("hallwatch_store_healthy") == 0
        _connections(dbname, allow=True)
        wait_until(lambda: acks == [(7, 1)], 40, explain="the writer did not store the batch once back")
    finally:
        _connections(dbname, allow=True)
        writer.stop()
    assert writer.healthy and writer.oldest_unstored is None
    assert len(pg_store.history.all_events(EventFilter(site=site))) == 1
    assert pg_store.quarantine.counts() == (0, 0), "nothing was set aside: the data was not to blame"
