"""Gateway objects that do not match our invoice, for every gateway, on both databases.

The customer pays, the gateway notifies genuinely, but what was paid is not what we asked
for: a lower amount, another currency, or an object our checkout never created that names
an invoice we do not have. Nothing is paid or provisioned, every notification is still
acknowledged (200, so the gateway stops retrying), and the operator sees why.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.billing.gateways.coingate import checkout as coingate_checkout
from fluxbilling.billing.gateways.mollie import checkout as mollie_checkout
from fluxbilling.billing.gateways.paypal import checkout as paypal_checkout
from fluxbilling.db import schema
from tests.integration.payments import (
    GATEWAYS,
    PUBLIC_URL,
    UNPAID,
    PaymentSims,
    checkout_order,
    deliveries,
    driver_for,
    ledger_state,
)
from tests.integration.support import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

NO_SUCH_INVOICE = 999999


@pytest.fixture(params=GATEWAYS)
def gateway(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def set_price(sims: PaymentSims, gateway: str, ref: str, minor: int, currency: str) -> None:
    """Change what the gateway object asks the customer for (after our checkout made it)."""
    value = f"{Decimal(minor).scaleb(-2):.2f}"
    if gateway == "stripe":
        sims.stripe.sessions[ref].update(
            amount_total=minor, amount_subtotal=minor, currency=currency.lower()
        )
    elif gateway == "mollie":
        sims.mollie.payments[ref]["amount"] = {"value": value, "currency": currency}
    elif gateway == "paypal":
        unit = sims.paypal.orders[ref]["purchase_units"][0]
        unit["amount"] = {"currency_code": currency, "value": value}
    else:
        sims.coingate.orders[int(ref)].update(price_amount=value, price_currency=currency)


async def invoice_of(api: httpx.AsyncClient, invoice_id: int) -> dict[str, Any]:
    response = await api.get(f"/api/v1/invoices/{invoice_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def pay_mismatched(
    inst: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    sims: PaymentSims,
    gateway: str,
    change: Callable[[dict[str, Any]], tuple[int, str]],
) -> tuple[int, int, list[dict[str, Any]]]:
    """Check out, change the object's price with `change(invoice)`, pay and notify.

    Returns:
        The order id, the invoice id, and the gateway's deliveries (newest first).
    """
    order_id, invoice_id, ref = await checkout_order(inst, api, gateway, f"{gateway}-m.example")
    set_price(sims, gateway, ref, *change(await invoice_of(api, invoice_id)))
    driver = driver_for(gateway, sims, client)
    await driver.pay(ref)
    statuses = await driver.notify()
    assert statuses and set(statuses) == {200}, statuses
    return order_id, invoice_id, await deliveries(api, gateway=gateway)


async def test_a_lower_amount_at_the_gateway_does_not_pay_the_invoice(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
    gateway: str,
) -> None:
    order_id, invoice_id, seen = await pay_mismatched(
        installation,
        api,
        client,
        payments,
        gateway,
        lambda invoice: (invoice["amount_minor"] - 100, invoice["currency"]),
    )

    assert await ledger_state(installation, order_id) == UNPAID
    outcomes = {d["outcome"] for d in seen}
    assert "processed" not in outcomes, seen
    # CoinGate too: the order is `paid` with nothing underpaid, only its price is lower.
    rejected = [d for d in seen if d["outcome"] == "rejected"]
    assert rejected, seen
    total = (await invoice_of(api, invoice_id))["amount_minor"]
    for delivery in rejected:
        assert delivery["invoice_id"] == invoice_id
        assert f"underpaid: {total - 100} < {total} EUR" in delivery["reason"]
    by_invoice = await deliveries(api, invoice_id=invoice_id, outcome="rejected")
    assert [d["id"] for d in by_invoice] == [d["id"] for d in rejected]


async def test_another_currency_at_the_gateway_does_not_pay_the_invoice(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
    gateway: str,
) -> None:
    order_id, _, seen = await pay_mismatched(
        installation,
        api,
        client,
        payments,
        gateway,
        lambda invoice: (invoice["amount_minor"], "USD"),
    )

    assert await ledger_state(installation, order_id) == UNPAID
    assert "processed" not in {d["outcome"] for d in seen}, seen
    rejected = [d for d in seen if d["outcome"] == "rejected"]
    assert rejected, seen
    for delivery in rejected:
        assert "currency USD does not match the invoice's EUR" in delivery["reason"]


def create_elsewhere(sims: PaymentSims, gateway: str, amount_minor: int) -> str:
    """A payment object made at the gateway, not by our checkout, naming an invoice we never
    had; the customer then pays it. Its id."""
    ours = NO_SUCH_INVOICE
    back = f"{PUBLIC_URL}/elsewhere"
    if gateway == "stripe":
        params: dict[str, Any] = {
            "mode": "payment",
            "success_url": back,
            "client_reference_id": str(ours),
            "metadata": {"invoice_id": str(ours)},
            "payment_intent_data": {"metadata": {"invoice_id": str(ours)}},
            "line_items": [
                {
                    "quantity": "1",
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": str(amount_minor),
                        "product_data": {"name": "Elsewhere"},
                    },
                }
            ],
        }
        items = sims.stripe.validate_create(params)
        assert isinstance(items, list), items
        ref = str(sims.stripe.create_session(params, items, "test")["id"])
        sims.stripe.pay(ref)
    elif gateway == "mollie":
        body = mollie_checkout.checkout_request(
            ours, amount_minor, "EUR", "Elsewhere", back, f"{PUBLIC_URL}/webhooks/mollie"
        )
        ref = str(sims.mollie.create_payment(body, "test")["id"])
        sims.mollie.pay(ref)
    elif gateway == "paypal":
        ref = str(
            sims.paypal.create_order(paypal_checkout.order_request(str(ours), amount_minor, "EUR"))[
                "id"
            ]
        )
        sims.paypal.approve(ref)
        sims.paypal.capture_order(ref)  # captured by whoever made it
    else:
        body_cg = coingate_checkout.order_request(
            ours,
            amount_minor,
            "EUR",
            callback_url=f"{PUBLIC_URL}/webhooks/coingate",
            success_url=back,
            cancel_url=back,
            token="elsewhere-token",
            title="Elsewhere",
        )
        order = int(sims.coingate.create_order(body_cg)["id"])
        sims.coingate.choose_currency(order)
        sims.coingate.pay(order)
        sims.coingate.confirm(order)
        ref = str(order)
    return ref


async def test_a_payment_for_an_invoice_we_never_created_pays_nothing(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
    gateway: str,
) -> None:
    order_id, invoice_id, _ = await checkout_order(installation, api, gateway, "ours.example")
    amount = (await invoice_of(api, invoice_id))["amount_minor"]
    create_elsewhere(payments, gateway, amount)

    statuses = await driver_for(gateway, payments, client).notify()

    assert statuses and set(statuses) == {200}, statuses
    seen = await deliveries(api, gateway=gateway)
    assert len(seen) == len(statuses)
    assert {d["outcome"] for d in seen} <= {"unknown_invoice", "unknown_resource"}, seen
    assert all(d["invoice_id"] is None and d["reason"] for d in seen), seen
    assert await ledger_state(installation, order_id) == UNPAID
    for table in (schema.payments, schema.runs):
        assert await rows(installation, sa.select(table)) == []
