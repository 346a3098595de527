"""Console sessions: when one is valid (pure), and the rows that remember them (shell).

A session is valid until one of these, whichever comes first:

```
revoked    logout, a password change or reset, the user disabled or their role changed
idle       no request for `SessionPolicy.idle`
expired    `SessionPolicy.lifetime` after sign-in, however busy
```

The browser holds a random session id (cookie `fluxbilling_session`); the row holds its
SHA-256 and that of the session's CSRF token. `last_seen_at` is written at most once per
`TOUCH_EVERY`, not on every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.accounts import credentials
from fluxbilling.db import schema

__all__ = [
    "TOUCH_EVERY",
    "NewSession",
    "SessionPolicy",
    "Verdict",
    "find",
    "needs_touch",
    "open_session",
    "prune",
    "revoke",
    "revoke_all",
    "touch",
    "verdict",
]

TOUCH_EVERY = timedelta(seconds=60)
"""How stale `last_seen_at` may be before a request refreshes it."""

_sessions = schema.sessions
_users = schema.users


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long sessions last."""

    idle: timedelta
    lifetime: timedelta


class Verdict(StrEnum):
    """Whether a session may authenticate a request, and if not, why."""

    VALID = "valid"
    REVOKED = "revoked"
    IDLE = "idle"
    EXPIRED = "expired"


def verdict(
    *,
    created_at: datetime,
    last_seen_at: datetime,
    revoked_at: datetime | None,
    now: datetime,
    policy: SessionPolicy,
) -> Verdict:
    """Whether a session is valid at `now`.

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> policy = SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=12))
    >>> verdict(created_at=t0, last_seen_at=t0, revoked_at=None,
    ...         now=t0 + timedelta(minutes=31), policy=policy)
    <Verdict.IDLE: 'idle'>
    """
    if revoked_at is not None:
        return Verdict.REVOKED
    if now >= created_at + policy.lifetime:
        return Verdict.EXPIRED
    if now >= last_seen_at + policy.idle:
        return Verdict.IDLE
    return Verdict.VALID


def needs_touch(last_seen_at: datetime, now: datetime) -> bool:
    """Whether a request at `now` should write `last_seen_at` (at most once per TOUCH_EVERY)."""
    return now - last_seen_at >= TOUCH_EVERY


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: the values for the browser's two cookies (never stored)."""

    row_id: int
    session_id: str
    csrf_token: str


async def open_session(conn: AsyncConnection, user_id: int, now: datetime) -> NewSession:
    """Store a new session of `user_id`; only the digests of its id and CSRF token are kept."""
    session_id, csrf_token = credentials.new_secret(), credentials.new_secret()
    row_id = (
        await conn.execute(
            _sessions.insert()
            .values(
                user_id=user_id,
                id_hash=credentials.digest(session_id),
                csrf_hash=credentials.digest(csrf_token),
                created_at=now,
                last_seen_at=now,
            )
            .returning(_sessions.c.id)
        )
    ).scalar_one()
    return NewSession(int(row_id), session_id, csrf_token)


async def find(conn: AsyncConnection, session_id: str) -> Any:
    """The session whose id is `session_id`, with its user's name, role and state; or None.

    The row has `id, user_id, csrf_hash, created_at, last_seen_at, revoked_at, username,
    role, disabled`.
    """
    query = (
        sa.select(
            _sessions.c.id,
            _sessions.c.user_id,
            _sessions.c.csrf_hash,
            _sessions.c.created_at,
            _sessions.c.last_seen_at,
            _sessions.c.revoked_at,
            _users.c.username,
            _users.c.role,
            _users.c.disabled,
        )
        .join(_users, _users.c.id == _sessions.c.user_id)
        .where(_sessions.c.id_hash == credentials.digest(session_id))
    )
    return (await conn.execute(query)).first()


async def touch(conn: AsyncConnection, row_id: int, now: datetime) -> None:
    """Record that the session was used at `now`."""
    await conn.execute(_sessions.update().where(_sessions.c.id == row_id).values(last_seen_at=now))


async def revoke(conn: AsyncConnection, row_id: int, now: datetime) -> None:
    """End one session (logout)."""
    await conn.execute(
        _sessions.update()
        .where(_sessions.c.id == row_id, _sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_all(conn: AsyncConnection, user_id: int, now: datetime) -> int:
    """End every open session of a user; returns how many were open."""
    result = await conn.execute(
        _sessions.update()
        .where(_sessions.c.user_id == user_id, _sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


async def prune(conn: AsyncConnection, user_id: int, before: datetime) -> None:
    """Forget a user's sessions opened before `before` (past any lifetime)."""
    await conn.execute(
        _sessions.delete().where(_sessions.c.user_id == user_id, _sessions.c.created_at < before)
    )
