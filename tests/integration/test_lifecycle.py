"""The lifecycle's one writer on both databases: guarded writes and their activity rows."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

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


async def test_a_transition_writes_the_state_and_its_activity_row(db: Database) -> None:
    order_id = await new_order(db, OrderState.AWAITING_PAYMENT)
    async with db.begin() as conn:
        moved = await lifecycle.transition_order(
            db, conn, order_id, OrderEvent.PAID, note="invoice 1 paid"
        )
    assert moved == OrderState.PROVISIONING_PENDING
    assert await order_state(db, order_id) == "provisioning_pending"
    assert await events(db, order_id) == [
        ("order_paid", {"from": "awaiting_payment", "to": "provisioning_pending", "event": "paid"})
    ]


async def test_an_illegal_event_names_state_and_event_and_writes_nothing(db: Database) -> None:
    order_id = await new_order(db, OrderState.ACTIVE)
    async with db.begin() as conn:
        with pytest.raises(errors.IllegalTransition, match=r"'retried'.*'active'"):
            await lifecycle.transition_order(db, conn, order_id, OrderEvent.RETRIED, note="x")
    assert await order_state(db, order_id) == "active"
    assert await events(db, order_id) == []


async def test_an_unknown_order_is_not_found(db: Database) -> None:
    async with db.begin() as conn:
        with pytest.raises(errors.NotFound):
            await lifecycle.transition_order(db, conn, 404, OrderEvent.PAID, note="x")
        with pytest.raises(errors.NotFound):
            await lifecycle.transition_service(db, conn, 404, ServiceEvent.SUSPENDED, note="x")


async def test_start_orders_moves_only_the_waiting_ones(db: Database) -> None:
    waiting, running = await new_orders(
        db, OrderState.PROVISIONING_PENDING, OrderState.PROVISIONING
    )
    async with db.begin() as conn:
        moved = await lifecycle.start_orders(
            db,
            conn,
            {waiting: lifecycle.Source(run_id=None), running: lifecycle.Source()},
            note="w1 started the run",
        )
    assert moved == [waiting]
    assert await order_state(db, waiting) == "provisioning"
    assert await order_state(db, running) == "provisioning"
    assert [e for e, _ in await events(db, waiting)] == ["order_started"]
    assert await events(db, running) == []


async def test_a_service_transition_is_recorded_on_its_order(db: Database) -> None:
    order_id = await new_order(db, OrderState.ACTIVE)
    async with db.begin() as conn:
        service_id = (
            await conn.execute(
                schema.services.insert()
                .values(order_id=order_id, status=ServiceState.ACTIVE, service_data={})
                .returning(schema.services.c.id)
            )
        ).scalar_one()
        moved = await lifecycle.transition_service(
            db, conn, service_id, ServiceEvent.SUSPENDED, note="refund"
        )
        with pytest.raises(errors.IllegalTransition, match=r"'suspended'.*'suspended'"):
            await lifecycle.transition_service(
                db, conn, service_id, ServiceEvent.SUSPENDED, note="again"
            )
    assert moved == ServiceState.SUSPENDED
    assert await events(db, order_id) == [
        (
            "service_suspended",
            {"service_id": service_id, "from": "active", "to": "suspended", "event": "suspended"},
        )
    ]


async def test_a_concurrent_change_is_detected_not_overwritten(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: the race needs row locks (PostgreSQL)")
    order_id = await new_order(db, OrderState.PROVISIONING)
    async with db.begin() as other:
        # Another transaction moves the order first and holds the row until it commits.
        await other.execute(
            schema.orders.update()
            .where(schema.orders.c.id == order_id)
            .values(state=OrderState.CANCELLED)
        )

        async def fail() -> None:
            async with db.begin() as conn:
                await lifecycle.transition_order(db, conn, order_id, OrderEvent.FAILED, note="x")

        racing = asyncio.create_task(fail())
        await asyncio.sleep(0.3)  # the guarded UPDATE now waits on the row lock
        assert not racing.done()
    with pytest.raises(errors.Conflict, match="left 'provisioning' before 'failed'"):
        await racing
    assert await order_state(db, order_id) == "cancelled"
