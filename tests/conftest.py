"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

# The detector library must never go to the network during tests either.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("YOLO_VERBOSE", "false")


# Markers, so that `make test-fast` (-m "not slow and not browser and not services") keeps the tests
# that need nothing running: tests that use these fixtures need the running Mosquitto or PostgreSQL,
# or start brokers and servers of their own; whole folders are marked by what they are.
SERVICE_FIXTURES = frozenset(
    {
        "shared_broker", "shared_broker_port", "broker", "make_broker", "mutual_broker", "capture",
        "pg_url", "fresh_pg_url", "server_proc", "make_server", "publish", "redis_url",
    }
)  # fmt: skip
BROWSER_FIXTURES = frozenset({"browser", "playwright", "new_page", "pages"})
FOLDER_MARKERS = {
    "e2e": ("slow", "services"),  # whole systems: processes, brokers, the detector, chromium
    "web": ("browser", "services"),  # pages in chromium against a server process
    "packaging": ("slow",),  # fresh virtual environments and clones
}
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else ""
        for name in FOLDER_MARKERS.get(folder, ()):
            item.add_marker(name)
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.services)
        # A database test runs on SQLite and on PostgreSQL; only the PostgreSQL one needs the service.
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("db_url") == "postgresql"
        if fixtures & SERVICE_FIXTURES or on_postgres:
            item.add_marker(pytest.mark.services)


# Playwright's sync API keeps an event loop running on the main thread for as long as it is
# started: a second `sync_playwright()` then fails ("using Playwright Sync API inside the asyncio
# loop": tests/web then tests/e2e did), and so does every asyncio test (pytest-asyncio) that runs
# meanwhile. So one Playwright per module, here for every folder: it stops when the module's last
# test is done, and test modules run whole in any order (pytest-randomly shuffles whole modules).
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Debian's chromium is needed at {CHROMIUM} (`make test` installs it as root, or says how)"
        )
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def ultralytics_assets() -> Path:
    import ultralytics

    return Path(ultralytics.__file__).parent / "assets"


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    """An empty PostgreSQL database of the test's own (for migrations, restarts and replicas)."""
    from support.databases import create_database, drop_database
    from support.processes import unique

    name = unique("hallwatch_test").replace("-", "_")
    yield create_database(name)
    drop_database(name)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The running Redis on 127.0.0.1:6379 (the replicas' live relay)."""
    from support.databases import require_redis

    return require_redis()
