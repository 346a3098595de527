"""The checkout API and the customer's return page, for every gateway, on both databases.

`POST /api/v1/invoices/{id}/checkout` names the gateways it knows, refuses paid invoices,
and stores nothing when the gateway fails; `GET /checkout/{invoice}/return` (no token) shows
the invoice's state and never changes it: a redirect back from a gateway proves nothing.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fluxbilling import bootstrap
from fluxbilling_simulators._faults import Faults
from tests.integration.accounts import audit_rows
from tests.integration.payments import (
    GATEWAYS,
    PaymentSims,
    checkout_order,
    deliveries,
    driver_for,
    ledger_state,
    start_checkout,
)
from tests.integration.support import place_order

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def faults_of(sims: PaymentSims, gateway: str) -> Faults:
    faults: Faults = getattr(sims, gateway).faults
    return faults


async def invoice_of(api: httpx.AsyncClient, invoice_id: int) -> dict[str, Any]:
    response = await api.get(f"/api/v1/invoices/{invoice_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_an_unknown_gateway_is_404_naming_the_configured_ones(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    invoice_id = int((await place_order(installation, "gw-1.example"))["invoice"]["id"])

    response = await api.post(f"/api/v1/invoices/{invoice_id}/checkout", json={"gateway": "bitpay"})

    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert "bitpay" in error["message"]
    assert error["details"]["configured"] == ["coingate", "mollie", "paypal", "stripe"]
    assert (await invoice_of(api, invoice_id))["attempts"] == []


async def test_an_unknown_invoice_is_404(api: httpx.AsyncClient, payments: PaymentSims) -> None:
    response = await api.post("/api/v1/invoices/999999/checkout", json={"gateway": "mollie"})

    assert response.status_code == 404, response.text
    assert payments.mollie.payments == {}


async def test_a_paid_invoice_cannot_be_checked_out_again(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    order_id, invoice_id, ref = await checkout_order(installation, api, "stripe", "paid-1.ex")
    driver = driver_for("stripe", payments, client)
    await driver.pay(ref)
    await driver.notify()
    assert (await ledger_state(installation, order_id))["invoice"] == "paid"

    response = await api.post(f"/api/v1/invoices/{invoice_id}/checkout", json={"gateway": "mollie"})

    assert response.status_code == 409, response.text
    assert "paid" in response.json()["error"]["message"]
    assert [a["gateway_ref"] for a in (await invoice_of(api, invoice_id))["attempts"]] == [ref]
    assert payments.mollie.payments == {}  # nothing was created at the other gateway


@pytest.mark.parametrize("gateway", GATEWAYS)
async def test_a_failing_gateway_is_502_and_stores_no_attempt(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    payments: PaymentSims,
    gateway: str,
) -> None:
    invoice_id = int((await place_order(installation, "fail-1.example"))["invoice"]["id"])
    faults_of(payments, gateway).fail_next(1, 500)

    response = await api.post(f"/api/v1/invoices/{invoice_id}/checkout", json={"gateway": gateway})

    assert response.status_code == 502, response.text
    invoice = await invoice_of(api, invoice_id)
    assert (invoice["attempts"], invoice["gateway_ref"], invoice["status"]) == ([], None, "unpaid")

    ref = await start_checkout(api, gateway, invoice_id)  # the customer tries again
    assert [a["gateway_ref"] for a in (await invoice_of(api, invoice_id))["attempts"]] == [ref]
    (row,) = await audit_rows(installation, "invoice.checkout")  # the failed one wrote none
    assert (row.actor, row.entity_id) == ("installation-token", str(invoice_id))
    assert row.changes == {"gateway": gateway, "attempt": 1}


async def return_page(client: httpx.AsyncClient, invoice_id: int, query: str = "") -> str:
    """The customer's return page; its ``data-status``."""
    response = await client.get(f"/checkout/{invoice_id}/return{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    marker = 'data-status="'
    start = response.text.index(marker) + len(marker)
    return response.text[start : response.text.index('"', start)]


@pytest.mark.parametrize("gateway", GATEWAYS)
async def test_the_return_page_shows_the_status_and_never_changes_it(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
    gateway: str,
) -> None:
    order_id, invoice_id, ref = await checkout_order(installation, api, gateway, "back-1.ex")
    driver = driver_for(gateway, payments, client)
    canceled = await client.get(f"/checkout/{invoice_id}/return?canceled=1")
    assert canceled.status_code == 200 and "Payment canceled" in canceled.text

    await driver.pay(ref)  # paid at the gateway; its notification is not delivered yet
    requests = getattr(payments, gateway).requests
    for query in ("", "?canceled=1", f"?session_id={ref}&status=paid"):
        assert await return_page(client, invoice_id, query) == "unpaid"

    assert getattr(payments, gateway).requests == requests  # not even a sync
    assert await deliveries(api, invoice_id=invoice_id) == []
    state = await ledger_state(installation, order_id)
    assert (state["invoice"], state["payments"], state["runs"]) == ("unpaid", 0, 0)

    await driver.notify()
    assert await return_page(client, invoice_id, "?canceled=1") == "paid"
    assert "Thank you" in (await client.get(f"/checkout/{invoice_id}/return")).text


async def test_the_return_page_of_an_unknown_invoice_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/checkout/999999/return")

    assert response.status_code == 404
