"""The gateway list: what the installation is configured for, each usable at checkout, no secret."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fluxbilling import bootstrap
from tests.integration.payments import COINGATE_TOKEN, MOLLIE_KEY, PAYPAL_SECRET, STRIPE_KEY
from tests.integration.support import place_order

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_the_configured_gateways_are_listed_by_name_without_secrets(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/api/v1/gateways")

    assert response.status_code == 200, response.text
    assert response.json() == [
        {"name": "coingate", "display_name": "CoinGate", "livemode": False},
        {"name": "mollie", "display_name": "Mollie", "livemode": False},
        {"name": "paypal", "display_name": "PayPal", "livemode": False},
        {"name": "stripe", "display_name": "Stripe", "livemode": False},
    ]
    for secret in (STRIPE_KEY, MOLLIE_KEY, PAYPAL_SECRET, COINGATE_TOKEN, "whsec_test_secret"):
        assert secret not in response.text


async def test_every_listed_gateway_starts_a_checkout(
    api: httpx.AsyncClient, installation: bootstrap.Installation
) -> None:
    names = [g["name"] for g in (await api.get("/api/v1/gateways")).json()]

    for number, name in enumerate(names):
        created = await place_order(installation, f"gw{number}.example.com")
        checkout = await api.post(
            f"/api/v1/invoices/{created['invoice']['id']}/checkout", json={"gateway": name}
        )
        assert checkout.status_code == 201, (name, checkout.text)
        assert checkout.json()["redirect_url"].startswith("http")


@pytest.mark.parametrize(
    "settings_overrides",
    [{"mollie_api_key": None, "paypal_client_secret": None, "coingate_api_token": None}],
)
async def test_unconfigured_gateways_are_not_listed(
    api: httpx.AsyncClient, settings_overrides: dict[str, Any]
) -> None:
    response = await api.get("/api/v1/gateways")

    assert [g["name"] for g in response.json()] == ["stripe"]
    refused = await api.post("/api/v1/invoices/1/checkout", json={"gateway": "mollie"})
    assert refused.status_code == 404
    assert refused.json()["error"]["details"]["configured"] == ["stripe"]


async def test_the_gateway_list_needs_a_credential(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/gateways")

    assert response.status_code == 401
    assert "stripe" not in response.text
