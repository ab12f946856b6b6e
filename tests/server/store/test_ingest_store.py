"""Writing ingest batches and reading history back, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError
from support.contract import Node

from server.db.tables import Camera, Event, Zone
from server.db.tables import Node as NodeRow
from server.settings import RetentionSettings
from server.store import Store
from server.store.history import EventFilter
from server.store.ingest_writes import CameraFlag, IngestBatch, OccupancyDelta
from server.store.retention import prune

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def occupancy_batch(site: str, camera: str, zone: str, bucket: datetime, **delta: float) -> IngestBatch:
    batch = IngestBatch()
    batch.occupancy["minute"] = {(site, zone, camera, bucket): OccupancyDelta(**delta)}  # type: ignore[arg-type]
    return batch


def test_events_are_stored_once(store: Store, site: str) -> None:
    node = Node(site)
    first = node.event("person_entered", zone="door", people=[7])
    second = node.event(
        "spacing_violation_started", zone="w1", people=[1, 2], distance_m=0.7, floor=(1.0, 2.0)
    )
    batch = IngestBatch(events=[(first, T0), (second, T0)])
    store.ingest.write(batch)
    store.ingest.write(IngestBatch(events=[(first, T0 + timedelta(seconds=1))]))  # delivered again
    stored, total = store.history.events(EventFilter(site=site), 10, 0)
    assert total == 2
    violation = next(e for e in stored if e.type == "spacing_violation_started")
    assert (violation.people, violation.distance_m, violation.floor_x, violation.floor_y) == (
        [1, 2],
        0.7,
        1.0,
        2.0,
    )
    assert violation.id == second.event_id


def test_occupancy_adds_up_across_batches(store: Store, site: str) -> None:
    store.ingest.write(
        occupancy_batch(
            site, "cam-1", "w1", T0, samples=3, sum_count=6, max_count=3, weighted_sum=60, seconds=30
        )
    )
    store.ingest.write(
        occupancy_batch(
            site, "cam-1", "w1", T0, samples=2, sum_count=2, max_count=1, weighted_sum=20, seconds=30
        )
    )
    series = store.history.occupancy(site, "minute", T0, T0 + timedelta(minutes=1))
    (point,) = series["w1"]
    assert (point.bucket, point.samples, point.max, point.mean) == (T0, 5, 3, round(80 / 60, 3))


def test_history_takes_the_busiest_camera_per_bucket(store: Store, site: str) -> None:
    store.ingest.write(
        occupancy_batch(
            site, "cam-a", "hall", T0, samples=10, sum_count=10, max_count=2, weighted_sum=60, seconds=60
        )
    )
    store.ingest.write(
        occupancy_batch(
            site, "cam-b", "hall", T0, samples=10, sum_count=40, max_count=6, weighted_sum=240, seconds=60
        )
    )
    (point,) = store.history.occupancy(site, "minute", T0, T0 + timedelta(minutes=1), ["hall"])["hall"]
    assert (point.mean, point.max, point.samples) == (4.0, 6, 20)
    assert store.history.occupancy(site, "minute", T0, T0 + timedelta(minutes=1), ["w9"]) == {}


def test_nodes_health_layout_and_cameras(store: Store, site: str) -> None:
    node = Node(site)
    batch = IngestBatch()
    batch.statuses[(site, "edge-1")] = (node.status("online"), T0)
    batch.healths[(site, "edge-1")] = (node.health({"cam-1": True, "cam-2": False}), T0)
    batch.layouts[(site, "edge-1")] = (node.layout(), T0)
    store.ingest.write(batch)
    (row,) = store.nodes.nodes(site)
    assert (row.status, row.health_at, row.uptime_s, row.first_seen_at) == ("online", T0, 10.0, T0)
    assert row.layout is not None and len(row.layout["zones"]) == 4
    assert {(c.camera, c.connected) for c in store.nodes.cameras(site)} == {("cam-1", True), ("cam-2", False)}
    assert [z.zone for z in store.nodes.zones(site)] == ["hall", "q1", "w1", "w2"]
    # a later layout without w2 removes it; the last will turns the node offline
    later = IngestBatch()
    later.layouts[(site, "edge-1")] = (
        node.layout([{"id": "w1", "kind": "window", "polygon": [(0, 0), (1, 0), (1, 1)], "limit": 3}]),
        T0 + timedelta(minutes=1),
    )
    later.statuses[(site, "edge-1")] = (node.status("offline"), T0 + timedelta(minutes=1))
    later.camera_flags[(site, "cam-1")] = CameraFlag("edge-1", True, T0, "no frames")
    store.ingest.write(later)
    (row,) = store.nodes.nodes(site)
    assert (row.status, row.last_seen_at, row.first_seen_at) == ("offline", T0 + timedelta(minutes=1), T0)
    assert [(z.zone, z.limit) for z in store.nodes.zones(site)] == [("w1", 3)]
    cam = next(c for c in store.nodes.cameras(site) if c.camera == "cam-1")
    assert (cam.lost_since, cam.lost_reason) == (T0, "no frames")
    assert store.nodes.sites().count(site) == 1


def test_event_counts_and_heatmap(store: Store, site: str) -> None:
    node = Node(site)
    batch = IngestBatch(
        events=[
            (node.event("person_entered", zone="door", people=[i], ts=T0 + timedelta(seconds=i)), T0)
            for i in range(5)
        ]
        + [(node.event("person_left", zone="door", people=[9], ts=T0), T0)]
    )
    batch.heatmap = {(site, "cam-1", T0, 1, 2): 5, (site, "cam-1", T0, 3, 4): 2}
    store.ingest.write(batch)
    batch2 = IngestBatch(heatmap={(site, "cam-1", T0, 1, 2): 1})
    store.ingest.write(batch2)
    counts = store.history.event_counts(
        site, ["person_entered", "person_left", "camera_lost"], T0, T0 + timedelta(hours=1)
    )
    assert counts == {"person_entered": 5, "person_left": 1, "camera_lost": 0}
    cells = store.history.heatmap(site, T0, T0 + timedelta(hours=1))
    assert cells == [
        {"camera": "cam-1", "cell_x": 1, "cell_y": 2, "samples": 6},
        {"camera": "cam-1", "cell_x": 3, "cell_y": 4, "samples": 2},
    ]


def test_retention_prunes_old_rows_only(store: Store, site: str) -> None:
    node = Node(site)
    old, new = T0 - timedelta(days=100), T0
    batch = IngestBatch(
        events=[(node.event("person_entered", ts=old), old), (node.event("person_entered", ts=new), new)]
    )
    batch.occupancy["minute"] = {
        (site, "w1", "cam-1", old): OccupancyDelta(1, 1, 1, 1, 1),
        (site, "w1", "cam-1", new): OccupancyDelta(1, 1, 1, 1, 1),
    }
    store.ingest.write(batch)
    deleted = prune(store.engine, RetentionSettings(minute_days=14, event_days=90), T0)
    assert deleted["events"] >= 1 and deleted["occupancy_minute"] >= 1
    _, total = store.history.events(EventFilter(site=site), 10, 0)
    assert total == 1
    assert list(store.history.occupancy(site, "minute", old, T0 + timedelta(minutes=1))) == ["w1"]
    assert len(store.history.occupancy(site, "minute", old, T0 + timedelta(minutes=1))["w1"]) == 1


def test_a_failed_batch_writes_nothing(store: Store, site: str) -> None:
    node = Node(site)
    good = node.event("person_entered")
    batch = IngestBatch(events=[(good, T0)])
    batch.statuses[(site, "edge-1")] = (node.status(), T0)
    batch.layouts[(site, "edge-1")] = (node.layout(), "not a time")  # type: ignore[assignment]
    with pytest.raises((AttributeError, ValueError, TypeError, StatementError)):
        store.ingest.write(batch)
    with store.engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(Event).where(Event.site == site)).scalar_one() == 0
        )
        assert (
            conn.execute(select(func.count()).select_from(NodeRow).where(NodeRow.site == site)).scalar_one()
            == 0
        )
        assert conn.execute(select(func.count()).select_from(Zone).where(Zone.site == site)).scalar_one() == 0
        assert (
            conn.execute(select(func.count()).select_from(Camera).where(Camera.site == site)).scalar_one()
            == 0
        )
