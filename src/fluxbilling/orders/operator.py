"""What an operator does to an order: retry, cancel or re-allocate its provisioning run.

The console acts on the order it shows, so each act names the order; the order's
provisioning run is found here and the act is the run store's (`retry_in`, `cancel_in`,
which write the audit row, `run.retry` / `run.cancel` naming the order, with the principal's
name as the actor). Re-allocation is decided by `lifecycle.reallocation_refusal` and done in
one transaction: the host capacity and the address go back, the `allocated` service is
discarded, the run is retried from allocation, one `order_reallocated` activity row and one
audit row are written. A refusal changes nothing and says why (409).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import audit, errors
from fluxbilling.allocation import reservation
from fluxbilling.db import schema
from fluxbilling.engine import activity
from fluxbilling.engine.runs import RunStore
from fluxbilling.orders import lifecycle
from fluxbilling.orders.lifecycle import OrderState, ServiceState
from fluxbilling.orders.pipeline import PROVISION_KIND, Phase

__all__ = ["cancel", "reallocate", "reallocation_facts", "retry"]


async def _provisioning_run(conn: AsyncConnection, order_id: int, *, lock: bool = False) -> Any:
    """The order's provisioning run row (404 for no order, 409 for an order without one).

    With `lock` (PostgreSQL) the run row is locked first, so what is read next is what the
    act will change (SQLite's write transaction already excludes other writers).
    """
    t = schema
    if lock:
        await conn.execute(
            sa.select(t.runs.c.id)
            .where(t.runs.c.order_id == order_id, t.runs.c.kind == PROVISION_KIND)
            .with_for_update()
        )
    row = (
        await conn.execute(
            sa.select(t.orders.c.id, t.orders.c.state, t.runs.c.id.label("run_id"), t.runs.c.phase)
            .select_from(t.orders)
            .outerjoin(
                t.runs, sa.and_(t.runs.c.order_id == t.orders.c.id, t.runs.c.kind == PROVISION_KIND)
            )
            .where(t.orders.c.id == order_id)
        )
    ).first()
    if row is None:
        raise errors.NotFound(f"order {order_id} does not exist", order_id=order_id)
    if row.run_id is None:
        raise errors.Conflict(
            f"order {order_id} is {row.state} and has no provisioning run",
            order_id=order_id,
            state=row.state,
        )
    return row


async def retry(store: RunStore, order_id: int, *, from_phase: str | None, actor: str) -> int:
    """Retry the order's failed provisioning run at its phase or at `from_phase`.

    Returns:
        The run's id.

    Raises:
        errors.NotFound: no such order.
        errors.Conflict: no run, the run has not failed, or that phase may not be re-run.
    """
    async with store.db.begin() as conn:
        run = await _provisioning_run(conn, order_id)
        await store.retry_in(conn, run.run_id, from_phase=from_phase, actor=actor)
    return int(run.run_id)


async def cancel(store: RunStore, order_id: int, *, actor: str) -> int:
    """Cancel the order's provisioning run (the order moves to `cancelled`); a checkout hold
    still held is given back in the same transaction (`orders.progress`).

    Returns:
        The run's id.

    Raises:
        errors.NotFound: no such order.
        errors.Conflict: no run, or the run has completed or was cancelled already.
    """
    async with store.db.begin() as conn:
        run = await _provisioning_run(conn, order_id)
        await store.cancel_in(conn, run.run_id, actor=actor)
    return int(run.run_id)


def reallocation_facts(
    order_state: str, run_phase: str | None, service: Any, provision: Any
) -> lifecycle.ReallocationFacts:
    """What re-allocation is decided on, from the order's rows.

    Args:
        order_state: `orders.state`.
        run_phase: the provisioning run's phase (None: no run).
        service: the order's service row (`status`, `external_id`), or None.
        provision: the run's provision checkpoint row (`status`, `cursor`), or None.
    """
    started = (service is not None and service.external_id is not None) or (
        provision is not None and (provision.status == "done" or provision.cursor is not None)
    )
    return lifecycle.ReallocationFacts(
        order=OrderState(order_state),
        run_phase=run_phase,
        service=ServiceState(service.status) if service is not None else None,
        upstream_started=started,
    )


async def _rows(conn: AsyncConnection, order_id: int, run: Any) -> tuple[Any, Any]:
    """The order's service row and its run's provision checkpoint (each may be None)."""
    t = schema
    service = (
        await conn.execute(
            sa.select(t.services.c.id, t.services.c.status, t.services.c.external_id).where(
                t.services.c.order_id == order_id
            )
        )
    ).first()
    provision = (
        await conn.execute(
            sa.select(t.phase_checkpoints.c.status, t.phase_checkpoints.c.cursor).where(
                t.phase_checkpoints.c.run_id == run.run_id,
                t.phase_checkpoints.c.phase == Phase.PROVISION.value,
            )
        )
    ).first()
    return service, provision


async def reallocate(store: RunStore, order_id: int, *, actor: str) -> int:
    """Give back the order's host and address and retry its run from allocation.

    Returns:
        The run's id.

    Raises:
        errors.NotFound: no such order.
        errors.Conflict: the lifecycle does not allow it now (the message says why).
    """
    async with store.db.begin() as conn:
        run = await _provisioning_run(conn, order_id, lock=not store.db.is_sqlite)
        service, provision = await _rows(conn, order_id, run)
        refusal = lifecycle.reallocation_refusal(
            reallocation_facts(run.state, run.phase, service, provision)
        )
        if refusal is not None:
            raise errors.Conflict(refusal, order_id=order_id, state=run.state, phase=run.phase)
        released: dict[str, Any] = {}
        note = f"{actor} re-allocated the order: nothing was reserved yet"
        if service is not None:
            freed = await reservation.release(conn, order_id=order_id)
            await lifecycle.discard_service(conn, service_id=service.id)
            released = {"host": freed.host_name, "address": freed.address}
            note = f"{actor} re-allocated the order: {freed.describe()}"
        await store.retry_in(
            conn, run.run_id, from_phase=Phase.ALLOCATION.value, actor=actor, undone=True
        )
        await activity.record(
            conn,
            order_id,
            "order_reallocated",
            note,
            run_id=run.run_id,
            phase=Phase.ALLOCATION.value,
            data={"actor": actor, "released": released},
        )
        await audit.record(
            conn,
            actor=actor,
            action="order.reallocate",
            entity="order",
            entity_id=order_id,
            changes={"run_id": run.run_id, "released": released},
        )
    return int(run.run_id)
