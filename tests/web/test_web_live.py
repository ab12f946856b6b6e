"""The live connection: the banner when it is lost, reconnection, and catching up afterwards."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import WebSocketRoute, expect
from support.hallwatch_processes import ServerProcess
from support.processes import unique, wait_until
from web_fixtures import Pages, wait_for_layout
from web_support import Hall

pytestmark = pytest.mark.browser

CALM = {"hall": 12, "w1": 1, "w2": 1, "w3": 0}


def test_the_banner_shows_while_the_server_is_down_and_goes_when_it_is_back(
    make_server: Callable[[list[str]], ServerProcess], pages: Pages, screenshot: Callable[..., object]
) -> None:
    site = unique("web-restart")
    server = make_server([site])
    hall = Hall(site)
    try:
        hall.layout()
        wait_for_layout(server, site)
        hall.counts(**CALM)
        page = pages.open(
            "guide",
            "phone",
            server=server,
            path=f"/guide?site={site}",
            allow=[r"WebSocket connection to .* failed", r"ERR_CONNECTION_REFUSED"],
        )
        banner = page.locator("#live-banner")
        expect(page.locator("#live-dot")).to_have_attribute("data-state", "open")
        expect(banner).to_be_hidden()

        server.stop()
        expect(banner).to_be_visible(timeout=5000)
        expect(banner).to_contain_text(re.compile(r"Connection lost — reconnecting"))
        expect(page.locator("#live-dot")).to_have_attribute("data-state", "lost")
        expect(page.get_by_role("button", name="Retry now")).to_be_visible()
        screenshot(page, "guide-connection-lost")

        server.start()
        expect(banner).to_be_hidden(timeout=20_000)
        expect(page.locator("#live-dot")).to_have_attribute("data-state", "open")
        hall.counts(**(CALM | {"w3": 4}))
        expect(page.locator('.alert-card[data-zone="w3"]')).to_be_visible(timeout=3000)
    finally:
        hall.close()


def test_after_a_lost_connection_the_page_catches_up_with_what_changed(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess
) -> None:
    """The page's socket is cut (the server stays up); meanwhile one alert is resolved elsewhere and
    another opens. After reconnecting, the page shows exactly the open one, and the resolved one
    under "Recently resolved" with who resolved it."""
    publish.layout()
    wait_for_layout(server_proc, site)
    publish.counts(**(CALM | {"w1": 3}))
    cut = {"on": False}
    sockets: list[WebSocketRoute] = []

    def route(ws: WebSocketRoute) -> None:
        if cut["on"]:
            ws.close(code=4000, reason="network down")
            return
        ws.connect_to_server()
        sockets.append(ws)

    page = pages.open("guide", "phone")
    page.route_web_socket(re.compile(r"/api/v1/live"), route)
    page.goto(f"/guide?site={site}")
    first = page.locator('.alert-card[data-zone="w1"]')
    expect(first).to_be_visible()
    alert_id = int(first.get_attribute("data-alert-id") or 0)

    cut["on"] = True
    for ws in sockets:
        ws.close(code=4000, reason="network down")
    banner = page.locator("#live-banner")
    expect(banner).to_be_visible()

    token = server_proc.token("manager")
    response = httpx.post(
        f"{server_proc.url}/api/v1/alerts/{alert_id}/resolve",
        headers={"Authorization": f"Bearer {token}"},
        json={"note": "sent them to window 3"},
    )
    assert response.status_code == 200, response.text
    publish.counts(**(CALM | {"w1": 3, "w2": 5}))
    wait_until(
        lambda: any(a["zone"] == "w2" for a in server_proc.get("alerts", site=site, status="open")["items"])
    )
    expect(first).to_be_visible()  # the page cannot know yet
    expect(page.locator('.alert-card[data-zone="w2"]')).to_have_count(0)

    expect(page.get_by_role("button", name="Retry now")).to_be_visible()
    cut["on"] = False
    # the button (a retry of its own may beat a click: then the button is gone and this does nothing)
    page.evaluate("document.getElementById('live-retry').click()")
    expect(banner).to_be_hidden(timeout=10_000)
    expect(page.locator('.alert-card[data-zone="w2"]')).to_be_visible()
    expect(page.locator('.alert-card[data-zone="w1"]')).to_have_count(0)
    expect(page.locator("#resolved-list")).to_contain_text("Window 1: Too many at the window by manager")
    expect(page.locator("#alert-count")).to_have_text("1")
