"""Personal API tokens: `fbt_...` bearer tokens that act as their user, for automation.

A token is shown once, when it is created; the table keeps its SHA-256, a recognisable
prefix, a name, when it was last used and an optional expiry. Revoking one (or disabling
its user) ends it at once. It carries its user's *current* role: changing the role changes
what the token may do.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.accounts import credentials
from fluxbilling.db import schema

__all__ = [
    "LAST_USED_EVERY",
    "TokenInfo",
    "create",
    "find",
    "list_tokens",
    "mark_used",
    "needs_mark",
    "revoke",
    "usable",
]

LAST_USED_EVERY = timedelta(seconds=60)
"""How stale `last_used_at` may be before a request refreshes it."""

_tokens = schema.api_tokens
_users = schema.users


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: never the token itself."""

    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def usable(*, expires_at: datetime | None, revoked_at: datetime | None, now: datetime) -> bool:
    """Whether a token may authenticate a request at `now`."""
    return revoked_at is None and (expires_at is None or now < expires_at)


def needs_mark(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether a request at `now` should write `last_used_at`."""
    return last_used_at is None or now - last_used_at >= LAST_USED_EVERY


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


async def create(
    conn: AsyncConnection,
    *,
    user_id: int,
    name: str,
    expires_at: datetime | None,
    now: datetime,
) -> tuple[TokenInfo, str]:
    """Store a new token of `user_id`; returns it described, and the token (shown once)."""
    token = credentials.new_api_token()
    row = (
        await conn.execute(
            _tokens.insert()
            .values(
                user_id=user_id,
                name=name,
                token_hash=credentials.digest(token),
                prefix=credentials.token_prefix(token),
                created_at=now,
                expires_at=expires_at,
            )
            .returning(*_tokens.c)
        )
    ).one()
    return _info(row), token


async def list_tokens(conn: AsyncConnection, user_id: int) -> list[TokenInfo]:
    """A user's tokens, revoked ones included, newest first."""
    query = sa.select(_tokens).where(_tokens.c.user_id == user_id).order_by(_tokens.c.id.desc())
    return [_info(row) for row in await conn.execute(query)]


async def revoke(conn: AsyncConnection, *, user_id: int, token_id: int, now: datetime) -> TokenInfo:
    """Revoke one of a user's tokens (revoking a revoked one changes nothing).

    Raises:
        errors.NotFound: the user has no token with this id.
    """
    row = (
        await conn.execute(
            sa.select(_tokens).where(_tokens.c.id == token_id, _tokens.c.user_id == user_id)
        )
    ).first()
    if row is None:
        raise errors.NotFound(f"no token {token_id} of this user", token_id=token_id)
    if row.revoked_at is None:
        await conn.execute(_tokens.update().where(_tokens.c.id == token_id).values(revoked_at=now))
    info = _info(row)
    return info if info.revoked_at is not None else dataclasses.replace(info, revoked_at=now)


async def find(conn: AsyncConnection, token: str) -> Any:
    """The token row matching `token` with its user's name, role and state; or None.

    The row has `id, user_id, expires_at, last_used_at, revoked_at, username, role,
    disabled`.
    """
    query = (
        sa.select(
            _tokens.c.id,
            _tokens.c.user_id,
            _tokens.c.expires_at,
            _tokens.c.last_used_at,
            _tokens.c.revoked_at,
            _users.c.username,
            _users.c.role,
            _users.c.disabled,
        )
        .join(_users, _users.c.id == _tokens.c.user_id)
        .where(_tokens.c.token_hash == credentials.digest(token))
    )
    return (await conn.execute(query)).first()


async def mark_used(conn: AsyncConnection, token_id: int, now: datetime) -> None:
    """Record that the token was used at `now`."""
    await conn.execute(_tokens.update().where(_tokens.c.id == token_id).values(last_used_at=now))
