"""Personal API tokens: one's own (`/api/v1/auth/tokens`) and, for admins, any user's.

A token (`fbt_...`) is sent as `Authorization: Bearer <token>`, acts as its user with their
current role, and needs no CSRF token. It is in the answer that creates it and nowhere
else, ever: lists show its name, prefix, expiry and when it was last used.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from fluxbilling.accounts.roles import Principal, Role
from fluxbilling.accounts.service import Accounts
from fluxbilling.api.auth import Admin, Viewer, requires
from fluxbilling.api.fields import Line, RequestBody, RowId
from fluxbilling.api.rows import Row, Timestamp

__all__ = ["by_user", "own"]

own = APIRouter(prefix="/api/v1/auth/tokens", tags=["auth"])
by_user = APIRouter(
    prefix="/api/v1/users/{user_id}/tokens",
    tags=["users"],
    dependencies=[Depends(requires(Role.ADMIN))],
)

_NOT_A_USER: dict[int | str, dict[str, Any]] = {
    409: {"description": "the installation token is not a user and has no tokens"}
}


class TokenIn(RequestBody):
    """A new token."""

    name: Line = Field(min_length=1, max_length=100, description="what it is for")
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="omit for a token that does not expire"
    )


class TokenOut(Row):
    """A token as listed (never the token itself)."""

    id: int
    name: str
    prefix: str = Field(description="its first characters, to recognise it")
    created_at: Timestamp
    expires_at: Timestamp | None
    last_used_at: Timestamp | None = Field(description="to the minute")
    revoked_at: Timestamp | None


class TokenCreatedOut(TokenOut):
    """The new token: `token` is shown here once and never again."""

    token: str = Field(description="send as `Authorization: Bearer <token>`")


class TokenListOut(Row):
    """A user's tokens, revoked ones too, newest first."""

    items: list[TokenOut]


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.installation.accounts
    return accounts


async def _list(request: Request, user_id: int) -> TokenListOut:
    tokens = await _accounts(request).list_tokens(user_id)
    return TokenListOut(items=[TokenOut.model_validate(t) for t in tokens])


async def _create(request: Request, who: Principal, user_id: int, body: TokenIn) -> TokenCreatedOut:
    info, token = await _accounts(request).create_token(
        who, user_id, name=body.name, expires_in_days=body.expires_in_days
    )
    return TokenCreatedOut.model_validate(
        {**TokenOut.model_validate(info).model_dump(), "token": token}
    )


@own.get("", summary="My API tokens", responses=_NOT_A_USER)
async def list_own_tokens(who: Viewer, request: Request) -> TokenListOut:
    """Newest first."""
    return await _list(request, _accounts(request).own_user_id(who))


@own.post("", status_code=201, summary="Create an API token of mine", responses=_NOT_A_USER)
async def create_own_token(body: TokenIn, who: Viewer, request: Request) -> TokenCreatedOut:
    """The token acts with my role; it is shown in this answer only."""
    return await _create(request, who, _accounts(request).own_user_id(who), body)


@own.delete(
    "/{token_id}", status_code=204, summary="Revoke an API token of mine", responses=_NOT_A_USER
)
async def revoke_own_token(token_id: RowId, who: Viewer, request: Request) -> None:
    """It stops working at once."""
    accounts = _accounts(request)
    await accounts.revoke_token(who, accounts.own_user_id(who), token_id)


@by_user.get("", summary="A user's API tokens")
async def list_user_tokens(user_id: RowId, request: Request) -> TokenListOut:
    """Newest first; 404 when there is no such user."""
    return await _list(request, user_id)


@by_user.post("", status_code=201, summary="Create an API token for a user (automation)")
async def create_user_token(
    user_id: RowId, body: TokenIn, who: Admin, request: Request
) -> TokenCreatedOut:
    """The token acts as that user with their role; it is shown in this answer only."""
    return await _create(request, who, user_id, body)


@by_user.delete("/{token_id}", status_code=204, summary="Revoke a user's API token")
async def revoke_user_token(user_id: RowId, token_id: RowId, who: Admin, request: Request) -> None:
    """It stops working at once; 404 when the user has no such token."""
    await _accounts(request).revoke_token(who, user_id, token_id)
