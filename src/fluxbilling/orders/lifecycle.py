"""The order and service lifecycles: declared tables and the only writer of their states.

Each machine is a frozen table `(state, event) -> state` (Ironic's `states.py`). `next_state`
decides from the table alone; `create_order`, `create_service`, `transition` and
`start_orders` are the only code that writes `orders.state` and `services.status`. A
transition is one guarded statement, `UPDATE … WHERE id = … AND state IN (the states the
event is allowed in) RETURNING …`: a concurrent change is detected, not overwritten, and
only a refused move reads the row, to name its state in the error. One event writes one
activity row, in the caller's transaction: the caller's kind and words (`Entry`, such as
`phase_failed` or `invoice_paid`) with what moved added to its data.

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

The initial states are INSERTs, not transitions, and also written here: `create_order`
(called by `orders.service`) and `create_service` (by the allocation phase). Their creator
records the creation.

Re-allocation (`reallocation_refusal`, decided here, carried out by `orders.reallocation`):
a failed order whose run stopped at allocation or provision before anything was created
upstream gives back its host capacity and address, its `allocated` service is discarded
(`discard_service`, the one DELETE of a service) and the run is retried from allocation,
so the order moves `failed ─retried─► provisioning_pending` and may land on another host.

The engine knows no orders: a provisioning run's order writes reach this module through
`orders.progress`, the `RunHooks` the composition root hands the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.db import Database, schema, statements
from fluxbilling.engine import activity

__all__ = [
    "ORDERS",
    "ORDER_TABLE",
    "SERVICES",
    "SERVICE_TABLE",
    "Entry",
    "Machine",
    "Move",
    "OrderEvent",
    "OrderState",
    "ReallocationFacts",
    "ServiceEvent",
    "ServiceState",
    "Source",
    "create_order",
    "create_service",
    "discard_service",
    "mermaid",
    "next_state",
    "order",
    "reallocation_refusal",
    "service",
    "start_orders",
    "transition",
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


_REALLOCATABLE_PHASES = ("allocation", "provision")


@dataclass(frozen=True, slots=True)
class ReallocationFacts:
    """What re-allocating an order is decided on."""

    order: OrderState
    run_phase: str | None
    """The phase the order's provisioning run stands at (None: no run)."""
    service: ServiceState | None
    """The order's service, when allocation created it."""
    upstream_started: bool
    """Whether anything may exist upstream: the service has a panel id, or the provision
    phase left a checkpoint (a cursor it acted on, or its output)."""


def reallocation_refusal(facts: ReallocationFacts) -> str | None:
    """Why the order cannot be re-allocated now, or None when it can.

    Args:
        facts: the order's state, its run's phase, its service and what exists upstream.

    Returns:
        A sentence for the operator (the API's 409 message), or None.

    Examples:
        >>> facts = ReallocationFacts(OrderState.FAILED, "provision", ServiceState.ALLOCATED, False)
        >>> reallocation_refusal(facts) is None
        True
        >>> reallocation_refusal(ReallocationFacts(OrderState.ACTIVE, None, None, False))
        'the order is active; only a failed order can be re-allocated'
    """
    if facts.order is not OrderState.FAILED:
        return f"the order is {facts.order}; only a failed order can be re-allocated"
    if facts.run_phase not in _REALLOCATABLE_PHASES:
        return (
            f"the run failed at {facts.run_phase}, after the provision phase; "
            "retry or cancel it instead"
        )
    if facts.upstream_started or facts.service not in (None, ServiceState.ALLOCATED):
        return (
            "the provision phase may have created the service upstream; re-allocating would "
            "leave it behind, retry from provision instead"
        )
    return None


@dataclass(frozen=True, slots=True)
class Source:
    """Who made a transition, for its activity row (all optional)."""

    run_id: int | None = None
    phase: str | None = None
    lease_token: int | None = None
    worker: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """The activity row of one event of an order, in the caller's words (`transition` adds
    what moved)."""

    order_id: int
    kind: str
    note: str
    data: Mapping[str, Any] = field(default_factory=dict)
    source: Source = Source()


@dataclass(frozen=True, slots=True, eq=False)
class Machine(Generic[_State, _Event]):
    """One state machine: its table, initial state, rows, state column and owning order."""

    name: str
    table: Mapping[tuple[_State, _Event], _State]
    initial: _State
    rows: sa.Table
    column: str
    order_column: str

    def event(self, event: _Event) -> tuple[tuple[_State, ...], _State]:
        """The states `event` is allowed in, and the one it leads to.

        Raises:
            errors.InvariantViolation: the table leads `event` to two states (one guarded
                UPDATE could not apply it; a unit test keeps the tables free of that).

        Examples:
            >>> ORDERS.event(OrderEvent.HANDED_OFF)
            ((<OrderState.PROVISIONING: 'provisioning'>,), <OrderState.ACTIVE: 'active'>)
        """
        moves = {s: t for (s, e), t in self.table.items() if e == event}
        targets = set(moves.values())
        if len(targets) != 1:
            raise errors.InvariantViolation(
                f"{self.name} event {event.value!r} leads to {len(targets)} states",
                event=event.value,
            )
        return tuple(sorted(moves)), targets.pop()


