"""Reserve-then-charge, on both databases: a checkout holds capacity and an address.

Through the operator API and the payment simulators: the hold counts on the host at
checkout, a full location answers 409 and creates nothing at the gateway, a paid order
adopts its hold (same host and address, counted once), the reconciler's pass gives expired
holds back, cancelling and `DELETE /api/v1/holds/{id}` give them back, and concurrent
checkouts for the last slot end with exactly one hold.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.allocation import holds
from fluxbilling.billing import checkout
from fluxbilling.db import schema
from tests.integration.accounts import audit_rows
from tests.integration.payments import PaymentSims, checkout_order, driver_for
from tests.integration.support import activity, drain, place_order, rows, run_of, service_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

GATEWAY = "mollie"


async def one_slot(installation: bootstrap.Installation) -> int:
    """Leave room for exactly one order (40 GB of disk on the first host); its id."""
    hosts = schema.hosts
    async with installation.db.begin() as conn:
        first = (await conn.execute(sa.select(sa.func.min(hosts.c.id)))).scalar_one()
        await conn.execute(hosts.update().values(disk_gb_total=0))
        await conn.execute(hosts.update().where(hosts.c.id == first).values(disk_gb_total=40))
    return int(first)


async def used(installation: bootstrap.Installation) -> list[tuple[int, int, int]]:
    """(ram, vcpus, disk) used on every host, in id order."""
    h = schema.hosts
    found = await rows(
        installation,
        sa.select(h.c.ram_mb_used, h.c.vcpus_used, h.c.disk_gb_used).order_by(h.c.id),
    )
    return [tuple(r) for r in found]


async def held(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await api.get("/api/v1/holds", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def addresses(installation: bootstrap.Installation) -> list[tuple[int | None, str]]:
    """The leases owned by an order (a released one cools down, owned by none)."""
    a = schema.ip_addresses
    found = await rows(
        installation,
        sa.select(a.c.order_id, a.c.address).where(a.c.state == "leased").order_by(a.c.id),
    )
    return [(r.order_id, r.address) for r in found]


async def cooling(installation: bootstrap.Installation) -> list[tuple[int | None, str]]:
    """Released leases: the order they last belonged to, and the address."""
    a = schema.ip_addresses
    found = await rows(
        installation,
        sa.select(a.c.last_order_id, a.c.address).where(a.c.state == "cooling").order_by(a.c.id),
    )
    return [(r.last_order_id, r.address) for r in found]


async def events(installation: bootstrap.Installation, order_id: int) -> list[str]:
    return [e.event for e in await activity(installation, order_id) if e.event.startswith("hold")]


@dataclass(frozen=True)
class Shop:
    """The installation, its operator API, and the customer paying at the gateway."""

    installation: bootstrap.Installation
    api: httpx.AsyncClient
    client: httpx.AsyncClient
    payments: PaymentSims

    async def checkout(self, hostname: str) -> tuple[int, int, str]:
        """A new order checked out at the gateway: (order id, invoice id, gateway ref)."""
        return await checkout_order(self.installation, self.api, GATEWAY, hostname)

    async def pay(self, ref: str) -> None:
        """The customer pays checkout `ref`; the gateway notifies us."""
        driver = driver_for(GATEWAY, self.payments, self.client)
        await driver.pay(ref)
        await driver.notify()


@pytest.fixture
def shop(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> Shop:
    return Shop(installation, api, client, payments)


async def test_a_checkout_holds_capacity_and_an_address_and_a_new_attempt_extends_it(
    shop: Shop,
) -> None:
    order_id, invoice_id, _ = await shop.checkout("h1.example")

    (hold,) = await held(shop.api, state="held")
    assert (hold["order_id"], hold["ram_mb"], hold["vcpus"], hold["disk_gb"]) == (
        order_id,
        2048,
        2,
        40,
    )
    assert hold["host_name"] and hold["address"]
    ttl = datetime.fromisoformat(hold["expires_at"]) - datetime.fromisoformat(hold["created_at"])
    assert timedelta(minutes=29) < ttl <= timedelta(minutes=31)  # the default TTL, DB clock
    assert sorted(await used(shop.installation))[-1] == (2048, 2, 40)
    assert await addresses(shop.installation) == [(order_id, hold["address"])]

    response = await shop.api.post(
        f"/api/v1/invoices/{invoice_id}/checkout", json={"gateway": GATEWAY}
    )
    assert response.status_code == 201, response.text

    (again,) = await held(shop.api)
    assert (again["id"], again["host_id"], again["address"]) == (
        hold["id"],
        hold["host_id"],
        hold["address"],
    )
    assert again["expires_at"] >= hold["expires_at"]
    assert sum(u[0] for u in await used(shop.installation)) == 2048  # held once, not twice
    assert await events(shop.installation, order_id) == ["hold_placed", "hold_extended"]
    shown = (await shop.api.get(f"/api/v1/orders/{order_id}")).json()
    assert (shown["hold"]["id"], shown["hold"]["state"]) == (hold["id"], "held")


async def test_a_full_location_answers_409_and_creates_nothing_at_the_gateway(shop: Shop) -> None:
    await one_slot(shop.installation)
    first, _, _ = await shop.checkout("first.example")
    assert len(shop.payments.mollie.payments) == 1
    created = await place_order(shop.installation, "second.example")

    response = await shop.api.post(
        f"/api/v1/invoices/{created['invoice']['id']}/checkout", json={"gateway": GATEWAY}
    )

    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "CapacityExhausted"
    assert error["message"].startswith("no capacity in ")
    assert error["message"].endswith(": cannot take payment")
    assert " for " in error["message"]
    assert len(shop.payments.mollie.payments) == 1  # no gateway object for the second order
    assert [h["order_id"] for h in await held(shop.api)] == [first]
    invoice = (await shop.api.get(f"/api/v1/invoices/{created['invoice']['id']}")).json()
    assert invoice["attempts"] == []


async def test_a_paid_order_adopts_its_hold_and_counts_it_once(shop: Shop) -> None:
    order_id, _, ref = await shop.checkout("paid.example")
    (hold,) = await held(shop.api)

    await shop.pay(ref)
    await drain(shop.installation)

    assert (await run_of(shop.installation, order_id)).state == "completed"
    service = await service_of(shop.installation, order_id)
    assert service.host_id == hold["host_id"]
    assert await addresses(shop.installation) == [(order_id, hold["address"])]
    assert sum(u[0] for u in await used(shop.installation)) == 2048
    (after,) = await held(shop.api)
    assert (after["state"], after["reason"]) == ("consumed", "adopted by allocation")
    assert await events(shop.installation, order_id) == ["hold_placed", "hold_consumed"]


async def test_an_expired_hold_is_given_back_by_the_reconciler_and_payment_reserves_again(
    shop: Shop,
) -> None:
    order_id, _, ref = await shop.checkout("late.example")
    await expire_all(shop.installation)

    report = await shop.installation.reconciler().run_once()

    assert report.holds_expired == 1
    assert await used(shop.installation) == [(0, 0, 0)] * 3
    assert await addresses(shop.installation) == []
    assert [order for order, _ in await cooling(shop.installation)] == [order_id]
    (hold,) = await held(shop.api, state="expired")
    assert hold["reason"] == "not paid in time"
    assert await held(shop.api, state="held") == []
    assert (await shop.installation.reconciler().run_once()).holds_expired == 0  # once

    await shop.pay(ref)  # capacity remains: it just reserves again
    await drain(shop.installation)
    assert (await run_of(shop.installation, order_id)).state == "completed"
    assert sum(u[0] for u in await used(shop.installation)) == 2048
    assert await events(shop.installation, order_id) == ["hold_placed", "hold_expired"]


async def test_a_payment_after_expiry_parks_when_the_slot_was_taken(shop: Shop) -> None:
    await one_slot(shop.installation)
    order_id, _, ref = await shop.checkout("slow.example")
    await expire_all(shop.installation)
    assert await holds.sweep(shop.installation.db) == 1
    await shop.checkout("fast.example")  # takes the slot

    await shop.pay(ref)
    await drain(shop.installation)

    run = await run_of(shop.installation, order_id)
    assert (run.state, run.phase) == ("queued", "allocation")
    assert run.wait_reason.startswith("no capacity")


async def test_a_hold_the_sweep_did_not_reach_yet_is_still_adopted(shop: Shop) -> None:
    order_id, _, ref = await shop.checkout("edge.example")
    await expire_all(shop.installation)

    await shop.pay(ref)
    await drain(shop.installation)

    assert (await run_of(shop.installation, order_id)).state == "completed"
    assert (await held(shop.api))[0]["state"] == "consumed"
    assert await holds.sweep(shop.installation.db) == 0
    assert sum(u[0] for u in await used(shop.installation)) == 2048


@pytest.mark.parametrize("how", ["order", "run", "refund policy"])
async def test_cancelling_the_order_releases_its_hold(shop: Shop, how: str) -> None:
    order_id, _, ref = await shop.checkout("cancel.example")
    await shop.pay(ref)  # paid: a run is queued, no worker took it yet
    run = await run_of(shop.installation, order_id)

    if how == "order":
        response = await shop.api.post(f"/api/v1/orders/{order_id}/cancel")
        assert response.status_code == 200, response.text
    elif how == "run":
        response = await shop.api.post(f"/api/v1/runs/{run.id}/cancel")
        assert response.status_code == 200, response.text
    else:  # what the refund policy does when the money goes back before provisioning
        await shop.installation.store.cancel(run.id, actor="billing (refunded)")

    (hold,) = await held(shop.api, state="released")
    who = "billing (refunded)" if how == "refund policy" else "installation-token"
    assert hold["reason"] == f"{who} cancelled the order"
    assert await used(shop.installation) == [(0, 0, 0)] * 3
    assert await addresses(shop.installation) == []
    assert [order for order, _ in await cooling(shop.installation)] == [order_id]
    assert await events(shop.installation, order_id) == ["hold_placed", "hold_released"]


async def test_an_operator_releases_a_hold_once_and_it_is_audited(shop: Shop) -> None:
    order_id, _, _ = await shop.checkout("op.example")
    (hold,) = await held(shop.api)

    response = await shop.api.delete(f"/api/v1/holds/{hold['id']}")

    assert response.status_code == 200, response.text
    assert response.json()["state"] == "released"
    assert await used(shop.installation) == [(0, 0, 0)] * 3
    (row,) = await audit_rows(shop.installation, "hold.release")
    assert (row.entity_id, row.changes) == (
        str(hold["id"]),
        {"order_id": order_id, "state": "released"},
    )
    again = await shop.api.delete(f"/api/v1/holds/{hold['id']}")
    assert again.status_code == 409, again.text
    assert "released" in again.json()["error"]["message"]
    assert (await shop.api.delete("/api/v1/holds/999999")).status_code == 404
    bad = await shop.api.get("/api/v1/holds", params={"state": "lost"})
    assert bad.status_code == 422, bad.text


async def test_concurrent_checkouts_for_the_last_slot_leave_exactly_one_hold(shop: Shop) -> None:
    await one_slot(shop.installation)
    invoices = [
        (await place_order(shop.installation, f"race{i}.example"))["invoice"]["id"]
        for i in range(6)
    ]

    answers = await asyncio.gather(
        *(
            shop.api.post(f"/api/v1/invoices/{i}/checkout", json={"gateway": GATEWAY})
            for i in invoices
        )
    )

    assert sorted(a.status_code for a in answers) == [201] + [409] * 5
    assert len(await held(shop.api, state="held")) == 1
    assert len(shop.payments.mollie.payments) == 1
    assert sorted(await used(shop.installation))[-1] == (2048, 2, 40)
    assert len(await addresses(shop.installation)) == 1


async def test_concurrent_sweeps_give_each_hold_back_once(shop: Shop) -> None:
    for i in range(5):
        await shop.checkout(f"sweep{i}.example")
    await expire_all(shop.installation)

    counts = await asyncio.gather(*(holds.sweep(shop.installation.db, limit=3) for _ in range(3)))
    counts.append(await holds.sweep(shop.installation.db, limit=3))

    assert sum(counts) == 5
    assert await used(shop.installation) == [(0, 0, 0)] * 3
    assert len(await held(shop.api, state="expired")) == 5


async def expire_all(installation: bootstrap.Installation) -> None:
    """Move every hold's deadline into the past (as the clock would after the TTL)."""
    async with installation.db.begin() as conn:
        await conn.execute(schema.holds.update().values(expires_at=installation.db.now(-60)))


