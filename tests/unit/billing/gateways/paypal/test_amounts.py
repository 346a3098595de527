"""PayPal money objects and minor units: `gateways.paypal.amounts`."""

from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.paypal import amounts as paypal_amounts

# --- money ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "value", "minor"),
    [
        ("EUR", "19.99", 1999),
        ("EUR", "19.9", 1990),
        ("EUR", "10", 1000),
        ("EUR", "0.01", 1),
        ("EUR", ".50", 50),
        ("JPY", "500", 500),
        ("HUF", "1000", 100000),
        ("KWD", "1.234", 1234),
        ("USD", "999999999999999.99", 99999999999999999),
    ],
)
def test_minor_units_use_the_iso_exponent(currency: str, value: str, minor: int) -> None:
    assert paypal_amounts.minor_units({"currency_code": currency, "value": value}) == (
        minor,
        currency,
    )


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (
            {"currency_code": "EUR", "value": "19.999"},
            "field 'a.value' has more decimals than EUR has",
        ),
        (
            {"currency_code": "JPY", "value": "500.5"},
            "field 'a.value' has more decimals than JPY has",
        ),
        (
            {"currency_code": "EUR", "value": "-5.00"},
            "field 'a.value' is not a non-negative decimal",
        ),
        ({"currency_code": "EUR", "value": "1e3"}, "field 'a.value' is not a non-negative decimal"),
        ({"currency_code": "EUR", "value": "NaN"}, "field 'a.value' is not a non-negative decimal"),
        ({"currency_code": "EUR", "value": 19.99}, "field 'a.value' has the wrong type"),
        ({"currency_code": "eur", "value": "1"}, "field 'a.currency_code' is not an ISO 4217 code"),
        ({"value": "1"}, "missing field 'a.currency_code'"),
        ({"currency_code": "EUR"}, "missing field 'a.value'"),
        (None, "missing field 'a'"),
    ],
)
def test_bad_money_is_named(amount: object, expected: str) -> None:
    with pytest.raises(errors.InvalidWebhook) as info:
        paypal_amounts.minor_units(amount, "a")
    assert info.value.message == expected


@pytest.mark.parametrize(
    ("minor", "currency", "value"),
    [
        (1999, "eur", "19.99"),
        (5, "USD", "0.05"),
        (500, "JPY", "500"),
        (100000, "HUF", "1000"),
        (300, "TWD", "3"),
        (1234, "KWD", "1.234"),
    ],
)
def test_paypal_amount(minor: int, currency: str, value: str) -> None:
    assert paypal_amounts.paypal_amount(minor, currency) == {
        "currency_code": currency.upper(),
        "value": value,
    }


@pytest.mark.parametrize(("minor", "currency"), [(100050, "HUF"), (-1, "EUR"), (1, "EURO")])
def test_paypal_amount_refuses_what_paypal_cannot_take(minor: int, currency: str) -> None:
    with pytest.raises(errors.UserError):
        paypal_amounts.paypal_amount(minor, currency)
