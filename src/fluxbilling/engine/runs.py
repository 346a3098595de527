"""Runs: enqueue, claim with a lease, fenced writes, checkpoints and operator actions.

Every write a worker makes goes through `RunStore.fenced(claim)`, whose first statement is
`UPDATE runs SET lease_expires_at = now + lease WHERE id = :id AND lease_token = :token AND
state = 'running'`. Zero rows means another worker owns the run now (or an operator
cancelled it): `LeaseLost` is raised, the transaction rolls back and the worker drops its
result. On PostgreSQL that statement also row-locks the run until commit; on SQLite the
whole transaction holds the database write lock (`BEGIN IMMEDIATE`).

Claiming is one statement: PostgreSQL `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP
LOCKED)`, SQLite the same inside `BEGIN IMMEDIATE`. Runnable rows and rows whose lease
expired are both claimable; the claim bumps `lease_token`. Times are the database clock.

The hot path's statements (claim, fence, checkpoint, advance) are built once per database
and lease length (`Database.prepared`) and executed with bound values: building and
cache-keying a Core statement costs more than running it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import audit, errors
from fluxbilling.db import Database, schema, statements
from fluxbilling.engine import activity, policy
from fluxbilling.engine.outcome import Pending
from fluxbilling.engine.pipeline import (
    Pipeline,
    RunEntry,
    RunEvent,
    RunHooks,
    RunRef,
    RunState,
)

__all__ = ["AttemptFacts", "Claim", "LeaseLost", "RunStore"]

runs = schema.runs
checkpoints = schema.phase_checkpoints
NOTIFY_CHANNEL = "fluxbilling_runs"


TAKEOVER_PREFIX = "lease expired; taken over from "


class LeaseLost(errors.FluxError):
    """The run's lease is no longer ours; this worker's result was dropped."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A run this worker holds the lease of, at one phase."""

    run_id: int
    order_id: int
    kind: str
    phase: str
    attempt: int
    lease_token: int
    phase_started_at: datetime
    worker: str
    correlation_key: str
    """`<order id>:<phase>` (`<order id>:action:<run id>`): this phase's idempotency key."""
    # The phase's Pending cursor as read by the completion of the previous phase (in the
    # same fenced transaction), boxed: None = not read, (cursor,) = read. `RunStore.cursor`
    # answers from it instead of querying again.
    read_cursor: tuple[Mapping[str, Any] | None] | None = field(
        default=None, compare=False, repr=False
    )

    @property
    def ref(self) -> RunRef:
        """This run as `RunHooks` see it."""
        return RunRef(
            self.run_id, self.order_id, self.kind, self.phase, self.lease_token, self.worker
        )


@dataclass(frozen=True, slots=True)
class AttemptFacts:
    """When one attempt of a phase started and ended, and the upstream exchanges it made
    (redacted)."""

    started_at: datetime
    exchanges: tuple[Mapping[str, Any], ...] = ()
    dropped: int = 0
    """Earlier exchanges of the attempt that were not kept."""
    finished_at: datetime | None = None
    """When it ended, by the clock `started_at` was read from (the activity row's own time
    is the database's, on SQLite to the second only: no measure of a short attempt)."""

    def without_bodies(self) -> AttemptFacts:
        """These facts with each exchange cut to its request line, status and error.

        For attempts that went on (completed, or started slow work): a successful answer
        may carry credentials the redactor cannot know (a one-time login URL, a password the
        panel generated), and the activity log is no place for them. Failed attempts keep
        whole exchanges (redacted), as `runs.last_upstream` does.
        """
        cut = tuple(
            {
                "upstream": e.get("upstream"),
                "operation": e.get("operation"),
                "request": {
                    "method": (e.get("request") or {}).get("method"),
                    "url": (e.get("request") or {}).get("url"),
                },
                "response": {"status": (e.get("response") or {}).get("status")},
                "error": e.get("error"),
                "omitted": True,
            }
            for e in self.exchanges
        )
        return replace(self, exchanges=cut)

    def to_dict(self) -> dict[str, Any]:
        """The attempt's facts for its activity row's data.

        Examples:
            >>> from datetime import UTC
            >>> AttemptFacts(datetime(2026, 1, 1, tzinfo=UTC)).to_dict()
            {'started_at': '2026-01-01T00:00:00+00:00', 'exchanges': []}
        """
        found: dict[str, Any] = {
            "started_at": self.started_at.isoformat(),
            "exchanges": [dict(e) for e in self.exchanges],
        }
        if self.finished_at is not None:
            found["finished_at"] = self.finished_at.isoformat()
        if self.dropped:
            found["exchanges_dropped"] = self.dropped
        return found


