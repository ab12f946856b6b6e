"""Logging in, and users."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from server.schemas.base import In, Out

Role = Literal["guide", "manager", "ops"]
Username = str
SiteName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Sites = Annotated[
    list[SiteName] | None,
    Field(
        min_length=1,
        max_length=1000,
        description="the sites the role holds on (a guide of one hall, a manager of a few); "
        "null: every site (the district's own staff)",
    ),
]


class LoginIn(In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserOut(Out):
    id: int
    username: str
    role: Role
    sites: list[str] | None = None
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


class LoginOut(Out):
    access_token: str = Field(description="send as `Authorization: Bearer ...` (or rely on the cookie)")
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    csrf_token: str = Field(description="send as `X-CSRF-Token` on POST/PATCH/DELETE made with the cookie")
    user: UserOut


class UserCreate(In):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
    password: str = Field(min_length=8, max_length=256)
    role: Role
    sites: Sites = None


class UserUpdate(In):
    role: Role | None = None
    sites: Sites = Field(
        default=None, description="as on create; leave out to keep them, null for every site"
    )
    password: str | None = Field(default=None, min_length=8, max_length=256)
    disabled: bool | None = None
