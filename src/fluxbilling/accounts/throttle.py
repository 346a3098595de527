"""The login rate limit: whether a login may be tried now (pure), and its memory (shell).

Failed logins are counted over a sliding window, twice: per username (a successful login
clears that count) and per client address (it does not: one account's owner cannot clear
the count of an address that guesses at others). At the limit, the answer is 429 with the
seconds until the oldest counted failure leaves the window. Attempts refused by the limit
are not counted, so waiting always helps.

The attempts are rows in `login_attempts`, so every API process, on SQLite or PostgreSQL,
counts the same failures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.db import schema

__all__ = ["LoginPolicy", "Recent", "prune", "recent_failures", "record", "wait_seconds"]

_attempts = schema.login_attempts


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """How many failed logins a window allows, per username and per client address."""

    window: timedelta
    per_user: int
    per_client: int


@dataclass(frozen=True, slots=True)
class Recent:
    """The newest failed logins that count, per username and per client address."""

    user: Sequence[datetime]
    client: Sequence[datetime]


def _wait(failures: Sequence[datetime], limit: int, now: datetime, window: timedelta) -> float:
    counted = sorted(t for t in failures if t > now - window)
    if len(counted) < limit:
        return 0.0
    # Allowed again once all but limit - 1 of them have left the window.
    frees_at = counted[len(counted) - limit] + window
    return max((frees_at - now).total_seconds(), 0.0)


def wait_seconds(recent: Recent, now: datetime, policy: LoginPolicy) -> int | None:
    """Seconds to wait before a login may be tried, or None when it may be tried now.

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> policy = LoginPolicy(window=timedelta(minutes=15), per_user=2, per_client=10)
    >>> wait_seconds(Recent(user=[t0, t0], client=[t0, t0]), t0 + timedelta(minutes=5), policy)
    600
    """
    wait = max(
        _wait(recent.user, policy.per_user, now, policy.window),
        _wait(recent.client, policy.per_client, now, policy.window),
    )
    return max(1, math.ceil(wait)) if wait > 0 else None


async def recent_failures(
    conn: AsyncConnection, *, username: str, client: str, now: datetime, policy: LoginPolicy
) -> Recent:
    """The failed logins that count at `now`: at most as many as each limit needs."""
    since = now - policy.window
    last_success = (
        await conn.execute(
            sa.select(sa.func.max(_attempts.c.id)).where(
                _attempts.c.username == username, _attempts.c.succeeded
            )
        )
    ).scalar()
    since_success = _attempts.c.username == username
    if last_success is not None:  # by id: attempts in the same instant keep their order
        since_success = sa.and_(since_success, _attempts.c.id > last_success)
    user = await _newest_failures(conn, since_success, since, policy.per_user)
    client_times = await _newest_failures(
        conn, _attempts.c.client == client, since, policy.per_client
    )
    return Recent(user=user, client=client_times)


async def _newest_failures(
    conn: AsyncConnection, who: sa.ColumnElement[bool], since: datetime, limit: int
) -> list[datetime]:
    query = (
        sa.select(_attempts.c.at)
        .where(who, sa.not_(_attempts.c.succeeded), _attempts.c.at > since)
        .order_by(_attempts.c.at.desc())
        .limit(limit)
    )
    return list((await conn.execute(query)).scalars())


async def record(
    conn: AsyncConnection, *, username: str, client: str, succeeded: bool, at: datetime
) -> None:
    """Remember one login attempt that was checked against a password."""
    await conn.execute(
        _attempts.insert().values(username=username, client=client, succeeded=succeeded, at=at)
    )


async def prune(conn: AsyncConnection, before: datetime) -> None:
    """Forget attempts older than `before` (they no longer count)."""
    await conn.execute(_attempts.delete().where(_attempts.c.at < before))
