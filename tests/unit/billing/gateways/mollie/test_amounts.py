"""Mollie amounts and minor units: `gateways.mollie.amounts`."""

from __future__ import annotations

from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.mollie import amounts as mollie_amounts


def invalid(call: Any, *args: Any, **kwargs: Any) -> errors.InvalidWebhook:
    with pytest.raises(errors.InvalidWebhook) as info:
        call(*args, **kwargs)
    return info.value


# --- money ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("10.00", "EUR", 1000),
        ("10.5", "EUR", 1050),
        ("0.01", "eur", 1),
        ("10", "USD", 1000),
        ("1000", "JPY", 1000),
        ("1000.00", "JPY", 1000),
        ("1500", "ISK", 1500),
        ("123456789.99", "GBP", 12345678999),
        ("0.30", "EUR", 30),
    ],
)
def test_amounts_become_minor_units(value: str, currency: str, minor: int) -> None:
    assert mollie_amounts.to_minor(value, currency) == minor


def test_amounts_do_not_go_through_float() -> None:
    # float("0.29") * 100 == 28.999999999999996: a float conversion would truncate to 28.
    assert int(float("0.29") * 100) == 28
    assert mollie_amounts.to_minor("0.29", "EUR") == 29


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        ("10.005", "EUR", "field 'amount.value' has more decimals than EUR allows"),
        ("10.5", "JPY", "field 'amount.value' has more decimals than JPY allows"),
        ("-1.00", "EUR", "field 'amount.value' is not a decimal amount"),
        ("1e3", "EUR", "field 'amount.value' is not a decimal amount"),
        ("10.", "EUR", "field 'amount.value' is not a decimal amount"),
        (" 10.00", "EUR", "field 'amount.value' is not a decimal amount"),
        ("NaN", "EUR", "field 'amount.value' is not a decimal amount"),
        ("1,00", "EUR", "field 'amount.value' is not a decimal amount"),
        ("10.00", "XXX", "unsupported currency in 'amount.currency'"),
        ("10.00", "", "unsupported currency in 'amount.currency'"),
    ],
)
def test_bad_amounts_are_rejected(value: str, currency: str, message: str) -> None:
    assert invalid(mollie_amounts.to_minor, value, currency).message == message


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(1050, "EUR", "10.50"), (1, "EUR", "0.01"), (1000, "JPY", "1000"), (99, "isk", "99")],
)
def test_format_amount_uses_the_currency_decimals(minor: int, currency: str, text: str) -> None:
    assert mollie_amounts.format_amount(minor, currency) == text
    assert mollie_amounts.to_minor(text, currency) == minor


def test_format_amount_rejects_unknown_currencies() -> None:
    with pytest.raises(errors.InvalidSettings):
        mollie_amounts.format_amount(100, "XBT")
