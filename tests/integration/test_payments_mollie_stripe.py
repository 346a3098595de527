"""What only Mollie and only Stripe Checkout have, through the real HTTP endpoints, on both
databases.

Mollie: a classic ping carries nothing but an id, so the re-fetch is the authentication (an id
Mollie does not know is acknowledged and ignored, a malformed body is 400, a failing re-fetch
is 503 and `deferred` until the reconciler's sweep), refunds can fail after they were
recorded, and next-gen events are signed with one of several secrets. Stripe: the reconciler
follows a delayed payment method from pending to paid, and finds a refund whose webhook was lost.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fluxbilling import bootstrap
from fluxbilling_simulators.mollie import MollieNotifier
from tests.integration.payments import (
    PAID,
    PUBLIC_URL,
    UNPAID,
    PaymentSims,
    checkout_order,
    deliveries,
    driver_for,
    ledger_state,
)
from tests.integration.support import activity

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

MOLLIE_URL = f"{PUBLIC_URL}/webhooks/mollie"


# -- Mollie classic ----------------------------------------------------------------------


async def test_a_ping_for_a_payment_mollie_does_not_know_is_acknowledged_and_ignored(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    order_id, _, _ = await checkout_order(installation, api, "mollie", "ping-1.example")
    notifier = MollieNotifier(payments.mollie, client)

    sent = await notifier.deliver(notifier.classic("tr_unknown1", MOLLIE_URL))

    assert sent.status == 200
    (delivery,) = await deliveries(api, gateway="mollie")
    # Nothing vouches for it (anyone can post an id): kept bounded, pruned like a forgery.
    assert (delivery["verification"], delivery["outcome"]) == (
        "unauthenticated",
        "unknown_resource",
    )
    assert "tr_unknown1" in delivery["reason"]
    assert await ledger_state(installation, order_id) == UNPAID


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"id=tr_WDqYK6vllg&status=paid", "application/x-www-form-urlencoded"),
        (b"id=re_WDqYK6vllg", "application/x-www-form-urlencoded"),
        (b"id=", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        (b'{"id": "tr_WDqYK6vllg"}', "application/json"),
    ],
    ids=["extra-field", "not-a-payment", "empty-id", "not-ascii", "json"],
)
async def test_a_malformed_classic_ping_is_400_and_nothing_is_fetched(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
    body: bytes,
    content_type: str,
) -> None:
    before = payments.mollie.requests

    response = await client.post(
        "/webhooks/mollie", content=body, headers={"Content-Type": content_type}
    )

    assert response.status_code == 400, response.text
    (delivery,) = await deliveries(api, gateway="mollie")
    assert (delivery["verification"], delivery["outcome"]) == ("invalid", "rejected")
    assert delivery["reason"]
    assert payments.mollie.requests == before


async def test_a_failing_refetch_is_deferred_then_swept_by_the_reconciler_once(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    order_id, _, ref = await checkout_order(installation, api, "mollie", "defer-1.example")
    driver = driver_for("mollie", payments, client)
    await driver.pay(ref)
    payments.mollie.faults.fail_next(1, 503)

    assert await driver.notify() == [503]
    (deferred,) = await deliveries(api, gateway="mollie")
    assert (deferred["verification"], deferred["outcome"]) == ("pending", "deferred")
    assert "503" in deferred["reason"]
    assert await ledger_state(installation, order_id) == UNPAID

    first = (await api.post("/api/v1/reconciler/run")).json()
    second = (await api.post("/api/v1/reconciler/run")).json()

    assert (first["deliveries"], first["errors"]) == (1, []), first
    assert (second["deliveries"], second["corrected"], second["errors"]) == (0, [], []), second
    (swept,) = await deliveries(api, gateway="mollie")
    assert swept["id"] == deferred["id"]
    assert swept["verification"] == "valid"
    assert swept["outcome"] in ("processed", "already_paid"), swept
    assert await ledger_state(installation, order_id) == PAID


async def test_a_refund_that_fails_after_it_was_recorded_is_voided(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    order_id, invoice_id, ref = await checkout_order(installation, api, "mollie", "void-1.ex")
    driver = driver_for("mollie", payments, client)
    await driver.pay(ref)
    await driver.notify()
    assert await ledger_state(installation, order_id) == PAID
    refund = payments.mollie.refund(ref)  # everything, still "pending" at Mollie
    assert set(await driver.notify()) == {200}
    state = await ledger_state(installation, order_id)
    assert state["invoice"] == "refunded"
    ((kind, refunded, full),) = state["reversals"]
    assert (kind, full) == ("refund", True) and refunded > 0

    payments.mollie.set_refund_status(refund["id"], "failed")
    assert set(await driver.notify()) == {200}

    state = await ledger_state(installation, order_id)
    assert (state["invoice"], state["payments"], state["reversals"]) == (
        "paid",
        1,
        [("refund", 0, False)],
    )
    newest = (await deliveries(api, invoice_id=invoice_id))[0]
    assert newest["outcome"] == "refund_voided"
    assert refund["id"] in newest["reason"]
    events = [a.event for a in await activity(installation, order_id)]
    assert events.count("payment_refund_voided") == 1


async def test_a_reversed_chargeback_stays_voided_when_its_payment_is_fetched_again(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    """Mollie lists a reversed chargeback again, with amount 0, on every later fetch of its
    payment (here the one a partial refund triggers): the invoice must not be disputed again."""
    order_id, _, ref = await checkout_order(installation, api, "mollie", "chb-void.ex")
    driver = driver_for("mollie", payments, client)
    await driver.pay(ref)
    await driver.notify()
    chargeback = payments.mollie.chargeback(ref)
    assert set(await driver.notify()) == {200}
    assert (await ledger_state(installation, order_id))["invoice"] == "disputed"
    payments.mollie.reverse_chargeback(chargeback["id"])
    assert set(await driver.notify()) == {200}
    assert (await ledger_state(installation, order_id))["invoice"] == "paid"

    payments.mollie.refund(ref, 100)
    assert set(await driver.notify()) == {200}

    state = await ledger_state(installation, order_id)
    assert state["invoice"] == "paid"
    assert sorted(state["reversals"]) == [("dispute", 0, False), ("refund", 100, False)]
    events = [a.event for a in await activity(installation, order_id)]
    assert events.count("payment_dispute_voided") == 1
    assert events.count("payment_dispute") == 1


# -- Mollie next-gen (signed events): an installation with two signing secrets -----------


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """This module's installation also has next-gen Mollie secrets ``s1`` (current), ``s0``."""
    return {"mollie_webhook_secret": "s1,s0"}


