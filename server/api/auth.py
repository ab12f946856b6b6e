"""Logging in and out."""

from __future__ import annotations

import logging
import math

from fastapi import APIRouter, HTTPException, Request, Response, status

from server.auth.passwords import verify_password
from server.auth.tokens import issue_token
from server.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentUser, ServicesDep
from server.schemas.auth import LoginIn, LoginOut, UserOut

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post(
    "/login",
    responses={
        401: {"description": "wrong user name or password"},
        429: {"description": "too many failures"},
    },
)
def login(body: LoginIn, request: Request, response: Response, services: ServicesDep) -> LoginOut:
    """Log in: returns a bearer token and sets the session and CSRF cookies.

    Failed attempts are limited per user name and per client address; past the limit the answer
    is 429 with ``Retry-After``.
    """
    client = request.client.host if request.client else "unknown"
    # Per user name *and* address: wrong passwords from one place never lock the user out of
    # another (anyone could lock out the manager otherwise); per address alone, ×4.
    keys = [f"user:{body.username.lower()}@{client}", f"ip:{client}"]
    now = services.clock()
    wait = services.limiter.retry_after(keys, now.timestamp())
    if wait is not None:
        services.metrics.logins.labels(outcome="rate_limited").inc()
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed logins; try again in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    user = services.store.users.by_name(body.username)
    valid = verify_password(user.password_hash if user else None, body.password)
    if user is None or not valid or user.disabled:
        services.limiter.fail(keys, now.timestamp())
        services.metrics.logins.labels(outcome="failed").inc()
        log.warning("failed login for %r from %s", body.username[:64], client)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password")
    services.limiter.reset(keys[0])
    settings = services.settings
    token, claims = issue_token(
        settings.secret_key.get_secret_value(),
        user_id=user.id,
        username=user.username,
        role=user.role,
        version=user.token_version,
        now=now,
        ttl_s=settings.http.token_ttl_s,
    )
    common = {"max_age": settings.http.token_ttl_s, "secure": settings.cookie_secure, "samesite": "strict"}
    response.set_cookie(SESSION_COOKIE, token, httponly=True, path="/", **common)  # type: ignore[arg-type]
    response.set_cookie(CSRF_COOKIE, claims.csrf, httponly=False, path="/", **common)  # type: ignore[arg-type]
    services.store.users.touch_login(user.id, now)
    services.metrics.logins.labels(outcome="ok").inc()
    log.info("%s (%s) logged in from %s", user.username, user.role, client)
    user.last_login_at = now
    return LoginOut(
        access_token=token,
        expires_at=claims.expires_at,
        csrf_token=claims.csrf,
        user=UserOut.model_validate(user),
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(user: CurrentUser, response: Response, services: ServicesDep) -> None:
    """End this login: its token is revoked (bearer or cookie) and the cookies are cleared."""
    services.store.users.revoke_token(user.claims.token_id, user.claims.expires_at, services.clock())
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.get("/me")
def me(user: CurrentUser, services: ServicesDep) -> UserOut:
    """The logged-in user."""
    row = services.store.users.by_id(user.id)
    if row is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "this login is no longer valid; log in again")
    return UserOut.model_validate(row)
