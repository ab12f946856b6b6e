"""Login tokens: short JWTs (HS256) signed with the server's secret key.

A token names the user, their role, their ``token_version`` (raised when their password, role or
access changes, which logs them out everywhere) and a CSRF secret that a page must echo in the
``X-CSRF-Token`` header when it authenticates with the cookie.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

ISSUER = "hallwatch"
ALGORITHM = "HS256"


class TokenError(ValueError):
    """The token is missing, malformed, expired or not ours."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    username: str
    role: str
    version: int
    csrf: str
    expires_at: datetime
    token_id: str = ""  # "jti": what logging out revokes


def issue_token(
    secret: str, *, user_id: int, username: str, role: str, version: int, now: datetime, ttl_s: int
) -> tuple[str, TokenClaims]:
    """Sign a new token; returns it and its claims."""
    claims = TokenClaims(
        user_id=user_id,
        username=username,
        role=role,
        version=version,
        csrf=secrets.token_urlsafe(24),
        expires_at=(now + timedelta(seconds=ttl_s)).replace(microsecond=0),
        token_id=secrets.token_urlsafe(16),
    )
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(user_id),
        "name": username,
        "role": role,
        "ver": version,
        "csrf": claims.csrf,
        "jti": claims.token_id,
        "iat": int(now.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


def read_token(secret: str, token: str, now: datetime) -> TokenClaims:
    """Verify a token's signature, issuer and expiry.

    Raises:
        TokenError: saying why it is refused.
    """
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"], "verify_exp": False},
        )
        exp = datetime.fromtimestamp(int(payload["exp"]), UTC)
        if exp <= now:
            raise TokenError("the login has expired; log in again")
        return TokenClaims(
            user_id=int(payload["sub"]),
            username=str(payload["name"]),
            role=str(payload["role"]),
            version=int(payload["ver"]),
            csrf=str(payload["csrf"]),
            expires_at=exp,
            token_id=str(payload.get("jti", "")),
        )
    except TokenError:
        raise
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise TokenError(f"invalid token: {exc}") from None
