"""The worker loop: claim runs, execute phases, store outcomes through fenced writes.

```
loop until stopped:
    claim up to the free slots  ──► for each claim, in a task:
    nothing claimed? sleep on        execute phase (lease renewed in the background)
    the wake-up (polling fallback)   Done    -> fenced: commit + checkpoint + next phase
                                     Pending -> fenced: store cursor, release until check_after
                                                (past the phase's deadline: fail, as below)
                                     error   -> policy.decide -> retry / park / fail (fenced)
```
A worker that loses its lease (paused past it, cancelled by an operator) drops its result:
every write is fenced. SIGTERM stops claiming and lets in-flight phases finish.

Our own database failing transiently (`db.is_transient`: busy, locked, restarting, away) is
not the phase failing: the attempt is abandoned without a write and the run is claimed
again once its lease expires, as after a crash; heartbeats and renewals just try again
later; claims, and a worker started while the database is away, wait for it with the
backoff of `outage.DATABASE_TROUBLE`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import sqlalchemy as sa

from fluxbilling import errors, metrics
from fluxbilling.db import is_transient, schema
from fluxbilling.engine import outage, policy
from fluxbilling.engine.context import PhaseContext, PhaseHandler
from fluxbilling.engine.outcome import Done, Pending
from fluxbilling.engine.runs import AttemptFacts, Claim, LeaseLost, RunStore
from fluxbilling.engine.wakeup import Wakeup

__all__ = ["Worker", "new_worker_id"]

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    """`host:pid:random` — unique across machines and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _facts(ctx: PhaseContext, ended: datetime) -> AttemptFacts:
    """What the attempt of `ctx` leaves on its activity row: its start, its end (read from
    the same clock, so its duration is true) and its exchanges."""
    recorder = ctx.recorder
    return AttemptFacts(ctx.now, tuple(recorder.exchanges), recorder.dropped, finished_at=ended)


