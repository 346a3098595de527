"""Mollie amounts: decimal strings with a currency to integer minor units and back.

Amounts are strings (``"10.00"``) with a currency; they become integer minor units with
Mollie's decimal places for that currency (`CURRENCY_DECIMALS`: JPY and ISK have 0),
through `Decimal`, never float. A value with more decimals than the currency allows is
rejected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from fluxbilling import errors

__all__ = ["CURRENCY_DECIMALS", "format_amount", "to_minor"]


# Mollie's documented currencies and their decimal places (docs: multicurrency).
_TWO_DECIMALS = (
    "AED", "AUD", "BGN", "BRL", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "HKD", "HRK", "HUF",
    "ILS", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RON", "RUB", "SEK", "SGD", "THB", "TWD",
    "USD", "ZAR",
)  # fmt: skip
CURRENCY_DECIMALS: Mapping[str, int] = {**dict.fromkeys(_TWO_DECIMALS, 2), "ISK": 0, "JPY": 0}


_AMOUNT = re.compile(r"[0-9]{1,15}(\.[0-9]{1,10})?")


def _decimals(currency: object, path: str) -> int:
    if not isinstance(currency, str) or currency.upper() not in CURRENCY_DECIMALS:
        raise errors.InvalidWebhook(f"unsupported currency in '{path}'", field=path)
    return CURRENCY_DECIMALS[currency.upper()]


def to_minor(value: str, currency: str, *, path: str = "amount") -> int:
    """Convert a Mollie amount string to integer minor units of its currency.

    Args:
        value: The amount as Mollie writes it, e.g. ``"10.00"`` (``"10.5"`` is accepted).
        currency: ISO 4217 code (any case) that Mollie supports.
        path: The field named in errors.

    Returns:
        The amount in minor units.

    Raises:
        errors.InvalidWebhook: The value is not a non-negative decimal string, has more
            decimals than the currency allows, or the currency is unknown.

    Example:
        >>> to_minor("10.5", "EUR"), to_minor("1000", "JPY")
        (1050, 1000)
    """
    places = _decimals(currency, f"{path}.currency")
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise errors.InvalidWebhook(f"field '{path}.value' is not a decimal amount", field=path)
    minor = Decimal(value).scaleb(places)
    if minor != minor.to_integral_value():
        raise errors.InvalidWebhook(
            f"field '{path}.value' has more decimals than {currency.upper()} allows",
            field=path,
        )
    return int(minor)


def format_amount(amount_minor: int, currency: str) -> str:
    """Write minor units as Mollie's amount string with the currency's decimal places.

    Example:
        >>> format_amount(1050, "EUR"), format_amount(1000, "JPY")
        ('10.50', '1000')
    """
    places = CURRENCY_DECIMALS.get(currency.upper())
    if places is None:
        raise errors.InvalidSettings(f"Mollie does not support the currency {currency!r}")
    return f"{Decimal(amount_minor).scaleb(-places):.{places}f}"
