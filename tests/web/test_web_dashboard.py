"""The manager dashboard against history and live data published over MQTT."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from support.hallwatch_processes import ServerProcess
from support.processes import wait_until
from web_fixtures import Pages, wait_for_layout
from web_support import TIMEZONE, Hall, hourly_states, utc_now

pytestmark = pytest.mark.browser
TZ = ZoneInfo(TIMEZONE)


def open_dashboard(pages: Pages, site: str, viewport: str = "desktop") -> Page:
    page = pages.open("manager", viewport, path=f"/dashboard?site={site}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page


def table_values(page: Page) -> dict[tuple[datetime, str, str], str]:
    """The occupancy data table: (bucket, zone, mean|max) -> text."""
    chart = page.locator("#occupancy-chart")
    page.locator("#occupancy-details summary").click()
    table = page.locator("#occupancy-table")
    expect(table).to_have_attribute("data-resolution", chart.get_attribute("data-resolution") or "")
    expect(table.locator("tbody tr")).to_have_count(int(chart.get_attribute("data-points") or 0))
    cells = page.evaluate(
        """() => [...document.querySelectorAll('#occupancy-table tbody td')].map((td) =>
             [td.closest('tr').dataset.t, td.dataset.zone, td.dataset.stat, td.textContent])"""
    )
    page.locator("#occupancy-details summary").click()
    return {(datetime.fromisoformat(t), zone, stat): text for t, zone, stat, text in cells}


def duration_text(seconds: float) -> str:
    """As the pages write durations (format.js durationText)."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    minutes = s // 60
    if minutes < 60:
        return f"{minutes} min" if s % 60 == 0 or minutes >= 10 else f"{minutes} min {s % 60} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def test_the_charts_show_the_history_that_was_ingested(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess, screenshot: Callable[..., object]
) -> None:
    publish.layout()
    wait_for_layout(server_proc, site)
    top = utc_now().replace(minute=0, second=0, microsecond=0)
    hours = {
        top - timedelta(hours=k): {"hall": 10 + k, "w1": k % 3, "w2": (k + 1) % 3, "q1": k % 5}
        for k in range(2, 32)
    }
    closing = max(hours) + timedelta(hours=1)  # the bucket of the closing all-zero state
    publish.send_all(hourly_states(publish.node, hours))
    expected = {**{t: c for t, c in hours.items()}, closing: dict.fromkeys(["hall", "w1", "w2", "q1"], 0)}

    def stored_hours() -> int:
        history = server_proc.get(f"sites/{site}/history", resolution="hour", start=min(hours).isoformat())
        return max((len(s["points"]) for s in history["series"]), default=0)

    wait_until(lambda: stored_hours() == len(expected), 15, 0.3)

    page = open_dashboard(pages, site)
    chart = page.locator("#occupancy-chart")
    expect(chart).to_have_attribute("data-resolution", "minute")  # today, per minute
    expect(chart.locator("canvas")).to_have_count(1)
    today = utc_now().astimezone(TZ).date()
    todays = {t.replace(minute=10): c for t, c in hours.items() if t.astimezone(TZ).date() == today}
    if todays:
        values = table_values(page)
        for t, counts in todays.items():
            assert values[(t, "hall", "mean")] == f"{counts['hall']:.2f}", t
            assert values[(t, "w1", "max")] == str(counts["w1"]), t

    page.get_by_role("button", name="7 days").click()
    expect(chart).to_have_attribute("data-resolution", "hour")
    expect(chart).to_have_attribute("data-points", str(len(expected)))
    expect(chart).to_have_attribute("data-series", "hall")
    expect(page.locator("#occupancy-caption")).to_contain_text(
        "Last 7 days: mean people in the hall per hour"
    )
    expect(chart.locator(".u-legend")).to_contain_text("Capacity")
    values = table_values(page)
    for t, counts in expected.items():
        for zone, count in counts.items():
            assert values[(t, zone, "mean")] == f"{count:.2f}", (t, zone)
            assert values[(t, zone, "max")] == str(count), (t, zone)
    assert {t for t, _, _ in values} == set(expected)
    page.get_by_role("button", name="Windows").click()
    expect(chart).to_have_attribute("data-series", "w1,w2")
    expect(chart.locator(".u-legend")).to_contain_text("Window 2")
    screenshot(page, "dashboard-history")

    # busiest hours: the hall's mean per local hour of the day, the highest first
    per_hour: dict[int, list[int]] = defaultdict(list)
    for t, counts in expected.items():  # the closing all-zero bucket counts too
        per_hour[t.astimezone(TZ).hour].append(counts["hall"])
    means = {h: sum(v) / len(v) for h, v in per_hour.items()}
    best = max(means, key=lambda h: means[h])
    expect(page.locator("#peaks-chart")).to_have_attribute(
        "data-hours", ",".join(str(h) for h in sorted(means))
    )
    expect(page.locator("#peak-summary")).to_contain_text(
        f"Busiest: {best:02d}:00–{(best + 1) % 24:02d}:00 ({means[best]:.1f})"
    )

    # a chosen range: yesterday (the hall's date), per minute
    yesterday = today - timedelta(days=1)
    page.get_by_role("button", name="Choose…").click()
    page.get_by_label("From", exact=True).fill(yesterday.isoformat())
    page.get_by_label("To", exact=True).fill(yesterday.isoformat())
    page.get_by_role("button", name="Show").click()
    minutes = {t.replace(minute=10) for t in hours} | {max(hours) + timedelta(minutes=67)}  # + closing
    in_range = {t for t in minutes if t.astimezone(TZ).date() == yesterday}
    expect(chart).to_have_attribute("data-resolution", "minute")
    expect(chart).to_have_attribute("data-points", str(len(in_range)))

    # the CSV export covers the range shown
    href = page.locator("#export-occupancy").get_attribute("href") or ""
    response = page.request.get(href)
    assert response.ok and response.headers["content-type"].startswith("text/csv")
    rows = [r for r in csv.DictReader(io.StringIO(response.text())) if r["zone"] == "hall"]
    assert {datetime.fromisoformat(r["start"]) for r in rows} == in_range
    for row in rows:
        assert float(row["mean"]) == expected[datetime.fromisoformat(row["start"]).replace(minute=0)]["hall"]


