"""Fixtures for the page tests: the real server, Debian's chromium through Playwright, a hall on MQTT.

- `server_proc`: one ``hallwatch server run --demo`` for the session (a free port, a temporary
  SQLite file, the shared mosquitto on 127.0.0.1:1883, demo users guide/manager/ops); tests that
  stop a server start their own with `make_server`.
- `site`: a site of the test's own (the server listens to a pool of them); `publish`: a `Hall` that
  publishes contract payloads for that site over MQTT, as an edge node does.
- `browser` (tests/conftest.py): chromium from /usr/bin/chromium, never downloaded;
  `new_page(role, viewport)`: a logged-in page in a fresh context, whose console errors fail the
  test (allow the ones a test causes on purpose with ``allow=[regex, ...]``); `login(page, role)`:
  logs in through the form.
- `screenshot(page, name)`: saves ``test-artifacts/screenshots/<name>-<viewport>.png``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page
from support.hallwatch_processes import ServerProcess
from support.processes import require_shared_broker, unique, wait_until
from web_support import SCREENSHOTS, Hall, web_server

from server.web.assets import VENDOR_HINT, missing_vendor_files

VIEWPORTS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1366, "height": 900}}
SITES_PER_SESSION = 64
PASSWORDS = {"guide": "guide", "manager": "manager", "ops": "ops"}  # the demo users


# ------------------------------------------------------------------------------------ services
@pytest.fixture(scope="session")
def broker() -> None:
    require_shared_broker()


@pytest.fixture(scope="session")
def vendor_files() -> None:
    missing = missing_vendor_files()
    if missing:
        pytest.fail(f"front-end files missing ({', '.join(missing)}): {VENDOR_HINT}")


class SitePool:
    """Site names the session's server listens to; each test takes its own."""

    def __init__(self, count: int) -> None:
        run = unique("web")
        self.sites = [f"{run}-{i:02d}" for i in range(count)]
        self._count = count
        # A readable name, for the README's pictures; never taken by `take`, so that no other test's
        # alerts show in them.
        self.showcase = unique("town-hall")
        self.sites.append(self.showcase)
        self._next = 0

    def take(self) -> str:
        if self._next >= self._count:
            pytest.fail(
                f"more than {self._count} tests took a site: raise SITES_PER_SESSION in web_fixtures.py"
            )
        site = self.sites[self._next]
        self._next += 1
        return site


@pytest.fixture(scope="session")
def site_pool() -> SitePool:
    return SitePool(SITES_PER_SESSION)


@pytest.fixture(scope="session")
def server_proc(
    tmp_path_factory: pytest.TempPathFactory, broker: None, vendor_files: None, site_pool: SitePool
) -> Iterator[ServerProcess]:
    """The session's server; its log is in the temporary folder (shown when it fails to start)."""
    server = web_server(tmp_path_factory.mktemp("web-server"), site_pool.sites).start()
    yield server
    server.stop()


@pytest.fixture
def make_server(
    tmp_path: Path, broker: None, vendor_files: None
) -> Iterator[Callable[[list[str]], ServerProcess]]:
    """A server of the test's own (for tests that stop and restart it), stopped afterwards."""
    made: list[ServerProcess] = []

    def make(sites: list[str]) -> ServerProcess:
        server = web_server(tmp_path / f"server-{len(made)}", sites).start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def site(site_pool: SitePool) -> str:
    """A site of the test's own (``site_pool.showcase`` is a readable one, for pictures)."""
    return site_pool.take()


@pytest.fixture
def publish(site: str) -> Iterator[Hall]:
    """A hall (the test's site) that publishes over MQTT like an edge node; cleans its retained topics."""
    hall = Hall(site)
    yield hall
    hall.close()