ORDERS: Machine[OrderState, OrderEvent] = Machine(
    "order", ORDER_TABLE, OrderState.AWAITING_PAYMENT, schema.orders, "state", "id"
)
"""The order machine (`orders.state`)."""
SERVICES: Machine[ServiceState, ServiceEvent] = Machine(
    "service", SERVICE_TABLE, ServiceState.ALLOCATED, schema.services, "status", "order_id"
)
"""The service machine (`services.status`); a service's rows are logged on its order."""


@dataclass(frozen=True, slots=True)
class Move:
    """One row moved by one event (build it with `order` or `service`)."""

    machine: Machine[Any, Any]
    row_id: int
    event: OrderEvent | ServiceEvent

    def recorded(self, target: StrEnum) -> dict[str, Any]:
        """What this move did, for its event's activity row (a service's carries its id).

        Examples:
            >>> service(3, ServiceEvent.SUSPENDED).recorded(ServiceState.SUSPENDED)
            {'id': 3, 'event': 'suspended', 'to': 'suspended'}
        """
        found = {"event": self.event.value, "to": target.value}
        return {"id": self.row_id, **found} if self.machine is SERVICES else found


def order(order_id: int, event: OrderEvent) -> Move:
    """The order `order_id` moved by `event`."""
    return Move(ORDERS, order_id, event)


def service(service_id: int, event: ServiceEvent) -> Move:
    """The service `service_id` moved by `event`."""
    return Move(SERVICES, service_id, event)


@dataclass(frozen=True, slots=True)
class _Guarded:
    """One event's guarded UPDATE (built once per database: `Database.prepared`)."""

    update: sa.Update
    target: StrEnum


def _guarded(db: Database, machine: Machine[Any, Any], event: StrEnum, many: bool) -> _Guarded:
    """`UPDATE … SET state = <target> WHERE id = … AND state IN (<allowed>) RETURNING id, order`."""
    rows = machine.rows
    allowed, target = machine.event(event)
    by_id = (
        rows.c.id.in_(statements.param("p_ids", rows.c.id, expanding=True))
        if many
        else rows.c.id == statements.param("p_id", rows.c.id)
    )
    update = (
        rows.update()
        .where(by_id, rows.c[machine.column].in_([sa.literal(s.value) for s in allowed]))
        .values({machine.column: target.value, "updated_at": db.now()})
        .returning(rows.c.id, rows.c[machine.order_column].label("order_id"))
    )
    return _Guarded(update, target)


async def transition(
    db: Database, conn: AsyncConnection, entry: Entry, *moves: Move
) -> list[StrEnum]:
    """Apply `moves` (one event of `entry`'s order) and write the event's one activity row.

    Each move is one statement, `UPDATE … WHERE id = … AND state IN (the states its event is
    allowed in) RETURNING …`. The activity row is `entry` with each move added to its data
    under the machine's name: `{"order": {"event": "paid", "to": "provisioning_pending"}}`
    (the state it left is the `to` of the row before). With no moves only the row is
    written: the event moved no state (a lifecycle action's run failed, an invoice was paid
    for an order that no longer awaited it). When a move is refused nothing of this event
    is recorded and the error says why; rolling back earlier moves is the caller's
    transaction's job.

    Args:
        db: the database (its clock stamps `updated_at`).
        conn: the caller's transaction.
        entry: the event's activity row.
        *moves: one per machine at most (`order(…)`, `service(…)`), all of `entry`'s order.

    Returns:
        The new states, in the order of `moves`.

    Raises:
        errors.NotFound: no such order or service.
        errors.IllegalTransition: its state does not allow the event; the error names both.
        errors.Conflict: its state changed under the statement (a concurrent writer).
        errors.InvariantViolation: two moves of one machine, or a move of another order.
    """
    if len({m.machine.name for m in moves}) != len(moves):
        raise errors.InvariantViolation("one event moves each machine once", kind=entry.kind)
    moved: dict[str, Any] = {}
    targets: list[StrEnum] = []
    for move in moves:
        sql = db.prepared(_guarded, move.machine, move.event, False)
        row = (await conn.execute(sql.update, {"p_id": move.row_id})).first()
        if row is None:
            raise await _refusal(conn, move)
        if row.order_id != entry.order_id:
            raise errors.InvariantViolation(
                f"{move.machine.name} {move.row_id} belongs to order {row.order_id}, "
                f"not to order {entry.order_id}",
                kind=entry.kind,
            )
        moved[move.machine.name] = move.recorded(sql.target)
        targets.append(sql.target)
    await activity.record_many(conn, [_row(entry, moved)])
    return targets


