"""FastAPI dependencies, as `Annotated` aliases routes use directly.

Authentication accepts either ``Authorization: Bearer <token>`` or the ``hallwatch_session``
cookie. With the cookie, every unsafe request (POST, PATCH, PUT, DELETE) must also carry the
token's CSRF secret in ``X-CSRF-Token`` (the cookie is also SameSite=Strict): a bearer token cannot
be sent by another site, a cookie can.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from server.auth.roles import EVERY_SITE, Permission, allows
from server.auth.tokens import TokenClaims, TokenError, read_token
from server.services import Services
from server.settings import Settings
from server.store import Store

SESSION_COOKIE = "hallwatch_session"
CSRF_COOKIE = "hallwatch_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="the access_token from POST /api/v1/auth/login")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="set by POST /api/v1/auth/login")


@dataclass(frozen=True, slots=True)
class AuthUser:
    """The person behind a request."""

    id: int
    username: str
    role: str
    claims: TokenClaims
    via: str  # "bearer" or "cookie"
    sites: frozenset[str] | None  # the sites the role holds on; None: every site

    def sees(self, site: str) -> bool:
        """Whether this user's role holds on `site`."""
        return self.sites is None or site in self.sites

    def visible(self, sites: Iterable[str]) -> list[str]:
        """The ones of `sites` this user's role holds on, in order."""
        return [s for s in sites if self.sees(s)]

    @property
    def site_list(self) -> list[str] | None:
        """The sites the role holds on, sorted (None: every site), for a query's filter."""
        return None if self.sites is None else sorted(self.sites)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_store(services: ServicesDep) -> Store:
    return services.store


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def authenticate(services: Services, token: str | None, via: str) -> AuthUser:
    """Check a token and that its user still exists, is enabled and has not been logged out.

    Raises:
        HTTPException: 401 with the reason.
    """
    if not token:
        raise _unauthorized("log in first: send a bearer token or the session cookie")
    try:
        claims = read_token(services.settings.secret_key.get_secret_value(), token, services.clock())
    except TokenError as exc:
        raise _unauthorized(str(exc)) from None
    user = services.store.users.by_id(claims.user_id)
    if user is None or user.disabled or user.token_version != claims.version:
        raise _unauthorized("this login is no longer valid; log in again")
    if services.store.users.token_revoked(claims.token_id):
        raise _unauthorized("this login ended (logged out); log in again")
    sites = None if user.sites is None else frozenset(user.sites)
    return AuthUser(user.id, user.username, user.role, claims, via, sites)


def presented_token(headers: Mapping[str, str], cookies: Mapping[str, str]) -> tuple[str | None, str]:
    """The token a request carries and how: ``(token, "bearer" | "cookie")``."""
    header = headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip(), "bearer"
    return cookies.get(SESSION_COOKIE), "cookie"


def current_user(
    request: Request,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> AuthUser:
    if bearer is not None:
        return authenticate(services, bearer.credentials, "bearer")
    user = authenticate(services, cookie, "cookie")
    if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != user.claims.csrf:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"missing or wrong {CSRF_HEADER} header: cookie requests must send the login's csrf_token",
        )
    return user


CurrentUser = Annotated[AuthUser, Depends(current_user)]


def require(permission: Permission) -> Callable[[Request, AuthUser], AuthUser]:
    """A dependency that lets through only users whose role has ``permission`` (else 403) and, for
    a route about a site (a ``site`` in its path or query), holds on that site (else 403).
    Permissions over the whole service (users, metrics, dead letters) need a role on every site."""

    def check(request: Request, user: CurrentUser) -> AuthUser:
        check_permission(user, permission)
        check_sites(user, [request.path_params.get("site"), *request.query_params.getlist("site")])
        return user

    check.__name__ = f"require_{permission.name.lower()}"
    return check


def check_permission(user: AuthUser, permission: Permission) -> None:
    """Refuse (403) a user whose role lacks `permission`, or holds on some sites only where the
    permission concerns the whole service (`EVERY_SITE`).

    Raises:
        HTTPException: 403 with the reason.
    """
    if not allows(user.role, permission):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {user.role} role may not do this ({permission})")
    if user.sites is not None and permission in EVERY_SITE:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"{permission} needs a role on every site; yours holds on some"
        )


def check_sites(user: AuthUser, sites: Iterable[str | None]) -> None:
    """Refuse (403) a request about a site the user's role does not hold on.

    Raises:
        HTTPException: 403 naming the site.
    """
    for site in sites:
        if site is not None and not user.sees(site):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"your role does not hold on site {site!r}")


AlertsReader = Annotated[AuthUser, Depends(require(Permission.ALERTS_READ))]
AlertsActor = Annotated[AuthUser, Depends(require(Permission.ALERTS_ACT))]
OccupancyReader = Annotated[AuthUser, Depends(require(Permission.OCCUPANCY_READ))]
ZonesReader = Annotated[AuthUser, Depends(require(Permission.ZONES_READ))]
HistoryReader = Annotated[AuthUser, Depends(require(Permission.HISTORY_READ))]
EventsReader = Annotated[AuthUser, Depends(require(Permission.EVENTS_READ))]
Exporter = Annotated[AuthUser, Depends(require(Permission.EXPORT))]
NodesReader = Annotated[AuthUser, Depends(require(Permission.NODES_READ))]
NodesWriter = Annotated[AuthUser, Depends(require(Permission.NODES_WRITE))]
UsersManager = Annotated[AuthUser, Depends(require(Permission.USERS_MANAGE))]
DeadLettersManager = Annotated[AuthUser, Depends(require(Permission.DEAD_LETTERS))]
RulesReader = Annotated[AuthUser, Depends(require(Permission.SETTINGS_READ))]
