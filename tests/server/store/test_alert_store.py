"""Alerts in the database, on SQLite and PostgreSQL: the engine's actions and people's actions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from support.processes import unique

from server.alerts.model import AlertAction, AlertKey
from server.db.tables import Alert
from server.store import Store
from server.store.alerts import AlertConflict, AlertFilter, AlertNotFound

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()
COOLDOWN = 300.0


def act(kind: str, key: AlertKey, at: float, **kw: object) -> AlertAction:
    return AlertAction(kind=kind, key=key, at=T0 + at, zone=key.subject, message=f"{kind} at {at}", **kw)  # type: ignore[arg-type]


@pytest.fixture
def key(site: str) -> AlertKey:
    return AlertKey(site, "window_over_limit", "w1")


def rows(store: Store, site: str) -> list[Alert]:
    found, _ = store.alerts.search(AlertFilter(site=site), 100, 0)
    return sorted(found, key=lambda a: a.id)


def test_open_is_stored_once(store: Store, key: AlertKey) -> None:
    changed, lost = store.alerts.apply([act("open", key, 0, value=3, limit=2)], COOLDOWN)
    assert [(a.status, a.value, a.peak, a.limit, a.open_key) for a in changed] == [
        ("open", 3, 3, 2, key.open_key)
    ]
    assert lost == []
    changed, lost = store.alerts.apply([act("open", key, 1, value=4)], COOLDOWN)
    assert changed == [] and [a.kind for a in lost] == ["open"]
    assert len(rows(store, key.site)) == 1


def test_resolve_clears_the_key_and_a_second_resolve_finds_nothing(store: Store, key: AlertKey) -> None:
    store.alerts.apply([act("open", key, 0)], COOLDOWN)
    changed, _ = store.alerts.apply([act("resolve", key, 30)], COOLDOWN)
    assert [(a.status, a.open_key, a.resolved_by, a.version) for a in changed] == [
        ("resolved", None, None, 2)
    ]
    assert changed[0].resolved_at == datetime.fromtimestamp(T0 + 30, UTC)
    changed, lost = store.alerts.apply([act("resolve", key, 31)], COOLDOWN)
    assert changed == [] and len(lost) == 1


def test_reopen_within_the_cooldown_is_the_same_alert(store: Store, key: AlertKey) -> None:
    (opened,), _ = store.alerts.apply([act("open", key, 0)], COOLDOWN)
    store.alerts.apply([act("resolve", key, 30)], COOLDOWN)
    (reopened,), _ = store.alerts.apply([act("reopen", key, 100, value=5)], COOLDOWN)
    assert reopened.id == opened.id
    assert (reopened.status, reopened.reopen_count, reopened.resolved_at, reopened.open_key) == (
        "open",
        1,
        None,
        key.open_key,
    )


def test_reopen_keeps_whoever_took_it(store: Store, key: AlertKey) -> None:
    """Issue 13: a take is never lost: the crowd came back, and the guide is still on it."""
    (opened,), _ = store.alerts.apply([act("open", key, 0, value=3)], COOLDOWN)
    taken_at = datetime.fromtimestamp(T0 + 5, UTC)
    store.alerts.acknowledge(opened.id, "ann", taken_at)
    store.alerts.apply([act("resolve", key, 40)], COOLDOWN)
    (reopened,), _ = store.alerts.apply([act("reopen", key, 100, value=5)], COOLDOWN)
    assert (reopened.id, reopened.status, reopened.acknowledged_by, reopened.acknowledged_at) == (
        opened.id,
        "acknowledged",
        "ann",
        taken_at,
    )
    assert (reopened.reopen_count, reopened.peak) == (1, 5)


def test_reopen_after_the_cooldown_opens_a_new_alert(store: Store, key: AlertKey) -> None:
    (opened,), _ = store.alerts.apply([act("open", key, 0)], COOLDOWN)
    store.alerts.apply([act("resolve", key, 30)], COOLDOWN)
    (new,), _ = store.alerts.apply([act("reopen", key, 30 + COOLDOWN + 1)], COOLDOWN)
    assert new.id != opened.id and new.reopen_count == 0
    assert len(rows(store, key.site)) == 2


def test_escalate_once_and_never_when_acknowledged(store: Store, site: str) -> None:
    a, b = AlertKey(site, "window_over_limit", "w1"), AlertKey(site, "window_over_limit", "w2")
    (alert_a, alert_b), _ = store.alerts.apply([act("open", a, 0), act("open", b, 0)], COOLDOWN)
    store.alerts.acknowledge(alert_b.id, "ann", datetime.fromtimestamp(T0 + 5, UTC))
    changed, lost = store.alerts.apply([act("escalate", a, 300), act("escalate", b, 300)], COOLDOWN)
    assert [c.id for c in changed] == [alert_a.id] and changed[0].escalated_at is not None
    assert [x.key for x in lost] == [b]
    changed, _ = store.alerts.apply([act("escalate", a, 600)], COOLDOWN)
    assert changed == []


def test_severity_follows_the_rule_and_peak_only_grows(store: Store, site: str) -> None:
    key = AlertKey(site, "hall_capacity", "hall")
    store.alerts.apply([act("open", key, 0, value=8, severity="warning")], COOLDOWN)
    (changed,), _ = store.alerts.apply([act("severity", key, 5, value=10, severity="critical")], COOLDOWN)
    assert changed.severity == "critical"
    assert store.alerts.apply([act("severity", key, 5.5, value=10, severity="critical")], COOLDOWN)[0] == []
    (changed,), _ = store.alerts.apply([act("severity", key, 6, value=9, severity="warning")], COOLDOWN)
    assert changed.severity == "warning"  # back under the critical ratio: a warning again (issue 13)
    store.alerts.apply([act("severity", key, 6.5, value=10, severity="critical")], COOLDOWN)
    (changed,), _ = store.alerts.apply([act("peak", key, 7, value=12, severity="critical")], COOLDOWN)
    assert (changed.peak, changed.value) == (12, 12)
    assert store.alerts.apply([act("peak", key, 8, value=11)], COOLDOWN)[0] == []


def test_people_acknowledge_and_resolve(store: Store, key: AlertKey) -> None:
    (alert,), _ = store.alerts.apply([act("open", key, 0)], COOLDOWN)
    at = datetime.fromtimestamp(T0 + 10, UTC)
    taken = store.alerts.acknowledge(alert.id, "ann", at, note="on my way")
    assert (taken.status, taken.acknowledged_by, taken.note, taken.acknowledged_at) == (
        "acknowledged",
        "ann",
        "on my way",
        at,
    )
    assert store.alerts.acknowledge(alert.id, "ann", at).version == taken.version  # the same tap twice
    with pytest.raises(AlertConflict, match="already acknowledged by ann"):
        store.alerts.acknowledge(alert.id, "bob", at)
    done = store.alerts.resolve(alert.id, "bob", at + timedelta(seconds=5))
    assert (done.status, done.resolved_by, done.open_key, done.note) == ("resolved", "bob", None, "on my way")
    with pytest.raises(AlertConflict):
        store.alerts.resolve(alert.id, "bob", at)
    with pytest.raises(AlertConflict):
        store.alerts.acknowledge(alert.id, "bob", at)
    with pytest.raises(AlertNotFound):
        store.alerts.acknowledge(10**9, "bob", at)
    with pytest.raises(AlertNotFound):
        store.alerts.get(10**9)


def test_snapshots_hold_open_and_recently_resolved(store: Store, site: str) -> None:
    a, b, c = (AlertKey(site, "window_over_limit", z) for z in ("w1", "w2", "w3"))
    store.alerts.apply([act("open", a, 0), act("open", b, 0), act("open", c, 0)], COOLDOWN)
    store.alerts.apply([act("resolve", b, 10), act("resolve", c, 10)], COOLDOWN)
    now = datetime.fromtimestamp(T0 + 200, UTC)
    snaps = {s.key: s for s in store.alerts.snapshots(now, COOLDOWN) if s.key.site == site}
    assert {k: s.status for k, s in snaps.items()} == {a: "open", b: "resolved", c: "resolved"}
    later = datetime.fromtimestamp(T0 + 400, UTC)
    snaps = {s.key: s for s in store.alerts.snapshots(later, COOLDOWN) if s.key.site == site}
    assert set(snaps) == {a}


def test_search_filters(store: Store, site: str) -> None:
    store.alerts.apply(
        [
            act("open", AlertKey(site, "window_over_limit", "w1"), 0),
            act("open", AlertKey(site, "hall_capacity", "hall"), 10, severity="critical"),
            act("open", AlertKey(site, "node_offline", "edge-1"), 20, severity="critical"),
        ],
        COOLDOWN,
    )
    store.alerts.apply([act("resolve", AlertKey(site, "window_over_limit", "w1"), 30)], COOLDOWN)

    def search(**kw: object) -> list[str]:
        found, total = store.alerts.search(AlertFilter(site=site, **kw), 100, 0)  # type: ignore[arg-type]
        assert total == len(found)
        return [a.subject for a in found]

    assert search() == ["edge-1", "hall", "w1"]  # newest first
    assert search(status=["open"]) == ["edge-1", "hall"]
    assert search(severity=["critical"], rule=["hall_capacity"]) == ["hall"]
    assert search(since=datetime.fromtimestamp(T0 + 5, UTC), until=datetime.fromtimestamp(T0 + 15, UTC)) == [
        "hall"
    ]
    assert search(updated_since=datetime.fromtimestamp(T0 + 25, UTC)) == ["w1"]
    page, total = store.alerts.search(AlertFilter(site=site), 1, 1)
    assert ([a.subject for a in page], total) == (["hall"], 3)


def test_two_writers_opening_one_key_store_one_alert(store: Store, site: str) -> None:
    """Two replicas racing on the same open: the unique open_key lets exactly one win."""
    for i in range(10):
        key = AlertKey(site, "window_over_limit", f"race-{i}")
        barrier = threading.Barrier(2)
        results: list[int] = []

        def open_it(
            key: AlertKey = key, barrier: threading.Barrier = barrier, results: list[int] = results
        ) -> None:
            barrier.wait()
            changed, _ = store.alerts.apply([act("open", key, 0)], COOLDOWN)
            results.append(len(changed))

        threads = [threading.Thread(target=open_it) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [0, 1]
    with store.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(Alert).where(Alert.site == site)).scalar_one()
    assert count == 10


def test_open_key_is_unique_in_the_schema(store: Store) -> None:
    """The guarantee does not depend on the code: the database refuses a second open alert."""
    from sqlalchemy.exc import IntegrityError

    from server.store.sql import write

    site = unique("s")
    values = {
        "open_key": f"{site}/window_over_limit/w1",
        "site": site,
        "rule": "window_over_limit",
        "subject": "w1",
        "severity": "warning",
        "status": "open",
        "message": "",
        "opened_at": datetime.now(UTC),
        "updated_at": datetime.now(UTC),
        "reopen_count": 0,
        "version": 1,
    }
    with write(store.engine) as conn:
        conn.execute(Alert.__table__.insert().values(**values))
    with pytest.raises(IntegrityError), write(store.engine) as conn:
        conn.execute(Alert.__table__.insert().values(**values))
