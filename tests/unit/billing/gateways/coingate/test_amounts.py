"""CoinGate amounts and minor units: `gateways.coingate.amounts`."""

from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.coingate import amounts as coingate_amounts

# --- money ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("19.99", "EUR", 1999),
        ("10.0", "EUR", 1000),
        ("1369", "usd", 136900),
        ("0.05", "GBP", 5),
        ("1000.0", "JPY", 1000),
        ("1000", "JPY", 1000),
        ("1.234", "KWD", 1234),
        ("1E+3", "EUR", 100000),
    ],
)
def test_to_minor_is_exact(amount: str, currency: str, minor: int) -> None:
    assert coingate_amounts.to_minor(amount, currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1000.5", "JPY", "more decimals than JPY allows"),
        ("19.999", "EUR", "more decimals than EUR allows"),
        ("abc", "EUR", "not a decimal amount"),
        ("-1.00", "EUR", "not a decimal amount"),
        ("NaN", "EUR", "not a decimal amount"),
        ("Infinity", "EUR", "not a decimal amount"),
        ("0.001", "BTC", "not an ISO 4217 currency"),
        ("10", "USDT", "not an ISO 4217 currency"),
    ],
)
def test_to_minor_refuses_what_it_cannot_represent(
    amount: str, currency: str, expected: str
) -> None:
    with pytest.raises(errors.InvalidWebhook, match=expected):
        coingate_amounts.to_minor(amount, currency)


def test_to_minor_refuses_floats() -> None:
    with pytest.raises(errors.InvalidWebhook, match="wrong type"):
        coingate_amounts.to_minor(19.99, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(1999, "EUR", "19.99"), (5, "EUR", "0.05"), (1000, "JPY", "1000"), (1234, "KWD", "1.234")],
)
def test_from_minor_round_trips(minor: int, currency: str, text: str) -> None:
    assert coingate_amounts.from_minor(minor, currency) == text
    assert coingate_amounts.to_minor(text, currency) == minor


@pytest.mark.parametrize(("minor", "currency"), [(100, "BTC"), (-1, "EUR")])
def test_from_minor_refuses_non_fiat_and_negative(minor: int, currency: str) -> None:
    with pytest.raises(errors.InvariantViolation):
        coingate_amounts.from_minor(minor, currency)


def test_exponents() -> None:
    assert [coingate_amounts.exponent(c) for c in ("EUR", "jpy", "KWD", "CLF", "BTC")] == [
        2,
        0,
        3,
        4,
        None,
    ]
