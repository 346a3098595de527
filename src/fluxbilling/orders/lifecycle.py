"""The order and service lifecycles: declared tables and the only writer of their states.

Each machine is a frozen table `(state, event) -> state` (Ironic's `states.py`). `next_state`
decides from the table alone; `transition_order`, `start_orders` and `transition_service`
are the only code that writes `orders.state` and `services.status`. Each write is guarded
(`WHERE state = <the state the decision was made from>`, so a concurrent change is detected,
not overwritten) and appends its activity row in the caller's transaction.

Orders (`docs/lifecycle.md` draws both tables; `mermaid()` generates it):

```
awaiting_payment ─────paid─────► provisioning_pending    (the invoice's payment, billing.ledger)
provisioning_pending ─started──► provisioning            (a worker claimed the run)
provisioning ──────handed_off──► active                  (the handoff phase committed)
provisioning ────────failed────► failed                  (the run stopped in failed)
failed ─────────────retried────► provisioning_pending    (an operator retried the run)
provisioning_pending | provisioning | failed ─cancelled─► cancelled   (the run was cancelled)
```

Services: `allocated ─provisioned─► provisioned ─installed─► installed ─handed_off─► active`
(`provisioned ─handed_off─► active` when the panel runs the service on its own platform), then
the lifecycle actions: `suspended`, `unsuspended`, `terminated`, `reinstalled`, `resized`. A
phase re-run after an operator's retry writes its state again, hence the self-loops.

The initial states are INSERTs, not transitions: `orders.service` creates an order
`awaiting_payment`, `allocation.reservation` a service `allocated`.

The engine knows no orders: a provisioning run's order writes reach this module through
`orders.progress`, the `RunHooks` the composition root hands the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.db import Database, schema
from fluxbilling.engine import activity

__all__ = [
    "ORDER_TABLE",
    "SERVICE_TABLE",
    "OrderEvent",
    "OrderState",
    "ServiceEvent",
    "ServiceState",
    "Source",
    "mermaid",
    "next_state",
    "start_orders",
    "transition_order",
    "transition_service",
]


class OrderState(StrEnum):
    """Where an order is."""

    AWAITING_PAYMENT = "awaiting_payment"
    PROVISIONING_PENDING = "provisioning_pending"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OrderEvent(StrEnum):
    """What happens to an order."""

    PAID = "paid"
    STARTED = "started"
    HANDED_OFF = "handed_off"
    FAILED = "failed"
    RETRIED = "retried"
    CANCELLED = "cancelled"


class ServiceState(StrEnum):
    """Where a service is (the `services.status` column)."""

    ALLOCATED = "allocated"
    PROVISIONED = "provisioned"
    INSTALLED = "installed"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class ServiceEvent(StrEnum):
    """What happens to a service."""

    PROVISIONED = "provisioned"
    INSTALLED = "installed"
    HANDED_OFF = "handed_off"
    SUSPENDED = "suspended"
    UNSUSPENDED = "unsuspended"
    TERMINATED = "terminated"
    REINSTALLED = "reinstalled"
    RESIZED = "resized"


_O, _OE = OrderState, OrderEvent
ORDER_TABLE: Mapping[tuple[OrderState, OrderEvent], OrderState] = {
    (_O.AWAITING_PAYMENT, _OE.PAID): _O.PROVISIONING_PENDING,  # the invoice's payment
    (_O.PROVISIONING_PENDING, _OE.STARTED): _O.PROVISIONING,  # a worker claimed the run
    (_O.PROVISIONING, _OE.HANDED_OFF): _O.ACTIVE,  # the handoff phase committed
    (_O.PROVISIONING, _OE.FAILED): _O.FAILED,  # the run stopped in failed
    (_O.FAILED, _OE.RETRIED): _O.PROVISIONING_PENDING,  # an operator retried the run
    (_O.PROVISIONING_PENDING, _OE.CANCELLED): _O.CANCELLED,  # the run was cancelled
    (_O.PROVISIONING, _OE.CANCELLED): _O.CANCELLED,
    (_O.FAILED, _OE.CANCELLED): _O.CANCELLED,
}
"""The order machine: every legal (state, event) and the state it leads to."""

_S, _SE = ServiceState, ServiceEvent
SERVICE_TABLE: Mapping[tuple[ServiceState, ServiceEvent], ServiceState] = {
    (_S.ALLOCATED, _SE.PROVISIONED): _S.PROVISIONED,
    # A retry from the provision phase runs it (and os_install) again.
    (_S.PROVISIONED, _SE.PROVISIONED): _S.PROVISIONED,
    (_S.INSTALLED, _SE.PROVISIONED): _S.PROVISIONED,
    (_S.PROVISIONED, _SE.INSTALLED): _S.INSTALLED,
    (_S.INSTALLED, _SE.INSTALLED): _S.INSTALLED,
    # A service the panel runs on its own platform skips os_install.
    (_S.PROVISIONED, _SE.HANDED_OFF): _S.ACTIVE,
    (_S.INSTALLED, _SE.HANDED_OFF): _S.ACTIVE,
    (_S.ACTIVE, _SE.SUSPENDED): _S.SUSPENDED,
    (_S.SUSPENDED, _SE.UNSUSPENDED): _S.ACTIVE,
    (_S.ACTIVE, _SE.TERMINATED): _S.TERMINATED,
    (_S.SUSPENDED, _SE.TERMINATED): _S.TERMINATED,
    (_S.ACTIVE, _SE.REINSTALLED): _S.ACTIVE,
    (_S.ACTIVE, _SE.RESIZED): _S.ACTIVE,
}
"""The service machine: every legal (state, event) and the state it leads to."""

_State = TypeVar("_State", OrderState, ServiceState)
_Event = TypeVar("_Event", OrderEvent, ServiceEvent)


def next_state(
    table: Mapping[tuple[_State, _Event], _State], state: _State, event: _Event
) -> _State:
    """The state `event` leads to from `state`, by `table`.

    Args:
        table: `ORDER_TABLE` or `SERVICE_TABLE`.
        state: the current state.
        event: what happened.

    Returns:
        The next state.

    Raises:
        errors.IllegalTransition: the table has no row for `(state, event)`.

    Examples:
        >>> next_state(ORDER_TABLE, OrderState.AWAITING_PAYMENT, OrderEvent.PAID)
        <OrderState.PROVISIONING_PENDING: 'provisioning_pending'>
    """
    try:
        return table[state, event]
    except KeyError:
        raise errors.IllegalTransition(
            f"event {event.value!r} is not allowed in state {state.value!r}",
            state=state.value,
            event=event.value,
        ) from None


def mermaid() -> str:
    """Both tables as Mermaid `stateDiagram-v2` blocks, in Markdown (`docs/lifecycle.md`)."""
    parts = [
        "# Lifecycle\n",
        "Generated from `src/fluxbilling/orders/lifecycle.py` by `lifecycle.mermaid()`;",
        "regenerate with `.venv/bin/python -m fluxbilling.orders.lifecycle > docs/lifecycle.md`.\n",
    ]
    machines: list[tuple[str, Mapping[tuple[Any, Any], Any], StrEnum]] = [
        ("Orders", ORDER_TABLE, OrderState.AWAITING_PAYMENT),
        ("Services", SERVICE_TABLE, ServiceState.ALLOCATED),
    ]
    for title, table, initial in machines:
        parts += [f"## {title}\n", "```mermaid", "stateDiagram-v2", f"    [*] --> {initial}"]
        parts += [f"    {s} --> {t}: {e}" for (s, e), t in table.items()]
        parts += ["```\n"]
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Source:
    """Who made a transition, for its activity row (all optional)."""

    run_id: int | None = None
    phase: str | None = None
    lease_token: int | None = None
    worker: str | None = None


class _Statements:
    """The guarded updates for one dialect (built once: `Database.now()` is dialect-bound)."""

    def __init__(self, db: Database) -> None:
        orders, services = schema.orders, schema.services
        self.order_state = sa.select(orders.c.state).where(orders.c.id == sa.bindparam("p_id"))
        self.order_update = (
            orders.update()
            .where(orders.c.id == sa.bindparam("p_id"), orders.c.state == sa.bindparam("p_from"))
            .values(state=sa.bindparam("p_to"), updated_at=db.now())
        )
        self.orders_update = (
            orders.update()
            .where(
                orders.c.id.in_(sa.bindparam("p_ids", expanding=True)),
                orders.c.state == sa.bindparam("p_from"),
            )
            .values(state=sa.bindparam("p_to"), updated_at=db.now())
            .returning(orders.c.id)
        )
        self.service_row = sa.select(services.c.order_id, services.c.status).where(
            services.c.id == sa.bindparam("p_id")
        )
        self.service_update = (
            services.update()
            .where(
                services.c.id == sa.bindparam("p_id"), services.c.status == sa.bindparam("p_from")
            )
            .values(status=sa.bindparam("p_to"), updated_at=db.now())
        )


_BUILT: dict[str, _Statements] = {}


def _sql(db: Database) -> _Statements:
    built = _BUILT.get(db.dialect)
    if built is None:
        built = _BUILT[db.dialect] = _Statements(db)
    return built


async def _record(
    conn: AsyncConnection,
    machine: str,
    order_id: int,
    moved: tuple[StrEnum, StrEnum, StrEnum],
    note: str,
    source: Source,
    data: Mapping[str, Any],
) -> None:
    state, event, target = moved
    await activity.record(
        conn,
        order_id,
        f"{machine}_{event.value}",
        f"{machine} {state.value} → {target.value}: {note}",
        run_id=source.run_id,
        phase=source.phase,
        data={**data, "from": state.value, "to": target.value, "event": event.value},
        lease_token=source.lease_token,
        worker=source.worker,
    )


async def transition_order(
    db: Database,
    conn: AsyncConnection,
    order_id: int,
    event: OrderEvent,
    *,
    note: str,
    source: Source = Source(),
    data: Mapping[str, Any] | None = None,
) -> OrderState:
    """Move an order by `event` and write its activity row, in the caller's transaction.

    Args:
        db: the database (its clock stamps `updated_at`).
        conn: the caller's transaction.
        order_id: the order.
        event: what happened.
        note: why, for the activity row.
        source: the run, phase, lease and worker behind the change.
        data: more for the activity row.

    Returns:
        The order's new state.

    Raises:
        errors.NotFound: no such order.
        errors.IllegalTransition: the order's state does not allow `event`.
        errors.Conflict: the order's state changed between the read and the guarded write.
    """
    sql = _sql(db)
    current = (await conn.execute(sql.order_state, {"p_id": order_id})).scalar_one_or_none()
    if current is None:
        raise errors.NotFound(f"order {order_id} does not exist", order_id=order_id)
    state = OrderState(current)
    target = next_state(ORDER_TABLE, state, event)
    result = await conn.execute(
        sql.order_update, {"p_id": order_id, "p_from": state.value, "p_to": target.value}
    )
    if result.rowcount != 1:
        raise errors.Conflict(
            f"order {order_id} left {state.value!r} before {event.value!r} was applied",
            order_id=order_id,
            state=state.value,
            event=event.value,
        )
    await _record(conn, "order", order_id, (state, event, target), note, source, data or {})
    return target


async def start_orders(
    db: Database, conn: AsyncConnection, sources: Mapping[int, Source], *, note: str
) -> list[int]:
    """Apply `started` to those of `sources`' orders that await their worker, in one statement.

    The worker's claim calls this for every run it leased: an order already past
    `provisioning_pending` (a taken-over run, a lifecycle action's run) is left as it is.

    Args:
        db: the database.
        conn: the claim's transaction.
        sources: order id -> the run behind it.
        note: why, for the activity rows.

    Returns:
        The ids of the orders that moved.
    """
    if not sources:
        return []
    state, event = OrderState.PROVISIONING_PENDING, OrderEvent.STARTED
    target = next_state(ORDER_TABLE, state, event)
    moved = (
        await conn.execute(
            _sql(db).orders_update,
            {"p_ids": list(sources), "p_from": state.value, "p_to": target.value},
        )
    ).scalars()
    ids = sorted(moved)
    for order_id in ids:
        await _record(conn, "order", order_id, (state, event, target), note, sources[order_id], {})
    return ids


async def transition_service(
    db: Database,
    conn: AsyncConnection,
    service_id: int,
    event: ServiceEvent,
    *,
    note: str,
    source: Source = Source(),
    data: Mapping[str, Any] | None = None,
) -> ServiceState:
    """Move a service by `event` and write its activity row, in the caller's transaction.

    Args:
        db: the database.
        conn: the caller's transaction.
        service_id: the service.
        event: what happened.
        note: why, for the activity row.
        source: the run, phase, lease and worker behind the change.
        data: more for the activity row.

    Returns:
        The service's new state.

    Raises:
        errors.NotFound: no such service.
        errors.IllegalTransition: the service's state does not allow `event`.
        errors.Conflict: the service's state changed between the read and the guarded write.
    """
    sql = _sql(db)
    row = (await conn.execute(sql.service_row, {"p_id": service_id})).first()
    if row is None:
        raise errors.NotFound(f"service {service_id} does not exist", service_id=service_id)
    state = ServiceState(row.status)
    target = next_state(SERVICE_TABLE, state, event)
    result = await conn.execute(
        sql.service_update, {"p_id": service_id, "p_from": state.value, "p_to": target.value}
    )
    if result.rowcount != 1:
        raise errors.Conflict(
            f"service {service_id} left {state.value!r} before {event.value!r} was applied",
            service_id=service_id,
            state=state.value,
            event=event.value,
        )
    await _record(
        conn,
        "service",
        row.order_id,
        (state, event, target),
        note,
        source,
        {**(data or {}), "service_id": service_id},
    )
    return target


if __name__ == "__main__":
    print(mermaid(), end="")  # noqa: T201 - regenerates docs/lifecycle.md
