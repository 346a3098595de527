"""PostgreSQL restarts under a running worker: it rides them out and no run is harmed.

Found by the chaos test's PostgreSQL restart: asyncpg lets the socket error of a new
connection through untranslated (`ConnectionRefusedError`, an `OSError`), so while the
server was down a phase's outcome could not be stored, the error escaped the run's task
("Task exception was never retrieved"), and a worker started during the outage exited
at start-up. Now `Database` maps it to an `OperationalError` (SQLSTATE 08001) that
`is_transient` knows, the attempt is abandoned like any other database outage, start-up
waits for the database, and the LISTEN connection comes back on its own.

Each test runs on a private cluster (`tests/chaos/pgcluster.py`), never the shared server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from itertools import count

import anyio
import pytest
import sqlalchemy as sa

from fluxbilling.db import Database, is_transient, schema
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Outcome
from fluxbilling.engine.policy import RetryPolicy
from fluxbilling.engine.wakeup import PgListener, Wakeup
from fluxbilling.engine.worker import Worker
from tests import dbsupport
from tests.chaos.harness import free_port
from tests.chaos.pgcluster import PrivateCluster
from tests.integration.test_engine import (
    ScriptedHandler,
    completed_count,
    handlers,
    run_store,
    seed_order,
)

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

QUICK = RetryPolicy(
    max_attempts=None, deadline=None, base=timedelta(seconds=0.1), cap=timedelta(seconds=0.5)
)

_names = count(1)
BUG_SIGNS = ("run task crashed", "never retrieved", "unexpected error")


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    started = PrivateCluster.start(max_connections=50)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def restart_db_url(cluster: PrivateCluster) -> Iterator[str]:
    if cluster.postmaster_pid() is None:
        cluster.bring_up()  # a test that failed while it was down
    name = f"restart_{next(_names)}"
    yield dbsupport.create_pg_database(name, cluster.url())
    if cluster.postmaster_pid() is not None:
        dbsupport.drop_pg_database(name, cluster.url())


@pytest.fixture
async def db(restart_db_url: str) -> AsyncIterator[Database]:
    database = Database(restart_db_url)
    yield database
    await database.dispose()


class GatedHandler(ScriptedHandler):
    """Succeeds, but its first `held` calls wait for `release` (their runs stay in flight)."""

    def __init__(self, held: int) -> None:
        super().__init__()
        self.held = held
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def execute(self, ctx: PhaseContext) -> Outcome:
        if self.held:
            self.held -= 1
            if self.held == 0:
                self.entered.set()
            await self.release.wait()
        return await super().execute(ctx)


async def wait_completed(db: Database, order_ids: list[int], timeout: float = 60.0) -> None:
    with anyio.fail_after(timeout):
        while True:
            async with db.connect() as conn:
                states = (
                    await conn.execute(
                        sa.select(schema.runs.c.state).where(schema.runs.c.order_id.in_(order_ids))
                    )
                ).scalars()
                if all(state == "completed" for state in states):
                    return
            await anyio.sleep(0.1)


async def until_listening(listener: PgListener) -> None:
    with anyio.fail_after(20):
        while not listener.listening:
            await anyio.sleep(0.05)


def bug_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if any(s in r.getMessage() for s in BUG_SIGNS)]


async def test_a_refused_connection_is_a_transient_database_error() -> None:
    db = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        with pytest.raises(sa.exc.OperationalError) as raised:
            async with db.begin() as conn:
                await conn.execute(sa.select(1))
    finally:
        await db.dispose()
    assert getattr(raised.value.orig, "sqlstate", None) == "08001"
    assert is_transient(raised.value)
    assert isinstance(getattr(raised.value.orig, "__cause__", None), ConnectionRefusedError)


async def test_a_worker_rides_out_a_restart_with_runs_in_flight(
    db: Database, cluster: PrivateCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    order_ids = await seed_order(db, 3)
    gate = GatedHandler(held=3)
    worker = Worker(run_store(db, lease_seconds=1.0), handlers(allocation=gate), poll_interval=0.1)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        with anyio.fail_after(30):
            await gate.entered.wait()
        await anyio.to_thread.run_sync(cluster.take_down, "kill")
        gate.release.set()  # the three results meet a server that is not there
        await anyio.sleep(1.5)
        assert not running.done()
        await anyio.to_thread.run_sync(cluster.bring_up)
        await wait_completed(db, order_ids)
        assert not running.done()
    finally:
        stop.set()
        with anyio.fail_after(20):
            await running
    for order_id in order_ids:
        assert await completed_count(db, order_id) == {
            p: 1 for p in ("allocation", "provision", "os_install", "network", "handoff")
        }
    async with db.connect() as conn:
        events = set(
            (
                await conn.execute(
                    sa.select(schema.activity_log.c.event).where(
                        schema.activity_log.c.order_id.in_(order_ids)
                    )
                )
            ).scalars()
        )
    assert not events & {"phase_failed", "phase_retry"}
    assert any("attempt abandoned" in r.getMessage() for r in caplog.records)
    assert not bug_lines(caplog)


async def test_a_worker_started_while_the_database_is_down_waits_for_it(
    db: Database, cluster: PrivateCluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    (order_id,) = await seed_order(db)
    await db.dispose()
    await anyio.to_thread.run_sync(cluster.take_down, "fast")
    worker = Worker(run_store(db), handlers(), poll_interval=0.1)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await anyio.sleep(1.0)
        assert not running.done()
        await anyio.to_thread.run_sync(cluster.bring_up)
        await wait_completed(db, [order_id])
    finally:
        stop.set()
        with anyio.fail_after(20):
            await running
    assert any(
        "worker registration: database unavailable" in r.getMessage() for r in caplog.records
    )
    assert not bug_lines(caplog)


async def test_a_worker_that_is_stopped_while_waiting_for_the_database_exits() -> None:
    db = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    worker = Worker(run_store(db), handlers())
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await anyio.sleep(0.3)
    stop.set()
    with anyio.fail_after(5):
        await running
    await db.dispose()


async def test_the_listener_listens_again_after_a_restart(
    db: Database, restart_db_url: str, cluster: PrivateCluster
) -> None:
    wakeup = Wakeup()
    listener = PgListener(restart_db_url, wakeup, policy=QUICK)
    await listener.start()
    try:
        assert listener.listening
        await anyio.to_thread.run_sync(lambda: cluster.restart("kill"))
        await until_listening(listener)
        await wakeup.wait(0.0)  # take the poke of the reconnection
        async with db.begin() as conn:
            await conn.execute(sa.select(sa.func.pg_notify("fluxbilling_runs", "1")))
        assert await wakeup.wait(10.0)
    finally:
        await listener.stop()


async def test_a_listener_started_while_the_database_is_down_listens_once_it_is_up(
    restart_db_url: str, cluster: PrivateCluster
) -> None:
    wakeup = Wakeup()
    listener = PgListener(restart_db_url, wakeup, policy=QUICK)
    await anyio.to_thread.run_sync(cluster.take_down, "fast")
    await listener.start()
    try:
        assert not listener.listening
        await anyio.to_thread.run_sync(cluster.bring_up)
        await until_listening(listener)
    finally:
        await listener.stop()
