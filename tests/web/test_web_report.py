"""The printable report: what was published over the past days, per day and per window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from support.hallwatch_processes import ServerProcess
from support.processes import wait_until
from web_fixtures import Pages, wait_for_layout
from web_support import ARTIFACTS, TIMEZONE, Hall, utc_now

pytestmark = pytest.mark.browser
TZ = ZoneInfo(TIMEZONE)


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A local time of the hall, in UTC."""
    return datetime.combine(day, time(hour, minute, second), TZ).astimezone(UTC)


def test_the_report_sums_up_the_week_and_each_day(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess, screenshot: Callable[..., object]
) -> None:
    publish.layout()
    wait_for_layout(server_proc, site)
    node = publish.node
    now = utc_now()
    today = now.astimezone(TZ).date()
    two_ago, one_ago = today - timedelta(days=2), today - timedelta(days=1)
    midnight = at(today, 0)
    entries = {two_ago: 5, one_ago: 7, today: 3}
    events = []
    for day, n in entries.items():
        for i in range(n):
            ts = (
                at(day, 10, i)
                if day != today
                else max(midnight + timedelta(seconds=i + 1), now - timedelta(seconds=30 - i))
            )
            events.append(node.event("person_entered", ts=ts, zone="door", people=[i]))
    events += [node.event("spacing_violation_started", ts=at(two_ago, 11, m), people=[1, 2]) for m in (1, 2)]
    events.append(node.event("spacing_violation_started", ts=at(one_ago, 15), people=[3, 4]))
    # waits people had in queue 1 (three two days ago, one yesterday) and one in queue 2
    waits = [(two_ago, 100.0), (two_ago, 200.0), (two_ago, 300.0), (one_ago, 1000.0)]
    events += [
        node.event("queue_left", ts=at(day, 12, k), zone="q1", people=[60 + k], duration_s=wait_s)
        for k, (day, wait_s) in enumerate(waits)
    ]
    events.append(node.event("queue_left", ts=at(one_ago, 13), zone="q2", people=[70], duration_s=50.0))
    publish.send_all(sorted(events, key=lambda e: e.ts))
    # two days ago the hall peaked at 17; yesterday at 23, with window 1 over its limit for two minutes
    publish.send_all(
        [
            node.state({"hall": 17, "w1": 1}, ts=at(two_ago, 10, 10)),
            node.state({"hall": 17, "w1": 1}, ts=at(two_ago, 10, 10, 4)),
            node.state({"hall": 23, "w1": 3}, ts=at(one_ago, 11, 10)),
            node.state({"hall": 23, "w1": 3}, ts=at(one_ago, 11, 11)),
            node.state({"hall": 20, "w1": 2}, ts=at(one_ago, 11, 12)),
            node.state({"hall": 5, "w1": 0}, ts=at(one_ago, 11, 30)),
        ]
    )

    def summary() -> dict[str, Any]:
        days = server_proc.get(f"sites/{site}/summary", start=at(two_ago, 0).isoformat())["days"]
        return {d["date"]: d for d in days}

    def hall_peaks() -> list[int | None]:
        days = summary()
        peaks = []
        for day in (two_ago, one_ago):
            zones = days.get(day.isoformat(), {}).get("zones", [])
            peaks.append(next((z["peak"] for z in zones if z["zone"] == "hall"), None))
        return peaks

    wait_until(lambda: hall_peaks() == [17, 23], 15, 0.3)  # daily peaks are written every few seconds
    expected = summary()

    page = pages.open("manager", "desktop", path=f"/report?site={site}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.get_by_role("heading", name="Weekly report")).to_be_visible()
    rows = page.locator("#days-table tbody tr")
    expect(rows).to_have_count(7)

    def cell(day: date, col: str) -> str:
        return page.locator(f'#days-table tr[data-date="{day.isoformat()}"] [data-col="{col}"]').inner_text()

    for day, n in entries.items():
        assert cell(day, "visitors") == str(n), day
    assert (cell(two_ago, "peak"), cell(one_ago, "peak"), cell(today, "peak")) == ("17", "23", "–")
    assert (cell(two_ago, "over"), cell(one_ago, "over")) == ("0", "2")
    assert (cell(two_ago, "violations"), cell(one_ago, "violations")) == ("2", "1")
    for day, data in expected.items():
        assert cell(date.fromisoformat(day), "alerts") == str(data["alerts"])
    foot = page.locator("#days-table tfoot")
    expect(foot.locator('[data-col="visitors"]')).to_have_text("15")
    expect(foot.locator('[data-col="peak"]')).to_have_text("23")
    expect(page.locator("#sum-visitors")).to_have_text("15")
    expect(page.locator("#sum-peak")).to_have_text("23 / 60")
    expect(page.locator("#sum-violations")).to_have_text("3")
    w1 = page.locator('#zones-table tr[data-zone="w1"]')
    expect(w1.locator('[data-col="peak"]')).to_have_text("3")
    expect(w1.locator('[data-col="over"]')).to_have_text("2")
    expect(w1.locator('[data-col="days-over"]')).to_have_text("1")
    expect(w1.locator('[data-col="median-wait"]')).to_have_text("–")  # waits are the queues'
    q1 = page.locator('#zones-table tr[data-zone="q1"]')
    expect(q1.locator('[data-col="waits"]')).to_have_text("4")
    expect(q1.locator('[data-col="median-wait"]')).to_have_text("4 min 10 s")  # of 100, 200, 300, 1000 s
    q2 = page.locator('#zones-table tr[data-zone="q2"]')
    expect(q2.locator('[data-col="waits"]')).to_have_text("1")
    expect(q2.locator('[data-col="median-wait"]')).to_have_text("not enough data (under 3)")
    alerts = server_proc.get("alerts", site=site, since=at(today - timedelta(days=6), 0).isoformat())["items"]
    by_rule: dict[str, int] = {}
    for alert in alerts:
        by_rule[alert["rule"]] = by_rule.get(alert["rule"], 0) + 1
    assert by_rule, "the violations published should have opened an alert"
    expect(page.locator("#rules-table tbody tr")).to_have_count(len(by_rule))
    for rule, n in by_rule.items():
        expect(page.locator(f'#rules-table tr[data-rule="{rule}"] [data-col="alerts"]')).to_have_text(str(n))
    screenshot(page, "report")

    # printed: only the sheet, on A4
    page.emulate_media(media="print")
    expect(page.locator(".app-header")).to_be_hidden()
    expect(page.locator("#report-controls")).to_be_hidden()
    expect(page.locator("#days-table")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = page.pdf(path=str(ARTIFACTS / "report-week.pdf"), format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    page.emulate_media(media="screen")

    # one day
    page.get_by_role("button", name="Day", exact=True).click()
    page.get_by_label("Day", exact=True).fill(one_ago.isoformat())
    page.get_by_label("Day", exact=True).dispatch_event("change")
    expect(page.get_by_role("heading", name="Daily report")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(page.locator("#sum-visitors")).to_have_text("7")
    expect(q1.locator('[data-col="waits"]')).to_have_text("1")
    assert f"date={one_ago.isoformat()}" in page.url and "period=day" in page.url
