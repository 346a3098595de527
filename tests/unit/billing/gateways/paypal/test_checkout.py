"""The order we ask PayPal for: `gateways.paypal.checkout`."""

from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.paypal import checkout as paypal_checkout

# --- order_request --------------------------------------------------------------------


def test_order_request_carries_our_invoice_in_both_ids() -> None:
    assert paypal_checkout.order_request("INV-42", 1999, "eur", description="VPS S, 1 month") == {
        "intent": "CAPTURE",
        "purchase_units": [
            {
                "reference_id": "default",
                "invoice_id": "INV-42",
                "custom_id": "INV-42",
                "amount": {"currency_code": "EUR", "value": "19.99"},
                "description": "VPS S, 1 month",
            }
        ],
    }


def test_order_request_with_return_urls_sets_the_experience_context() -> None:
    body = paypal_checkout.order_request(
        "INV-1", 500, "JPY", return_url="https://shop.test/ok", cancel_url="https://shop.test/no"
    )
    assert body["purchase_units"][0]["amount"] == {"currency_code": "JPY", "value": "500"}
    assert body["payment_source"] == {
        "paypal": {
            "experience_context": {
                "return_url": "https://shop.test/ok",
                "cancel_url": "https://shop.test/no",
                "shipping_preference": "NO_SHIPPING",
                "user_action": "PAY_NOW",
            }
        }
    }


@pytest.mark.parametrize(
    ("ref", "minor", "currency"),
    [("", 100, "EUR"), ("x" * 128, 100, "EUR"), ("INV-1", 0, "EUR"), ("INV-1", 150, "HUF")],
)
def test_order_request_refuses_what_paypal_would(ref: str, minor: int, currency: str) -> None:
    with pytest.raises(errors.UserError):
        paypal_checkout.order_request(ref, minor, currency)
