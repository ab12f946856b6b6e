"""Replicas split the sites between them (`mqtt.split: site`, issue 16).

A broker without shared subscriptions (MQTT 3.1.1 only: NATS's MQTT listener, RabbitMQ before
3.13) gives every replica every message. Events, node status, health and layouts are meant to reach
every replica anyway (events are stored once by their event id, alerts once by their open key); the
high-volume topics (camera states and positions, a node's fused floor and its positions) are taken
by one replica per site: the site's owner, chosen by rendezvous hashing over the replicas alive now
(`server.live.membership`). When a replica joins or leaves, only the sites it owns, or comes to
own, move; every other site stays where it was.

Owning whole sites, rather than a shared subscription's message-by-message split, also keeps each
camera's states in one replica's alert engine (a one-message over/under flip is never split between
two engines) and a site's positions together for the floor the server fuses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable

#: (scope, kind) of the topics one replica per site takes: hallwatch/{site}/{scope}/{name}/{kind}.
OWNED_TOPICS = frozenset(
    {("cameras", "state"), ("cameras", "positions"), ("nodes", "floor"), ("nodes", "floor_positions")}
)


def owner(site: str, members: Collection[str]) -> str:
    """The replica that takes ``site``'s camera states: the member with the highest hash of
    (site, member). Every replica computes the same answer from the same members.

    >>> owner("hall-a", ["replica-1"])
    'replica-1'
    >>> owner("hall-a", ["r1", "r2"]) == owner("hall-a", ["r2", "r1"])
    True
    """
    if not members:
        raise ValueError("a site needs at least one replica to own it")
    return max(members, key=lambda member: _score(site, member))


def _score(site: str, member: str) -> tuple[bytes, str]:
    digest = hashlib.blake2b(f"{site}\x00{member}".encode(), digest_size=8).digest()
    return digest, member


class SitePartition:
    """Which messages this replica takes. `keeps` runs on the ingest thread for every message;
    `update` on the membership thread (a new view replaces the old one in one assignment)."""

    def __init__(self, me: str) -> None:
        self.me = me
        # The members and the answers worked out for them, replaced together.
        self._view: tuple[frozenset[str], dict[str, bool]] = (frozenset({me}), {})

    @property
    def members(self) -> frozenset[str]:
        return self._view[0]

    def update(self, members: Iterable[str]) -> bool:
        """Take the replicas alive now (this one is always among them); True when that changed."""
        view = frozenset(members) | {self.me}
        if view == self._view[0]:
            return False
        self._view = (view, {})
        return True

    def owns(self, site: str) -> bool:
        members, answers = self._view
        mine = answers.get(site)
        if mine is None:
            mine = answers[site] = owner(site, members) == self.me
        return mine

    def keeps(self, topic: str) -> bool:
        """Whether this replica takes the message on ``topic`` (everything but the high-volume
        topics of the sites other replicas own)."""
        parts = topic.split("/")
        if len(parts) != 5 or (parts[2], parts[4]) not in OWNED_TOPICS:
            return True
        return self.owns(parts[1])
