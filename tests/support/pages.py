"""Driving the pages as a user does (Playwright)."""

from __future__ import annotations

from playwright.sync_api import Page


def open_guide_page(page: Page, site: str, user: str = "guide", password: str = "guide") -> Page:
    """Log in on the login page and open the guide's page of `site`, its live stream connected."""
    page.goto("/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"/guide?site={site}")
    page.wait_for_selector('#live-dot[data-state="open"]')
    return page
