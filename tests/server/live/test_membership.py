"""Which replicas are alive, through the real Redis (`mqtt.split: site`)."""

from __future__ import annotations

import time

import pytest
from support.processes import unique, wait_until

from server.live.membership import RedisMembership


def test_replicas_see_each_other_come_and_go(redis_url: str) -> None:
    channel = unique("live")
    views: dict[str, list[frozenset[str]]] = {"a": [], "b": [], "c": []}
    a, b = (
        RedisMembership(redis_url, channel, name, views[name].append, every_s=0.1, ttl_s=0.5)
        for name in ("a", "b")
    )
    c = RedisMembership(redis_url, channel, "c", views["c"].append, every_s=0.5, ttl_s=2.0)
    a.start()
    b.start()
    c.renew()  # c registers once and never again: a replica that died
    try:
        wait_until(lambda: a.members == b.members == {"a", "b", "c"}, 5)
        wait_until(lambda: a.members == {"a", "b"}, 10)  # c's key expired
        b.stop()  # a replica that stops says so at once
        wait_until(lambda: a.members == {"a"}, 1)
        assert views["a"][-1] == frozenset({"a"})
    finally:
        a.stop()
        b.stop()


def test_without_redis_the_last_view_is_kept(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    channel = unique("live")
    a = RedisMembership(redis_url, channel, "a", lambda _: None, every_s=0.1, ttl_s=0.5)
    b = RedisMembership(redis_url, channel, "b", lambda _: None, every_s=0.1, ttl_s=0.5)
    try:
        b.renew()
        assert a.renew() and a.members == {"a", "b"}
        a._client = RedisMembership("redis://127.0.0.1:1/0", channel, "a", lambda _: None)._client
        time.sleep(0.6)  # b's key has expired meanwhile, but a cannot know
        assert not a.renew() and a.members == {"a", "b"}
        assert "cannot reach Redis" in caplog.text
    finally:
        b.stop()


def test_a_key_must_outlive_a_renewal() -> None:
    with pytest.raises(ValueError, match="outlive"):
        RedisMembership("redis://127.0.0.1:6379/0", "x", "a", lambda _: None, every_s=1.0, ttl_s=1.0)
