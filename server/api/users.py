"""Users (ops only)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from server.auth.passwords import hash_password
from server.deps import ServicesDep, UsersManager
from server.schemas.auth import UserCreate, UserOut, UserUpdate
from server.services import Services
from server.store.users import UNSET, UserExists, UserNotFound

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/users", tags=["users"])
UserId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("")
def list_users(user: UsersManager, services: ServicesDep) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in services.store.users.all()]


@router.post("", status_code=status.HTTP_201_CREATED, responses={409: {"description": "name taken"}})
def create_user(body: UserCreate, user: UsersManager, services: ServicesDep) -> UserOut:
    try:
        row = services.store.users.create(
            body.username, hash_password(body.password), body.role, services.clock(), body.sites
        )
    except UserExists as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    log.info(
        "%s created user %s (%s on %s)", user.username, row.username, row.role, row.sites or "every site"
    )
    return UserOut.model_validate(row)


def _keep_an_ops(services: Services, user_id: int, *, losing_ops: bool) -> None:
    """Refuse (409) to take away the last ops user of every site: nobody could manage users then."""
    target = services.store.users.by_id(user_id)
    if target is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}")
    if (
        losing_ops
        and target.role == "ops"
        and target.sites is None
        and not target.disabled
        and services.store.users.count_role("ops", every_site=True) <= 1
    ):
        raise HTTPException(
            status.HTTP_409_CONFLICT, "this is the last ops user of every site; create another one first"
        )


@router.patch(
    "/{user_id}", responses={404: {"description": "no such user"}, 409: {"description": "the last ops user"}}
)
def update_user(user_id: UserId, body: UserUpdate, user: UsersManager, services: ServicesDep) -> UserOut:
    """Change a role, its sites, a password or disable a user; their current logins end."""
    new_sites = "sites" in body.model_fields_set
    losing = (
        (body.role is not None and body.role != "ops")
        or body.disabled is True
        or (new_sites and body.sites is not None)
    )
    _keep_an_ops(services, user_id, losing_ops=losing)
    try:
        row = services.store.users.update(
            user_id,
            role=body.role,
            password_hash=hash_password(body.password) if body.password is not None else None,
            disabled=body.disabled,
            sites=body.sites if new_sites else UNSET,
        )
    except UserNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    log.info(
        "%s changed user %s (%s)", user.username, row.username, ", ".join(body.model_fields_set) or "nothing"
    )
    return UserOut.model_validate(row)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "no such user"}, 409: {"description": "the last ops user"}},
)
def delete_user(user_id: UserId, user: UsersManager, services: ServicesDep) -> None:
    _keep_an_ops(services, user_id, losing_ops=True)
    try:
        services.store.users.delete(user_id)
    except UserNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    log.info("%s deleted user %d", user.username, user_id)
