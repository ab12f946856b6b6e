"""A week in a realistic hall (tests/web/hall_scenario.py), and a picture of each page for the README.

Writes docs/img/{login,guide,dashboard,report}.png (committed, each under 300 KB) and the same pages
at both sizes into test-artifacts/screenshots/. Checks on the way that the pages show that week.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from hall_scenario import _crowd, publish_now, publish_week
from playwright.sync_api import Page, expect
from support.hallwatch_processes import ServerProcess
from support.processes import wait_until
from web_fixtures import Pages, SitePool, viewport_name, wait_for_layout
from web_support import DOCS_IMG, TIMEZONE, Hall, utc_now

pytestmark = pytest.mark.browser
MAX_BYTES = 300 * 1024


@pytest.fixture
def site(site_pool: SitePool) -> str:
    """The readable site name ("town-hall-...") that the pictures show in their header."""
    return site_pool.showcase


@pytest.fixture
def busy_hall(publish: Hall, site: str, server_proc: ServerProcess) -> Iterator[Hall]:
    """The week, then the hall right now, kept fresh (an edge node sends its counts every second)."""
    summary = publish_week(publish)
    wait_for_layout(server_proc, site)
    now = publish_now(publish)
    arrivals = now.pop("arrivals")
    stop = threading.Event()

    def keep_alive() -> None:
        rng = random.Random(3)
        node = publish.node
        while not stop.wait(1.0):
            publish.publish(node.state(now, violations=1))
            publish.publish(node.positions(_crowd(rng, now)))

    thread = threading.Thread(target=keep_alive, daemon=True)
    thread.start()
    try:
        # what is open now: window 3, queue 5 and the pair at window 5 (the rush's hall alert cleared)
        expected = {("window_over_limit", "w3"), ("queue_over_limit", "q5"), ("spacing_violation", "w5")}

        def open_alerts() -> set[tuple[str, str]]:
            return {
                (a["rule"], a["zone"]) for a in server_proc.get("alerts", site=site, status="open")["items"]
            }

        wait_until(lambda: open_alerts() == expected, 20, 0.3, explain=lambda: f"open: {open_alerts()}")
        # another guide, Anna, took the crowded window
        ops = {"Authorization": f"Bearer {server_proc.token('ops')}"}
        anna = {"username": "anna", "password": "anna-on-the-floor", "role": "guide"}
        created = httpx.post(f"{server_proc.url}/api/v1/users", headers=ops, json=anna)
        assert created.status_code in (201, 409), created.text
        login = httpx.post(
            f"{server_proc.url}/api/v1/auth/login", json={k: anna[k] for k in ("username", "password")}
        )
        token = {"Authorization": f"Bearer {login.json()['access_token']}"}
        crowded = next(
            a for a in server_proc.get("alerts", site=site, status="open")["items"] if a["zone"] == "w3"
        )
        httpx.post(
            f"{server_proc.url}/api/v1/alerts/{crowded['id']}/acknowledge", headers=token
        ).raise_for_status()

        today = utc_now().astimezone(ZoneInfo(TIMEZONE)).date()
        per_day = summary["entries_per_day"]
        per_day[today.isoformat()] = per_day.get(today.isoformat(), 0) + arrivals
        publish.week = [(today - timedelta(days=k)).isoformat() for k in range(7)]  # type: ignore[attr-defined]
        publish.entries_per_day = per_day  # type: ignore[attr-defined]
        yield publish
    finally:
        stop.set()
        thread.join(5)


def save_for_docs(page: Page, name: str, *, full_page: bool = True) -> Path:
    """docs/img/<name>.png, made smaller (256 colours) when the plain PNG is over 300 KB."""
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    path = DOCS_IMG / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    if path.stat().st_size > MAX_BYTES:
        from PIL import Image

        with Image.open(path) as image:
            image.convert("RGB").quantize(
                colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
            ).save(path, optimize=True)
    assert path.stat().st_size <= MAX_BYTES, f"{path} is {path.stat().st_size} bytes"
    return path


def test_each_page_with_a_week_of_a_busy_hall(
    pages: Pages, busy_hall: Hall, site: str, screenshot: Callable[..., Path]
) -> None:
    for viewport in ("phone", "desktop"):
        login = pages.open(None, viewport, path="/login")
        expect(login.get_by_role("heading", name="Log in")).to_be_visible()
        screenshot(login, "showcase-login")
        if viewport == "phone":
            save_for_docs(login, "login", full_page=False)

        guide = pages.open("guide", viewport, path=f"/guide?site={site}")
        expect(guide.locator("#live-dot")).to_have_attribute("data-state", "open")
        expect(guide.locator(".alert-card")).to_have_count(3)
        expect(guide.locator('.alert-card[data-zone="w3"] .alert-taken')).to_contain_text("anna is on it")
        expect(guide.locator("#hall-count")).to_have_text("42")
        guide.locator("#resolved-section summary").click()
        screenshot(guide, "showcase-guide")
        if viewport == "phone":
            save_for_docs(guide, "guide")

        dashboard = pages.open("manager", viewport, path=f"/dashboard?site={site}")
        expect(dashboard.locator("body")).to_have_attribute("data-ready", "true")
        expect(dashboard.locator("#kpi-hall-count")).to_have_text("42")
        expect(dashboard.locator("circle.person").first).to_be_attached(timeout=5000)
        expect(dashboard.locator("#peaks-chart canvas")).to_have_count(1)
        assert int(dashboard.locator("#occupancy-chart").get_attribute("data-points") or 0) > 10
        if viewport_name(dashboard) == "desktop":
            dashboard.get_by_label("Heatmap, last 7 days").check()
            expect(dashboard.locator("rect.heat-cell").first).to_be_attached()
        screenshot(dashboard, "showcase-dashboard")
        if viewport == "desktop":
            save_for_docs(dashboard, "dashboard")

        report = pages.open("manager", viewport, path=f"/report?site={site}")
        expect(report.locator("body")).to_have_attribute("data-ready", "true")
        per_day = busy_hall.entries_per_day  # type: ignore[attr-defined]
        for day in busy_hall.week:  # type: ignore[attr-defined]
            row = report.locator(f'#days-table tr[data-date="{day}"] [data-col="visitors"]')
            expect(row).to_have_text(str(per_day.get(day, 0)))
        screenshot(report, "showcase-report")
        if viewport == "desktop":
            save_for_docs(report, "report")
        for page in (login, guide, dashboard, report):
            page.close()
