"""The HTML pages and static files, each page checking on the server who may open it.

Routes (none in the OpenAPI document):

| path | who | what |
|---|---|---|
| ``/`` | anyone | the visitor's home page (by role), or the login |
| ``/login`` | anyone | the login form (``?next=/path`` to come back) |
| ``/guide`` | guide, manager, ops | the floor guide's phone page: open alerts by window (a PWA) |
| ``/dashboard`` | manager, ops | floor plan, live counts, charts, queues (history parts: manager) |
| ``/report`` | manager | the printable daily or weekly report |
| ``/static/...`` | anyone | CSS, ES modules, icons, ``vendor/`` (npm, via ``make web``) |
| ``/sw.js``, ``/manifest.webmanifest`` | anyone | the guide page's service worker and web app manifest |

A page opened without a valid session cookie redirects to ``/login?next=...``; a role the page is
not for gets a 403 page that says whose page it is and links to the visitor's own home.

Other page modules build their routes with `render_page` and list them with
`server.web.nav.register`, so the header and the ``/`` redirect know about them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.staticfiles import StaticFiles

from server.auth.roles import ROLES, Permission, allows
from server.deps import SESSION_COOKIE, AuthUser, authenticate
from server.services import Services
from server.web.assets import STATIC_DIR, TEMPLATES_DIR, VENDOR_HINT, check_vendor, missing_vendor_files
from server.web.nav import NavItem, home_path, nav_for, register

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)
_static = StaticFiles(directory=STATIC_DIR)

ROLE_LABELS = {"guide": "Floor guide", "manager": "Manager", "ops": "Operations"}
ROLE_PLURALS = {"guide": "floor guides", "manager": "managers", "ops": "operations staff"}

# Pages are same-origin app shells: scripts, styles, the live socket and images from here only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_PAGE_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-store"}

GUIDE = register(NavItem("/guide", "Floor alerts", frozenset(ROLES), order=20, home_for=frozenset({"guide"})))
# The hall's plan, live; every alert links here centred on it (``?alert=ID``).
FLOOR = register(NavItem("/floor", "Floor plan", frozenset(ROLES), order=25))
DASHBOARD = register(
    NavItem(
        "/dashboard",
        "Dashboard",
        frozenset({"manager", "ops"}),
        order=10,
        home_for=frozenset({"manager", "ops"}),
    )
)
REPORT = register(NavItem("/report", "Report", frozenset({"manager"}), order=30))
# The district overview: every hall the user's role holds on, at a glance.
HALLS = register(NavItem("/halls", "Halls", frozenset({"manager", "ops"}), order=5))

check_vendor()


# ------------------------------------------------------------------------------------ helpers
def page_user(request: Request) -> AuthUser | None:
    """The user behind the session cookie, or None (no cookie, expired, logged out, disabled)."""
    services: Services = request.app.state.services
    try:
        return authenticate(services, request.cookies.get(SESSION_COOKIE), "cookie")
    except HTTPException:
        return None


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site (never another host), else None.

    >>> safe_next("/dashboard?site=a"), safe_next("//evil.example/x"), safe_next("https://x.y/")
    ('/dashboard?site=a', None, None)
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def login_redirect(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)


def _permissions(role: str) -> dict[str, bool]:
    return {
        "history": allows(role, Permission.HISTORY_READ),
        "export": allows(role, Permission.EXPORT),
        "events": allows(role, Permission.LIVE_NODES),
        "nodes": allows(role, Permission.NODES_READ),
    }


def _context(request: Request, user: AuthUser | None, title: str, page: str) -> dict[str, Any]:
    services: Services = request.app.state.services
    return {
        "title": title,
        "page": page,
        "user": user,
        "role_label": ROLE_LABELS.get(user.role, user.role) if user else "",
        "nav": nav_for(user.role) if user else [],
        "current": request.url.path,
        "home": home_path(user.role) if user else "/login",
        "timezone": services.settings.timezone,
        "can": _permissions(user.role) if user else {},
        "demo": services.settings.demo,
    }


def error_page(
    request: Request, user: AuthUser | None, status_code: int, title: str, message: str
) -> HTMLResponse:
    """A page that explains what went wrong and where to go instead."""
    context = _context(request, user, title, "error") | {"status_code": status_code, "message": message}
    return templates.TemplateResponse(
        request, "error.html", context, status_code=status_code, headers=_PAGE_HEADERS
    )


def render_page(
    request: Request,
    template: str,
    *,
    title: str,
    roles: Iterable[str],
    page: str,
    needs_vendor: bool = False,
    context: Mapping[str, Any] | None = None,
) -> Response:
    """Render ``template`` for a logged-in user whose role is in ``roles``.

    Without a valid login: a redirect to the login page (which comes back here). With a role not in
    ``roles``: a 403 page. ``needs_vendor``: a 503 page naming the fix while the npm files are missing.
    """
    user = page_user(request)
    if user is None:
        return login_redirect(request)
    allowed = set(roles)
    if user.role not in allowed:
        whose = " and ".join(ROLE_PLURALS.get(r, r) for r in ROLES if r in allowed)
        log.info("%s (%s) was refused %s", user.username, user.role, request.url.path)
        return error_page(
            request,
            user,
            403,
            "Not your page",
            f"This page is for {whose}. You are logged in as {user.username} "
            f"({ROLE_LABELS.get(user.role, user.role).lower()}).",
        )
    if needs_vendor:
        missing = missing_vendor_files()
        if missing:
            log.error("page %s needs %s; %s", request.url.path, ", ".join(missing), VENDOR_HINT)
            return error_page(
                request,
                user,
                503,
                "Front-end files missing",
                f"This server was installed without its front-end libraries ({', '.join(missing)}). "
                f"An administrator needs to {VENDOR_HINT}.",
            )
    full = _context(request, user, title, page) | dict(context or {})
    return templates.TemplateResponse(request, template, full, headers=_PAGE_HEADERS)


# ------------------------------------------------------------------------------------ pages
@router.get("/")
def home(request: Request) -> Response:
    user = page_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_path(user.role), status_code=303)


@router.get("/login")
def login_page(request: Request, next_: Annotated[str | None, Query(alias="next")] = None) -> Response:
    user = page_user(request)
    target = safe_next(next_)
    if user is not None:
        return RedirectResponse(target or home_path(user.role), status_code=303)
    context = _context(request, None, "Log in", "login") | {"next": target or ""}
    return templates.TemplateResponse(request, "login.html", context, headers=_PAGE_HEADERS)


@router.get("/guide")
def guide_page(request: Request) -> Response:
    return render_page(request, "guide.html", title="Floor alerts", roles=GUIDE.roles, page="guide")


@router.get("/floor")
def floor_page(request: Request) -> Response:
    return render_page(request, "floor.html", title="Floor plan", roles=FLOOR.roles, page="floor")


@router.get("/dashboard")
def dashboard_page(request: Request) -> Response:
    return render_page(
        request,
        "dashboard.html",
        title="Dashboard",
        roles=DASHBOARD.roles,
        page="dashboard",
        needs_vendor=True,
    )


@router.get("/halls")
def halls_page(request: Request) -> Response:
    return render_page(request, "halls.html", title="Halls", roles=HALLS.roles, page="halls")


@router.get("/report")
def report_page(request: Request) -> Response:
    return render_page(request, "report.html", title="Report", roles=REPORT.roles, page="report")


# ------------------------------------------------------------------------------------ files
@router.get("/static/{path:path}")
async def static_file(path: str, request: Request) -> Response:
    """Static files; revalidated on each load (ETag), so an upgrade reaches every phone."""
    vendor = STATIC_DIR / "vendor"
    target = (STATIC_DIR / path).resolve()
    # Only a path inside vendor/ gets the "run make web" answer: anything else (``vendor/../..``)
    # gets StaticFiles' plain 404, so the answer never tells whether a file exists elsewhere.
    if target.is_relative_to(vendor) and not target.is_file():
        return Response(
            f"/static/{path} is missing: {VENDOR_HINT}\n",
            status_code=404,
            media_type="text/plain; charset=utf-8",
        )
    response = await _static.get_response(path, request.scope)
    response.headers["Cache-Control"] = "no-cache"
    return response


@router.get("/sw.js")
def service_worker() -> FileResponse:
    """The guide page's service worker, served from the root so that it may control ``/guide``."""
    return FileResponse(
        STATIC_DIR / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/manifest.webmanifest")
def manifest() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "manifest.webmanifest",
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )
