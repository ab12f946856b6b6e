"""The batch writer: merges while busy, acknowledges after storing, retries, drops only when it must."""

from __future__ import annotations

import threading

from support.contract import Node
from support.processes import wait_until

from server.ingest import writer as writer_module
from server.ingest.writer import BatchWriter
from server.metrics import Metrics
from server.store.ingest_writes import IngestBatch


class SlowStore:
    def __init__(self) -> None:
        self.batches: list[int] = []
        self.gate = threading.Event()

    def write(self, batch: IngestBatch) -> None:
        self.gate.wait(5)
        self.batches.append(len(batch.events))


def events(n: int) -> IngestBatch:
    node = Node("s")
    return IngestBatch(events=[(node.event("person_entered"), node.status().ts) for _ in range(n)])


def test_batches_arriving_during_a_write_are_merged_and_acked_after_it() -> None:
    store, acks = SlowStore(), []
    writer = BatchWriter(store.write, Metrics())
    writer.acker = lambda mid, qos: acks.append(mid)
    writer.start()
    writer.submit(events(1), [(1, 1)])
    wait_until(lambda: writer._busy)
    writer.submit(events(2), [(2, 1)])
    writer.submit(events(3), [(3, 1)])
    assert acks == []
    store.gate.set()
    assert writer.flush(5)
    assert store.batches == [1, 5] and acks == [1, 2, 3]
    writer.stop()


def test_stop_writes_what_is_pending() -> None:
    store = SlowStore()
    store.gate.set()
    writer = BatchWriter(store.write, Metrics())
    writer.start()
    writer.submit(events(4), [])
    writer.stop()
    assert sum(store.batches) == 4


def test_a_long_outage_drops_the_oldest_events_and_counts_them(monkeypatch: object) -> None:
    metrics = Metrics()
    monkeypatch.setattr(writer_module, "MAX_PENDING_EVENTS", 10)  # type: ignore[attr-defined]
    writer = BatchWriter(lambda batch: None, metrics)  # never started: everything stays pending
    writer.submit(events(7), [])
    writer.submit(events(7), [])
    assert writer.backlog_events == 10
    assert (
        metrics.registry.get_sample_value("hallwatch_ingest_dropped_total", {"reason": "store_unavailable"})
        == 4
    )


def test_what_a_failed_write_puts_back_is_held_to_the_cap_too(monkeypatch: object) -> None:
    metrics = Metrics()
    monkeypatch.setattr(writer_module, "MAX_PENDING_EVENTS", 4)  # type: ignore[attr-defined]
    store, failing = SlowStore(), {"on": True}

    def write(batch: IngestBatch) -> None:
        fail = failing["on"]
        store.write(batch)
        if fail:
            raise ConnectionError("the database is away")

    writer = BatchWriter(write, metrics)
    writer.start()
    writer.submit(events(3), [])
    wait_until(lambda: writer._busy)
    writer.submit(events(3), [])  # 3 in flight and 3 waiting: under the cap each, over it together
    failing["on"] = False
    store.gate.set()
    assert writer.flush(10)
    assert store.batches == [3, 4]
    assert (
        metrics.registry.get_sample_value("hallwatch_ingest_dropped_total", {"reason": "store_unavailable"})
        == 2
    )
    writer.stop()
