"""Logging in, and users."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from server.schemas.base import In, Out

Role = Literal["guide", "manager", "ops"]
Username = str


class LoginIn(In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserOut(Out):
    id: int
    username: str
    role: Role
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


class UserUpdate(In):
    role: Role | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)
    disabled: bool | None = None
