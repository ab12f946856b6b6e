"""Replicas split the sites between them (`mqtt.split: site`): the pure part."""

from __future__ import annotations

import pytest

from server.ingest.partition import SitePartition, owner

SITES = [f"hall-{k}" for k in range(60)]


def test_every_replica_names_the_same_owner_and_the_sites_spread() -> None:
    members = ["replica-a", "replica-b", "replica-c"]
    owners = {site: owner(site, members) for site in SITES}
    assert all(owner(site, list(reversed(members))) == owners[site] for site in SITES)
    shares = [sum(o == m for o in owners.values()) for m in members]
    assert min(shares) >= 10, shares  # 20 each on average; a hash that favoured one would fail


def test_a_replica_leaving_moves_only_its_own_sites() -> None:
    before = {site: owner(site, ["a", "b", "c"]) for site in SITES}
    after = {site: owner(site, ["a", "c"]) for site in SITES}
    moved = {site for site in SITES if before[site] != after[site]}
    assert moved == {site for site in SITES if before[site] == "b"}
    assert moved  # b owned some


def test_no_replica_no_owner() -> None:
    with pytest.raises(ValueError, match="at least one replica"):
        owner("hall-a", [])


def test_a_replica_keeps_the_bulk_of_its_own_sites_and_everything_else() -> None:
    a, b = SitePartition("a"), SitePartition("b")
    assert a.keeps("hallwatch/hall-1/cameras/cam-1/state")  # alone, it owns every site
    for partition in (a, b):
        assert partition.update(["a", "b"]) and not partition.update(["b", "a"])
    for site in SITES:
        state = f"hallwatch/{site}/cameras/cam-1/state"
        assert a.keeps(state) != b.keeps(state)  # exactly one of them takes it
        for kind in ("positions",):
            assert a.keeps(f"hallwatch/{site}/cameras/cam-1/{kind}") == a.keeps(state)
        for kind in ("floor", "floor_positions"):
            assert a.keeps(f"hallwatch/{site}/nodes/edge-1/{kind}") == a.keeps(state)
        # events, status, health, layouts: every replica
        assert a.keeps(f"hallwatch/{site}/cameras/cam-1/events")
        assert b.keeps(f"hallwatch/{site}/nodes/e/status")
    assert a.keeps("not/a/hallwatch/topic") and a.keeps("hallwatch/x/cameras/c/state/extra")
    a.update(["a"])  # b is gone: a takes every site again
    assert all(a.keeps(f"hallwatch/{site}/cameras/cam-1/state") for site in SITES)