async def test_a_ttl_of_zero_takes_payment_without_holding(shop: Shop) -> None:
    created = await place_order(shop.installation, "nohold.example")

    started = await checkout.start_checkout(
        shop.installation.db,
        shop.installation.gateways[GATEWAY],
        created["invoice"]["id"],
        public_url="http://shop.test",
        hold_ttl_minutes=0,
    )

    assert started.gateway_ref in shop.payments.mollie.payments
    assert await held(shop.api) == []
    assert await used(shop.installation) == [(0, 0, 0)] * 3


async def test_concurrent_checkouts_of_one_invoice_hold_once(shop: Shop) -> None:
    created = await place_order(shop.installation, "tabs.example")
    path = f"/api/v1/invoices/{created['invoice']['id']}/checkout"

    answers = await asyncio.gather(
        *(shop.api.post(path, json={"gateway": GATEWAY}) for _ in range(4))
    )

    assert [a.status_code for a in answers] == [201] * 4
    (hold,) = await held(shop.api, state="held")
    assert hold["order_id"] == created["order"]["id"]
    assert sum(u[0] for u in await used(shop.installation)) == 2048
    assert len(await addresses(shop.installation)) == 1
    assert (
        await events(shop.installation, hold["order_id"]) == ["hold_placed"] + ["hold_extended"] * 3
    )
