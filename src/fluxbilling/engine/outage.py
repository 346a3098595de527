"""Waiting out our own database: how long a worker (or `serve`) waits while it is away.

`db.is_transient` tells an outage from a bug, once; the waits come from the one retry
policy type (`engine.policy`), as `DATABASE_TROUBLE`: no attempt limit, no deadline, capped
exponential backoff with half of each wait drawn at random, so a fleet of workers does not
knock on a restarting server in step. Used for start-up steps (`when_available`), claims
that fail, and re-opening the LISTEN connection (`engine.wakeup.PgListener`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta

import sqlalchemy as sa

from fluxbilling.db import is_transient
from fluxbilling.engine.policy import RetryPolicy, backoff

__all__ = ["DATABASE_TROUBLE", "wait_after", "when_available"]

log = logging.getLogger(__name__)

DATABASE_TROUBLE = RetryPolicy(
    max_attempts=None,
    deadline=None,
    base=timedelta(seconds=0.5),
    cap=timedelta(seconds=10),
    jitter=0.5,
)
"""Retry forever while our database is away: 0.5 s doubling to 10 s, half jittered."""


def wait_after(
    failures: int, policy: RetryPolicy = DATABASE_TROUBLE, rand: float | None = None
) -> float:
    """Seconds to wait after `failures` (1-based) consecutive failures; `rand` in [0, 1).

    Examples:
        >>> wait_after(1, rand=0.0), wait_after(2, rand=0.999) < 1.0, wait_after(9, rand=0.0)
        (0.25, True, 5.0)
    """
    draw = random.random() if rand is None else rand  # noqa: S311 - jitter, not a secret
    return backoff(failures, policy, draw).total_seconds()


async def when_available(
    operation: Callable[[], Awaitable[None]],
    *,
    stop: asyncio.Event,
    what: str,
    policy: RetryPolicy = DATABASE_TROUBLE,
) -> bool:
    """Run `operation`, again and again (`policy`'s backoff) while the database is away.

    For start-up steps of long-running processes: a worker started while PostgreSQL
    restarts waits for it instead of exiting. Errors that are not transient propagate.

    Args:
        operation: the step; it must be safe to repeat after a failed attempt.
        stop: give up waiting when this is set.
        what: names the step in the log.
        policy: the waits between attempts (its attempt limit and deadline are ignored).

    Returns:
        True once `operation` succeeded; False when `stop` was set first.
    """
    failures = 0
    while not stop.is_set():
        try:
            await operation()
        except sa.exc.DBAPIError as exc:
            if not is_transient(exc):
                raise
            failures += 1
            delay = wait_after(failures, policy)
            log.warning("%s: database unavailable (%s); retrying in %.1fs", what, exc.orig, delay)
        else:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
    return False
