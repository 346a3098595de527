"""An order as the operator reads it: its invoice, run, phases, service and activity, as typed rows.

Each phase's status comes from its checkpoint and, for the phase the run stands at, from the
run (`phase_status`, a pure function):

```
no checkpoint                      pending
checkpoint waiting / done / reset  waiting / done / reset (an operator retried the run from
                                   this phase or an earlier one: it runs again)
the run's phase, not done yet      queued → waiting, running → running,
                                   failed → failed, cancelled → cancelled
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from fluxbilling import errors
from fluxbilling.allocation import holds
from fluxbilling.db import Database, schema
from fluxbilling.jsontypes import JsonObject, JsonValue
from fluxbilling.orders import attempts, lifecycle, operator, suggestions, switch_jobs
from fluxbilling.orders import placement as order_placement
from fluxbilling.orders.attempts import Attempt
from fluxbilling.orders.lifecycle import OrderState, ServiceState
from fluxbilling.orders.pipeline import PHASES, PROVISION_KIND, PROVISIONING, Phase, RunState
from fluxbilling.orders.suggestions import Suggestion

__all__ = [
    "ActivityRow",
    "InvoiceRow",
    "OrderDetail",
    "PhaseRow",
    "PhaseStatus",
    "RunRow",
    "ServiceRow",
    "describe_order",
    "phase_status",
]


class PhaseStatus(StrEnum):
    """Where one phase of an order's provisioning is, as the operator sees it."""

    PENDING = "pending"
    RESET = "reset"
    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


_AT_RUN = {
    RunState.QUEUED: PhaseStatus.WAITING,
    RunState.RUNNING: PhaseStatus.RUNNING,
    RunState.FAILED: PhaseStatus.FAILED,
    RunState.CANCELLED: PhaseStatus.CANCELLED,
}


def phase_status(checkpoint: str | None, run: RunState | None) -> PhaseStatus:
    """A phase's status from its checkpoint's status and the state of a run standing at it.

    Args:
        checkpoint: the phase's checkpoint status (`waiting`, `done`, `reset`), None
            without one.
        run: the run's state when the run stands at this phase, else None.

    Example:
        >>> phase_status(None, None), phase_status("waiting", RunState.FAILED)
        (<PhaseStatus.PENDING: 'pending'>, <PhaseStatus.FAILED: 'failed'>)
    """
    status = PhaseStatus(checkpoint) if checkpoint else PhaseStatus.PENDING
    if run is None or run is RunState.COMPLETED or status is PhaseStatus.DONE:
        return status
    return _AT_RUN[run]


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    """The order's invoice (the `invoices` row)."""

    id: int
    order_id: int
    amount_minor: int
    currency: str
    status: str
    gateway: str | None
    gateway_ref: str | None
    paid_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RunRow:
    """The order's provisioning run (no lease token)."""

    id: int
    state: RunState
    phase: Phase
    attempt: int
    next_run_at: datetime
    wait_reason: str | None
    lease_owner: str | None
    last_error: JsonObject | None
    last_upstream: JsonObject | None


@dataclass(frozen=True, slots=True)
class PhaseRow:
    """One provisioning phase; `output` is its checkpoint's once it is done.

    `attempts` are its ended attempts, oldest first (`orders.attempts`); `suggestion` is
    what to do about it, on the phase the run stands at only (`orders.suggestions`).
    """

    phase: Phase
    status: PhaseStatus
    output: JsonValue
    attempts: tuple[Attempt, ...] = ()
    suggestion: Suggestion | None = None


@dataclass(frozen=True, slots=True)
class ServiceRow:
    """The order's service: never its sealed password, only whether it has one."""

    id: int
    order_id: int
    status: ServiceState
    host_id: int | None
    storage_pool_id: int | None
    plugin_slug: str | None
    plugin_version: int | None
    external_id: str | None
    service_data: JsonObject
    created_at: datetime
    updated_at: datetime
    has_credentials: bool


@dataclass(frozen=True, slots=True)
class ActivityRow:
    """One entry of the order's activity."""

    id: int
    at: datetime
    event: str
    phase: str | None
    message: str
    data: JsonObject


@dataclass(frozen=True, slots=True)
class OrderDetail:
    """An order with everything an operator looks at (no secrets)."""

    id: int
    hostname: str
    state: OrderState
    invoice: InvoiceRow | None
    run: RunRow | None
    phases: tuple[PhaseRow, ...]
    service: ServiceRow | None
    activity: tuple[ActivityRow, ...]
    reallocation_refusal: str | None = None
    """Why the order cannot be re-allocated now (None: it can)."""
    retry_from: tuple[Phase, ...] = ()
    """The phases a retry of its failed run may start from, in order (none unless failed)."""
    hold: holds.Hold | None = None
    """The capacity and address its checkout held (None: it was never checked out)."""
    switch_port_jobs: tuple[switch_jobs.SwitchJobRow, ...] = ()
    """Its switch-port jobs (runs of their own), newest first."""
    placement: order_placement.PlacementView | None = None
    """Why its service landed on its host, or why nothing fitted (None: not allocated yet)."""


def _parked(run: Any) -> bool:
    return run.state == RunState.QUEUED and (run.wait_reason or "").startswith("no capacity")


