"""The durable engine on both databases: claim, fence, checkpoints, retry, park, fail, operator actions."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.db import Database, schema
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome, Pending
from fluxbilling.engine.pipeline import PhaseSpec, Pipeline, RecordOnly, RunEntry, RunEvent
from fluxbilling.engine.policy import RetryPolicy
from fluxbilling.engine.runs import LeaseLost, RunStore
from fluxbilling.engine.worker import Worker
from fluxbilling.orders.pipeline import PHASES, PIPELINES, Phase
from fluxbilling.orders.progress import OrderProgress
from fluxbilling.seed import seed_bare_product

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


class ScriptedHandler:
    """A phase handler that plays a script of outcomes/errors, then succeeds."""

    def __init__(self, script: list[Outcome | Exception] | None = None) -> None:
        self.script = list(script or [])
        self.calls: list[Mapping[str, Any] | None] = []
        self.commits = 0

    async def execute(self, ctx: PhaseContext) -> Outcome:
        self.calls.append(ctx.cursor)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        return Done({"ok": True})

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        self.commits += 1
        return done.output


def run_store(db: Database, *, lease_seconds: float = 30.0) -> RunStore:
    """The store as the composition root builds it: the order pipelines, moving their orders."""
    return RunStore(db, PIPELINES, OrderProgress(db), lease_seconds=lease_seconds)


async def seed_order(
    db: Database, n: int = 1, *, store: RunStore | None = None, phase: str = Phase.ALLOCATION
) -> list[int]:
    store = store or run_store(db)
    ids = []
    async with db.begin() as conn:
        cust, prod = await seed_bare_product(conn)
        for i in range(n):
            oid = (
                await conn.execute(
                    schema.orders.insert()
                    .values(
                        customer_id=cust,
                        product_id=prod,
                        hostname=f"h{i}",
                        state="provisioning_pending",
                    )
                    .returning(schema.orders.c.id)
                )
            ).scalar_one()
            await store.enqueue(conn, oid, phase=phase)
            ids.append(oid)
    return ids


def handlers(**overrides: ScriptedHandler) -> dict[str, ScriptedHandler]:
    return {p: overrides.get(p.value, ScriptedHandler()) for p in PHASES[1:]}


async def run_row(db: Database, order_id: int) -> Any:
    async with db.connect() as conn:
        return (
            await conn.execute(sa.select(schema.runs).where(schema.runs.c.order_id == order_id))
        ).one()


async def completed_count(db: Database, order_id: int) -> dict[str, int]:
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(schema.activity_log.c.phase, sa.func.count())
                .where(
                    schema.activity_log.c.order_id == order_id,
                    schema.activity_log.c.event == "phase_completed",
                )
                .group_by(schema.activity_log.c.phase)
            )
        ).all()
    return {r[0]: r[1] for r in rows}


async def test_a_run_goes_through_every_phase_once(db: Database) -> None:
    (order_id,) = await seed_order(db)
    hs = handlers()
    worker = Worker(run_store(db), hs, concurrency=2)
    assert await worker.drain() == 5
    run = await run_row(db, order_id)
    assert run.state == "completed"
    assert await completed_count(db, order_id) == {p.value: 1 for p in PHASES[1:]}
    assert all(h.commits == 1 for h in hs.values())
    async with db.connect() as conn:
        state = (
            await conn.execute(
                sa.select(schema.orders.c.state).where(schema.orders.c.id == order_id)
            )
        ).scalar_one()
    assert state == "provisioning"  # the handoff handler, not the engine, flips the order to active


async def test_pending_stores_the_cursor_and_comes_back(db: Database) -> None:
    (order_id,) = await seed_order(db)
    prov = ScriptedHandler([Pending({"task": 7}, check_after=timedelta(seconds=0))])
    worker = Worker(run_store(db), handlers(provision=prov))
    await worker.drain()
    assert prov.calls == [None, {"task": 7}]
    assert (await run_row(db, order_id)).state == "completed"


async def test_transient_errors_are_retried_with_backoff_then_succeed(db: Database) -> None:
    (order_id,) = await seed_order(db)
    boom = errors.TransientUpstreamError("503 from panel", upstream="sim", retry_after=0)
    prov = ScriptedHandler([boom, boom])
    worker = Worker(run_store(db), handlers(provision=prov), rand=lambda: 0.0)
    await worker.drain()
    assert (await run_row(db, order_id)).state == "completed"
    async with db.connect() as conn:
        events = (
            (
                await conn.execute(
                    sa.select(schema.activity_log.c.event)
                    .where(schema.activity_log.c.order_id == order_id)
                    .order_by(schema.activity_log.c.id)
                )
            )
            .scalars()
            .all()
        )
    assert events.count("phase_retry") == 2


async def test_retry_waits_for_its_backoff(db: Database) -> None:
    (order_id,) = await seed_order(db)
    boom = errors.TransientUpstreamError("503", upstream="sim", retry_after=600)
    worker = Worker(run_store(db), handlers(provision=ScriptedHandler([boom])))
    await worker.drain()
    run = await run_row(db, order_id)
    assert (run.state, run.phase, run.attempt) == ("queued", "provision", 1)
    assert run.last_error["code"] == "TransientUpstreamError"
    assert (run.next_run_at - run.updated_at) > timedelta(minutes=9)


async def test_permanent_error_fails_the_run_and_operator_retry_resumes_it(db: Database) -> None:
    (order_id,) = await seed_order(db)
    prov = ScriptedHandler(
        [errors.PermanentUpstreamError("422 invalid plan", upstream="sim", status=422)]
    )
    store = run_store(db)
    worker = Worker(store, handlers(provision=prov))
    await worker.drain()
    run = await run_row(db, order_id)
    assert (run.state, run.phase) == ("failed", "provision")
    assert run.last_error["message"] == "422 invalid plan"
    with pytest.raises(errors.Conflict):
        await store.cancel(run.id, actor="op") if False else await store.retry(
            run.id, actor="op", from_phase=Phase.BILLING
        )
    await store.retry(run.id, actor="op")
    await worker.drain()
    assert (await run_row(db, order_id)).state == "completed"
    assert (await completed_count(db, order_id))["provision"] == 1


class RecordingHooks(RecordOnly):
    """`RunHooks` that remember what they were told, and move nothing (rows alone)."""

    def __init__(self) -> None:
        self.seen: list[tuple[RunEvent, str, str]] = []

    async def __call__(
        self, conn: AsyncConnection, event: RunEvent, entries: Sequence[RunEntry]
    ) -> None:
        self.seen += [(event, e.run.phase, e.message) for e in entries]
        await super().__call__(conn, event, entries)


async def test_a_phase_that_holds_what_it_did_is_not_rerun_once_done(db: Database) -> None:
    errands = Pipeline(
        "errands",
        (
            PhaseSpec("borrow", no_rerun_once_done="the ladder is borrowed already"),
            PhaseSpec("climb", RetryPolicy(max_attempts=1)),
        ),
        key_per_run=True,
    )
    store = RunStore(db, [errands], RecordingHooks())
    (order_id,) = await seed_order(db, store=store, phase="borrow")
    climb = ScriptedHandler([errors.TransientUpstreamError("wobbly", upstream="sim")])
    worker = Worker(store, {"borrow": ScriptedHandler(), "climb": climb}, worker_id="w")
    await worker.drain()
    run = await run_row(db, order_id)
    assert (run.state, run.phase) == ("failed", "climb")
    with pytest.raises(errors.Conflict, match="the ladder is borrowed already"):
        await store.retry(run.id, actor="op", from_phase="borrow")
    assert (await run_row(db, order_id)).state == "failed"  # refused: nothing changed
    async with db.begin() as conn:  # the caller gave the ladder back first
        await store.retry_in(conn, run.id, from_phase="borrow", actor="op", undone=True)
    assert ((await run_row(db, order_id)).state, (await run_row(db, order_id)).phase) == (
        "queued",
        "borrow",
    )


async def test_the_engine_runs_any_pipeline_it_is_handed(db: Database) -> None:
    chores = Pipeline(
        "chores",
        (
            PhaseSpec("sweep", no_rerun="swept floors stay swept"),
            PhaseSpec("mop", RetryPolicy(max_attempts=1)),
        ),
        key_per_run=True,
    )
    hooks = RecordingHooks()
    store = RunStore(db, [chores], hooks)
    (order_id,) = await seed_order(db, store=store, phase="sweep")
    mop = ScriptedHandler([errors.TransientUpstreamError("503", upstream="sim")])
    worker = Worker(store, {"sweep": ScriptedHandler(), "mop": mop}, worker_id="w")
    await worker.drain()
    run = await run_row(db, order_id)
    assert (run.kind, run.state, run.phase) == ("chores", "failed", "mop")
    assert run.wait_reason == "gave up after 1 attempts: 503"  # mop's own policy
    with pytest.raises(errors.Conflict, match="swept floors stay swept"):
        await store.retry(run.id, actor="op", from_phase="sweep")
    with pytest.raises(errors.Conflict, match="a chores run has no allocation phase"):
        await store.retry(run.id, actor="op", from_phase=Phase.ALLOCATION)
    await store.retry(run.id, actor="op")
    await worker.drain()
    assert (await run_row(db, order_id)).state == "completed"
    assert hooks.seen == [
        (RunEvent.STARTED, "sweep", "w started the run"),
        (RunEvent.FAILED, "mop", "mop failed: gave up after 1 attempts: 503"),
        (RunEvent.RETRIED, "mop", "op retried the run from mop"),
        (RunEvent.STARTED, "mop", "w started the run"),
    ]
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(schema.activity_log.c.event, schema.activity_log.c.data)
                .where(schema.activity_log.c.order_id == order_id)
                .order_by(schema.activity_log.c.id)
            )
        ).all()
        keys = (
            await conn.execute(
                sa.select(schema.phase_checkpoints.c.correlation_key)
                .where(schema.phase_checkpoints.c.run_id == run.id)
                .order_by(schema.phase_checkpoints.c.id)
            )
        ).scalars()
        order_state = (
            await conn.execute(
                sa.select(schema.orders.c.state).where(schema.orders.c.id == order_id)
            )
        ).scalar_one()
    assert list(keys) == [f"{order_id}:sweep:{run.id}", f"{order_id}:mop:{run.id}"]
    assert order_state == "provisioning_pending"  # these hooks move no order
    # Each run event is one row, written by the hooks; a start that moved nothing is none.
    run_rows = [
        (r.event, r.data) for r in rows if r.event in ("run_started", "phase_failed", "run_retried")
    ]
    assert [event for event, _ in run_rows] == ["phase_failed", "run_retried"]
    assert all("order" not in data for _, data in run_rows)


async def test_capacity_exhausted_parks_without_failing(db: Database) -> None:
    (order_id,) = await seed_order(db)
    alloc = ScriptedHandler([errors.CapacityExhausted("no host with 2048 MB free")] * 20)
    worker = Worker(run_store(db), handlers(allocation=alloc))
    await worker.drain()
    run = await run_row(db, order_id)
    assert (run.state, run.phase, run.attempt) == ("queued", "allocation", 0)
    assert "no capacity" in run.wait_reason


async def test_a_fenced_out_worker_cannot_write(db: Database) -> None:
    (order_id,) = await seed_order(db)
    short = run_store(db, lease_seconds=0.2)
    (stale,) = await short.claim("w1")
    await asyncio.sleep(0.4)  # the lease runs out: w1 is now a paused worker
    # w2 holds a long lease, so a slow machine cannot let w3 take it over below
    store = run_store(db, lease_seconds=60)
    (fresh,) = await store.claim("w2")
    assert fresh.lease_token == stale.lease_token + 1
    with pytest.raises(LeaseLost):
        async with store.fenced(stale) as conn:
            await store.complete_phase(conn, stale, {"stale": True})
    assert await completed_count(db, order_id) == {}
    async with db.connect() as conn:
        (takeover,) = (
            await conn.execute(
                sa.select(schema.activity_log).where(
                    schema.activity_log.c.event == "lease_taken_over"
                )
            )
        ).all()
    assert takeover.message == "w1 stopped answering during allocation; w2 took the run over"
    assert (takeover.worker, takeover.lease_token) == ("w2", fresh.lease_token)
    async with store.fenced(fresh) as conn:
        await store.complete_phase(conn, fresh, {})
    assert await completed_count(db, order_id) == {"allocation": 1}
    assert await store.claim("w3") == []  # advanced in place, still leased by w2


async def test_cancel_fences_the_running_worker(db: Database) -> None:
    (order_id,) = await seed_order(db)
    store = run_store(db)
    (claim,) = await store.claim("w1")
    await store.cancel(claim.run_id, actor="op")
    with pytest.raises(LeaseLost):
        await store.renew(claim)
    assert (await run_row(db, order_id)).state == "cancelled"
    with pytest.raises(errors.Conflict):
        await store.cancel(claim.run_id, actor="op")


async def test_concurrent_claims_never_hand_out_a_run_twice(db: Database) -> None:
    await seed_order(db, n=30)
    store = run_store(db)
    results = await asyncio.gather(*(store.claim(f"w{i}", limit=4) for i in range(10)))
    ids = [c.run_id for claims in results for c in claims]
    assert len(ids) == len(set(ids)) == 30


async def test_worker_loop_stops_gracefully(db: Database) -> None:
    (order_id,) = await seed_order(db)
    worker = Worker(run_store(db), handlers(), poll_interval=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    for _ in range(200):
        if (await run_row(db, order_id)).state == "completed":
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert (await run_row(db, order_id)).state == "completed"
    async with db.connect() as conn:
        assert (await conn.execute(sa.select(schema.workers.c.state))).scalar_one() == "stopped"


async def test_a_freed_slot_is_refilled_without_waiting_for_the_poll(db: Database) -> None:
    order_ids = await seed_order(db, n=3)
    worker = Worker(run_store(db), handlers(), concurrency=1, poll_interval=30)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(10):  # far below the 30 s poll: slots are refilled at once
            while worker.processed_phases < 3 * len(PHASES[1:]):
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert [(await run_row(db, o)).state for o in order_ids] == ["completed"] * 3


async def test_the_next_phase_sees_its_waiting_cursor_after_the_advance(db: Database) -> None:
    (order_id,) = await seed_order(db)
    store = run_store(db)
    (claim,) = await store.claim("w1")
    async with db.begin() as conn:
        await conn.execute(
            schema.phase_checkpoints.insert().values(
                run_id=claim.run_id,
                phase="provision",
                correlation_key=f"{order_id}:provision",
                status="waiting",
                cursor={"task": 9},
            )
        )
    async with store.fenced(claim) as conn:
        following = await store.complete_phase(conn, claim, {})
    assert following is not None
    assert following.phase == Phase.PROVISION
    assert await store.cursor(following) == {"task": 9}


class DecidingHandler(ScriptedHandler):
    """Keeps a decision with `save_cursor` before acting on it; the act fails once."""

    def __init__(self, store: RunStore) -> None:
        super().__init__()
        self.store = store

    async def execute(self, ctx: PhaseContext) -> Outcome:
        self.calls.append(ctx.cursor)
        if ctx.cursor is None:
            await self.store.save_cursor(ctx.claim, {"decided": len(self.calls)})
            raise errors.TransientUpstreamError("lost answer", upstream="sim", retry_after=0)
        return Done({"acted_on": ctx.cursor["decided"]})


async def test_a_cursor_saved_while_running_is_what_the_retry_gets(db: Database) -> None:
    (order_id,) = await seed_order(db)
    store = run_store(db)
    prov = DecidingHandler(store)
    worker = Worker(store, handlers(provision=prov), rand=lambda: 0.0)
    await worker.drain()
    assert prov.calls == [None, {"decided": 1}]
    assert (await run_row(db, order_id)).state == "completed"
    async with db.connect() as conn:
        checkpoint = (
            await conn.execute(
                sa.select(schema.phase_checkpoints).where(
                    schema.phase_checkpoints.c.correlation_key == f"{order_id}:provision"
                )
            )
        ).one()
    assert (checkpoint.status, checkpoint.output, checkpoint.cursor) == (
        "done",
        {"acted_on": 1},
        None,
    )
