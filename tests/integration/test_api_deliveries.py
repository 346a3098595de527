"""The operator's view of webhook deliveries: searchable by invoice, rejected ones say why."""

from __future__ import annotations

import time

import httpx
import pytest

from fluxbilling import bootstrap
from fluxbilling.billing.gateways.stripe import verify as stripe_verify
from fluxbilling_simulators import stripe as stripe_sim
from tests.integration.support import place_order

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

AUTH = {"Authorization": "Bearer test-api-token"}


async def post(
    client: httpx.AsyncClient,
    inst: bootstrap.Installation,
    body: bytes,
    *,
    secret: str | None = None,
) -> httpx.Response:
    now = int(time.time())
    signature = stripe_verify.sign(body, secret or inst.stripe_secrets[0], now)
    return await client.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": signature}
    )


async def test_deliveries_are_listed_by_invoice_with_their_outcome_and_reason(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    invoice = (await place_order(installation, "ops.example.net"))["invoice"]
    paid = stripe_sim.checkout_completed(invoice["id"], invoice["amount_minor"], "EUR")
    assert (await post(client, installation, paid)).json()["outcome"] == "processed"
    assert (await post(client, installation, paid)).json()["outcome"] == "duplicate"
    forged = await post(client, installation, paid, secret="whsec_not_ours")
    assert forged.status_code == 400
    other = (await place_order(installation, "ops-2.example.net"))["invoice"]
    short = stripe_sim.checkout_completed(other["id"], other["amount_minor"] - 1, "EUR")
    assert (await post(client, installation, short)).json()["outcome"] == "rejected"
    (rejected,) = (
        await client.get(
            "/api/v1/webhook-deliveries", params={"invoice_id": other["id"]}, headers=AUTH
        )
    ).json()["items"]
    assert rejected["outcome"] == "rejected"
    assert rejected["reason"].startswith("underpaid:")

    listed = (
        await client.get(
            "/api/v1/webhook-deliveries", params={"invoice_id": invoice["id"]}, headers=AUTH
        )
    ).json()
    outcomes = [(d["verification"], d["outcome"]) for d in listed["items"]]
    assert ("valid", "processed") in outcomes and ("valid", "duplicate") in outcomes
    assert all(d["invoice_id"] == invoice["id"] for d in listed["items"])

    invalid = (
        await client.get(
            "/api/v1/webhook-deliveries", params={"verification": "invalid"}, headers=AUTH
        )
    ).json()["items"]
    assert len(invalid) == 1
    assert "signature" in invalid[0]["reason"].lower()
    one = (await client.get(f"/api/v1/webhook-deliveries/{invalid[0]['id']}", headers=AUTH)).json()
    assert one["body"] == paid.decode()
    assert one["headers"]["stripe-signature"] == "***"
    page = (
        await client.get("/api/v1/webhook-deliveries", params={"limit": 2}, headers=AUTH)
    ).json()
    assert len(page["items"]) == 2 and page["next_cursor"] is not None
    rest = (
        await client.get(
            "/api/v1/webhook-deliveries",
            params={"limit": 2, "cursor": page["next_cursor"]},
            headers=AUTH,
        )
    ).json()
    assert {d["id"] for d in rest["items"]}.isdisjoint({d["id"] for d in page["items"]})
    missing = await client.get("/api/v1/webhook-deliveries/999999", headers=AUTH)
    assert missing.status_code == 404
    assert (await client.get("/api/v1/webhook-deliveries")).status_code == 401
