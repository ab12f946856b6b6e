"""Every page at phone (360x740) and desktop size: it fits, its controls are named and big enough to
tap, and the guide's page and the dashboard work with the keyboard alone."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from support.hallwatch_processes import ServerProcess
from web_fixtures import VIEWPORTS, Pages, wait_for_layout
from web_support import Hall

pytestmark = pytest.mark.browser

# Visible controls without an accessible name (approximately as assistive technology computes it).
UNNAMED = """
() => [...document.querySelectorAll('a[href], button, input, select, textarea, [role=img], svg[role]')]
  .filter((el) => el.offsetParent !== null || el.getClientRects().length)
  .filter((el) => {
    const labelled = (el.getAttribute('aria-labelledby') || '').split(' ').filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent || '').join('').trim();
    const label = el.labels ? [...el.labels].map((l) => l.textContent).join('').trim() : '';
    return !(el.getAttribute('aria-label') || labelled || label || el.getAttribute('title')
      || (el.tagName !== 'INPUT' && el.textContent.trim()));
  })
  .map((el) => el.outerHTML.slice(0, 120))
"""

# Tappable controls smaller than 40 x 40 px (checkboxes count with their label).
SMALL = """
() => [...document.querySelectorAll(
    'button, a.button, select, input:not([type=checkbox]), label.toggle, .app-nav a')]
  .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
  .filter((el) => { const r = el.getBoundingClientRect(); return r.height < 40 || r.width < 40; })
  .map((el) => {
    const r = el.getBoundingClientRect();
    return `${el.outerHTML.slice(0, 80)} ${Math.round(r.width)}x${Math.round(r.height)}`;
  })
"""


def ready(page: Page, name: str) -> None:
    if name == "guide":
        expect(page.locator("#live-dot")).to_have_attribute("data-state", "open")
        expect(page.locator(".alert-card").first).to_be_visible()
    elif name in ("dashboard", "report", "floor", "halls"):
        expect(page.locator("body")).to_have_attribute("data-ready", "true")


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_every_page_fits_its_screen_and_names_its_controls(
    viewport: str,
    pages: Pages,
    publish: Hall,
    site: str,
    server_proc: ServerProcess,
    screenshot: Callable[..., object],
) -> None:
    publish.layout()
    wait_for_layout(server_proc, site)
    publish.counts(hall=30, w1=2, w2=3, w3=1, q1=4, q2=7)
    screens = [
        ("login", None, "/login"),
        ("guide", "guide", f"/guide?site={site}"),
        ("dashboard", "manager", f"/dashboard?site={site}"),
        ("report", "manager", f"/report?site={site}"),
        ("halls", "manager", "/halls"),
        ("floor", "guide", f"/floor?site={site}"),
        ("not-your-page", "guide", f"/dashboard?site={site}"),
    ]
    width = VIEWPORTS[viewport]["width"]
    for name, role, path in screens:
        page = pages.open(
            role, viewport, path=path, allow=[r"status of 403"] if name == "not-your-page" else []
        )
        ready(page, name)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{name} is {scroll_width} px wide on a {width} px screen"
        assert page.evaluate(UNNAMED) == [], name
        if viewport == "phone":
            assert page.evaluate(SMALL) == [], name
        assert page.locator("h1").count() >= 1, f"{name} has no h1"
        screenshot(page, name)
        page.close()


def test_the_guide_page_works_with_the_keyboard(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess
) -> None:
    publish.layout()
    wait_for_layout(server_proc, site)
    publish.counts(hall=12, w2=4)
    page = pages.open("guide", "phone", path=f"/guide?site={site}")
    card = page.locator('.alert-card[data-zone="w2"]')
    expect(card).to_be_visible()

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    take = card.get_by_role("button", name=re.compile(r"^I'm on it"))
    for _ in range(20):
        page.keyboard.press("Tab")
        if take.evaluate("(el) => el === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the alert's I'm on it button")
    outline = take.evaluate(
        "(el) => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline[0] != "none" and float(outline[1].removesuffix("px")) >= 2, outline
    page.keyboard.press("Enter")
    expect(card).to_have_attribute("data-status", "acknowledged")
    resolve = card.get_by_role("button", name=re.compile(r"^Resolve"))
    expect(resolve).to_be_focused()
    page.keyboard.press("Space")
    expect(page.locator(".alert-card")).to_have_count(0)
    expect(page.locator("#alerts-title")).to_be_focused()


def test_the_dashboard_works_with_the_keyboard(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess
) -> None:
    publish.layout()
    wait_for_layout(server_proc, site)
    publish.counts(hall=5, w1=1)
    page = pages.open("manager", "desktop", path=f"/dashboard?site={site}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    week = page.get_by_role("button", name="7 days")
    for _ in range(40):
        page.keyboard.press("Tab")
        if week.evaluate("(el) => el === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the 7 days button")
    page.keyboard.press("Enter")
    expect(week).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#occupancy-chart")).to_have_attribute("data-resolution", "hour")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(page.locator("#custom-range")).to_be_visible()
    heatmap = page.get_by_label("Heatmap, last 7 days")
    heatmap.focus()
    page.keyboard.press("Space")
    expect(heatmap).to_be_checked()
