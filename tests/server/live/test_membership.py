"""Which replicas are alive, through the real Redis (`mqtt.split: site`)."""

from __future__ import annotations

import pytest
from support.processes import unique, wait_until

from server.live.membership import RedisMembership


def test_replicas_see_each_other_come_and_go(redis_url: str) -> None:
    channel = unique("live")
    views: list[frozenset[str]] = []
    ready = {"b": True}
    a = RedisMembership(redis_url, channel, "a", views.append, every_s=0.2, ttl_s=3.0)
    b = RedisMembership(redis_url, channel, "b", lambda _: None, ready=lambda: ready["b"], every_s=0.2)
    c = RedisMembership(redis_url, channel, "c", lambda _: None, ttl_s=1.5)
    a.start()
    b.start()
    c.renew()  # c registers once and never again: a replica that died
    try:
        wait_until(lambda: a.members == b.members == {"a", "b", "c"}, 10)
        assert views[-1] == frozenset({"a", "b", "c"})
        wait_until(lambda: a.members == {"a", "b"}, 10)  # c's entry expired
        ready["b"] = False  # b lost the broker: it withdraws, and keeps no site
        wait_until(lambda: a.members == {"a"}, 10)
        ready["b"] = True
        wait_until(lambda: a.members == {"a", "b"}, 10)
        b.stop()  # a replica that stops says so at once
        wait_until(lambda: a.members == {"a"}, 10)
    finally:
        a.stop()
        b.stop()


def test_without_redis_the_last_view_is_kept(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    channel = unique("live")
    a = RedisMembership(redis_url, channel, "a", lambda _: None, ttl_s=30.0)
    b = RedisMembership(redis_url, channel, "b", lambda _: None, ttl_s=30.0)
    try:
        assert b.renew() and a.renew() and a.members == {"a", "b"}
        b.stop()  # b is gone, but a can no longer ask
        a._client = RedisMembership("redis://127.0.0.1:1/0", channel, "a", lambda _: None)._client
        a._script = a._client.register_script("return {}")
        assert not a.renew() and a.members == {"a", "b"}
        assert "cannot reach Redis" in caplog.text
    finally:
        b.stop()


def test_an_entry_must_outlive_a_renewal() -> None:
    with pytest.raises(ValueError, match="outlive"):
        RedisMembership("redis://127.0.0.1:6379/0", "x", "a", lambda _: None, every_s=1.0, ttl_s=1.0)
