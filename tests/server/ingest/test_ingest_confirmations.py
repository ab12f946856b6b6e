"""End-to-end acknowledgements at the server (issue 16): once a batch is written, each node is told
which of its events are stored; never an event that is not."""

from __future__ import annotations

import threading

import pytest
from support.contract import Node
from support.processes import wait_until
from test_ingest_processor import Rig, rig  # noqa: F401 (the fixture)

from server.ingest import writer as writer_module
from server.store.history import EventFilter

Confirmed = dict[tuple[str, str], list[int]]


@pytest.fixture
def confirmed(rig: Rig) -> list[Confirmed]:  # noqa: F811
    seen: list[Confirmed] = []
    rig.processor.confirmer = lambda stored: seen.append({k: list(v) for k, v in stored.items()})
    return seen


def seqs_of(confirmed: list[Confirmed], site: str, node: str) -> list[int]:
    return sorted(seq for batch in confirmed for seq in batch.get((site, node), []))


def test_stored_events_and_their_repeats_are_confirmed_to_their_node(
    rig: Rig,  # noqa: F811
    confirmed: list[Confirmed],
) -> None:
    node = Node(rig.site)
    rig.feed(node.layout(), node.health())
    events = [node.event("person_entered", zone="door", people=[i]) for i in range(3)]
    floor = node.floor_event("person_left", zone="door", people=[9])
    state = node.state({"w1": 1})  # a state is not from the outbox: nothing to confirm
    rig.feed(*events, floor, state, qos=1)
    assert seqs_of(confirmed, rig.site, node.node) == sorted([e.seq for e in events] + [floor.seq])
    confirmed.clear()
    rig.feed(events[0], qos=1)  # the broker lost its copy, the node sent it again
    assert rig.metric("hallwatch_ingest_duplicates_total") == 1
    assert seqs_of(confirmed, rig.site, node.node) == [events[0].seq]


def test_an_event_not_stored_is_never_confirmed(rig: Rig, confirmed: list[Confirmed]) -> None:  # noqa: F811
    owner, other = Node(rig.site, "edge-a", "cam-a"), Node(rig.site, "edge-b", "cam-b")
    rig.feed(owner.layout(), owner.health(), other.layout(), other.health())
    # edge-b's event about edge-a's camera is refused (a dead letter), and a repeat of edge-a's
    # event sent by edge-b must not confirm edge-a's seq either.
    real = owner.event("person_entered", zone="door", people=[1])
    forged = real.model_copy(update={"node": "edge-b"})
    rig.feed(forged, qos=1)
    assert rig.metric("hallwatch_ingest_rejected_total", reason="foreign_camera") == 1
    assert confirmed == []
    # The owner's own copy afterwards is stored and confirmed (it was never a repeat).
    rig.feed(real, qos=1)
    assert seqs_of(confirmed, rig.site, "edge-a") == [real.seq]
    assert seqs_of(confirmed, rig.site, "edge-b") == []
    # A node nobody accepted yet: its events are held, not stored, so they stay in its outbox.
    rig.processor.identity.accept_new_nodes = False
    newcomer = Node(rig.site, "edge-new", "cam-new")
    rig.feed(newcomer.layout(), newcomer.event("person_entered", zone="door", people=[2]), qos=1)
    assert rig.metric("hallwatch_ingest_quarantined_total") == 2
    assert seqs_of(confirmed, rig.site, "edge-new") == []


def test_events_dropped_while_the_database_is_away_are_not_confirmed(
    rig: Rig,  # noqa: F811
    confirmed: list[Confirmed],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node = Node(rig.site)
    rig.feed(node.layout(), node.health())
    monkeypatch.setattr(writer_module, "MAX_PENDING_EVENTS", 2)
    writer = rig.processor.writer
    failing, gate = {"on": True}, threading.Event()
    real_write = writer._write

    def write(batch: object) -> None:
        if failing["on"]:
            gate.wait(10)  # the database hangs, then fails: what comes meanwhile waits behind it
            raise ConnectionError("the database is away")
        real_write(batch)  # type: ignore[arg-type]

    monkeypatch.setattr(writer, "_write", write)
    events = [node.event("person_entered", zone="door", people=[i]) for i in range(4)]
    rig.processor.offer(rig_raw(events[0]))
    rig.processor.run_round(wait_s=0.0)
    wait_until(lambda: writer._busy)  # event 0 is being written
    for event in events[1:]:  # three more wait, one more than the writer keeps: event 1 goes
        rig.processor.offer(rig_raw(event))
        rig.processor.run_round(wait_s=0.0)
    failing["on"] = False
    gate.set()  # the write of event 0 fails; put back before events 2 and 3, it passes the cap and goes
    assert writer.flush(15)
    stored = {e.seq for e in rig.store.history.all_events(EventFilter(site=rig.site))}
    assert stored == {e.seq for e in events[2:]}
    assert rig.metric("hallwatch_ingest_dropped_total", reason="store_unavailable") == 2
    assert confirmed == [], "nothing may be confirmed of a batch some of whose events were dropped"
    later = node.event("person_left", zone="door", people=[1])
    rig.feed(later, qos=1)
    assert seqs_of(confirmed, rig.site, node.node) == [later.seq]


def rig_raw(msg: object) -> object:
    import time

    from support.contract import topic_of

    from server.ingest.processor import RawMessage

    return RawMessage(topic_of(msg), msg.to_json(), time.time(), 1, 1)  # type: ignore[attr-defined]
