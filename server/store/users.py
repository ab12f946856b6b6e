"""People who log in: names, roles and password hashes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Final

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.db.tables import RevokedToken, User
from server.store.sql import insert_for, write


class UserExists(ValueError):
    """The user name is taken."""


class UserNotFound(LookupError):
    """No user has that id or name."""


class Unset(Enum):
    """A keyword argument not given (None means something)."""

    TOKEN = 0


UNSET: Final = Unset.TOKEN


def _sites(sites: Sequence[str] | None) -> list[str] | None:
    return None if sites is None else sorted(set(sites))


class UserStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self, username: str, password_hash: str, role: str, at: datetime, sites: Sequence[str] | None = None
    ) -> User:
        """Add a user whose role holds on `sites` (None: every site).

        Raises:
            UserExists: the name is taken.
        """
        user = User(
            username=username,
            password_hash=password_hash,
            role=role,
            sites=_sites(sites),
            disabled=False,
            token_version=0,
            created_at=at,
        )
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                session.add(user)
        except IntegrityError:
            raise UserExists(f"user {username!r} exists already") from None
        return user

    def by_name(self, username: str) -> User | None:
        with Session(self._engine, expire_on_commit=False) as session:
            return session.execute(select(User).where(User.username == username)).scalar_one_or_none()

    def by_id(self, user_id: int) -> User | None:
        with Session(self._engine, expire_on_commit=False) as session:
            return session.get(User, user_id)

    def all(self) -> list[User]:
        with Session(self._engine, expire_on_commit=False) as session:
            return list(session.execute(select(User).order_by(User.username)).scalars())

    def update(
        self,
        user_id: int,
        *,
        role: str | None = None,
        password_hash: str | None = None,
        disabled: bool | None = None,
        sites: Sequence[str] | None | Unset = UNSET,
    ) -> User:
        """Change a user; a new password, role, sites or disabling logs out their sessions.

        `sites`: the sites the role holds on (None: every site; not given: unchanged).

        Raises:
            UserNotFound: no such user.
        """
        values: dict[str, object] = {}
        if role is not None:
            values["role"] = role
        if password_hash is not None:
            values["password_hash"] = password_hash
        if disabled is not None:
            values["disabled"] = disabled
        if not isinstance(sites, Unset):
            values["sites"] = _sites(sites)
        if values:
            values["token_version"] = User.token_version + 1
            with write(self._engine) as conn:
                conn.execute(update(User).where(User.id == user_id).values(**values))
        user = self.by_id(user_id)
        if user is None:
            raise UserNotFound(f"no user {user_id}")
        return user

    def revoke_token(self, token_id: str, expires_at: datetime, now: datetime) -> None:
        """End one login (logging out) until it expires anyway; forget the expired ones."""
        with write(self._engine) as conn:
            conn.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
            if token_id:
                stmt = insert_for(conn, RevokedToken).values(token_id=token_id, expires_at=expires_at)
                conn.execute(stmt.on_conflict_do_nothing(index_elements=["token_id"]))

    def token_revoked(self, token_id: str) -> bool:
        if not token_id:
            return False
        with Session(self._engine) as session:
            return session.get(RevokedToken, token_id) is not None

    def touch_login(self, user_id: int, at: datetime) -> None:
        with write(self._engine) as conn:
            conn.execute(update(User).where(User.id == user_id).values(last_login_at=at))

    def delete(self, user_id: int) -> None:
        """Remove a user.

        Raises:
            UserNotFound: no such user.
        """
        with Session(self._engine) as session, session.begin():
            user = session.get(User, user_id)
            if user is None:
                raise UserNotFound(f"no user {user_id}")
            session.delete(user)

    def count_role(self, role: str, *, every_site: bool = False) -> int:
        """Enabled users of `role` (with `every_site`: only those whose role holds on every site)."""
        query = select(User.id).where(User.role == role, User.disabled.is_(False))
        if every_site:
            query = query.where(User.sites.is_(None))
        with Session(self._engine) as session:
            return len(session.execute(query).all())