async def _refusal(conn: AsyncConnection, move: Move) -> errors.FluxError:
    """Why the guarded UPDATE of `move` matched nothing (read only on this error path)."""
    machine, rows = move.machine, move.machine.rows
    current = (
        await conn.execute(sa.select(rows.c[machine.column]).where(rows.c.id == move.row_id))
    ).scalar_one_or_none()
    if current is None:
        return errors.NotFound(
            f"{machine.name} {move.row_id} does not exist", **{f"{machine.name}_id": move.row_id}
        )
    state = type(machine.initial)(current)
    try:
        next_state(machine.table, state, move.event)
    except errors.IllegalTransition as illegal:
        return illegal
    return errors.Conflict(  # allowed now: it was not when the UPDATE ran
        f"{machine.name} {move.row_id} changed state while {move.event.value!r} was applied",
        state=state.value,
        event=move.event.value,
    )


def _row(entry: Entry, moved: Mapping[str, Any]) -> activity.Row:
    source = entry.source
    return activity.Row(
        entry.order_id,
        entry.kind,
        entry.note,
        run_id=source.run_id,
        phase=source.phase,
        data={**entry.data, **moved},
        lease_token=source.lease_token,
        worker=source.worker,
    )


async def start_orders(db: Database, conn: AsyncConnection, entries: Sequence[Entry]) -> list[int]:
    """Apply `started` to those of `entries`' orders that await their worker.

    The worker's claim calls this for every run it leased: one UPDATE for all of them, and
    one INSERT for the activity rows of those that moved (a run's start is its event). An
    order already past `provisioning_pending` (a taken-over run, a lifecycle action's run)
    is left as it is and gets no row.

    Args:
        db: the database.
        conn: the claim's transaction.
        entries: the activity row of each run's start, one per order.

    Returns:
        The ids of the orders that moved, ascending.
    """
    if not entries:
        return []
    sql = db.prepared(_guarded, ORDERS, OrderEvent.STARTED, True)
    by_order = {e.order_id: e for e in entries}
    ids = sorted((await conn.execute(sql.update, {"p_ids": list(by_order)})).scalars())
    move = {"order": {"event": OrderEvent.STARTED.value, "to": sql.target.value}}
    await activity.record_many(conn, [_row(by_order[order_id], move) for order_id in ids])
    return ids


async def create_order(
    db: Database, conn: AsyncConnection, *, customer_id: int, product_id: int, hostname: str
) -> int | None:
    """Insert an order in the order machine's initial state (`awaiting_payment`).

    The creator records the creation (`order_created`): it is not a transition.

    Returns:
        The new order's id; None when the hostname is taken (a unique key).
    """
    inserted = await conn.execute(
        db.insert_ignore(schema.orders)
        .values(
            customer_id=customer_id,
            product_id=product_id,
            hostname=hostname,
            state=ORDERS.initial.value,
        )
        .returning(schema.orders.c.id)
    )
    order_id: int | None = inserted.scalar()
    return order_id


async def create_service(conn: AsyncConnection, *, order_id: int, host_id: int | None) -> int:
    """Insert an order's service in the service machine's initial state (`allocated`).

    Returns:
        The new service's id.
    """
    inserted = await conn.execute(
        schema.services.insert()
        .values(order_id=order_id, status=SERVICES.initial.value, host_id=host_id, service_data={})
        .returning(schema.services.c.id)
    )
    return int(inserted.scalar_one())


async def discard_service(conn: AsyncConnection, *, service_id: int) -> None:
    """Delete a service that never left `allocated` (re-allocation gives its host back).

    Raises:
        errors.Conflict: the service is no longer `allocated` (the row stays).
    """
    rows = schema.services
    deleted = await conn.execute(
        rows.delete()
        .where(rows.c.id == service_id, rows.c.status == SERVICES.initial.value)
        .returning(rows.c.id)
    )
    if deleted.first() is None:
        raise errors.Conflict(
            f"service {service_id} is no longer {SERVICES.initial.value}", service_id=service_id
        )


if __name__ == "__main__":
    print(mermaid(), end="")  # noqa: T201 - regenerates docs/lifecycle.md
