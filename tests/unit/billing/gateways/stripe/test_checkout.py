"""The Checkout Session we ask Stripe for: `gateways.stripe.checkout`."""

from __future__ import annotations

from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.stripe import checkout as stripe_checkout

SUCCESS = "https://billing.example/invoices/7?session={CHECKOUT_SESSION_ID}"
CANCEL = "https://billing.example/invoices/7"


def body(invoice_id: int = 7, amount_minor: int = 1999) -> dict[str, Any]:
    return stripe_checkout.checkout_request(
        invoice_id, amount_minor, "EUR", SUCCESS, CANCEL, "VPS M"
    )


# --- checkout_request -----------------------------------------------------------------


def test_checkout_request_carries_our_invoice_three_ways() -> None:
    assert body() == {
        "mode": "payment",
        "client_reference_id": "7",
        "success_url": SUCCESS,
        "cancel_url": CANCEL,
        "metadata": {"invoice_id": "7"},
        "payment_intent_data": {"metadata": {"invoice_id": "7"}},
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 1999,
                    "product_data": {"name": "VPS M"},
                },
            }
        ],
    }


@pytest.mark.parametrize("amount", [0, -5, True, 19.99])
def test_checkout_request_needs_a_positive_integer_amount(amount: Any) -> None:
    with pytest.raises(errors.InvariantViolation):
        stripe_checkout.checkout_request(7, amount, "EUR", SUCCESS, CANCEL, "x")


@pytest.mark.parametrize("currency", ["EURO", "E1R", ""])
def test_checkout_request_needs_an_iso_currency(currency: str) -> None:
    with pytest.raises(errors.InvalidSettings):
        stripe_checkout.checkout_request(7, 100, currency, SUCCESS, CANCEL, "x")
