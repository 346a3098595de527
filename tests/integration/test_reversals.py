"""Refunds and chargebacks: recorded under their gateway ids, the product's policy applied once."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.billing.gateways.stripe import verify as stripe_verify
from fluxbilling.billing.webhooks import Ingested
from fluxbilling.db import schema
from fluxbilling_simulators import stripe as stripe_sim
from fluxbilling_simulators.solusvm2 import SolusVM2State
from tests.integration.support import activity, drain, finish, place_order, poll_every, rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def deliver(inst: bootstrap.Installation, body: bytes) -> Ingested:
    now = int(time.time())
    headers = {"Stripe-Signature": stripe_verify.sign(body, inst.stripe_secrets[0], now)}
    return await inst.stripe_endpoint().ingest(body, headers, remote="127.0.0.1", now=now)


async def paid_order(inst: bootstrap.Installation, hostname: str) -> tuple[int, str, int]:
    """An order paid through Checkout; (order id, its PaymentIntent, amount)."""
    created = await place_order(inst, hostname)
    invoice = created["invoice"]
    body = stripe_sim.checkout_completed(invoice["id"], invoice["amount_minor"], "EUR")
    intent = json.loads(body)["data"]["object"]["payment_intent"]
    assert (await deliver(inst, body)).outcome == "processed"
    return int(created["order"]["id"]), intent, int(invoice["amount_minor"])


async def state(inst: bootstrap.Installation, order_id: int) -> dict[str, Any]:
    (order,) = await rows(inst, sa.select(schema.orders).where(schema.orders.c.id == order_id))
    (invoice,) = await rows(
        inst, sa.select(schema.invoices).where(schema.invoices.c.order_id == order_id)
    )
    services = await rows(
        inst, sa.select(schema.services).where(schema.services.c.order_id == order_id)
    )
    return {
        "order": order.state,
        "invoice": invoice.status,
        "service": services[0].status if services else None,
    }


async def test_a_full_refund_suspends_the_service_through_its_plugin_once(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    order_id, intent, amount = await paid_order(installation, "refund-1.example.net")
    assert (await finish(installation, order_id)).state == "completed"

    partial = stripe_sim.charge_refunded(intent, amount, amount // 4, "EUR", charge_id="ch_r1")
    assert (await deliver(installation, partial)).outcome == "refund_partial"
    assert await state(installation, order_id) == {
        "order": "active",
        "invoice": "paid",
        "service": "active",
    }

    full = stripe_sim.charge_refunded(intent, amount, amount, "EUR", charge_id="ch_r1")
    first = await deliver(installation, full)
    assert first.outcome == "refund_full"
    again = await deliver(installation, full)  # a redelivery (new event id, same refund)
    assert again.outcome == "duplicate"
    await drain(installation)
    assert await state(installation, order_id) == {
        "order": "active",
        "invoice": "refunded",
        "service": "suspended",
    }
    (server,) = sim.servers.values()
    assert server["is_suspended"] is True
    (reversal,) = await rows(installation, sa.select(schema.money_reversals))
    assert (reversal.gateway_object_id, reversal.amount_minor, reversal.full) == (
        "ch_r1",
        amount,
        True,
    )
    assert reversal.applied.startswith("suspend queued")
    suspends = await rows(
        installation,
        sa.select(schema.service_actions).where(schema.service_actions.c.verb == "suspend"),
    )
    assert len(suspends) == 1 and suspends[0].requested_by == "billing"
    events = [e.event for e in await activity(installation, order_id)]
    assert events.count("payment_refund") == 2  # partial, then full
    assert events.count("reversal_policy") == 1


async def test_a_chargeback_suspends_and_a_policy_of_none_only_records(
    installation: bootstrap.Installation,
) -> None:
    order_id, intent, amount = await paid_order(installation, "dispute-1.example.net")
    assert (await finish(installation, order_id)).state == "completed"
    assert (
        await deliver(installation, stripe_sim.dispute_created(intent, amount, "EUR"))
    ).outcome == "dispute_full"
    await drain(installation)
    assert (await state(installation, order_id))["service"] == "suspended"
    assert (await state(installation, order_id))["invoice"] == "disputed"

    other, other_intent, other_amount = await paid_order(installation, "dispute-2.example.net")
    assert (await finish(installation, other)).state == "completed"
    (product,) = await rows(installation, sa.select(schema.products))
    async with installation.db.begin() as conn:
        await conn.execute(
            schema.products.update().values(options={**product.options, "refund_policy": "none"})
        )
    body = stripe_sim.dispute_created(other_intent, other_amount, "EUR")
    assert (await deliver(installation, body)).outcome == "dispute_full"
    await drain(installation)
    assert (await state(installation, other))["service"] == "active"
    messages = [e.message for e in await activity(installation, other)]
    assert any("recorded only (policy none)" in m for m in messages)


async def test_a_refund_before_the_payment_is_stored_and_nothing_is_provisioned(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    created = await place_order(installation, "early-refund.example.net")
    invoice = created["invoice"]
    paid = stripe_sim.checkout_completed(invoice["id"], invoice["amount_minor"], "EUR")
    intent = json.loads(paid)["data"]["object"]["payment_intent"]
    refund = stripe_sim.charge_refunded(
        intent, invoice["amount_minor"], invoice["amount_minor"], "EUR"
    )
    assert (await deliver(installation, refund)).outcome == "reversal_stored"
    late = await deliver(installation, paid)
    assert late.outcome == "reversed"
    await drain(installation)
    order_id = int(created["order"]["id"])
    assert await state(installation, order_id) == {
        "order": "awaiting_payment",
        "invoice": "refunded",
        "service": None,
    }
    assert await rows(installation, sa.select(schema.runs)) == []
    assert sim.servers == {}
    (payment,) = await rows(installation, sa.select(schema.payments))
    assert payment.alias_id == intent


async def test_a_refund_while_provisioning_cancels_the_run(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    sim.polls_until_started = 50
    await poll_every(installation, 3600)  # provisioning stays in flight at its first wait
    order_id, intent, amount = await paid_order(installation, "mid-refund.example.net")
    await drain(installation)
    full = stripe_sim.charge_refunded(intent, amount, amount, "EUR")
    assert (await deliver(installation, full)).outcome == "refund_full"
    (run,) = await rows(
        installation, sa.select(schema.runs).where(schema.runs.c.kind == "provision")
    )
    assert run.state == "cancelled"
    assert (await state(installation, order_id))["order"] == "cancelled"
    (reversal,) = await rows(installation, sa.select(schema.money_reversals))
    assert reversal.applied == "provisioning cancelled"


async def test_late_failures_never_downgrade_a_paid_invoice(
    installation: bootstrap.Installation,
) -> None:
    created = await place_order(installation, "late-fail.example.net")
    invoice = created["invoice"]
    paid = stripe_sim.checkout_completed(invoice["id"], invoice["amount_minor"], "EUR")
    assert (await deliver(installation, paid)).outcome == "processed"
    expired = json.loads(paid)
    expired["id"] = "evt_expired_after_paid"
    expired["type"] = "checkout.session.expired"
    result = await deliver(installation, json.dumps(expired).encode())
    assert result.outcome == "ignored"
    assert "no downgrade" in result.detail
    assert (await state(installation, int(created["order"]["id"])))["invoice"] == "paid"
