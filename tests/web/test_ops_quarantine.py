"""Ops accept a new node, and read and delete refused messages, on the nodes page (issue 11).

A server of its own with ``ingest.accept_new_nodes`` off (as in production): a node it has not
heard of is held until ops accept it; before that, it is not in /api/v1/nodes and its crowd raises
no alert.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from support.contract import Node
from support.hallwatch_processes import ServerProcess
from support.mqtt import Publisher
from support.processes import unique, wait_until
from web_fixtures import Pages
from web_support import WEB_SERVER_ENV

from hallwatch.contract import camera_topic

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture
def guarded_server(tmp_path: Path, broker: None, vendor_files: None) -> Callable[[str], ServerProcess]:
    made: list[ServerProcess] = []

    def make(site: str) -> ServerProcess:
        env = dict(WEB_SERVER_ENV) | {"HALLWATCH_INGEST__ACCEPT_NEW_NODES": "false"}
        server = ServerProcess(tmp_path / "server", [site], env=env, group=unique("web-group")).start()
        made.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in made:
        server.stop()


def test_ops_accept_a_quarantined_node_and_clear_refused_messages(
    guarded_server: Callable[[str], ServerProcess], pages: Pages
) -> None:
    site = unique("quarantine")
    server = guarded_server(site)
    node = Node(site, "edge-new", "cam-new")
    pub = Publisher()
    try:
        pub.send(node.layout())
        pub.send(node.status())
        pub.send(node.health(), qos=1)
        pub.send(node.state({"w1": 5}))
        pub.raw(camera_topic(site, "cam-new", "events"), b'{"kind": "event", "ts": 0, "reason": "\\u202e"}')
        wait_until(lambda: server.get("quarantine/nodes", "ops"), 15, explain=server.log)
        assert server.get("nodes", "ops") == [], "a quarantined node is no node yet"
        assert server.get("alerts", "ops", site=site)["total"] == 0, "and raises no alert"

        page = pages.open("ops", "desktop", path=f"/ops/nodes?site={site}", server=server)
        waiting = page.locator("#candidates")
        expect(waiting).to_be_visible()
        candidate = waiting.locator('li.candidate[data-node="edge-new"]')
        expect(candidate).to_contain_text("4 zones")
        expect(page.locator("#dead-body tr")).to_have_count(1)
        row = page.locator("#dead-body tr").first
        expect(row).to_contain_text("Breaks the contract")
        expect(row.locator("code")).to_contain_text("\\\\u202e")  # shown escaped, never as the character

        candidate.get_by_role("button", name="Accept").click()
        expect(page.locator('.node-card[data-node="edge-new"]')).to_be_visible()
        expect(waiting).to_be_hidden()
        nodes = server.get("nodes", "ops")
        assert [n["node"] for n in nodes] == ["edge-new"]
        layout = server.get(f"sites/{site}/layout", "ops")
        assert {z["zone"] for z in layout["zones"]} == {"w1", "w2", "q1", "hall"}, "its layout came along"
        pub.send(node.event("camera_lost", reason="unplugged"), qos=1)
        wait_until(lambda: server.get("events", "ops", site=site)["total"] == 1, 10, explain=server.log)

        row.get_by_role("button", name="Delete").click()
        expect(page.locator("#dead-body tr")).to_have_count(0)
        expect(page.locator("#dead-empty")).to_be_visible()
        assert server.get("dead-letters", "ops")["total"] == 0
        health = httpx.get(f"{server.url}/healthz", timeout=5).json()
        assert health["quarantined_nodes"] == 0 and health["dead_letters"] == 0
    finally:
        pub.close()