class Worker:
    """Runs phases for claimed runs, `concurrency` at a time.

    Args:
        store: the run store.
        handlers: one handler per phase a worker executes, by phase name.
        worker_id: this worker's name in leases and activity rows.
        concurrency: how many runs this worker executes at once.
        poll_interval: the longest sleep between claims when nothing wakes us.
        wakeup: the wake-up signal (shared with the enqueuing API in one process).
        rand: source of jitter in [0, 1).
        clock: the current UTC time (for retry decisions).
    """

    def __init__(
        self,
        store: RunStore,
        handlers: Mapping[str, PhaseHandler],
        *,
        worker_id: str | None = None,
        concurrency: int = 8,
        poll_interval: float = 1.0,
        wakeup: Wakeup | None = None,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.worker_id = worker_id or new_worker_id()
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.wakeup = wakeup or Wakeup()
        self._rand = rand
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots_free = asyncio.Event()
        self._claims_failed = 0
        self.processed_phases = 0

    # -- loop ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and execute until `stop` is set, then finish in-flight phases."""
        if not await outage.when_available(self._register, stop=stop, what="worker registration"):
            return
        heartbeat = asyncio.create_task(self._heartbeat(stop))
        try:
            while not stop.is_set():
                free = self.concurrency - len(self._tasks)
                claims = await self._claim(free) if free > 0 else []
                for claim in claims:
                    self._spawn(claim)
                if claims and len(self._tasks) < self.concurrency:
                    continue
                # Full (now, after spawning): wait for a slot, not for the next poll.
                await self._sleep(stop, busy=len(self._tasks) >= self.concurrency)
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self._unregister()

    async def _claim(self, free: int) -> list[Claim]:
        try:
            claims = await self.store.claim(self.worker_id, limit=free)
        except (OSError, sa.exc.OperationalError, sa.exc.DBAPIError) as exc:
            self._claims_failed += 1
            log.warning("claim failed, backing off: %s", type(exc).__name__)
            return []
        self._claims_failed = 0
        return claims

    async def _sleep(self, stop: asyncio.Event, *, busy: bool) -> None:
        waiter: asyncio.Task[bool]
        if busy:
            self._slots_free.clear()
            waiter = asyncio.create_task(self._slots_free.wait())
        else:
            idle = self.poll_interval
            if self._claims_failed:
                idle = outage.wait_after(self._claims_failed, rand=self._rand())
            waiter = asyncio.create_task(self.wakeup.wait(idle))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, stopper):
            task.cancel()

    def _spawn(self, claim: Claim) -> None:
        task = asyncio.create_task(self.process(claim))
        self._tasks.add(task)

        def _done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            self._slots_free.set()
            if not t.cancelled() and (exc := t.exception()) is not None:
                # A bug: say so now, with the run, not when the task is garbage-collected.
                log.error(
                    "run task crashed; the run is retried once its lease expires",
                    exc_info=exc,
                    extra=self._context(claim),
                )

        task.add_done_callback(_done)

    async def drain(self, *, max_idle_rounds: int = 1) -> int:
        """Process runnable runs until none is left (tests and the demo); returns phases run."""
        before = self.processed_phases
        idle = 0
        while idle < max_idle_rounds:
            claims = await self.store.claim(self.worker_id, limit=self.concurrency)
            if not claims:
                idle += 1
                continue
            idle = 0
            await asyncio.gather(*(self.process(c) for c in claims))
        return self.processed_phases - before

    # -- one claim -------------------------------------------------------------------------

    async def process(self, claim: Claim) -> None:
        """Run phases of one claimed run until it waits, fails, completes or is lost."""
        current: Claim | None = claim
        while current is not None:
            try:
                current = await self._step(current)
            except LeaseLost:
                log.warning("lease lost; result dropped", extra=self._context(claim))
                return
            except sa.exc.DBAPIError as exc:
                if not is_transient(exc):
                    raise
                log.warning(
                    "database unavailable (%s); attempt abandoned until the lease expires",
                    type(exc).__name__,
                    extra=self._context(current or claim),
                )
                return

    async def _step(self, claim: Claim) -> Claim | None:
        started = time.perf_counter()
        outcome = "lease_lost"
        try:
            following, outcome = await self._attempt(claim)
        finally:
            metrics.PHASE_DURATION.labels(claim.phase, outcome).observe(
                time.perf_counter() - started
            )
            metrics.PHASE_OUTCOMES.labels(claim.phase, outcome).inc()
        return following

    async def _attempt(self, claim: Claim) -> tuple[Claim | None, str]:
        handler = self.handlers[claim.phase]
        ctx = PhaseContext(
            claim=claim,
            db=self.store.db,
            cursor=await self.store.cursor(claim),
            now=self._clock(),
        )
        renewer = asyncio.create_task(self._keep_lease(claim))
        try:
            outcome = await handler.execute(ctx)
        except LeaseLost:
            raise
        except Exception as exc:  # classified by policy.decide, never swallowed
            if is_transient(exc):
                raise
            return None, await self._failed(ctx, exc)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        if isinstance(outcome, Pending):
            overdue = self._overdue(claim, outcome)
            if overdue is not None:
                return None, await self._failed(ctx, overdue)
            await self.store.wait(
                claim, outcome, attempt=_facts(ctx, self._clock()).without_bodies()
            )
            log.info("phase waiting: %s", outcome.note or "pending", extra=self._context(claim))
            return None, "waiting"
        return await self._complete(ctx, handler, outcome)

    async def _complete(
        self, ctx: PhaseContext, handler: PhaseHandler, done: Done
    ) -> tuple[Claim | None, str]:
        try:
            async with self.store.fenced(ctx.claim) as conn:
                output = await handler.commit(conn, ctx, done)
                following = await self.store.complete_phase(
                    conn, ctx.claim, output, attempt=_facts(ctx, self._clock()).without_bodies()
                )
        except (LeaseLost, asyncio.CancelledError):
            raise
        except Exception as exc:  # classified by policy.decide
            if is_transient(exc):
                raise
            return None, await self._failed(ctx, exc)
        self.processed_phases += 1
        log.info("phase completed", extra=self._context(ctx.claim))
        return following, "completed"

    def _overdue(self, claim: Claim, pending: Pending) -> errors.FluxError | None:
        """The error that ends a phase still waiting after its policy's deadline, or None.

        A phase that keeps answering `Pending` (a PTR never answered as published, an
        install that never finishes) fails at its deadline like one that keeps failing,
        with its last note as the reason."""
        deadline = self.store.pipeline(claim.kind).spec(claim.phase).policy.deadline
        if deadline is None or self._clock() < claim.phase_started_at + deadline:
            return None
        return errors.PermanentUpstreamError(
            f"still waiting after the deadline of {deadline}: {pending.note or 'no note given'}",
            operation="wait",
        )

    def _context(self, claim: Claim) -> dict[str, object]:
        return {
            "run": claim.run_id,
            "order": claim.order_id,
            "phase": claim.phase,
            "attempt": claim.attempt + 1,
            "worker": self.worker_id,
        }

    async def _failed(self, ctx: PhaseContext, exc: Exception) -> str:
        claim = ctx.claim
        if not isinstance(exc, errors.FluxError):
            log.exception("unexpected error", extra=self._context(claim))
            exc = errors.InvariantViolation(f"unexpected {type(exc).__name__}: {exc}")
        now = self._clock()
        decision = policy.decide(
            exc,
            claim.attempt + 1,
            self.store.pipeline(claim.kind).spec(claim.phase).policy,
            now,
            claim.phase_started_at,
            self._rand(),
        )
        last = ctx.recorder.last.to_dict() if ctx.recorder.last else None
        await self.store.attempt_failed(
            claim, exc, decision, now=now, last_upstream=last, attempt=_facts(ctx, now)
        )
        outcome = type(decision).__name__.lower()
        level = logging.ERROR if isinstance(decision, policy.Fail) else logging.WARNING
        log.log(level, "phase %s: %s", outcome, exc, extra=self._context(claim))
        return outcome

    async def _keep_lease(self, claim: Claim) -> None:
        interval = self.store.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self.store.renew(claim)
            except LeaseLost:
                return
            except (OSError, sa.exc.DBAPIError) as exc:
                log.warning("lease renewal failed: %s", type(exc).__name__)

    # -- worker registry -------------------------------------------------------------------

    async def _register(self) -> None:
        # Repeatable: the commit of a failed attempt may have landed (its answer was lost).
        async with self.store.db.begin() as conn:
            await conn.execute(
                self.store.db.insert_ignore(schema.workers).values(
                    id=self.worker_id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    state="running",
                )
            )

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(max(1.0, self.store.lease_seconds / 3))
            try:
                async with self.store.db.begin() as conn:
                    await conn.execute(
                        schema.workers.update()
                        .where(schema.workers.c.id == self.worker_id)
                        .values(heartbeat_at=self.store.db.now())
                    )
            except (OSError, sa.exc.DBAPIError) as exc:
                log.warning("heartbeat failed: %s", type(exc).__name__)

    async def _unregister(self) -> None:
        with contextlib.suppress(OSError, sa.exc.DBAPIError):
            async with self.store.db.begin() as conn:
                await conn.execute(
                    schema.workers.update()
                    .where(schema.workers.c.id == self.worker_id)
                    .values(state="stopped", heartbeat_at=self.store.db.now())
                )
