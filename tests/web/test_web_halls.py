"""The district overview page: a manager of some halls sees those halls, the one that needs attention
first, and nothing of the halls their role does not hold on."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import expect
from support.hallwatch_processes import ServerProcess
from support.processes import unique
from web_fixtures import Pages, SitePool, wait_for_layout
from web_support import Hall

pytestmark = pytest.mark.browser


def test_a_district_manager_sees_their_halls_the_crowded_one_first(
    pages: Pages, site_pool: SitePool, server_proc: ServerProcess, screenshot: Callable[..., object]
) -> None:
    quiet, crowded, foreign = (Hall(site_pool.take()) for _ in range(3))
    try:
        for hall in (quiet, crowded, foreign):
            hall.layout()
            wait_for_layout(server_proc, hall.site)
        quiet.counts(hall=4, w1=1)
        crowded.counts(hall=58, w1=3, w2=2)
        foreign.counts(hall=70, w1=5)
        manager = {"username": unique("district"), "password": "district-manager-1", "role": "manager"}
        ops = {"Authorization": f"Bearer {server_proc.token('ops')}"}
        created = httpx.post(
            f"{server_proc.url}/api/v1/users",
            headers=ops,
            json=manager | {"sites": [quiet.site, crowded.site]},
            timeout=10,
        )
        assert created.status_code == 201, created.text

        page = pages.open(viewport="desktop")
        login = page.context.request.post(
            "/api/v1/auth/login", data={k: manager[k] for k in ("username", "password")}
        )
        assert login.ok, login.text()
        page.goto("/halls")
        cards = page.locator("#hall-list > li")
        expect(cards).to_have_count(2)
        first = cards.nth(0)
        expect(first.locator(".hall-name")).to_have_text(crowded.site)
        expect(first.locator(".hall-count")).to_have_text("58 / 60")
        expect(first.locator(".hall-count")).to_have_attribute("data-level", "warning")
        expect(first.locator(".hall-zones")).to_have_text("Over the limit: Window 1")
        second = cards.nth(1)
        expect(second.locator(".hall-name")).to_have_text(quiet.site)
        expect(second.locator(".hall-count")).to_have_text("4 / 60")
        expect(second.locator(".hall-zones")).to_contain_text("Within limits")
        expect(page.locator("#hall-list")).not_to_contain_text(foreign.site)
        expect(first.get_by_role("link", name="Dashboard")).to_have_attribute(
            "href", f"/dashboard?site={crowded.site}"
        )
        expect(
            page.get_by_role("navigation", name="Pages").get_by_role("link", name="Halls")
        ).to_have_attribute("aria-current", "page")
        # the site picker offers the manager's halls only
        page.goto(f"/dashboard?site={quiet.site}")
        options = page.locator("#site-select option")
        expect(options).to_have_count(2)
        assert sorted(options.all_inner_texts()) == sorted([quiet.site, crowded.site])
        # a hall in the address that is not theirs is not opened: one of theirs is, with a word why
        page.goto(f"/dashboard?site={foreign.site}")
        expect(page.locator("#toasts")).to_contain_text(f"no role in hall {foreign.site}")
        expect(page.locator("#site-select")).to_have_value(re.compile(f"^({quiet.site}|{crowded.site})$"))
        page.goto("/halls")
        expect(cards).to_have_count(2)
        screenshot(page, "halls")
    finally:
        for hall in (quiet, crowded, foreign):
            hall.close()
