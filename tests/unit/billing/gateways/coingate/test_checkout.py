"""The order we ask CoinGate for: `gateways.coingate.checkout`."""

from __future__ import annotations

from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.coingate import checkout as coingate_checkout

TOKEN = "Jb0f2kY3s9Qx-token_ours"


# --- order_request --------------------------------------------------------------------


def request(**changes: Any) -> dict[str, str]:
    args: dict[str, Any] = {
        "invoice_id": 42,
        "amount_minor": 1999,
        "currency": "eur",
        "callback_url": "https://billing.example/webhooks/coingate/main",
        "success_url": "https://billing.example/invoices/42",
        "cancel_url": "https://billing.example/invoices/42?canceled=1",
        "token": TOKEN,
        "title": "Invoice 42",
    }
    args.update(changes)
    return coingate_checkout.order_request(**args)


def test_order_request_body() -> None:
    assert request() == {
        "order_id": "42",
        "price_amount": "19.99",
        "price_currency": "EUR",
        "title": "Invoice 42",
        "description": "Invoice 42",
        "callback_url": "https://billing.example/webhooks/coingate/main",
        "success_url": "https://billing.example/invoices/42",
        "cancel_url": "https://billing.example/invoices/42?canceled=1",
        "token": TOKEN,
    }


def test_order_request_options() -> None:
    body = request(
        amount_minor=1500,
        currency="JPY",
        title="  " + "T" * 200,
        description="1 x VPS M, 1 x IPv4",
        receive_currency="usdc",
    )
    assert (body["price_amount"], body["price_currency"]) == ("1500", "JPY")
    assert body["title"] == "T" * 150
    assert body["description"] == "1 x VPS M, 1 x IPv4"
    assert body["receive_currency"] == "USDC"
    assert request(description="ab")["description"] == "Invoice 42"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"amount_minor": 0}, errors.InvariantViolation),
        ({"currency": "BTC"}, errors.InvariantViolation),
        ({"token": ""}, errors.InvariantViolation),
        ({"title": " ab "}, errors.InvariantViolation),
        ({"callback_url": "/webhooks/coingate"}, errors.InvalidSettings),
        ({"success_url": "ftp://billing.example/"}, errors.InvalidSettings),
    ],
)
def test_order_request_refuses_bad_input(changes: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        request(**changes)
