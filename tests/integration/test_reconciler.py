"""The reconciler's sweeps: deliveries stored but never processed, retention of forged ones."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.billing.gateways.stripe import verify as stripe_verify
from fluxbilling.billing.reconciler import Reconciler
from fluxbilling.db import schema
from fluxbilling_simulators import stripe as stripe_sim
from tests.integration.support import place_order, rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def reconciler(inst: bootstrap.Installation, **options: Any) -> Reconciler:
    return Reconciler(inst.db, inst.store, inst.gateways, inst.reversal_policy(), **options)


async def invoice_status(inst: bootstrap.Installation, invoice_id: int) -> str:
    (row,) = await rows(
        inst, sa.select(schema.invoices.c.status).where(schema.invoices.c.id == invoice_id)
    )
    return str(row.status)


async def test_a_delivery_stored_before_a_crash_is_processed_by_the_sweep_once(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    created = await place_order(installation, "crash-1.example.net")
    invoice = created["invoice"]
    body = stripe_sim.checkout_completed(invoice["id"], invoice["amount_minor"], "EUR")
    headers = {
        "Stripe-Signature": stripe_verify.sign(
            body, installation.stripe_secrets[0], int(time.time())
        )
    }
    endpoint = installation.stripe_endpoint()
    # The process dies right after storing the raw delivery: nothing else happened.
    delivery_id = await endpoint._store_raw(body, headers, "127.0.0.1")
    assert await invoice_status(installation, invoice["id"]) == "unpaid"
    waiting = 'fluxbilling_webhook_deliveries_waiting{gateway="stripe",state="unprocessed"} 1.0'
    assert waiting in (await api.get("/metrics")).text

    first = await reconciler(installation, after=0).run_once()
    second = await reconciler(installation, after=0).run_once()

    assert (first.deliveries, second.deliveries) == (1, 0)
    assert await invoice_status(installation, invoice["id"]) == "paid"
    assert "fluxbilling_webhook_deliveries_waiting{" not in (await api.get("/metrics")).text
    (row,) = await rows(
        installation,
        sa.select(schema.webhook_events).where(schema.webhook_events.c.id == delivery_id),
    )
    assert (row.verification, row.outcome, row.attempts) == ("valid", "processed", 1)


async def test_a_delivery_is_not_swept_before_its_time_nor_after_too_many_attempts(
    installation: bootstrap.Installation,
) -> None:
    created = await place_order(installation, "crash-2.example.net")
    invoice = created["invoice"]
    body = stripe_sim.checkout_completed(invoice["id"], invoice["amount_minor"], "EUR")
    headers = {
        "Stripe-Signature": stripe_verify.sign(
            body, installation.stripe_secrets[0], int(time.time())
        )
    }
    delivery_id = await installation.stripe_endpoint()._store_raw(body, headers, None)

    assert (await reconciler(installation, after=3600).run_once()).deliveries == 0
    async with installation.db.begin() as conn:
        await conn.execute(
            schema.webhook_events.update()
            .where(schema.webhook_events.c.id == delivery_id)
            .values(attempts=20)
        )
    assert (await reconciler(installation, after=0).run_once()).deliveries == 0
    assert await invoice_status(installation, invoice["id"]) == "unpaid"


async def test_forged_deliveries_are_pruned_after_their_retention_and_genuine_ones_kept(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    created = await place_order(installation, "prune-1.example.net")
    invoice = created["invoice"]
    body = stripe_sim.checkout_completed(invoice["id"], invoice["amount_minor"], "EUR")
    forged = await client.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": "t=1,v1=00"}
    )
    genuine = await client.post(
        "/webhooks/stripe",
        content=body,
        headers=stripe_sim.signed_headers(body, installation.stripe_secrets[0], int(time.time())),
    )
    assert (forged.status_code, genuine.status_code) == (400, 200)

    kept = await reconciler(installation).run_once()
    pruned = await reconciler(installation, invalid_retention=0).run_once()

    assert (kept.pruned, pruned.pruned) == (0, 1)
    left = await rows(installation, sa.select(schema.webhook_events.c.verification))
    assert [r.verification for r in left] == ["valid"]
