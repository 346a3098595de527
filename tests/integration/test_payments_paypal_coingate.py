"""What only PayPal and only CoinGate have, through `POST /webhooks/{gateway}`, on both databases.

PayPal: the certificate URL comes from the unverified request (refused before anything is
fetched), the signature covers every body byte and *our* webhook id, and an event delivered
again later is a duplicate. CoinGate: the per-order callback token (a wrong or missing one is
400, never 401/403/3xx, which would end CoinGate's retries), orders we never created, the
posted status never trusted, underpayments left to a human, and tokens masked for the operator.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from fluxbilling import bootstrap
from fluxbilling.billing.gateways.paypal import PayPalGateway
from fluxbilling_simulators import coingate as coingate_sim
from fluxbilling_simulators import paypal as paypal_sim
from fluxbilling_simulators._coingate_state import Callback, CoinGateState, encode_callback
from fluxbilling_simulators._paypal_state import PayPalState
from tests.integration.payments import (
    COINGATE_TOKEN,
    PAID,
    UNPAID,
    PaymentSims,
    checkout_order,
    deliveries,
    driver_for,
    ledger_state,
)

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def newest(api: httpx.AsyncClient, gateway: str) -> dict[str, Any]:
    """The gateway's most recent delivery as the operator sees it."""
    return (await deliveries(api, gateway=gateway))[0]


# -- PayPal ------------------------------------------------------------------------------


def transmission(
    state: PayPalState, body: bytes, *, webhook_id: str | None = None
) -> dict[str, str]:
    """The five headers of a fresh transmission of `body`, signed by the simulator's key."""
    sent_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return state.sign(body, str(uuid.uuid4()), sent_at, webhook_id=webhook_id)


async def approved_order(
    inst: bootstrap.Installation, api: httpx.AsyncClient, payments: PaymentSims, host: str
) -> tuple[int, str, str]:
    """An order whose PayPal checkout the payer approved: (order id, PayPal order, event id)."""
    order_id, _, ref = await checkout_order(inst, api, "paypal", host)
    event_id = payments.paypal.approve(ref)
    return order_id, ref, event_id


def paypal_gateway(inst: bootstrap.Installation) -> PayPalGateway:
    gateway = inst.gateways["paypal"]
    assert isinstance(gateway, PayPalGateway)
    return gateway


@pytest.mark.parametrize(
    "cert_url",
    [
        "https://evil.example/v1/notifications/certs/CERT-1",
        "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1",
        "https://api.paypal.com@evil.example/v1/notifications/certs/CERT-1",
        "http://api.paypal.com/v1/notifications/certs/CERT-1",
    ],
)
async def test_a_foreign_certificate_url_is_refused_before_anything_is_fetched(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
    cert_url: str,
) -> None:
    order_id, ref, event_id = await approved_order(installation, api, payments, "cert-1.example")
    body = payments.paypal.notifications[event_id].body
    headers = {**transmission(payments.paypal, body), "PAYPAL-CERT-URL": cert_url}
    requests, fetches = payments.paypal.requests, paypal_gateway(installation).certs.fetches

    response = await client.post("/webhooks/paypal", content=body, headers=headers)

    assert response.status_code == 400, response.text
    delivery = await newest(api, "paypal")
    assert (delivery["verification"], delivery["outcome"]) == ("invalid", "rejected")
    assert "certificate URL" in delivery["reason"]
    # Neither the certificate nor anything else was asked for; the order was not captured.
    assert payments.paypal.requests == requests
    assert paypal_gateway(installation).certs.fetches == fetches
    assert payments.paypal.order(ref)["status"] == "APPROVED"
    assert await ledger_state(installation, order_id) == UNPAID


