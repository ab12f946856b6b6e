"""Issue 13's live accuracy audit, end to end in chromium: a guide checks a window's count on the
phone, the server keeps it next to the live count it showed, and the manager's dashboard shows
the zone's running error and flags it for recalibration."""

from __future__ import annotations

import re

import pytest
from conftest import Pages, wait_for_layout
from playwright.sync_api import Page, expect
from support.hallwatch_processes import ServerProcess
from web_support import Hall

pytestmark = pytest.mark.browser

COUNTS = {"hall": 12, "w1": 2, "w2": 1, "q1": 3}


def check_count(guide: Page, publish: Hall, window: str, true_count: int) -> None:
    publish.counts(**COUNTS)  # a running node sends its counts every second; a stale one is no count
    guide.locator(f'.window-chip[data-zone="{window}"]').get_by_role(
        "button", name=re.compile("^Check count")
    ).click()
    form = guide.locator("#count-check")
    expect(form).to_be_visible()
    form.get_by_label("People there now").fill(str(true_count))
    form.get_by_role("button", name="Send").click()
    expect(guide.locator(".toast").last).to_contain_text(f"you counted {true_count}, hallwatch showed")
    expect(form).to_be_hidden()


def test_a_guides_count_check_updates_the_error_per_zone_on_the_dashboard(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess
) -> None:
    publish.layout()
    wait_for_layout(server_proc, site)
    publish.counts(**COUNTS)
    guide = pages.open("guide", "phone", path=f"/guide?site={site}")
    expect(guide.locator('.window-chip[data-zone="w1"] .window-chip-count')).to_contain_text("2")
    manager = pages.open("manager", "desktop", path=f"/dashboard?site={site}")
    expect(manager.locator("#accuracy-empty")).to_be_visible()

    check_count(guide, publish, "w1", 3)  # one more than hallwatch showed
    expect(guide.locator(".toast").last).to_contain_text("you counted 3, hallwatch showed 2")
    row = manager.locator('#accuracy-table tr[data-zone="w1"]')
    expect(row).to_be_visible(timeout=10_000)
    expect(row.locator("td").nth(0)).to_have_text("1")  # checks
    expect(row.locator("td").nth(1)).to_have_text("1.00")  # mean absolute error
    expect(row.locator("td").nth(2)).to_have_text("−1.0")  # an undercount
    expect(row.locator("td").nth(3)).to_have_text("2 more checks to judge")

    check_count(guide, publish, "w1", 4)
    check_count(guide, publish, "w1", 2)
    expect(row.locator("td").nth(0)).to_have_text("3", timeout=10_000)
    expect(row.locator("td").nth(1)).to_have_text("1.00")
    expect(row.locator("td").nth(3)).to_have_text("Needs recalibration")
    expect(row).to_have_attribute("data-flag", "true")

    check_count(guide, publish, "w2", 1)  # spot on
    other = manager.locator('#accuracy-table tr[data-zone="w2"]')
    expect(other.locator("td").nth(1)).to_have_text("0.00", timeout=10_000)

    stored = server_proc.get(f"sites/{site}/accuracy", "manager")["zones"]
    assert [(z["zone"], z["checks"], z["mae"], z["bias"], z["needs_recalibration"]) for z in stored] == [
        ("w1", 3, 1.0, -1.0, True),
        ("w2", 1, 0.0, 0.0, False),
    ]

    # The daily report carries it too.
    report = pages.open("manager", "desktop", path=f"/report?site={site}&period=day")
    line = report.locator('#accuracy-table tr[data-zone="w1"]')
    expect(line).to_contain_text("Needs recalibration")
    expect(line.locator("td").nth(1)).to_have_text("1.00")