class _Statements:
    """The statements every phase runs, built once per lease length (`Database.prepared`)."""

    def __init__(self, db: Database, lease_seconds: float) -> None:
        now = db.now()
        lease_until = db.now(lease_seconds)
        run_id = statements.param("p_run_id", runs.c.id)

        runnable = sa.or_(
            sa.and_(runs.c.state == RunState.QUEUED, runs.c.next_run_at <= now),
            sa.and_(runs.c.state == RunState.RUNNING, runs.c.lease_expires_at < now),
        )
        # The next phase's Pending cursor, as `cursor()` reads it (None unless waiting).
        waiting_next = (
            sa.select(checkpoints.c.cursor)
            .where(
                checkpoints.c.correlation_key
                == statements.param("p_next_key", checkpoints.c.correlation_key),
                checkpoints.c.status == "waiting",
            )
            .scalar_subquery()
            .label("waiting_cursor")
        )
        pick = (
            sa.select(runs.c.id)
            .where(runnable)
            .order_by(runs.c.next_run_at)
            .limit(sa.bindparam("p_limit", type_=sa.Integer()))
        )
        if not db.is_sqlite:
            pick = pick.with_for_update(skip_locked=True)
        self.claim = (
            runs.update()
            .where(runs.c.id.in_(pick.scalar_subquery()))
            .values(
                state=RunState.RUNNING,
                lease_owner=statements.param("p_worker", runs.c.lease_owner),
                lease_token=runs.c.lease_token + 1,
                lease_expires_at=lease_until,
                updated_at=now,
                # SET sees the old row: a run still `running` here was abandoned by a worker
                # whose lease ran out (crashed, killed, paused, partitioned).
                wait_reason=sa.case(
                    (
                        runs.c.state == RunState.RUNNING,
                        sa.literal(TAKEOVER_PREFIX) + sa.func.coalesce(runs.c.lease_owner, "?"),
                    ),
                    else_=runs.c.wait_reason,
                ),
            )
            .returning(
                runs.c.id,
                runs.c.order_id,
                runs.c.kind,
                runs.c.phase,
                runs.c.attempt,
                runs.c.lease_token,
                runs.c.phase_started_at,
                runs.c.wait_reason,
            )
        )
        self.fence = (
            runs.update()
            .where(
                runs.c.id == run_id,
                runs.c.lease_token == statements.param("p_lease_token", runs.c.lease_token),
                runs.c.state == RunState.RUNNING,
            )
            .values(lease_expires_at=lease_until)
        )
        self.cursor = sa.select(checkpoints.c.cursor, checkpoints.c.status).where(
            checkpoints.c.correlation_key
            == statements.param("p_key", checkpoints.c.correlation_key)
        )
        # One statement for "update the phase's checkpoint, or insert it".
        done = db.upsert(checkpoints).values(
            run_id=statements.param("p_run_id", checkpoints.c.run_id),
            phase=statements.param("p_phase", checkpoints.c.phase),
            correlation_key=statements.param("p_key", checkpoints.c.correlation_key),
            status="done",
            output=statements.param("p_output", checkpoints.c.output),
            cursor=None,
            upstream_ref=statements.param("p_upstream_ref", checkpoints.c.upstream_ref),
        )
        self.checkpoint_done = done.on_conflict_do_update(
            index_elements=[checkpoints.c.correlation_key],
            set_={
                "updated_at": now,
                "status": done.excluded.status,
                "output": done.excluded.output,
                "cursor": done.excluded.cursor,
                "upstream_ref": done.excluded.upstream_ref,
            },
        )
        self.advance = (
            runs.update()
            .where(runs.c.id == run_id)
            .values(
                phase=statements.param("p_phase", runs.c.phase),
                attempt=0,
                phase_started_at=now,
                next_run_at=now,
                updated_at=now,
                wait_reason=None,
                last_error=None,
            )
            .returning(runs.c.phase_started_at, waiting_next)
        )
        self.finish = (
            runs.update()
            .where(runs.c.id == run_id)
            .values(
                state=RunState.COMPLETED,
                finished_at=now,
                updated_at=now,
                lease_owner=None,
                lease_expires_at=None,
                wait_reason=None,
                last_error=None,
            )
        )