async def test_a_changed_byte_or_another_webhook_id_is_refused_and_the_genuine_event_still_counts(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    order_id, ref, event_id = await approved_order(installation, api, payments, "sig-1.example")
    body = payments.paypal.notifications[event_id].body
    tampered = body.replace(b"has been approved", b"has been Approved", 1)
    assert (
        len(tampered) == len(body) and sum(a != b for a, b in zip(body, tampered, strict=True)) == 1
    )
    forgeries = [
        (tampered, transmission(payments.paypal, body)),  # signed over the original bytes
        (body, transmission(payments.paypal, body, webhook_id="0WEBHOOK4NOTOURS")),
    ]

    for forged, headers in forgeries:
        response = await client.post("/webhooks/paypal", content=forged, headers=headers)
        assert response.status_code == 400, response.text
        delivery = await newest(api, "paypal")
        assert (delivery["verification"], delivery["outcome"]) == ("invalid", "rejected")
        assert "signature" in delivery["reason"]
    assert payments.paypal.order(ref)["status"] == "APPROVED"  # never captured
    assert await ledger_state(installation, order_id) == UNPAID

    # The refused deliveries recorded no event id: the genuine one is processed.
    sent = await paypal_sim.Notifier(payments.paypal, client).deliver(event_id)
    assert sent.status == 200
    assert (await newest(api, "paypal"))["outcome"] == "processed"
    assert await ledger_state(installation, order_id) == PAID


async def test_a_valid_old_event_delivered_again_later_is_a_duplicate(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    order_id, _, event_id = await approved_order(installation, api, payments, "old-1.example")
    notifier = paypal_sim.Notifier(payments.paypal, client)
    first = await notifier.deliver(event_id)
    assert first.status == 200
    await driver_for("paypal", payments, client).notify()  # the capture's own event
    assert await ledger_state(installation, order_id) == PAID
    body = payments.paypal.notifications[event_id].body

    replayed = await client.post("/webhooks/paypal", content=body, headers=first.headers)
    again = await notifier.redeliver(event_id)  # PayPal's resend: a new transmission

    assert replayed.status_code == 200 and replayed.json()["outcome"] == "duplicate"
    assert again.status == 200
    assert (await newest(api, "paypal"))["outcome"] == "duplicate"
    assert len(payments.paypal.captures) == 1
    assert await ledger_state(installation, order_id) == PAID


# -- CoinGate ----------------------------------------------------------------------------


def queued(state: CoinGateState, order: int, status: str) -> Callback:
    """The queued callback of `order` announcing `status`."""
    return next(
        c
        for c in (state.callbacks[i] for i in state.queue)
        if c.order_id == order and c.status == status
    )


async def post_callback(
    client: httpx.AsyncClient, fields: dict[str, Any], fmt: str = "form"
) -> httpx.Response:
    """POST a callback body exactly as CoinGate encodes it."""
    body, content_type = encode_callback(fields, fmt)
    headers = {"Content-Type": content_type, "User-Agent": coingate_sim.USER_AGENT}
    return await client.post("/webhooks/coingate", content=body, headers=headers)


@pytest.mark.parametrize("token", ["not-the-order-token", None], ids=["wrong", "missing"])
async def test_a_callback_with_a_wrong_or_no_token_is_400_and_applies_nothing(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
    token: str | None,
) -> None:
    order_id, _, ref = await checkout_order(installation, api, "coingate", "tok-1.example")
    await driver_for("coingate", payments, client).pay(ref)  # paid at CoinGate
    fields = dict(queued(payments.coingate, int(ref), "paid").fields)
    if token is None:
        del fields["token"]
    else:
        fields["token"] = token

    response = await post_callback(client, fields)

    # 400 is CoinGate's "try again"; 401, 403 and redirects would end its retries for good.
    assert response.status_code == 400, response.text
    delivery = await newest(api, "coingate")
    assert (delivery["verification"], delivery["outcome"]) == ("invalid", "rejected")
    assert "token" in delivery["reason"]
    assert await ledger_state(installation, order_id) == UNPAID


async def test_a_callback_for_an_order_we_never_created_is_acknowledged_and_ignored(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    order_id, invoice_id, _ = await checkout_order(installation, api, "coingate", "unk-1.example")
    forged = {  # names our invoice, but an order id our checkout never got from CoinGate
        "id": 987654,
        "order_id": str(invoice_id),
        "status": "paid",
        "price_amount": "12.0",
        "price_currency": "EUR",
        "token": "anything",
    }

    response = await post_callback(client, forged)

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "unknown_resource"
    delivery = await newest(api, "coingate")
    assert delivery["outcome"] == "unknown_resource"
    assert "987654" in delivery["reason"]
    assert await ledger_state(installation, order_id) == UNPAID


async def test_the_posted_status_is_never_trusted_over_the_order_at_coingate(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    order_id, _, ref = await checkout_order(installation, api, "coingate", "lie-1.example")
    payments.coingate.choose_currency(int(ref))  # pending at CoinGate
    fields = dict(queued(payments.coingate, int(ref), "pending").fields)
    fields.update(status="paid", underpaid_amount="0")  # the genuine token, a false status

    response = await post_callback(client, fields)

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "pending"
    assert await ledger_state(installation, order_id) == UNPAID


@pytest.mark.parametrize("ending", ["expire", "accept_underpaid"])
async def test_an_underpaid_order_is_not_paid_and_the_operator_sees_it(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
    ending: str,
) -> None:
    order_id, invoice_id, ref = await checkout_order(
        installation, api, "coingate", "under-1.example"
    )
    payments.coingate.underpay(int(ref), "0.5")
    getattr(payments.coingate, ending)(int(ref))

    statuses = await driver_for("coingate", payments, client).notify()

    assert statuses and set(statuses) == {200}, statuses
    assert await ledger_state(installation, order_id) == UNPAID
    seen = await deliveries(api, invoice_id=invoice_id)
    underpaid = [d for d in seen if d["outcome"] == "underpaid"]
    assert len(underpaid) == 1, seen
    assert "underpaid" in underpaid[0]["reason"]
    assert {d["outcome"] for d in seen} <= {"pending", "underpaid", "duplicate"}
    listed = await deliveries(api, gateway="coingate", outcome="underpaid")
    assert [d["invoice_id"] for d in listed] == [invoice_id]


@pytest.mark.parametrize("fmt", ["form", "json"])
async def test_tokens_never_reach_the_operator_view(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
    fmt: str,
) -> None:
    payments.coingate.callback_format = fmt
    order_id, _, ref = await checkout_order(installation, api, "coingate", "mask-1.example")
    await driver_for("coingate", payments, client).pay(ref)
    await driver_for("coingate", payments, client).notify()
    assert (await ledger_state(installation, order_id))["invoice"] == "paid"
    callback_token = str(payments.coingate.order(int(ref))["_token"])

    listed = await deliveries(api, gateway="coingate")
    assert len(listed) == 3  # pending, confirming, paid
    for item in listed:
        response = await api.get(f"/api/v1/webhook-deliveries/{item['id']}")
        assert response.status_code == 200
        text = response.text
        assert callback_token not in text and COINGATE_TOKEN not in text
        body = response.json()["body"]
        if fmt == "json":
            assert json.loads(body)["token"] == "***"
        else:
            assert "token=***" in body
