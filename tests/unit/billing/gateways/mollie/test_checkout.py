"""The payment we ask Mollie for: `gateways.mollie.checkout`."""

from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.mollie import checkout as mollie_checkout

# --- checkout_request -----------------------------------------------------------------


def test_checkout_request_is_the_create_payment_body() -> None:
    body = mollie_checkout.checkout_request(
        42, 1050, "eur", "Invoice 42", "https://shop.test/r", "https://shop.test/w"
    )
    assert body == {
        "amount": {"currency": "EUR", "value": "10.50"},
        "description": "Invoice 42",
        "redirectUrl": "https://shop.test/r",
        "webhookUrl": "https://shop.test/w",
        "metadata": {"invoice_id": "42"},
    }


def test_checkout_request_in_yen_has_no_decimals() -> None:
    body = mollie_checkout.checkout_request(
        "inv-9", 1500, "JPY", "x", "https://r.test", "https://w.test"
    )
    assert body["amount"] == {"currency": "JPY", "value": "1500"}


@pytest.mark.parametrize("amount", [0, -100, True])
def test_checkout_request_needs_a_positive_amount(amount: int) -> None:
    with pytest.raises(errors.InvariantViolation):
        mollie_checkout.checkout_request(1, amount, "EUR", "x", "https://r.test", "https://w.test")


def test_checkout_request_rejects_unsupported_currencies() -> None:
    with pytest.raises(errors.InvalidSettings):
        mollie_checkout.checkout_request(1, 100, "BTC", "x", "https://r.test", "https://w.test")