class RunStore:
    """All reads and writes of runs and checkpoints.

    Args:
        db: the database.
        pipelines: every kind of run this store runs; the first is `enqueue`'s default.
        hooks: what runs starting, failing, retried or cancelled do to their owners.
        lease_seconds: how long a claim (or a fenced write) keeps the run.
    """

    def __init__(
        self,
        db: Database,
        pipelines: Iterable[Pipeline],
        hooks: RunHooks,
        *,
        lease_seconds: float = 30.0,
    ) -> None:
        self.db = db
        self.pipelines = {p.kind: p for p in pipelines}
        if not self.pipelines:
            raise ValueError("a run store needs at least one pipeline")
        self.hooks = hooks
        self.lease_seconds = lease_seconds

    def pipeline(self, kind: str) -> Pipeline:
        """The pipeline of runs of `kind`.

        Raises:
            errors.InvariantViolation: no pipeline of that kind was handed to this store.
        """
        found = self.pipelines.get(kind)
        if found is None:
            raise errors.InvariantViolation(f"no pipeline for runs of kind {kind!r}")
        return found

    @property
    def _sql(self) -> _Statements:
        """The prepared statements for the current `lease_seconds`."""
        return self.db.prepared(_Statements, self.lease_seconds)

    # -- enqueue ---------------------------------------------------------------------------

    async def enqueue(
        self,
        conn: AsyncConnection,
        order_id: int,
        *,
        kind: str | None = None,
        phase: str,
        completed: Mapping[str, Mapping[str, Any]] | None = None,
        dedupe_key: str | None = None,
    ) -> int:
        """Insert the run of an order inside the caller's transaction (one per order and kind).

        Args:
            conn: the caller's transaction (the one that made the order runnable).
            order_id: the order.
            kind: the run's kind (default: the first pipeline's); one run per order and kind.
            phase: the first phase the worker executes.
            completed: phases the caller's transaction itself completed (billing, done by
                the webhook), each with its output; they get their checkpoint and
                `phase_completed` row here, atomically with the run.
            dedupe_key: unique across runs (default `<order id>:<kind>`: one per order and
                kind); actions pass their own, so a repeated request cannot enqueue twice.

        Raises:
            sqlalchemy.exc.IntegrityError: a run with this dedupe key exists.
        """
        pipeline = self.pipeline(kind) if kind else next(iter(self.pipelines.values()))
        kind = pipeline.kind
        now = self.db.now()
        result = await conn.execute(
            runs.insert()
            .values(
                order_id=order_id,
                kind=kind,
                dedupe_key=dedupe_key or f"{order_id}:{kind}",
                state=RunState.QUEUED,
                phase=phase,
                next_run_at=now,
                phase_started_at=now,
            )
            .returning(runs.c.id)
        )
        run_id = int(result.scalar_one())
        for done_phase, output in (completed or {}).items():
            await conn.execute(
                checkpoints.insert().values(
                    run_id=run_id,
                    phase=done_phase,
                    correlation_key=pipeline.key(order_id, done_phase, run_id),
                    status="done",
                    output=dict(output),
                )
            )
            await activity.record(
                conn,
                order_id,
                "phase_completed",
                f"{done_phase} completed",
                run_id=run_id,
                phase=done_phase,
                data=output,
            )
        if not self.db.is_sqlite:
            await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, str(run_id))))
        return run_id

    # -- claim and fence -------------------------------------------------------------------

    async def claim(self, worker: str, limit: int = 1) -> list[Claim]:
        """Lease up to `limit` runnable runs (or runs whose lease expired) for `worker`."""
        sql = self._sql
        async with self.db.begin() as conn:
            rows = (await conn.execute(sql.claim, {"p_limit": limit, "p_worker": worker})).all()
            claims = [
                Claim(
                    run_id=r.id,
                    order_id=r.order_id,
                    kind=r.kind,
                    phase=r.phase,
                    attempt=r.attempt,
                    lease_token=r.lease_token,
                    phase_started_at=r.phase_started_at,
                    worker=worker,
                    correlation_key=self.pipeline(r.kind).key(r.order_id, r.phase, r.id),
                )
                for r in rows
            ]
            await self.hooks(
                conn,
                RunEvent.STARTED,
                [RunEntry(c.ref, "run_started", f"{worker} started the run") for c in claims],
            )
            for r in rows:
                if (r.wait_reason or "").startswith(TAKEOVER_PREFIX):
                    await activity.record(
                        conn,
                        r.order_id,
                        "lease_taken_over",
                        f"{r.wait_reason[len(TAKEOVER_PREFIX) :]} stopped answering during "
                        f"{r.phase}; {worker} took the run over",
                        run_id=r.id,
                        phase=r.phase,
                        lease_token=r.lease_token,
                        worker=worker,
                    )
        return claims

    @asynccontextmanager
    async def fenced(self, claim: Claim) -> AsyncIterator[AsyncConnection]:
        """A transaction that only commits while `claim` still holds the lease."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                self._sql.fence, {"p_run_id": claim.run_id, "p_lease_token": claim.lease_token}
            )
            if result.rowcount != 1:
                raise LeaseLost(run_id=claim.run_id, lease_token=claim.lease_token)
            yield conn

    async def renew(self, claim: Claim) -> None:
        """Extend the lease (heartbeat); raises `LeaseLost` when it is gone."""
        async with self.fenced(claim):
            pass

    # -- checkpoints -----------------------------------------------------------------------

    async def cursor(self, claim: Claim) -> Mapping[str, Any] | None:
        """The cursor a Pending attempt of this phase left behind, if any."""
        if claim.read_cursor is not None:
            return claim.read_cursor[0]
        async with self.db.connect() as conn:
            row = (await conn.execute(self._sql.cursor, {"p_key": claim.correlation_key})).first()
        if row is None or row.status != "waiting":
            return None
        value: Mapping[str, Any] | None = row.cursor
        return value

    async def save_cursor(self, claim: Claim, cursor: Mapping[str, Any]) -> None:
        """Keep a cursor for the phase `claim` is running, now, without releasing the run.

        For what a phase decided before acting on it (the documents it is about to send):
        every later attempt of the phase (a retry after an error, a takeover after a crash)
        is called with this cursor, as after a `Pending`, and so acts on the same decision.
        An operator retry clears it, like any cursor.

        Args:
            claim: the running phase.
            cursor: JSON-serialisable; it replaces the phase's cursor.

        Raises:
            LeaseLost: the run is no longer ours; nothing was stored.
        """
        async with self.fenced(claim) as conn:
            await self._save_checkpoint(conn, claim, status="waiting", cursor=dict(cursor))

    async def _save_checkpoint(self, conn: AsyncConnection, claim: Claim, **values: Any) -> None:
        now = self.db.now()
        result = await conn.execute(
            checkpoints.update()
            .where(checkpoints.c.correlation_key == claim.correlation_key)
            .values(updated_at=now, **values)
        )
        if result.rowcount == 0:
            await conn.execute(
                checkpoints.insert().values(
                    run_id=claim.run_id,
                    phase=claim.phase,
                    correlation_key=claim.correlation_key,
                    **values,
                )
            )

    # -- phase transitions (all fenced) ----------------------------------------------------

    async def complete_phase(
        self,
        conn: AsyncConnection,
        claim: Claim,
        output: Mapping[str, Any],
        *,
        upstream_ref: str | None = None,
        attempt: AttemptFacts | None = None,
    ) -> Claim | None:
        """Record the phase done and advance; returns the next phase's claim, or None at the end.

        `attempt` (when and with which upstream exchanges it ran) goes on the
        `phase_completed` activity row, for the operator's order page.
        """
        sql = self._sql
        await conn.execute(
            sql.checkpoint_done,
            {
                "p_run_id": claim.run_id,
                "p_phase": claim.phase,
                "p_key": claim.correlation_key,
                "p_output": dict(output),
                "p_upstream_ref": upstream_ref,
            },
        )
        await activity.record(
            conn,
            claim.order_id,
            "phase_completed",
            f"{claim.phase} completed",
            run_id=claim.run_id,
            phase=claim.phase,
            data={
                "attempt": claim.attempt + 1,
                "upstream_ref": upstream_ref,
                **(attempt.to_dict() if attempt else {}),
            },
            lease_token=claim.lease_token,
            worker=claim.worker,
        )
        pipeline = self.pipeline(claim.kind)
        following = pipeline.next_phase(claim.phase)
        if following is None:
            await conn.execute(sql.finish, {"p_run_id": claim.run_id})
            return None
        next_key = pipeline.key(claim.order_id, following, claim.run_id)
        row = (
            await conn.execute(
                sql.advance,
                {"p_run_id": claim.run_id, "p_phase": following, "p_next_key": next_key},
            )
        ).one()
        return replace(
            claim,
            phase=following,
            correlation_key=next_key,
            attempt=0,
            phase_started_at=row.phase_started_at,
            read_cursor=(row.waiting_cursor,),
        )

    async def wait(
        self, claim: Claim, pending: Pending, *, attempt: AttemptFacts | None = None
    ) -> None:
        """Store a Pending cursor and release the run until `check_after` has passed.

        A new note writes a `phase_waiting` row with the attempt's number and `attempt`'s
        facts (the exchanges that started the slow work); checks that change nothing write
        none.
        """
        async with self.fenced(claim) as conn:
            await self._save_checkpoint(conn, claim, status="waiting", cursor=dict(pending.cursor))
            previous = (
                await conn.execute(sa.select(runs.c.wait_reason).where(runs.c.id == claim.run_id))
            ).scalar_one()
            note = pending.note or f"waiting for {claim.phase}"
            await self._release(
                conn, claim, next_in=pending.check_after.total_seconds(), wait_reason=note
            )
            if note != previous:
                await activity.record(
                    conn,
                    claim.order_id,
                    "phase_waiting",
                    note,
                    run_id=claim.run_id,
                    phase=claim.phase,
                    lease_token=claim.lease_token,
                    worker=claim.worker,
                    data={"attempt": claim.attempt + 1, **(attempt.to_dict() if attempt else {})},
                )

    async def _release(
        self, conn: AsyncConnection, claim: Claim, *, next_in: float, **values: Any
    ) -> None:
        await conn.execute(
            runs.update()
            .where(runs.c.id == claim.run_id)
            .values(
                state=RunState.QUEUED,
                next_run_at=self.db.now(next_in),
                lease_owner=None,
                lease_expires_at=None,
                updated_at=self.db.now(),
                **values,
            )
        )

    async def attempt_failed(
        self,
        claim: Claim,
        error: BaseException,
        decision: policy.Decision,
        *,
        now: datetime,
        last_upstream: Mapping[str, Any] | None,
        attempt: AttemptFacts | None = None,
    ) -> None:
        """Apply a retry decision: back off, park for capacity, or fail the run.

        The activity row of the decision carries the attempt's number and error, and
        `attempt` (when it started, its upstream exchanges) for the operator's order page.
        """
        error_doc = (
            error.to_dict()
            if isinstance(error, errors.FluxError)
            else {"code": type(error).__name__, "message": str(error), "details": {}}
        )
        facts = {"attempt": claim.attempt + 1, **(attempt.to_dict() if attempt else {})}
        async with self.fenced(claim) as conn:
            common: dict[str, Any] = {"last_error": error_doc, "last_upstream": last_upstream}
            if isinstance(decision, policy.Fail):
                await self._fail(conn, claim, decision.reason, common, facts)
                return
            delay = max(0.0, (decision.at - now).total_seconds())
            if isinstance(decision, policy.Retry):
                await self._release(
                    conn,
                    claim,
                    next_in=delay,
                    attempt=claim.attempt + 1,
                    wait_reason=f"retrying: {decision.reason}",
                    **common,
                )
                event, message = "phase_retry", f"attempt {claim.attempt + 1} failed, retrying"
            else:
                previous = (
                    await conn.execute(
                        sa.select(runs.c.wait_reason).where(runs.c.id == claim.run_id)
                    )
                ).scalar_one()
                reason = f"no capacity: {decision.reason}"
                await self._release(conn, claim, next_in=delay, wait_reason=reason, **common)
                if previous == reason:
                    return
                event, message = "phase_parked", reason
            await activity.record(
                conn,
                claim.order_id,
                event,
                message,
                run_id=claim.run_id,
                phase=claim.phase,
                data={"error": error_doc, "retry_in_seconds": round(delay, 3), **facts},
                lease_token=claim.lease_token,
                worker=claim.worker,
            )

    async def _fail(
        self,
        conn: AsyncConnection,
        claim: Claim,
        reason: str,
        common: dict[str, Any],
        facts: Mapping[str, Any],
    ) -> None:
        now = self.db.now()
        await conn.execute(
            runs.update()
            .where(runs.c.id == claim.run_id)
            .values(
                state=RunState.FAILED,
                wait_reason=reason,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
                **common,
            )
        )
        entry = RunEntry(
            claim.ref,
            "phase_failed",
            f"{claim.phase} failed: {reason}",
            {"error": common["last_error"], **facts},
        )
        await self.hooks(conn, RunEvent.FAILED, [entry])

    # -- operator actions ------------------------------------------------------------------

    async def _locked_run(self, conn: AsyncConnection, run_id: int) -> Any:
        query = sa.select(runs).where(runs.c.id == run_id)
        if not self.db.is_sqlite:
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:
            raise errors.NotFound(f"run {run_id} does not exist", run_id=run_id)
        return row

    async def retry(self, run_id: int, *, from_phase: str | None = None, actor: str) -> None:
        """Requeue a failed run at its failed phase, or at `from_phase`.

        Raises:
            errors.NotFound: no such run.
            errors.Conflict: the run has not failed, its pipeline has no such phase, or
                that phase may not be re-run (`PhaseSpec.no_rerun`, or
                `no_rerun_once_done` when it completed).
        """
        async with self.db.begin() as conn:
            await self.retry_in(conn, run_id, from_phase=from_phase, actor=actor)

    async def retry_in(
        self,
        conn: AsyncConnection,
        run_id: int,
        *,
        from_phase: str | None = None,
        actor: str,
        undone: bool = False,
    ) -> None:
        """`retry`, inside the caller's transaction (with what else the operator's act changes).

        `undone`: the caller has undone, in this transaction, what the phase it retries from
        holds (re-allocation released the reservation), so `no_rerun_once_done` does not apply.

        Raises:
            errors.NotFound: no such run.
            errors.Conflict: as `retry`.
        """
        row = await self._locked_run(conn, run_id)
        if row.state != RunState.FAILED:
            raise errors.Conflict(
                f"run {run_id} is {row.state}; only failed runs can be retried",
                run_id=run_id,
                state=row.state,
            )
        phase = str(from_phase or row.phase)
        pipeline = self.pipeline(row.kind)
        names = pipeline.names
        done = False
        if phase in names and pipeline.spec(phase).no_rerun_once_done is not None:
            status = (
                await conn.execute(
                    sa.select(checkpoints.c.status).where(
                        checkpoints.c.run_id == run_id, checkpoints.c.phase == phase
                    )
                )
            ).scalar_one_or_none()
            done = status == "done"
        refusal = pipeline.retry_refusal(row.phase, phase, done=done, undone=undone)
        if refusal is not None:
            raise errors.Conflict(f"run {run_id}: {refusal}", run_id=run_id, phase=phase)
        later = names[names.index(phase) :]
        await conn.execute(
            checkpoints.update()
            .where(checkpoints.c.run_id == run_id, checkpoints.c.phase.in_(later))
            .values(status="reset", cursor=None, updated_at=self.db.now())
        )
        await conn.execute(
            runs.update()
            .where(runs.c.id == run_id)
            .values(
                state=RunState.QUEUED,
                phase=phase,
                attempt=0,
                phase_started_at=self.db.now(),
                next_run_at=self.db.now(),
                lease_token=runs.c.lease_token + 1,
                wait_reason=None,
                updated_at=self.db.now(),
            )
        )
        entry = RunEntry(
            RunRef(run_id, row.order_id, row.kind, phase),
            "run_retried",
            f"{actor} retried the run from {phase}",
            {"actor": actor, "previous_error": row.last_error},
        )
        await self.hooks(conn, RunEvent.RETRIED, [entry])
        await audit.record(
            conn,
            actor=actor,
            action="run.retry",
            entity="run",
            entity_id=run_id,
            changes={"order_id": row.order_id, "from_phase": phase, "state": "queued"},
        )
        if not self.db.is_sqlite:
            await conn.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, str(run_id))))

    async def cancel(self, run_id: int, *, actor: str) -> None:
        """Stop a run that has not completed; a worker holding it loses its lease."""
        async with self.db.begin() as conn:
            await self.cancel_in(conn, run_id, actor=actor)

    async def cancel_in(self, conn: AsyncConnection, run_id: int, *, actor: str) -> None:
        """`cancel`, inside the caller's transaction.

        Raises:
            errors.NotFound: no such run.
            errors.Conflict: the run has completed or was cancelled already.
        """
        row = await self._locked_run(conn, run_id)
        if row.state in (RunState.COMPLETED, RunState.CANCELLED):
            raise errors.Conflict(
                f"run {run_id} is {row.state} and cannot be cancelled",
                run_id=run_id,
                state=row.state,
            )
        now = self.db.now()
        await conn.execute(
            runs.update()
            .where(runs.c.id == run_id)
            .values(
                state=RunState.CANCELLED,
                lease_token=runs.c.lease_token + 1,
                lease_owner=None,
                lease_expires_at=None,
                finished_at=now,
                updated_at=now,
            )
        )
        entry = RunEntry(
            RunRef(run_id, row.order_id, row.kind, row.phase),
            "run_cancelled",
            f"{actor} cancelled the run at {row.phase}",
            {"actor": actor},
        )
        await self.hooks(conn, RunEvent.CANCELLED, [entry])
        await audit.record(
            conn,
            actor=actor,
            action="run.cancel",
            entity="run",
            entity_id=run_id,
            changes={"order_id": row.order_id, "phase": row.phase, "state": "cancelled"},
        )