async def describe_order(db: Database, order_id: int) -> OrderDetail:
    """The order, its run, each phase's status, its service (no secrets) and its activity.

    Raises:
        errors.NotFound: no such order.
    """
    t = schema
    async with db.connect() as conn:
        order = (await conn.execute(sa.select(t.orders).where(t.orders.c.id == order_id))).first()
        if order is None:
            raise errors.NotFound(f"order {order_id} does not exist", order_id=order_id)
        run = (
            await conn.execute(
                sa.select(t.runs).where(
                    t.runs.c.order_id == order_id, t.runs.c.kind == PROVISION_KIND
                )
            )
        ).first()
        checkpoints = (
            (
                await conn.execute(
                    sa.select(t.phase_checkpoints).where(t.phase_checkpoints.c.run_id == run.id)
                )
            ).all()
            if run
            else []
        )
        service = (
            await conn.execute(sa.select(t.services).where(t.services.c.order_id == order_id))
        ).first()
        invoice = (
            await conn.execute(sa.select(t.invoices).where(t.invoices.c.order_id == order_id))
        ).first()
        switching = (await conn.execute(switch_jobs.job_rows(order_id))).all()
        events = (
            await conn.execute(
                sa.select(t.activity_log)
                .where(t.activity_log.c.order_id == order_id)
                .order_by(t.activity_log.c.id)
            )
        ).all()
        hold = await holds.for_order(conn, order_id)
    by_phase = {c.phase: c for c in checkpoints}
    refusal = _refusal(order, run, service, by_phase.get(Phase.PROVISION))
    tried = attempts.collect(
        attempts.Recorded(e.id, e.created_at, e.event, e.run_id, e.phase, e.data)
        for e in events
        if run is not None and e.run_id == run.id
    )
    return OrderDetail(
        id=order.id,
        hostname=order.hostname,
        state=OrderState(order.state),
        invoice=InvoiceRow(**invoice._mapping) if invoice else None,
        run=_run(run) if run else None,
        phases=_phases(run, by_phase, tried, _suggestion(run, refusal)),
        service=_service(service) if service else None,
        activity=tuple(
            ActivityRow(
                id=e.id,
                at=e.created_at,
                event=e.event,
                phase=e.phase,
                message=e.message,
                data=e.data,
            )
            for e in events
        ),
        reallocation_refusal=refusal,
        retry_from=_retry_from(run, by_phase),
        hold=hold,
        switch_port_jobs=tuple(switch_jobs.job_row(r) for r in switching),
        placement=_placement(run, by_phase.get(Phase.ALLOCATION)),
    )


def _placement(run: Any, allocation: Any) -> order_placement.PlacementView | None:
    output = allocation.output if allocation is not None else None
    return order_placement.from_order(output, run.last_error if run is not None else None)


def _retry_from(run: Any, checkpoints: Mapping[str, Any]) -> tuple[Phase, ...]:
    """Where `RunStore.retry` would let a retry of the failed run start (none if not failed)."""
    if run is None or run.state != RunState.FAILED:
        return ()
    done = {phase for phase, c in checkpoints.items() if c.status == PhaseStatus.DONE}
    return tuple(Phase(name) for name in PROVISIONING.retry_from(run.phase, done))


def _refusal(order: Any, run: Any, service: Any, provision: Any) -> str | None:
    """Why re-allocation is refused now (`lifecycle.reallocation_refusal`)."""
    phase = run.phase if run is not None else None
    facts = operator.reallocation_facts(order.state, phase, service, provision)
    return lifecycle.reallocation_refusal(facts)


def _suggestion(run: Any, refusal: str | None) -> Suggestion | None:
    if run is None:
        return None
    return suggestions.suggest(
        attempts.normalize(run.last_error),
        run_state=RunState(run.state),
        phase=run.phase,
        parked=_parked(run),
        reallocatable=refusal is None,
    )


def _phases(
    run: sa.Row[Any] | None,
    checkpoints: Mapping[str, sa.Row[Any]],
    tried: Mapping[str, tuple[Attempt, ...]],
    suggestion: Suggestion | None,
) -> tuple[PhaseRow, ...]:
    rows = []
    for phase in PHASES:
        checkpoint = checkpoints.get(phase)
        stored: str | None = checkpoint.status if checkpoint else None
        at_run = RunState(run.state) if run and run.phase == phase else None
        rows.append(
            PhaseRow(
                phase=phase,
                status=phase_status(stored, at_run),
                output=checkpoint.output if checkpoint and stored == PhaseStatus.DONE else None,
                attempts=tried.get(phase, ()),
                suggestion=suggestion if run is not None and run.phase == phase else None,
            )
        )
    return tuple(rows)


def _run(row: Any) -> RunRow:
    return RunRow(
        id=row.id,
        state=RunState(row.state),
        phase=Phase(row.phase),
        attempt=row.attempt,
        next_run_at=row.next_run_at,
        wait_reason=row.wait_reason,
        lease_owner=row.lease_owner,
        last_error=row.last_error,
        last_upstream=row.last_upstream,
    )


def _service(row: Any) -> ServiceRow:
    columns = {k: v for k, v in row._mapping.items() if k != "root_password_sealed"}
    return ServiceRow(
        **{**columns, "status": ServiceState(row.status)},
        has_credentials=row.root_password_sealed is not None,
    )
