"""Who may open which page: checked by the server, for every page in the navigation."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect
from support.hallwatch_processes import ServerProcess
from web_fixtures import Pages

import server.app  # noqa: F401  (every page module registers its pages on import)
from server.auth.roles import ROLES
from server.web.nav import home_path, items

pytestmark = pytest.mark.browser


def _refused(role: str) -> list[str]:
    return [item.path for item in items() if not item.allows(role)]


def test_every_role_is_refused_the_pages_that_are_not_for_it(server_proc: ServerProcess) -> None:
    """Over HTTP with each role's session cookie: a 403 page, never the page itself."""
    assert (
        "/dashboard" in _refused("guide") and "/report" in _refused("guide") and "/report" in _refused("ops")
    )
    for role in ROLES:
        with httpx.Client(base_url=server_proc.url) as client:
            assert client.post("/api/v1/auth/login", json={"username": role, "password": role}).is_success
            for path in _refused(role):
                response = client.get(path, follow_redirects=False)
                assert response.status_code == 403, (role, path, response.status_code)
                assert "Not your page" in response.text
                assert 'id="floor-plan"' not in response.text and 'id="days-table"' not in response.text
                assert f'href="{home_path(role)}"' in response.text
            for item in items():
                if item.allows(role):
                    assert client.get(item.path, follow_redirects=False).status_code == 200, (role, item.path)


def test_pages_without_a_login_redirect_to_it(server_proc: ServerProcess) -> None:
    for item in items():
        response = httpx.get(f"{server_proc.url}{item.path}", follow_redirects=False)
        assert response.status_code == 303, item.path
        assert response.headers["location"].startswith("/login?next=")


def test_a_guide_opening_the_dashboard_sees_a_403_page(pages: Pages) -> None:
    page = pages.open("guide", "phone", allow=[r"status of 403 \(Forbidden\)"])
    response = page.goto("/dashboard", wait_until="load")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not your page")).to_be_visible()
    expect(page.locator(".error-message")).to_contain_text("This page is for managers and operations staff")
    expect(page.locator("#floor-plan")).to_have_count(0)
    page.get_by_role("link", name="Go to my page").click()
    page.wait_for_url("**/guide")
    for path in ("/report", *_refused("guide")):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
