"""The pages' files and headers, in-process: static files, the PWA files, security headers, and a
clear answer ("run make web") when the npm-installed vendor files are missing."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.processes import unique

from server.runtime import build_server
from server.settings import Settings
from server.web import assets, pages
from server.web.nav import NavItem, home_path, nav_for, register


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The app in demo mode (demo users) without ingest, on a SQLite file of the test's own."""
    settings = Settings(
        demo=True,
        database_url=f"sqlite:///{tmp_path / 'web.sqlite3'}",
        mqtt={"url": "mqtt://127.0.0.1:1"},  # type: ignore[arg-type]
    )
    server = build_server(settings, with_ingest=False)
    with TestClient(server.app, base_url="http://hallwatch.test") as test_client:
        yield test_client
    server.store.close()


def _login(client: TestClient, role: str) -> None:
    response = client.post("/api/v1/auth/login", json={"username": role, "password": role})
    assert response.status_code == 200, response.text


def test_pages_carry_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    # no inline scripts or styles that the policy would block
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text)
    assert "style=" not in response.text and "<style" not in response.text


def test_every_page_template_uses_only_files_that_exist(client: TestClient) -> None:
    for role in ("guide", "manager"):
        _login(client, role)
        for item in nav_for(role):
            html = client.get(item.path).text
            for ref in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
                assert client.get(ref).status_code == 200, (item.path, ref)
            assert "style=" not in html and "<style" not in html, item.path


def test_static_files_have_their_types_and_are_revalidated(client: TestClient) -> None:
    js = client.get("/static/js/api.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert js.headers["cache-control"] == "no-cache" and "etag" in js.headers
    assert client.get("/static/js/api.js", headers={"If-None-Match": js.headers["etag"]}).status_code == 304
    assert client.get("/static/css/base.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/../pages.py").status_code == 404
    assert client.get("/static/%2e%2e/pages.py").status_code == 404
    assert client.get("/static/js/nope.js").status_code == 404


def test_the_guide_page_is_an_installable_app(client: TestClient) -> None:
    manifest = client.get("/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    data = json.loads(manifest.text)
    assert data["start_url"] == "/guide" and data["scope"] == "/guide" and data["display"] == "standalone"
    for icon in data["icons"]:
        assert client.get(icon["src"]).headers["content-type"].startswith("image/svg+xml")
    worker = client.get("/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/"
    # every file of the app shell the worker caches exists
    shell = re.search(r"const SHELL = \[(.*?)\];", worker.text, re.S)
    assert shell is not None
    for path in re.findall(r'"(/[^"]+)"', shell.group(1)):
        assert client.get(path).status_code == 200, path
    _login(client, "guide")
    assert '<link rel="manifest" href="/manifest.webmanifest">' in client.get("/guide").text


def test_missing_vendor_files_give_a_page_that_says_run_make_web(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "vendor"
    empty.mkdir()
    with caplog.at_level(logging.ERROR, logger="server.web.assets"):
        assert assets.check_vendor(empty) is False
    assert "make web" in caplog.text and "uPlot.esm.js" in caplog.text
    assert assets.missing_vendor_files(empty) == list(assets.VENDOR_FILES)
    assert assets.check_vendor() is True  # this checkout ran `make web` (the session's fixture says so)

    monkeypatch.setattr(pages, "missing_vendor_files", lambda: ["uplot/uPlot.esm.js"])
    _login(client, "manager")
    response = client.get("/dashboard")
    assert response.status_code == 503
    assert "make web" in response.text and "uplot/uPlot.esm.js" in response.text
    assert client.get("/guide").status_code == 200  # the guide page needs no vendor files

    missing = client.get("/static/vendor/uplot/not-installed.js")
    assert missing.status_code == 404 and "make web" in missing.text


def test_the_navigation_registry_checks_what_it_is_given() -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        register(NavItem("/x", "X", frozenset({"visitor"})))
    with pytest.raises(ValueError, match="must start with one /"):
        register(NavItem("//evil", "X", frozenset({"ops"})))
    path = f"/test-{unique('page')}"
    register(NavItem(path, "Hidden", frozenset({"ops"}), order=1, home_for=frozenset({"ops"}), in_nav=False))
    try:
        assert home_path("ops") == path and path not in [i.path for i in nav_for("ops")]
        assert home_path("guide") == "/guide" and home_path("manager") == "/dashboard"
    finally:
        from server.web import nav

        nav._ITEMS.pop(path)
    assert home_path("ops") == "/dashboard" or home_path("ops").startswith("/ops")
