"""Issue 13: a spacing alert says where the pair stands and marks it on a small floor plan on the
guide's card ("people closer than the minimum distance in view of cam-1" told a guide nothing)."""

from __future__ import annotations

import pytest
from conftest import Pages, wait_for_layout
from playwright.sync_api import expect
from support.hallwatch_processes import ServerProcess
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
