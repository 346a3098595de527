"""Our own database failing transiently is not the phase failing: the attempt is dropped.

Found by the chaos test: a worker stopped while holding SQLite's write lock made the others'
`BEGIN IMMEDIATE` fail with "database is locked" once the busy timeout ran out, and the
worker turned that into an InvariantViolation that failed the run for good. Now such an
attempt is abandoned without a write and the run is claimed again once its lease expires;
a database error that is not transient (a constraint) still fails the run.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling.engine.context import PhaseContext, PhaseHandler
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.engine.runs import Claim, RunStore
from fluxbilling.engine.worker import Worker
from fluxbilling.orders.pipeline import Phase
from tests.integration.support import activity, finish, place_and_pay, run_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


class Flaky:
    """A phase handler whose `execute` or `commit` raises `error` once, then delegates."""

    def __init__(self, inner: PhaseHandler, error: Exception, where: str) -> None:
        self.inner = inner
        self.error: Exception | None = error
        self.where = where

    def _maybe_raise(self, where: str) -> None:
        if self.where == where and self.error is not None:
            error, self.error = self.error, None
            raise error

    async def execute(self, ctx: PhaseContext) -> Outcome:
        self._maybe_raise("execute")
        return await self.inner.execute(ctx)

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        self._maybe_raise("commit")
        return await self.inner.commit(conn, ctx, done)


class _PgError(Exception):
    """Stands in for asyncpg's error as SQLAlchemy wraps it (it carries `sqlstate`)."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def sqlite_busy() -> sa.exc.DBAPIError:
    orig = sqlite3.OperationalError("database is locked")
    orig.sqlite_errorcode = 5  # SQLITE_BUSY, as sqlite3 sets it
    return sa.exc.OperationalError("BEGIN IMMEDIATE", {}, orig)


def pg_deadlock() -> sa.exc.DBAPIError:
    return sa.exc.DBAPIError("UPDATE hosts", {}, _PgError("deadlock detected", "40P01"))


def pg_unique_violation() -> sa.exc.DBAPIError:
    return sa.exc.IntegrityError("INSERT", {}, _PgError("duplicate key", "23505"))


async def expire_lease(inst: bootstrap.Installation, order_id: int) -> None:
    async with inst.db.begin() as conn:
        await conn.execute(
            schema.runs.update()
            .where(schema.runs.c.order_id == order_id)
            .values(lease_expires_at=inst.db.now(-1))
        )


@pytest.mark.parametrize(
    ("where", "error"),
    [("execute", sqlite_busy), ("commit", pg_deadlock)],
    ids=["busy", "deadlock"],
)
async def test_database_trouble_drops_the_attempt_and_the_run_goes_on(
    installation: bootstrap.Installation, where: str, error: Callable[[], Exception]
) -> None:
    handlers = installation.handlers
    handlers[Phase.ALLOCATION] = Flaky(handlers[Phase.ALLOCATION], error(), where)
    order_id = await place_and_pay(installation, "db1.example.com")
    worker = installation.worker(concurrency=1)
    (claim,) = await installation.store.claim(worker.worker_id)

    await worker.process(claim)  # the attempt is dropped; nothing is raised or written

    run = await run_of(installation, order_id)
    assert (run.state, run.phase, run.attempt, run.last_error) == (
        "running",
        "allocation",
        0,
        None,
    )
    events = {e.event for e in await activity(installation, order_id)}
    assert not events & {"phase_failed", "phase_retry", "capacity_reserved"}

    await expire_lease(installation, order_id)
    assert (await finish(installation, order_id)).state == "completed"


async def test_a_database_error_that_is_no_outage_still_fails_the_run(
    installation: bootstrap.Installation,
) -> None:
    handlers = installation.handlers
    handlers[Phase.ALLOCATION] = Flaky(handlers[Phase.ALLOCATION], pg_unique_violation(), "commit")
    order_id = await place_and_pay(installation, "db2.example.com")
    worker = installation.worker(concurrency=1)
    (claim,) = await installation.store.claim(worker.worker_id)

    await worker.process(claim)

    run = await run_of(installation, order_id)
    assert (run.state, run.last_error["code"]) == ("failed", "InvariantViolation")


class _BuggyStore(RunStore):
    """A store with a bug that escapes the worker's handling of a run."""

    async def cursor(self, claim: Claim) -> Mapping[str, Any] | None:
        raise RuntimeError("a bug in the store")


async def test_a_bug_that_escapes_a_run_is_logged_at_once_with_its_run(
    installation: bootstrap.Installation, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    order_id = await place_and_pay(installation, "db3.example.com")
    store = _BuggyStore(
        installation.db, installation.store.pipelines.values(), installation.store.hooks
    )
    worker = Worker(store, installation.handlers, concurrency=1, poll_interval=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(20):
            while not any(r.getMessage().startswith("run task crashed") for r in caplog.records):
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(running, 20)
    (record,) = [r for r in caplog.records if r.getMessage().startswith("run task crashed")]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    assert record.order == order_id  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
