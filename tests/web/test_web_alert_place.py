"""Issue 13: a spacing alert says where the pair stands and marks it on a small floor plan on the
guide's card ("people closer than the minimum distance in view of cam-1" told a guide nothing), and
every alert links to the floor view centred on it, from the guide's cards and the dashboard's rows."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from support.hallwatch_processes import ServerProcess
from web_fixtures import Pages, wait_for_layout
from web_support import Hall

pytestmark = pytest.mark.browser


def test_a_spacing_alert_names_its_queue_and_marks_the_pair_on_the_card(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess
) -> None:
    publish.layout()
    wait_for_layout(server_proc, site)
    publish.counts(hall=14, w1=1, q1=4)
    guide = pages.open("guide", "phone", path=f"/guide?site={site}")
    expect(guide.locator("#live-dot")).to_have_attribute("data-state", "open")
    # the pair stands in queue 1 (its outline: x 1.3-3.2 m, y 2.6-7.0 m); the event names no window
    publish.event("spacing_violation_started", people=[4, 9], distance_m=0.62, floor=(2.0, 4.5))
    card = guide.locator('.alert-card[data-rule="spacing_violation"]')
    expect(card.locator(".alert-message")).to_have_text("people closer than the minimum distance at Queue 1")
    expect(card).to_have_attribute("data-zone", "q1")
    plan = card.locator(".alert-plan")
    expect(plan).to_be_visible()
    expect(plan).to_have_attribute("data-view", "around")
    expect(plan).to_have_attribute("data-x", "2.00")
    expect(plan).to_have_attribute("data-y", "4.50")
    expect(plan.locator('.mini-zone.is-alert[data-zone="q1"]')).to_have_count(1)
    # the marker is inside the drawn view, and the queue's name is on the plan
    view = [float(v) for v in (plan.get_attribute("viewBox") or "").split()]
    assert view[0] < 2.0 < view[0] + view[2] and view[1] < 4.5 < view[1] + view[3], view
    expect(plan.locator(".mini-label", has_text="Queue 1")).to_have_count(1)
    # the card's group is the window the queue serves
    expect(guide.locator('.alert-group[data-group="window:w1"]')).to_contain_text("People too close")
    card.get_by_role("button", name="Whole floor").click()
    expect(plan).to_have_attribute("data-view", "whole")
    card.get_by_role("button", name="Around it").click()
    expect(plan).to_have_attribute("data-view", "around")
    (alert,) = server_proc.get("alerts", "manager", site=site)["items"]
    assert (alert["subject"], alert["zone"], alert["floor_x"], alert["floor_y"]) == ("q1", "q1", 2.0, 4.5)


def view_of(page: Page) -> tuple[float, float, float, float]:
    """The floor view's plan: the middle of the part shown (metres) and its width and height."""
    x, y, w, h = (float(v) for v in (page.locator("#floor-plan").get_attribute("viewBox") or "").split())
    return x + w / 2, y + h / 2, w, h


def test_every_alert_links_to_the_floor_view_centred_on_it(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess
) -> None:
    publish.layout()
    wait_for_layout(server_proc, site)
    publish.counts(hall=14, w2=3, q1=4)  # window 2 (x 4.1-6.6 m, y 0.4-2.2 m) over its limit
    publish.event("spacing_violation_started", people=[4, 9], distance_m=0.62, floor=(2.0, 4.5))
    guide = pages.open("guide", "phone", path=f"/guide?site={site}")
    window_card = guide.locator('.alert-card[data-rule="window_over_limit"]')
    link = window_card.get_by_role("link", name="On the floor plan")
    expect(link).to_have_attribute("href", re.compile(rf"^/floor\?site={site}&alert=\d+$"))
    box = link.bounding_box()
    assert box is not None and box["height"] >= 44, box  # a touch target like every control
    link.click()
    guide.wait_for_url(re.compile(r"/floor\?"))
    expect(guide.locator("body")).to_have_attribute("data-ready", "true")
    expect(guide.locator("#floor-alert-title")).to_have_text("Too many at the window")
    plan = guide.locator("#floor-plan")
    expect(plan).to_have_attribute("data-view", "around")
    cx, cy, w, _ = view_of(guide)
    assert (cx, cy) == pytest.approx((5.35, 1.3)) and w < 10, view_of(guide)  # window 2's middle
    mark = plan.locator(".place-mark")
    expect(mark).to_have_attribute("data-x", "5.35")
    expect(plan.locator('polygon[data-zone="w2"]')).to_have_attribute("data-level", "over")
    guide.get_by_role("button", name="Whole floor").click()
    expect(plan).to_have_attribute("data-view", "whole")
    _, _, w, h = view_of(guide)
    assert w >= 20 and h >= 14, view_of(guide)  # the whole hall, 20 m x 14 m
    expect(mark).to_have_count(1)  # still marked
    guide.get_by_role("link", name="Back to the alerts").click()
    guide.wait_for_url(re.compile(r"/guide\?"))

    # the manager's dashboard: each alert row links there too
    dashboard = pages.open("manager", "desktop", path=f"/dashboard?site={site}")
    row = dashboard.locator(".dash-alert", has_text="People too close")
    row.get_by_role("link", name="On the floor plan").click()
    dashboard.wait_for_url(re.compile(r"/floor\?"))
    expect(dashboard.locator("#floor-plan")).to_have_attribute("data-view", "around")
    assert view_of(dashboard)[:2] == pytest.approx((2.0, 4.5))  # the pair, not its queue's middle
    expect(dashboard.locator("#floor-alert-message")).to_contain_text("at Queue 1")
    expect(dashboard.get_by_role("link", name="Back to the dashboard")).to_be_visible()
