"""Operator accounts (admins only): list, create, read, change role or disabled, reset password.

A new user's password, when none is given, and a reset password are generated and shown
once, in that answer. A role change, disabling a user or a reset ends the user's sessions;
the last enabled admin can be neither demoted nor disabled (409).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from fluxbilling.accounts.roles import Role
from fluxbilling.accounts.service import Accounts
from fluxbilling.accounts.users import MAX_PASSWORD, USERNAME_PATTERN
from fluxbilling.api.auth import Admin, requires
from fluxbilling.api.fields import RequestBody, RowId, Secret
from fluxbilling.api.rows import Row, Timestamp

__all__ = ["UserOut", "router"]

router = APIRouter(
    prefix="/api/v1/users", tags=["users"], dependencies=[Depends(requires(Role.ADMIN))]
)


class UserIn(RequestBody):
    """A new user; without a password one is generated and answered once."""

    username: str = Field(
        min_length=1, max_length=64, pattern=USERNAME_PATTERN, description="lower-case"
    )
    role: Role
    password: Annotated[Secret, Field(max_length=MAX_PASSWORD)] | None = Field(
        default=None, description="at least 12 characters; omit to have one generated"
    )


class UserPatch(RequestBody):
    """Changes to a user; either ends their sessions."""

    role: Role | None = None
    disabled: bool | None = None


class UserOut(Row):
    """An operator account (never its password)."""

    id: int
    username: str
    role: Role
    disabled: bool
    created_at: Timestamp
    updated_at: Timestamp
    password_changed_at: Timestamp
    last_login_at: Timestamp | None = Field(description="their last sign-in; null if never")


class UserListOut(Row):
    """Every user, by username."""

    items: list[UserOut]


class UserCreatedOut(Row):
    """The new user, and the generated password (null when one was given): shown once."""

    user: UserOut
    password: str | None


class PasswordResetOut(Row):
    """The user and their new generated password: shown once."""

    user: UserOut
    password: str


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.installation.accounts
    return accounts


@router.get("", summary="Every user")
async def list_users(request: Request) -> UserListOut:
    """Sorted by username."""
    return UserListOut(
        items=[UserOut.model_validate(u) for u in await _accounts(request).list_users()]
    )


@router.post(
    "",
    status_code=201,
    summary="Create a user (the password is generated when none is given)",
    responses={409: {"description": "a user with this username exists"}},
)
async def create_user(body: UserIn, who: Admin, request: Request) -> UserCreatedOut:
    """422 when the username or password is not allowed."""
    user, generated = await _accounts(request).create_user(
        who,
        username=body.username,
        role=body.role,
        password=body.password.get_secret_value() if body.password is not None else None,
    )
    return UserCreatedOut(user=UserOut.model_validate(user), password=generated)


@router.get("/{user_id}", summary="One user")
async def get_user(user_id: RowId, request: Request) -> UserOut:
    """404 when there is no such user."""
    return UserOut.model_validate(await _accounts(request).get_user(user_id))


@router.patch(
    "/{user_id}",
    summary="Change a user's role or disable them (ends their sessions)",
    responses={409: {"description": "it would leave no enabled admin"}},
)
async def update_user(user_id: RowId, body: UserPatch, who: Admin, request: Request) -> UserOut:
    """A disabled user cannot sign in, and their sessions and tokens stop working."""
    user = await _accounts(request).update_user(
        who, user_id, role=body.role, disabled=body.disabled
    )
    return UserOut.model_validate(user)


@router.post("/{user_id}/password", summary="Reset a user's password to a generated one")
async def reset_password(user_id: RowId, who: Admin, request: Request) -> PasswordResetOut:
    """The new password is in this answer only; the user's sessions end."""
    user, password = await _accounts(request).reset_password(who, user_id)
    return PasswordResetOut(user=UserOut.model_validate(user), password=password)
