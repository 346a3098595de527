"""The lifecycle's one writer on both databases: one guarded UPDATE and one activity row per event."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from fluxbilling import errors
from fluxbilling.db import Database, schema
from fluxbilling.orders import lifecycle
from fluxbilling.orders.lifecycle import OrderEvent, OrderState, ServiceEvent, ServiceState
from fluxbilling.seed import seed_bare_product

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def new_orders(db: Database, *states: OrderState) -> list[int]:
    async with db.begin() as conn:
        cust, prod = await seed_bare_product(conn)
        insert = schema.orders.insert().returning(schema.orders.c.id)
        return [
            int(
                (
                    await conn.execute(
                        insert,
                        {"customer_id": cust, "product_id": prod, "hostname": f"h{i}", "state": s},
                    )
                ).scalar_one()
            )
            for i, s in enumerate(states)
        ]


async def new_order(db: Database, state: OrderState) -> int:
    return (await new_orders(db, state))[0]


async def order_state(db: Database, order_id: int) -> str:
    async with db.connect() as conn:
        query = sa.select(schema.orders.c.state).where(schema.orders.c.id == order_id)
        return str((await conn.execute(query)).scalar_one())


async def events(db: Database, order_id: int) -> list[tuple[str, dict[str, object]]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            sa.select(schema.activity_log.c.event, schema.activity_log.c.data)
            .where(schema.activity_log.c.order_id == order_id)
            .order_by(schema.activity_log.c.id)
        )
        return [(r.event, dict(r.data)) for r in rows]


@contextmanager
def statements_run(db: Database) -> Iterator[list[str]]:
    """The first word of every statement `db` sends while the block runs (BEGIN excluded)."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(statement.split(None, 1)[0].upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", before)


async def new_service(db: Database, order_id: int, state: ServiceState) -> int:
    async with db.begin() as conn:
        return int(
            (
                await conn.execute(
                    schema.services.insert()
                    .values(order_id=order_id, status=state, service_data={})
                    .returning(schema.services.c.id)
                )
            ).scalar_one()
        )


def paid(order_id: int) -> lifecycle.Entry:
    return lifecycle.Entry(
        order_id, "invoice_paid", "invoice 1 paid via stripe", {"payment": "pi_1"}
    )


async def test_an_event_is_one_guarded_update_and_one_activity_row(db: Database) -> None:
    order_id = await new_order(db, OrderState.AWAITING_PAYMENT)
    with statements_run(db) as seen:
        async with db.begin() as conn:
            moved = await lifecycle.transition(
                db, conn, paid(order_id), lifecycle.order(order_id, OrderEvent.PAID)
            )
    assert seen == ["UPDATE", "INSERT"]  # no read before the write
    assert moved == [OrderState.PROVISIONING_PENDING]
    assert await order_state(db, order_id) == "provisioning_pending"
    assert await events(db, order_id) == [
        (
            "invoice_paid",
            {"payment": "pi_1", "order": {"event": "paid", "to": "provisioning_pending"}},
        )
    ]


async def test_an_illegal_event_names_state_and_event_and_writes_nothing(db: Database) -> None:
    order_id = await new_order(db, OrderState.ACTIVE)
    async with db.begin() as conn:
        with pytest.raises(errors.IllegalTransition, match=r"'retried'.*'active'") as raised:
            await lifecycle.transition(
                db, conn, paid(order_id), lifecycle.order(order_id, OrderEvent.RETRIED)
            )
    assert raised.value.details == {"state": "active", "event": "retried"}
    assert await order_state(db, order_id) == "active"
    assert await events(db, order_id) == []


async def test_an_unknown_order_or_service_is_not_found(db: Database) -> None:
    async with db.begin() as conn:
        with pytest.raises(errors.NotFound, match="order 404 does not exist"):
            await lifecycle.transition(db, conn, paid(404), lifecycle.order(404, OrderEvent.PAID))
        with pytest.raises(errors.NotFound, match="service 404 does not exist"):
            await lifecycle.transition(
                db, conn, paid(404), lifecycle.service(404, ServiceEvent.SUSPENDED)
            )


async def test_start_orders_moves_only_the_waiting_ones_with_one_insert(db: Database) -> None:
    first, second, running = await new_orders(
        db,
        OrderState.PROVISIONING_PENDING,
        OrderState.PROVISIONING_PENDING,
        OrderState.PROVISIONING,
    )
    started = [
        lifecycle.Entry(
            order_id, "run_started", "w1 started", {"n": order_id}, lifecycle.Source(worker="w1")
        )
        for order_id in (first, second, running)
    ]
    with statements_run(db) as seen:
        async with db.begin() as conn:
            moved = await lifecycle.start_orders(db, conn, started)
    assert seen == ["UPDATE", "INSERT"]
    assert moved == [first, second]
    assert [await order_state(db, o) for o in (first, second, running)] == ["provisioning"] * 3
    for order_id in (first, second):
        assert await events(db, order_id) == [
            ("run_started", {"n": order_id, "order": {"event": "started", "to": "provisioning"}})
        ]
    assert await events(db, running) == []
    async with db.begin() as conn:
        assert await lifecycle.start_orders(db, conn, []) == []