def wait_for_layout(server: ServerProcess, site: str, zones: int | None = None) -> None:
    """Until the server has stored the site's layout (published retained just before)."""

    def stored() -> bool:
        try:
            layout = server.get(f"sites/{site}/layout", "guide")
        except Exception:  # 404 until the first message of the site arrives
            return False
        return bool(layout["zones"]) and (zones is None or len(layout["zones"]) == zones)

    wait_until(stored, 10, 0.1)


# ------------------------------------------------------------------------------------ browser
@dataclass
class ConsoleWatch:
    """Console errors and uncaught exceptions of one page; ``allowed`` patterns are expected ones."""

    allowed: list[re.Pattern[str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error" and not any(p.search(msg.text) for p in self.allowed):
            self.errors.append(f"console.error: {msg.text} ({msg.location.get('url', '')})")

    def page_error(self, error: Any) -> None:
        self.errors.append(f"uncaught: {error}")


@dataclass
class Pages:
    browser: Browser
    server: ServerProcess
    contexts: list[BrowserContext] = field(default_factory=list)
    watches: dict[int, ConsoleWatch] = field(default_factory=dict)

    def open(
        self,
        role: str | None = None,
        viewport: str = "phone",
        *,
        path: str | None = None,
        server: ServerProcess | None = None,
        allow: list[str] | tuple[str, ...] = (),
        init_script: str | None = None,
    ) -> Page:
        server = server or self.server
        context = self.browser.new_context(
            viewport=VIEWPORTS[viewport],  # type: ignore[arg-type]
            base_url=server.url,
            service_workers="allow",
            locale="en-GB",
            timezone_id="Europe/Vienna",
        )
        self.contexts.append(context)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        watch = ConsoleWatch([re.compile(a) for a in allow])
        page.on("console", watch.console)
        page.on("pageerror", watch.page_error)
        self.watches[id(page)] = watch
        page.set_default_timeout(10_000)
        if role is not None:
            response = context.request.post(
                "/api/v1/auth/login", data={"username": role, "password": PASSWORDS[role]}
            )
            assert response.ok, response.text()
        if path is not None:
            page.goto(path)
        return page

    def allow(self, page: Page, *patterns: str) -> None:
        self.watches[id(page)].allowed.extend(re.compile(p) for p in patterns)

    def errors(self, page: Page) -> list[str]:
        return list(self.watches[id(page)].errors)

    def close(self) -> list[str]:
        errors = [e for w in self.watches.values() for e in w.errors]
        for context in self.contexts:
            context.close()
        return errors


@pytest.fixture
def pages(browser: Browser, server_proc: ServerProcess) -> Iterator[Pages]:
    """Opens pages (``pages.open(role, viewport, path=...)``); any console error fails the test."""
    opened = Pages(browser, server_proc)
    yield opened
    errors = opened.close()
    assert not errors, "the pages logged errors:\n" + "\n".join(errors)


@pytest.fixture
def new_page(pages: Pages) -> Callable[..., Page]:
    """``new_page(role, viewport="phone", path=None, allow=())``: a logged-in page (see `Pages.open`)."""
    return pages.open


def login_through_form(page: Page, role: str, password: str | None = None) -> None:
    """Log in as a demo user with the login form (the page must be on /login)."""
    page.get_by_label("User name").fill(role)
    page.get_by_label("Password").fill(password if password is not None else PASSWORDS[role])
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def login() -> Callable[..., None]:
    """``login(page, role)``: open /login and log in with the form; waits until the page left /login."""

    def do(page: Page, role: str, password: str | None = None) -> None:
        if "/login" not in page.url:
            page.goto("/login")
        login_through_form(page, role, password)
        page.wait_for_url(lambda url: "/login" not in url)

    return do


def viewport_name(page: Page) -> str:
    size = page.viewport_size or {"width": 0}
    return "phone" if size["width"] <= 480 else "desktop"


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """``screenshot(page, name)``: a full-page PNG in test-artifacts/screenshots/<name>-<viewport>.png."""

    def take(page: Page, name: str, *, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{viewport_name(page)}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path

    return take
