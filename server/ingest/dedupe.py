"""Remembering recent event ids, to drop a message the broker delivered twice."""

from __future__ import annotations

from collections import OrderedDict
from uuid import UUID


class RecentIds:
    """A bounded set of the most recently seen ids (oldest forgotten first).

    >>> seen = RecentIds(2)
    >>> import uuid; a = uuid.uuid4()
    >>> seen.add(a), seen.add(a)
    (True, False)
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        # Kept as ints: UUID objects would be hundreds of thousands of objects for the garbage
        # collector to walk, which shows as pauses in the alert latency.
        self._ids: OrderedDict[int, None] = OrderedDict()

    def add(self, event_id: UUID) -> bool:
        """Remember ``event_id``; False when it was already there."""
        key = event_id.int
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._ids)
