"""A CoinGate API v2 client library (``coingate-api``) against the CoinGate simulator.

CoinGate's own Python SDK (``coingate-client``) pins pydantic < 2, which cannot share an
environment with FastAPI's pydantic 2; ``coingate-api`` speaks API v2 over requests and maps
CoinGate's ``reason`` to its exception classes, so it is the client here. It has no
base-URL option and no refund or single-order calls: the base URL is set on the instance,
and those calls go through its generic ``do_request``.

Covered: the calls our client (`billing.gateways.coingate.api`) makes (create an order with exactly
our body, fetch it), and what an operator reaches for first (list orders, checkout, create
and list refunds, callback IPs); errors come back as the library's classes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from coingate_api import CoingateAPI, api_error

from fluxbilling.billing.gateways.coingate import checkout as coingate_checkout
from fluxbilling_simulators.coingate import CoinGateState, create_app
from tests.integration.conformance import serving

TOKEN = "sim-coingate-conformance-token-0123456789abcdef"  # the library wants >= 40 chars
REFUND = {
    "amount": "5",
    "address": "bc1qsimulatedrefundaddress",
    "currency_id": "1",
    "platform_id": "1",
    "reason": "requested_by_customer",
    "email": "customer@example.com",
    "ledger_account_id": "sim-ledger-eur",
}


@pytest.fixture
def state() -> CoinGateState:
    return CoinGateState(api_token=TOKEN, seed=3)


@pytest.fixture
def base_url(state: CoinGateState) -> Iterator[str]:
    with serving(create_app(state)) as url:
        yield url


def connect(base_url: str, token: str = TOKEN) -> Any:
    api = CoingateAPI(auth_token=token, environment="sandbox", retries=0)
    api._base_url = f"{base_url}/v2"  # no option for it: the library pins api(-sandbox)
    return api


@pytest.fixture
def api(base_url: str) -> Any:
    return connect(base_url)


def our_order(api: Any, invoice_id: int, amount_minor: int = 1999) -> dict[str, Any]:
    """An order created with exactly the body our checkout code sends."""
    body = coingate_checkout.order_request(
        invoice_id,
        amount_minor,
        "EUR",
        "https://billing.example/webhooks/coingate/main",
        f"https://billing.example/invoices/{invoice_id}/paid",
        f"https://billing.example/invoices/{invoice_id}",
        f"token-{invoice_id}",
        f"Invoice {invoice_id}",
    )
    price = (body.pop("price_amount"), body.pop("price_currency"))
    order: dict[str, Any] = api.create_order(*price, "EUR", **body)
    return order


def test_our_order_round_trips(api: Any, state: CoinGateState) -> None:
    order = our_order(api, 7)
    assert (order["status"], order["order_id"], order["token"]) == ("new", "7", "token-7")
    assert (order["price_amount"], order["price_currency"], order["title"]) == (
        "19.99",
        "EUR",
        "Invoice 7",
    )
    fetched = api.do_request(f"/orders/{order['id']}", method="get")
    assert fetched == {k: v for k, v in order.items() if k != "token"}
    assert state.orders[order["id"]]["_callback_url"].endswith("/webhooks/coingate/main")


def test_title_and_description_are_optional(api: Any) -> None:
    order = api.create_order("10", "EUR", "EUR")
    assert (order["status"], order["title"], order["price_amount"]) == ("new", None, "10.0")


def test_orders_list_pages_sorts_and_filters_by_date(api: Any) -> None:
    ids = [our_order(api, invoice_id)["id"] for invoice_id in (1, 2, 3)]
    first = api.orders(per_page=2, page=1)
    assert (first["current_page"], first["per_page"], first["total_orders"]) == (1, 2, 3)
    assert first["total_pages"] == 2
    assert [o["id"] for o in first["orders"]] == [ids[2], ids[1]]
    second = api.orders(per_page=2, page=2)
    assert [o["id"] for o in second["orders"]] == [ids[0]]
    oldest_first = api.orders(sort="created_at_asc")
    assert [o["id"] for o in oldest_first["orders"]] == ids
    today = datetime.now(UTC).date()
    since_today = api.orders(created_at_from=today.isoformat())
    assert since_today["total_orders"] == 3
    before = api.orders(created_at_to=(today - timedelta(days=1)).isoformat())
    assert (before["total_orders"], before["orders"]) == (0, [])


def test_checkout_payment_and_refunds(api: Any, state: CoinGateState) -> None:
    order_id = our_order(api, 9, amount_minor=2000)["id"]
    placed = api.checkout(order_id, pay_currency="btc")
    assert (placed["status"], placed["pay_currency"]) == ("pending", "BTC")
    assert placed["payment_address"] and placed["expire_at"]
    state.confirm(order_id)  # the shopper pays, the network confirms
    assert api.do_request(f"/orders/{order_id}", method="get")["status"] == "paid"
    refund = api.do_request(f"/orders/{order_id}/refunds", method="post", payload=REFUND)
    assert (refund["request_amount"], refund["status"], refund["order"]) == (
        "5.0",
        "completed",
        {"id": order_id},
    )
    assert refund["address"] == REFUND["address"]
    listed = api.do_request(f"/orders/{order_id}/refunds", method="get")
    assert (listed["total_refunds"], [r["id"] for r in listed["refunds"]]) == (1, [refund["id"]])
    one = api.do_request(f"/orders/{order_id}/refunds/{refund['id']}", method="get")
    assert one == refund
    every = api.do_request("/refunds", method="get")
    assert [r["id"] for r in every["refunds"]] == [refund["id"]]
    after = api.do_request(f"/orders/{order_id}", method="get")
    assert (after["status"], after["refunds"]) == ("partially_refunded", [refund])
    rest = api.do_request(
        f"/orders/{order_id}/refunds", method="post", payload={**REFUND, "amount": "15"}
    )
    assert rest["request_amount"] == "15.0"
    assert api.do_request(f"/orders/{order_id}", method="get")["status"] == "refunded"


def test_errors_parse_into_the_librarys_classes(api: Any, base_url: str) -> None:
    with pytest.raises(api_error.BadCredentials):
        connect(base_url, "x" * 40).do_request("/orders/1", method="get")
    with pytest.raises(api_error.OrderNotFound):
        api.do_request("/orders/999999", method="get")
    with pytest.raises(api_error.OrderIsNotValid, match="OrderIsNotValid"):
        api.create_order("-1", "EUR", "EUR")
    order_id = our_order(api, 11)["id"]
    with pytest.raises(api_error.UnprocessableEntity, match="RefundIsNotValid"):
        api.do_request(f"/orders/{order_id}/refunds", method="post", payload=REFUND)
    with pytest.raises(api_error.UnprocessableEntity, match="RefundIsNotValid"):
        api.do_request(f"/orders/{order_id}/refunds", method="post", payload={"amount": "1"})
    with pytest.raises(api_error.OrderIsNotValid):
        api.checkout(order_id, pay_currency="DOGE")
    # Routes the simulator does not model answer CoinGate's 404, which the library parses.
    with pytest.raises(api_error.PageNotFound):
        api.test_connection()
    with pytest.raises(api_error.PageNotFound):
        api.do_request(f"/orders/{order_id}/refunds/1", method="post")


def test_callback_ips_and_ping(api: Any) -> None:
    assert api.ip_addresses() == "192.0.2.10|192.0.2.11"
    assert api.ping()["ping"] == "pong"