def test_the_floor_plan_and_the_windows_show_the_hall_now(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess, screenshot: Callable[..., object]
) -> None:
    publish.layout()
    wait_for_layout(server_proc, site)
    node = publish.node
    now = utc_now()
    midnight = now.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    earliest = max(now - timedelta(minutes=50), midnight + timedelta(seconds=1))
    # the last hour: two windows serving one person each, their queues 2 and 1 long
    calm = {"hall": 10, "w1": 1, "w2": 1, "q1": 2, "q2": 1}
    states = []
    for back in (40, 20):
        t = now - timedelta(minutes=back)
        states += [node.state(calm, ts=t), node.state(calm, ts=t + timedelta(seconds=4))]
    publish.send_all(states)
    span = (now - timedelta(seconds=5) - earliest) / 14
    publish.send_all(
        node.event("person_entered", ts=earliest + i * span, zone="door", people=[i]) for i in range(14)
    )
    publish.send_all(
        node.event("person_left", ts=earliest + i * span, zone="door", people=[i]) for i in range(3)
    )
    violations = [now - timedelta(minutes=m) for m in (1, 2, 3) if now - timedelta(minutes=m) > midnight]
    publish.send_all(
        node.event("spacing_violation_started", ts=t, people=[1, 2], distance_m=0.6) for t in violations
    )
    heat = [(2.2, 1.1), (2.3, 1.2), (5.1, 4.0), (9.9, 9.9)]  # three cells of 0.5 m, one with two people
    heat += [(23.2, 5.1)] * 4  # beyond the hall's wall (x 0-20 m): placed there, never drawn
    publish.publish(node.positions(heat, ts=now - timedelta(hours=3)))
    # now: window 3 at its limit, window 4 over it, two pairs too close, three people seen
    publish.counts(**(calm | {"w3": 2, "w4": 3}), violations=2)

    page = open_dashboard(pages, site)
    plan = page.locator("#floor-plan")
    publish.publish(node.positions([(2.0, 1.0), (2.9, 1.3), (5.5, 3.0)]))  # live only: sent while watching
    for zone, level in {"w1": "ok", "w3": "full", "w4": "over", "w5": "unknown", "q1": "ok"}.items():
        expect(plan.locator(f'polygon[data-zone="{zone}"]')).to_have_attribute("data-level", level)
    expect(plan.locator('text[data-zone="w4"] .zone-count')).to_have_text("3 / 2")
    expect(plan.locator('text[data-zone="hall"]')).to_have_text("Hall: 10 / 60")
    expect(plan.locator("circle.person")).to_have_count(3)
    expect(plan.locator("desc")).to_contain_text("Window 4: 3 people of 2")
    expect(page.locator("#kpi-hall-count")).to_have_text("10")
    expect(page.locator("#kpi-hall-capacity")).to_have_text("60")
    expect(page.locator("#kpi-entries")).to_have_text("14")
    expect(page.locator("#kpi-exits")).to_have_text("3")
    expect(page.locator("#kpi-violations")).to_have_text("2")
    expect(page.locator("#violations-today")).to_have_text(str(len(violations)))
    by_hour: dict[int, int] = defaultdict(int)
    for t in violations:
        by_hour[t.astimezone(TZ).hour] += 1
    counts_attr = page.locator("#violations-chart").get_attribute("data-counts") or ""
    for hour, n in by_hour.items():
        assert f"{hour}:{n}" in counts_attr.split(","), counts_attr

    # waits, measured per person and sent as they end, reach the open page (issue 13: no more
    # "24 min" from a formula at a queue of 0-1 people, as these entries and queue lengths gave by
    # Little's law): the median of the waits that ended in the last 15 minutes; "not enough data"
    # below 3 of them
    waits_q1 = [(2, 90.0), (5, 150.0), (7, 210.0), (11, 400.0), (40, 1800.0)]  # (minutes ago, seconds)
    publish.send_all(
        node.event("queue_left", ts=now - timedelta(minutes=m), zone="q1", people=[50 + i], duration_s=w)
        for i, (m, w) in enumerate(waits_q1)
    )
    publish.send_all(
        node.event("queue_left", ts=now - timedelta(minutes=m), zone="q2", people=[70 + m], duration_s=60.0)
        for m in (3, 30, 31)
    )
    rows = page.locator("#windows-table tbody tr")
    expect(rows).to_have_count(6)
    w1 = page.locator('#windows-table tr[data-zone="w1"]')
    expect(w1.locator('[data-col="now"]')).to_have_text("1 / 2")
    expect(w1.locator('[data-col="queue"]')).to_have_text("2 / 6")
    expect(w1.locator('[data-col="wait"]')).to_have_text(duration_text(180.0))  # of 90, 150, 210, 400 s
    w2_wait = page.locator('#windows-table tr[data-zone="w2"] [data-col="wait"]')
    expect(w2_wait).to_have_text("not enough data")  # one wait in the last 15 minutes
    expect(w2_wait).to_have_attribute("title", re.compile(r"^1 of the 3 waits"))
    expect(page.locator("#windows-note")).to_have_text("waits of the last 15 minutes")
    # two more people leave queue 2 while the manager watches: its median appears
    publish.send_all(
        node.event("queue_left", zone="q2", people=[80 + k], duration_s=120.0 + 60 * k) for k in range(2)
    )
    expect(w2_wait).to_have_text(duration_text(120.0))  # of 60, 120 and 180 s
    expect(page.locator('#windows-table tr[data-zone="w4"] [data-col="now"] .level-pill')).to_have_attribute(
        "data-level", "over"
    )
    expect(page.locator('#windows-table tr[data-zone="w4"] [data-col="wait"]')).to_have_text(
        "not enough data"
    )

    # the heatmap layer: one square per floor cell with samples, darker where more people stood
    def cells() -> set[tuple[int, int]]:
        return {(c["cell_x"], c["cell_y"]) for c in server_proc.get(f"sites/{site}/heatmap")["cells"]}

    # 3 cells three hours ago (and one outside the hall), 2 more (and 1 again) now
    wait_until(lambda: len(cells()) == 6, 10, 0.2)
    expect(plan.locator("rect.heat-cell")).to_have_count(0)
    expect(page.locator("#heat-scale")).to_be_hidden()
    page.get_by_label("Heatmap, last 7 days").check()
    expect(plan.locator("rect.heat-cell")).to_have_count(5)  # issue 13: no cells outside the hall
    # and a scale: the cells' colours from rarely to the busiest spot inside the hall
    busiest = max(c["samples"] for c in server_proc.get(f"sites/{site}/heatmap")["cells"] if c["cell_x"] < 40)
    scale = page.locator("#heat-scale")
    expect(scale).to_be_visible()
    expect(scale).to_have_attribute("data-max", str(busiest))
    expect(scale).to_contain_text(f"busiest spot ({busiest} sightings)")
    opacities = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('rect.heat-cell')].map((r) =>
             [`${r.getAttribute('x')},${r.getAttribute('y')}`, Number(r.getAttribute('fill-opacity'))]))"""
    )
    # cell (4, 2) at x 2 m, y 1 m: (2.2, 1.1), (2.3, 1.2) and (2.0, 1.0) stood there
    assert opacities["2,1"] == max(opacities.values()) and min(opacities.values()) < opacities["2,1"]
    page.get_by_label("Live positions").uncheck()
    expect(plan.locator(".layer-people")).to_be_hidden()
    screenshot(page, "dashboard-now")


def test_the_dashboard_works_on_a_phone_and_for_ops(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess, screenshot: Callable[..., object]
) -> None:
    """Ops see the live parts (no history permission); a manager on a phone sees it all, one column."""
    publish.layout()
    wait_for_layout(server_proc, site)
    publish.counts(hall=8, w1=2, q1=3)
    ops = pages.open("ops", "desktop", path=f"/dashboard?site={site}")
    expect(ops.locator("body")).to_have_attribute("data-ready", "true")
    expect(ops.locator('#floor-plan polygon[data-zone="w1"]')).to_have_attribute("data-level", "full")
    expect(ops.locator("#occupancy-chart")).to_have_count(0)
    expect(ops.locator("#windows-table thead th")).to_have_text(["Window", "Now", "Queue"])
    expect(ops.locator('#windows-table tr[data-zone="w1"] [data-col="queue"]')).to_have_text("3 / 6")

    phone = open_dashboard(pages, site, "phone")
    expect(phone.locator("#kpi-hall-count")).to_have_text("8")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the dashboard is {width} px wide on a 360 px phone"
    screenshot(phone, "dashboard")
    assert re.search(r"hallwatch", phone.title())


def test_a_short_day_s_time_axis_names_each_minute_once(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess
) -> None:
    """Issue 13: with a few minutes of data the time axis read "14:59 14:59 14:59" (ticks seconds
    apart, labelled to the minute)."""
    publish.layout()
    wait_for_layout(server_proc, site)
    now = utc_now().replace(second=0, microsecond=0)
    states = [publish.node.state({"hall": 4 + k}, ts=now - timedelta(minutes=2 - k)) for k in range(2)]
    publish.send_all([*states, publish.node.state({"hall": 6}, ts=now - timedelta(seconds=50))])
    wait_until(lambda: server_proc.get(f"sites/{site}/history", resolution="minute")["series"], 10, 0.2)
    page = open_dashboard(pages, site)
    chart = page.locator("#occupancy-chart")
    expect(chart).to_have_attribute("data-points", re.compile(r"^[1-3]$"))
    expect(chart).to_have_attribute("data-x-labels", re.compile(r"\d"))
    labels = (chart.get_attribute("data-x-labels") or "").split("|")  # one per tick, blank or not
    assert len(labels) >= 2 and all(labels) and len(labels) == len(set(labels)), labels
    assert all(re.fullmatch(r"\d\d:\d\d", t) for t in labels), labels


def test_every_alert_card_on_the_dashboard_is_seen_whole(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess
) -> None:
    """Issue 13: the alert list cut off its fourth card (a box as tall as the floor plan)."""
    publish.layout()
    wait_for_layout(server_proc, site)
    publish.counts(hall=40, w1=3, w2=3, w3=4, w4=3, w5=5, w6=3)  # six windows over their limit
    page = open_dashboard(pages, site)
    cards = page.locator("#dash-alerts .dash-alert")
    expect(cards).to_have_count(6)
    clipped = page.evaluate(
        """() => [...document.querySelectorAll('#dash-alerts .dash-alert')].filter((card) => {
             const box = card.getBoundingClientRect();
             for (let el = card.parentElement; el && el !== document.body; el = el.parentElement) {
               const style = getComputedStyle(el);
               if (style.overflowY === 'visible' && style.overflowX === 'visible') continue;
               const outer = el.getBoundingClientRect();
               if (box.top < outer.top - 0.5 || box.bottom > outer.bottom + 0.5) return true;
             }
             return false;
           }).map((card) => card.dataset.alertId)"""
    )
    assert clipped == [], f"alert cards cut off by their box: {clipped}"