async def test_a_service_transition_is_recorded_on_its_order(db: Database) -> None:
    order_id = await new_order(db, OrderState.ACTIVE)
    service_id = await new_service(db, order_id, ServiceState.ACTIVE)
    refund = lifecycle.Entry(order_id, "refund_full", "refunded: suspended")
    async with db.begin() as conn:
        suspend = lifecycle.service(service_id, ServiceEvent.SUSPENDED)
        moved = await lifecycle.transition(db, conn, refund, suspend)
        with pytest.raises(errors.IllegalTransition, match=r"'suspended'.*'suspended'"):
            await lifecycle.transition(db, conn, refund, suspend)
    assert moved == [ServiceState.SUSPENDED]
    assert await events(db, order_id) == [
        ("refund_full", {"service": {"id": service_id, "event": "suspended", "to": "suspended"}})
    ]


async def test_the_handoff_moves_service_and_order_in_one_row(db: Database) -> None:
    order_id = await new_order(db, OrderState.PROVISIONING)
    service_id = await new_service(db, order_id, ServiceState.INSTALLED)
    entry = lifecycle.Entry(order_id, "service_active", "welcome mail sent; service is active")
    async with db.begin() as conn:
        moved = await lifecycle.transition(
            db,
            conn,
            entry,
            lifecycle.service(service_id, ServiceEvent.HANDED_OFF),
            lifecycle.order(order_id, OrderEvent.HANDED_OFF),
        )
    assert moved == [ServiceState.ACTIVE, OrderState.ACTIVE]
    assert await events(db, order_id) == [
        (
            "service_active",
            {
                "service": {"id": service_id, "event": "handed_off", "to": "active"},
                "order": {"event": "handed_off", "to": "active"},
            },
        )
    ]


async def test_one_event_moves_one_order_once(db: Database) -> None:
    one, other = await new_orders(db, OrderState.FAILED, OrderState.FAILED)
    service_id = await new_service(db, other, ServiceState.ACTIVE)
    cancel = lifecycle.Entry(one, "run_cancelled", "x")
    with pytest.raises(errors.InvariantViolation, match="each machine once"):
        async with db.begin() as conn:
            await lifecycle.transition(
                db,
                conn,
                cancel,
                lifecycle.order(one, OrderEvent.CANCELLED),
                lifecycle.order(other, OrderEvent.CANCELLED),
            )
    with pytest.raises(errors.InvariantViolation, match=f"belongs to order {other}, not"):
        async with db.begin() as conn:
            suspend = lifecycle.service(service_id, ServiceEvent.SUSPENDED)
            await lifecycle.transition(db, conn, cancel, suspend)
    assert [await order_state(db, o) for o in (one, other)] == ["failed", "failed"]
    assert await events(db, one) == await events(db, other) == []


async def test_an_event_without_moves_writes_only_its_row(db: Database) -> None:
    order_id = await new_order(db, OrderState.ACTIVE)
    with statements_run(db) as seen:
        async with db.begin() as conn:
            entry = lifecycle.Entry(order_id, "phase_failed", "resize failed", {"error": "x"})
            assert await lifecycle.transition(db, conn, entry) == []
    assert seen == ["INSERT"]
    assert await events(db, order_id) == [("phase_failed", {"error": "x"})]
    assert await order_state(db, order_id) == "active"


async def test_created_rows_start_in_the_initial_states(db: Database) -> None:
    async with db.begin() as conn:
        cust, prod = await seed_bare_product(conn)
        order_id = await lifecycle.create_order(
            db, conn, customer_id=cust, product_id=prod, hostname="h.example.com"
        )
        assert order_id is not None
        taken = await lifecycle.create_order(
            db, conn, customer_id=cust, product_id=prod, hostname="h.example.com"
        )
        service_id = await lifecycle.create_service(conn, order_id=order_id, host_id=None)
        status = (
            await conn.execute(
                sa.select(schema.services.c.status).where(schema.services.c.id == service_id)
            )
        ).scalar_one()
    assert taken is None
    assert await order_state(db, order_id) == "awaiting_payment"
    assert status == "allocated"
    assert await events(db, order_id) == []  # the creator records the creation


async def test_a_concurrent_change_is_detected_not_overwritten(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: the race needs row locks (PostgreSQL)")
    order_id = await new_order(db, OrderState.PROVISIONING)
    failed = lifecycle.Entry(order_id, "phase_failed", "provision failed")
    async with db.begin() as other:
        # Another transaction moves the order first and holds the row until it commits.
        await other.execute(
            schema.orders.update()
            .where(schema.orders.c.id == order_id)
            .values(state=OrderState.CANCELLED)
        )

        async def fail() -> None:
            async with db.begin() as conn:
                await lifecycle.transition(
                    db, conn, failed, lifecycle.order(order_id, OrderEvent.FAILED)
                )

        racing = asyncio.create_task(fail())
        await asyncio.sleep(0.3)  # the guarded UPDATE now waits on the row lock
        assert not racing.done()
    # PostgreSQL re-checks the guard on the committed row: cancelled does not allow failed.
    with pytest.raises(errors.IllegalTransition, match=r"'failed'.*'cancelled'"):
        await racing
    assert await order_state(db, order_id) == "cancelled"
    assert await events(db, order_id) == []
