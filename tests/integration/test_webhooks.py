"""Stripe webhooks through the real HTTP endpoint, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.billing.gateways.stripe import verify as stripe_verify
from fluxbilling.db import schema
from fluxbilling_simulators import stripe as stripe_sim
from tests.integration.support import place_order, rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def signed(
    inst: bootstrap.Installation, body: bytes, *, t: int | None = None, secret: str | None = None
) -> dict[str, str]:
    return stripe_sim.signed_headers(body, secret or inst.stripe_secrets[0], t or int(time.time()))


async def counts(inst: bootstrap.Installation) -> dict[str, int]:
    out = {}
    for table in (schema.payments, schema.runs, schema.webhook_events, schema.processed_events):
        out[table.name] = (await rows(inst, sa.select(sa.func.count()).select_from(table)))[0][0]
    return out


async def test_a_signed_payment_clears_the_invoice_and_enqueues_one_run(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    created = await place_order(installation, "pay1.example.com")
    invoice = created["invoice"]
    body = stripe_sim.checkout_completed(
        invoice["id"], invoice["amount_minor"], invoice["currency"]
    )
    response = await client.post(
        "/webhooks/stripe", content=body, headers=signed(installation, body)
    )
    assert response.status_code == 200
    assert response.json()["outcome"] == "processed"
    (inv,) = await rows(installation, sa.select(schema.invoices))
    (order,) = await rows(installation, sa.select(schema.orders))
    (run,) = await rows(installation, sa.select(schema.runs))
    assert (inv.status, order.state, run.phase, run.state) == (
        "paid",
        "provisioning_pending",
        "allocation",
        "queued",
    )
    (delivery,) = await rows(installation, sa.select(schema.webhook_events))
    assert (
        delivery.body == body and delivery.verification == "valid" and delivery.invoice_id == inv.id
    )


async def test_the_same_event_fifty_times_concurrently_gives_one_payment_and_one_run(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    invoice = (await place_order(installation, "storm.example.com"))["invoice"]
    body = stripe_sim.checkout_completed(
        invoice["id"], invoice["amount_minor"], invoice["currency"]
    )
    responses = await asyncio.gather(
        *(
            client.post("/webhooks/stripe", content=body, headers=signed(installation, body))
            for _ in range(50)
        )
    )
    assert {r.status_code for r in responses} == {200}
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes.count("processed") == 1 and outcomes.count("duplicate") == 49
    assert await counts(installation) == {
        "payments": 1,
        "runs": 1,
        "webhook_events": 50,
        "processed_events": 1,
    }


async def test_a_second_event_for_the_same_payment_does_not_enqueue_again(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    invoice = (await place_order(installation, "twice.example.com"))["invoice"]
    first = stripe_sim.checkout_completed(
        invoice["id"], invoice["amount_minor"], invoice["currency"], session_id="cs_test_same"
    )
    second = stripe_sim.checkout_completed(
        invoice["id"], invoice["amount_minor"], invoice["currency"], session_id="cs_test_same"
    )
    for body in (first, second):
        assert (
            await client.post("/webhooks/stripe", content=body, headers=signed(installation, body))
        ).status_code == 200
    assert (await counts(installation))["payments"] == 1
    assert (await counts(installation))["runs"] == 1


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong_secret", "no signature matches"),
        ("tampered", "no signature matches"),
        ("stale", "tolerance"),
        ("missing", "missing"),
    ],
)
async def test_a_bad_signature_gets_400_and_changes_nothing(
    installation: bootstrap.Installation, client: httpx.AsyncClient, case: str, expected: str
) -> None:
    invoice = (await place_order(installation, f"bad-{case.replace('_', '-')}.example.com"))[
        "invoice"
    ]
    body = stripe_sim.checkout_completed(
        invoice["id"], invoice["amount_minor"], invoice["currency"]
    )
    headers = signed(installation, body)
    if case == "wrong_secret":
        headers = signed(installation, body, secret="whsec_attacker")
    elif case == "tampered":
        body = body.replace(b'"amount_total": ', b'"amount_total":  ')
    elif case == "stale":
        headers = signed(installation, body, t=int(time.time()) - 301)
    else:
        headers = {"Content-Type": "application/json"}
    response = await client.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 400
    # The caller learns nothing more (our clock, the tolerance, how many secrets we tried);
    # the operator finds the reason in the stored delivery.
    assert response.json()["error"] == {
        "code": "InvalidWebhook",
        "message": "not authentic",
        "details": {},
    }
    assert await counts(installation) == {
        "payments": 0,
        "runs": 0,
        "webhook_events": 1,
        "processed_events": 0,
    }
    (delivery,) = await rows(installation, sa.select(schema.webhook_events))
    assert (delivery.verification, delivery.outcome) == ("invalid", "rejected")
    assert expected in delivery.error.lower()
    assert (await rows(installation, sa.select(schema.invoices.c.status)))[0].status == "unpaid"


@pytest.mark.parametrize(
    ("overrides", "detail"),
    [
        ({"amount": 1199}, "underpaid"),
        ({"currency": "USD"}, "currency"),
        ({"livemode": True}, "livemode"),
    ],
)
async def test_wrong_amount_currency_or_mode_never_provisions(
    installation: bootstrap.Installation,
    client: httpx.AsyncClient,
    overrides: dict[str, Any],
    detail: str,
) -> None:
    invoice = (await place_order(installation, "mismatch.example.com"))["invoice"]
    amount = overrides.get("amount", invoice["amount_minor"])
    currency = overrides.get("currency", invoice["currency"])
    body = stripe_sim.checkout_completed(
        invoice["id"], amount, currency, livemode=overrides.get("livemode", False)
    )
    response = await client.post(
        "/webhooks/stripe", content=body, headers=signed(installation, body)
    )
    assert response.status_code == 200  # authentic: acknowledged, recorded for review, not acted on
    assert response.json()["outcome"] == "rejected"
    assert (await counts(installation))["runs"] == 0
    (delivery,) = await rows(installation, sa.select(schema.webhook_events))
    assert detail in delivery.error


async def test_a_late_failure_never_downgrades_a_paid_invoice(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    invoice = (await place_order(installation, "late.example.com"))["invoice"]
    paid = stripe_sim.checkout_completed(
        invoice["id"], invoice["amount_minor"], invoice["currency"]
    )
    await client.post("/webhooks/stripe", content=paid, headers=signed(installation, paid))
    event = json.loads(paid)
    event["id"] = "evt_late_expired"
    event["type"] = "checkout.session.expired"
    late = json.dumps(event).encode()
    response = await client.post(
        "/webhooks/stripe", content=late, headers=signed(installation, late)
    )
    assert response.json()["outcome"] == "ignored"
    assert (await rows(installation, sa.select(schema.invoices.c.status)))[0].status == "paid"


async def test_an_event_for_an_invoice_we_never_created_changes_nothing(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    body = stripe_sim.checkout_completed(424242, 1200, "EUR")
    response = await client.post(
        "/webhooks/stripe", content=body, headers=signed(installation, body)
    )
    assert response.status_code == 200 and response.json()["outcome"] == "unknown_invoice"
    assert (await counts(installation))["payments"] == 0


async def test_a_malformed_body_with_a_valid_signature_is_kept_and_rejected_by_name(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    body = b'{"id": "evt_1", "object": "event"}'
    response = await client.post(
        "/webhooks/stripe", content=body, headers=signed(installation, body)
    )
    # Stripe signed it: authentic, never dropped; retrying cannot make it readable.
    assert response.status_code == 200
    assert response.json()["outcome"] == "rejected"
    (delivery,) = await rows(installation, sa.select(schema.webhook_events))
    assert (delivery.verification, delivery.outcome) == ("valid", "rejected")
    assert delivery.error == "authentic, but cannot be read: missing field 'data'"
    assert (delivery.body, delivery.body_size) == (body, None)


def test_signing_helper_matches_the_verifier() -> None:
    body = b"{}"
    stripe_verify.verify_signature(
        body, stripe_verify.sign(body, "whsec_x", 1000), ["whsec_x"], now=1000
    )
