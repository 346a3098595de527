"""Holds: capacity and an address reserved for an order at checkout, for a TTL (reserve-then-charge).

A checkout reserves what the order will need before the customer is sent to pay, so a paid
order never finds its location full. The hold is one row per order (`holds`), with the
reservation it made (host, amounts, address) and a deadline from the database clock:

```
          place (checkout)        adopt (allocation phase, same host and address)
 (none) ─────────────────► held ───────────────────────────────────────────► consumed
   ▲ place again              │ ── release (operator, run cancelled) ──► released ─┐
   │ (a new checkout)         │ ── sweep (expires_at passed) ─────────► expired  ──┤
   └──────────────────────────┴──── place (same invoice again: extended) ◄─────────┘
```

Every move out of `held` is a guarded `UPDATE … WHERE state = 'held'`, so the allocation
phase adopting a hold and the sweeper expiring it cannot both win: whoever updates the row
first owns the reservation, the other sees zero rows. Only the winner gives capacity back.
A held hold past its deadline that no sweep reached yet is still adopted (the capacity is
still counted on the host). After a sweep the order reserves again when it is paid, and
parks waiting for capacity when none is left (the documented residual risk).

The host capacity and the address are reserved through `reservation.reserve` and given back
through `reservation.give_back`, from what the hold recorded (the order has no service yet). Each move
writes one activity row on the order, in the transaction of the move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import audit, errors
from fluxbilling.allocation import leases, reservation
from fluxbilling.allocation.reservation import Reservation
from fluxbilling.db import Database, schema
from fluxbilling.engine import activity

__all__ = [
    "Hold",
    "HoldState",
    "Placed",
    "adopt",
    "for_order",
    "list_holds",
    "load",
    "on_checkout",
    "place",
    "release",
    "release_by_operator",
    "release_for_order",
    "sweep",
]

_PHASE = "billing"


class HoldState(StrEnum):
    """Where a hold is (see the module's diagram)."""

    HELD = "held"
    CONSUMED = "consumed"
    RELEASED = "released"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Hold:
    """One order's hold, as stored."""

    id: int
    order_id: int
    host_id: int
    host_name: str | None
    subnet_id: int | None
    address: str | None
    ram_mb: int
    vcpus: int
    disk_gb: int
    nic_mbps: int
    storage_pool_id: int | None
    """The storage pool the disk is held on (None: the host's own disk columns)."""
    state: HoldState
    reason: str | None
    expires_at: datetime
    created_at: datetime
    updated_at: datetime

    def reservation(self) -> Reservation:
        """The reservation the hold made, as the allocation phase adopts it."""
        return Reservation(
            self.host_id,
            self.host_name or "",
            self.subnet_id,
            self.address,
            pool_id=self.storage_pool_id,
        )

    def describe(self) -> str:
        """What is held, for activity messages."""
        where = f"address {self.address}" if self.address else "no address of ours"
        return (
            f"{self.ram_mb} MB / {self.vcpus} vCPU / {self.disk_gb} GB on "
            f"{self.host_name or f'host {self.host_id}'}, {where}"
        )


@dataclass(frozen=True, slots=True)
class Placed:
    """What placing a hold did: `placed` (a new reservation), `extended` (same one, later
    deadline) or `consumed` (the order is past checkout: nothing to hold)."""

    hold: Hold
    outcome: str


def on_checkout(state: HoldState | None) -> Literal["place", "extend", "keep"]:
    """What a checkout does to the order's hold in `state` (None: it has none).

    Example:
        >>> on_checkout(None), on_checkout(HoldState.HELD), on_checkout(HoldState.CONSUMED)
        ('place', 'extend', 'keep')
        >>> on_checkout(HoldState.EXPIRED), on_checkout(HoldState.RELEASED)
        ('place', 'place')
    """
    if state is HoldState.HELD:
        return "extend"
    if state is HoldState.CONSUMED:
        return "keep"
    return "place"


def _select() -> sa.Select[Any]:
    h = schema.holds
    return sa.select(h, schema.hosts.c.name.label("host_name")).outerjoin(
        schema.hosts, schema.hosts.c.id == h.c.host_id
    )


def _hold(row: Any) -> Hold:
    values = dict(row._mapping)
    return Hold(**{**values, "state": HoldState(values["state"])})


async def load(conn: AsyncConnection, hold_id: int) -> Hold:
    """A hold by id.

    Raises:
        errors.NotFound: no such hold.
    """
    row = (await conn.execute(_select().where(schema.holds.c.id == hold_id))).first()
    if row is None:
        raise errors.NotFound(f"hold {hold_id} does not exist", hold_id=hold_id)
    return _hold(row)


async def for_order(conn: AsyncConnection, order_id: int) -> Hold | None:
    """The order's hold, whatever its state (None: it never had one)."""
    row = (await conn.execute(_select().where(schema.holds.c.order_id == order_id))).first()
    return _hold(row) if row is not None else None


async def list_holds(
    conn: AsyncConnection, *, state: HoldState | None, limit: int, cursor: int | None
) -> tuple[list[Hold], int | None]:
    """A page of holds, newest first, optionally in one state; and the next page's cursor."""
    h = schema.holds
    query = _select().order_by(h.c.id.desc()).limit(limit + 1)
    if state is not None:
        query = query.where(h.c.state == state.value)
    if cursor is not None:
        query = query.where(h.c.id < cursor)
    found = [_hold(row) for row in (await conn.execute(query)).all()]
    more = len(found) > limit
    return found[:limit], found[limit - 1].id if more else None


async def place(
    db: Database,
    conn: AsyncConnection,
    *,
    order_id: int,
    product: dict[str, Any],
    with_address: bool,
    ttl_minutes: int,
) -> Placed:
    """Hold capacity (and an address when `with_address`) for the order until now + TTL.

    Idempotent per order: a held hold gets a later deadline (`extended`), never a second
    reservation; a released or expired one reserves again. The order's row is locked first
    (PostgreSQL, `FOR NO KEY UPDATE`), so two checkouts of one order run one after the other.

    Raises:
        errors.CapacityExhausted: nothing fits (nothing is reserved or stored).
    """
    h = schema.holds
    lock = not db.is_sqlite
    if lock:
        # NO KEY UPDATE: serialises checkouts of one order, yet lets an allocation that has
        # just adopted the hold insert rows referencing the order (their KEY SHARE locks).
        await conn.execute(
            sa.select(schema.orders.c.id)
            .where(schema.orders.c.id == order_id)
            .with_for_update(key_share=True)
        )
    current = await for_order(conn, order_id)
    step = on_checkout(current.state if current is not None else None)
    deadline = db.now(ttl_minutes * 60.0)
    if current is not None and step == "extend":
        await conn.execute(
            h.update().where(h.c.id == current.id).values(expires_at=deadline, updated_at=db.now())
        )
        hold = await load(conn, current.id)
        await _record(conn, hold, "hold_extended", f"hold extended: {hold.describe()}")
        return Placed(hold, "extended")
    if current is not None and step == "keep":
        return Placed(current, "consumed")
    reserved = await reservation.reserve(
        conn, order_id=order_id, product=product, lock=lock, with_address=with_address
    )
    values = {
        "host_id": reserved.host_id,
        "subnet_id": reserved.subnet_id,
        "address": reserved.address,
        "ram_mb": product["ram_mb"],
        "vcpus": product["vcpus"],
        "disk_gb": product["disk_gb"],
        "nic_mbps": product.get("nic_mbps") or 0,
        "storage_pool_id": reserved.pool_id,
        "state": HoldState.HELD.value,
        "reason": None,
        "expires_at": deadline,
        "updated_at": db.now(),
    }
    if current is None:
        await conn.execute(h.insert().values(order_id=order_id, **values))
    else:
        await conn.execute(h.update().where(h.c.id == current.id).values(**values))
    placed = await for_order(conn, order_id)
    assert placed is not None  # noqa: S101 - written just above, in this transaction
    await _record(conn, placed, "hold_placed", f"hold placed: {placed.describe()}")
    return Placed(placed, "placed")


async def adopt(db: Database, conn: AsyncConnection, *, order_id: int) -> Hold | None:
    """Mark the order's held hold consumed and answer it (None: no hold is held).

    The caller (the allocation phase, in its fenced transaction) uses the hold's reservation
    instead of reserving again, and writes the activity row of its own outcome.
    """
    h = schema.holds
    moved = await conn.execute(
        h.update()
        .where(h.c.order_id == order_id, h.c.state == HoldState.HELD.value)
        .values(state=HoldState.CONSUMED.value, reason="adopted by allocation", updated_at=db.now())
    )
    if moved.rowcount != 1:
        return None
    return await for_order(conn, order_id)


async def release(
    db: Database,
    conn: AsyncConnection,
    *,
    hold_id: int,
    reason: str,
    state: HoldState = HoldState.RELEASED,
) -> Hold | None:
    """Give back a held hold's capacity and address; `state` is `released` or `expired`.

    Returns:
        The hold after the move, or None when it was not held any more (someone else moved
        it first: nothing is given back twice).
    """
    h = schema.holds
    moved = await conn.execute(
        h.update()
        .where(h.c.id == hold_id, h.c.state == HoldState.HELD.value)
        .values(state=state.value, reason=reason, updated_at=db.now())
    )
    if moved.rowcount != 1:
        return None
    hold = await load(conn, hold_id)
    await _give_back(conn, hold)
    event = "hold_expired" if state is HoldState.EXPIRED else "hold_released"
    await _record(conn, hold, event, f"hold {state.value} ({reason}): {hold.describe()} given back")
    return hold


async def release_by_operator(db: Database, hold_id: int, *, actor: str) -> Hold:
    """An operator gives a held hold back (audited); the order reserves again when paid.

    Raises:
        errors.NotFound: no such hold.
        errors.Conflict: the hold is not held (consumed, released or expired already).
    """
    async with db.begin() as conn:
        current = await load(conn, hold_id)
        released = await release(db, conn, hold_id=hold_id, reason=f"released by {actor}")
        if released is None:
            raise errors.Conflict(
                f"hold {hold_id} is {current.state.value}: nothing to release",
                hold_id=hold_id,
                state=current.state.value,
            )
        await audit.record(
            conn,
            actor=actor,
            action="hold.release",
            entity="hold",
            entity_id=hold_id,
            changes={"order_id": released.order_id, "state": released.state.value},
        )
    return released


async def release_for_order(
    db: Database, conn: AsyncConnection, *, order_id: int, reason: str
) -> Hold | None:
    """`release` the order's hold if it is held (None: it has none held)."""
    current = await for_order(conn, order_id)
    if current is None or current.state is not HoldState.HELD:
        return None
    return await release(db, conn, hold_id=current.id, reason=reason)


async def sweep(db: Database, *, limit: int = 100) -> int:
    """Expire held holds past their deadline, at most `limit`, in one transaction.

    On PostgreSQL the due rows are taken `FOR UPDATE SKIP LOCKED`, so sweeps running in
    several workers share the work and never wait on a row an allocation is adopting; on
    SQLite the write transaction excludes the others. Each move is guarded anyway.

    Returns:
        How many holds expired.
    """
    h = schema.holds
    due = (
        sa.select(h.c.id)
        .where(h.c.state == HoldState.HELD.value, h.c.expires_at <= db.now())
        .order_by(h.c.expires_at, h.c.id)
        .limit(limit)
    )
    if not db.is_sqlite:
        due = due.with_for_update(skip_locked=True)
    expired = 0
    async with db.begin() as conn:
        for hold_id in (await conn.execute(due)).scalars().all():
            moved = await release(
                db, conn, hold_id=hold_id, reason="not paid in time", state=HoldState.EXPIRED
            )
            expired += moved is not None
    return expired


async def _give_back(conn: AsyncConnection, hold: Hold) -> None:
    """Return the hold's amounts to its host and free its address."""
    await reservation.give_back(
        conn,
        host_id=hold.host_id,
        ram_mb=hold.ram_mb,
        vcpus=hold.vcpus,
        disk_gb=hold.disk_gb,
        nic_mbps=hold.nic_mbps,
        storage_pool_id=hold.storage_pool_id,
    )
    if hold.address is not None:
        # The leases cool down like any released one (the same order gets them back at once
        # if it is paid later); no service holds them yet: the hold was never adopted.
        await leases.release(conn, order_id=hold.order_id)


async def _record(conn: AsyncConnection, hold: Hold, event: str, message: str) -> None:
    await activity.record(
        conn,
        hold.order_id,
        event,
        message,
        phase=_PHASE,
        data={
            "hold_id": hold.id,
            "host_id": hold.host_id,
            "address": hold.address,
            "state": hold.state.value,
            "expires_at": hold.expires_at.isoformat(),
        },
    )
