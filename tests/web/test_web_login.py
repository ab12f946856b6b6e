"""Logging in as each role through the form, the navigation each gets, coming back, logging out."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from web_fixtures import Pages, login_through_form

import server.app  # noqa: F401  (imports every page module, so the navigation registry is complete)
from server.web.nav import home_path, nav_for

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("role", ["guide", "manager", "ops"])
def test_each_role_logs_in_and_lands_on_its_page(
    role: str, pages: Pages, login: Callable[..., None], screenshot: Callable[..., object]
) -> None:
    page = pages.open(viewport="phone", path="/")
    page.wait_for_url("**/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    if role == "guide":
        screenshot(page, "login")
    login(page, role)

    assert page.url.endswith(home_path(role)), page.url
    expect(page.locator(".user-name")).to_contain_text(role)
    listed = [item.label for item in nav_for(role)]
    if len(listed) > 1:
        expect(page.locator(".app-nav a")).to_have_text(listed)
        expect(page.locator(".app-nav a[aria-current=page]")).to_have_count(1)
    else:
        expect(page.locator(".app-nav")).to_have_count(0)
    assert ("Report" in listed) == (role == "manager")
    assert ("Dashboard" in listed) == (role != "guide")


def test_a_wrong_password_is_refused_on_the_form(pages: Pages) -> None:
    page = pages.open(viewport="phone", path="/login", allow=[r"status of 401"])
    login_through_form(page, "manager", "not-the-password")
    error = page.get_by_role("alert").filter(has_text="Wrong user name or password")
    expect(error).to_be_visible()
    assert page.url.endswith("/login")
    expect(page.get_by_label("Password")).to_be_focused()
    # an empty form is caught before asking the server
    page.get_by_label("User name").fill("")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Enter your user name and password.")


def test_a_page_opened_before_logging_in_comes_back_after_it(pages: Pages) -> None:
    page = pages.open(viewport="desktop", path="/report?period=day")
    page.wait_for_url(lambda url: "/login?next=" in url)
    assert "next=/report" in page.url
    login_through_form(page, "manager")
    page.wait_for_url(lambda url: "/report?" in url)
    assert "period=day" in page.url
    expect(page.get_by_role("heading", name="Daily report")).to_be_visible()


def test_login_never_sends_people_to_another_site(pages: Pages) -> None:
    page = pages.open(viewport="phone", path="/login?next=//evil.example/phish")
    login_through_form(page, "guide")
    page.wait_for_url("**/guide")
    assert page.url.startswith(pages.server.url)


def test_logging_out_ends_the_session(pages: Pages, login: Callable[..., None]) -> None:
    page: Page = pages.open(viewport="desktop", path="/login")
    login(page, "manager")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    response = page.goto("/dashboard")
    assert response is not None
    page.wait_for_url(lambda url: "/login?next=" in url)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
