"""/api/docs works offline: Swagger UI comes from the server's vendor copy, never from a CDN (issue 13)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, expect
from support.hallwatch_processes import ServerProcess
from web_fixtures import Pages

pytestmark = pytest.mark.browser


def test_api_docs_render_with_the_network_cut_off_but_the_server(
    pages: Pages, server_proc: ServerProcess
) -> None:
    page = pages.open(None, "desktop")
    server_host = urlsplit(server_proc.url).netloc
    foreign: list[str] = []

    def only_the_server(route: Route) -> None:
        # A hall's LAN reaches the server and nothing else: anything else is recorded and refused.
        if urlsplit(route.request.url).netloc == server_host:
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", only_the_server)
    page.goto("/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("hallwatch server")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/alerts").first).to_be_visible()
    assert foreign == [], foreign