@pytest.mark.parametrize(
    ("secrets", "status", "outcome"),
    [
        (["s1"], 200, "processed"),
        (["s0"], 200, "processed"),
        (["s9", "s0"], 200, "processed"),  # one header per secret while Mollie rotates
        (["s2"], 400, "rejected"),
    ],
    ids=["current", "previous", "rotating", "wrong"],
)
async def test_a_next_gen_event_counts_only_when_signed_with_one_of_our_secrets(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    payments: PaymentSims,
    secrets: list[str],
    status: int,
    outcome: str,
) -> None:
    order_id, _, ref = await checkout_order(installation, api, "mollie", "ng-1.example")
    notifier = MollieNotifier(
        payments.mollie, api, next_gen_url=MOLLIE_URL, next_gen_secrets=secrets
    )
    payments.mollie.pay(ref)
    (event,) = [n for n in notifier.collect() if n.kind == "next-gen"]

    sent = await notifier.deliver(event)

    assert sent.status == status
    (delivery,) = await deliveries(api, gateway="mollie")
    assert delivery["outcome"] == outcome
    if status == 200:
        assert delivery["event_type"] == "payment.paid"
        assert await ledger_state(installation, order_id) == PAID
    else:
        assert delivery["verification"] == "invalid"
        assert "signature" in delivery["reason"]
        assert await ledger_state(installation, order_id) == UNPAID


# -- Stripe Checkout and the reconciler --------------------------------------------------


async def sync(api: httpx.AsyncClient, invoice_id: int) -> list[str]:
    """`POST /api/v1/invoices/{id}/sync`: the outcomes of what the gateways said."""
    response = await api.post(f"/api/v1/invoices/{invoice_id}/sync")
    assert response.status_code == 200, response.text
    return [r["outcome"] for r in response.json()["results"]]


async def test_the_reconciler_follows_a_delayed_payment_from_pending_to_paid(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    order_id, invoice_id, ref = await checkout_order(installation, api, "stripe", "sepa-1.ex")
    driver = driver_for("stripe", payments, client)
    payments.stripe.pay_delayed(ref)  # SEPA debit: the session completes unpaid
    assert driver.drop() == 2

    assert await sync(api, invoice_id) == ["pending"]
    pending = (await api.post("/api/v1/reconciler/run")).json()
    assert (pending["corrected"], pending["errors"]) == ([], []), pending
    assert await ledger_state(installation, order_id) == UNPAID

    payments.stripe.settle(ref)
    assert driver.drop() == 2
    paid = (await api.post("/api/v1/reconciler/run")).json()
    again = (await api.post("/api/v1/reconciler/run")).json()

    assert (paid["corrected"], paid["errors"]) == ([invoice_id], []), paid
    assert again["corrected"] == [], again
    assert await ledger_state(installation, order_id) == PAID


async def test_a_refund_whose_webhook_was_lost_is_found_by_sync(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    order_id, invoice_id, ref = await checkout_order(installation, api, "stripe", "lost-r.ex")
    driver = driver_for("stripe", payments, client)
    await driver.pay(ref)
    await driver.notify()
    total = int(payments.stripe.sessions[ref]["amount_total"])
    assert await ledger_state(installation, order_id) == PAID

    payments.stripe.refund(ref, 100)
    assert driver.drop() == 1
    partial = await sync(api, invoice_id)
    repeat = await sync(api, invoice_id)

    assert "refund_partial" in partial, partial
    assert "refund_partial" not in repeat and "duplicate" in repeat, repeat
    state = await ledger_state(installation, order_id)
    assert (state["invoice"], state["reversals"]) == ("paid", [("refund", 100, False)])

    payments.stripe.refund(ref)  # the rest
    assert driver.drop() == 1
    assert "refund_full" in await sync(api, invoice_id)

    state = await ledger_state(installation, order_id)
    assert (state["invoice"], state["payments"]) == ("refunded", 1)
    assert state["reversals"] == [("refund", total, True)]
    invoice: dict[str, Any] = (await api.get(f"/api/v1/invoices/{invoice_id}")).json()
    assert [r["amount_minor"] for r in invoice["reversals"]] == [total]
