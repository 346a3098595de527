"""PayPal money objects and ISO 4217 minor units, both ways.

PayPal amounts are ``{"currency_code", "value"}`` with ``value`` a decimal string; facts
carry ISO 4217 minor units (``JPY`` exponent 0, ``EUR`` 2, ``KWD`` 3). `minor_units` reads
a money object exactly (refusing more decimals than the currency has) and raises
`errors.InvalidWebhook`; `paypal_amount` writes one for a request and raises
`errors.UserError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fluxbilling import errors

__all__ = ["minor_units", "paypal_amount"]

# ISO 4217 exponents that are not 2.
_NOT_TWO = (
    (0, "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"),
    (3, "BHD IQD JOD KWD LYD OMR TND"),
    (4, "CLF UYW"),
)
_EXPONENTS = {code: exponent for exponent, codes in _NOT_TWO for code in codes.split()}
# PayPal refuses decimals for these (its currency-codes page), whatever ISO says.
_PAYPAL_WHOLE_UNITS = frozenset({"HUF", "JPY", "TWD"})
_VALUE = re.compile(r"\d+(\.\d+)?|\.\d+")
_CURRENCY = re.compile(r"[A-Z]{3}")


def _text(amount: Mapping[str, Any], name: str, path: str) -> str:
    """The non-empty string field `name` of a money object at `path`."""
    value = amount.get(name)
    if value is None or value == "":
        raise errors.InvalidWebhook(f"missing field '{path}.{name}'", field=f"{path}.{name}")
    if not isinstance(value, str):
        raise errors.InvalidWebhook(
            f"field '{path}.{name}' has the wrong type", field=f"{path}.{name}"
        )
    return value


def minor_units(amount: object, path: str = "amount") -> tuple[int, str]:
    """A PayPal money object as ``(minor units, currency)``.

    Args:
        amount: ``{"currency_code": "EUR", "value": "19.99"}``.
        path: Where the object sits, named in errors.

    Returns:
        E.g. ``(1999, "EUR")``; ``{"currency_code": "JPY", "value": "500"}`` gives
        ``(500, "JPY")``.

    Raises:
        errors.InvalidWebhook: Not a money object, a bad currency, a value that is not a
            non-negative decimal string, or more decimals than the currency has.
    """
    if not isinstance(amount, dict):
        raise errors.InvalidWebhook(f"missing field '{path}'", field=path)
    currency = _text(amount, "currency_code", path)
    value = _text(amount, "value", path)
    if not _CURRENCY.fullmatch(currency):
        raise errors.InvalidWebhook(
            f"field '{path}.currency_code' is not an ISO 4217 code", field=f"{path}.currency_code"
        )
    if not _VALUE.fullmatch(value):
        raise errors.InvalidWebhook(
            f"field '{path}.value' is not a non-negative decimal", field=f"{path}.value"
        )
    scaled = Decimal(value).scaleb(_EXPONENTS.get(currency, 2))
    if scaled != scaled.to_integral_value():
        raise errors.InvalidWebhook(
            f"field '{path}.value' has more decimals than {currency} has",
            field=f"{path}.value",
        )
    return int(scaled), currency


def paypal_amount(amount_minor: int, currency: str) -> dict[str, str]:
    """Minor units as a PayPal money object.

    Args:
        amount_minor: The amount in ISO 4217 minor units.
        currency: ISO 4217 code, any case.

    Returns:
        E.g. ``{"currency_code": "EUR", "value": "19.99"}``; ``HUF``, ``JPY`` and ``TWD``
        are written without decimals, as PayPal requires.

    Raises:
        errors.UserError: A bad currency, a negative amount, or a fraction PayPal cannot
            take for a whole-unit currency.

    Example:
        >>> paypal_amount(1999, "eur")
        {'currency_code': 'EUR', 'value': '19.99'}
    """
    currency = currency.upper()
    if not _CURRENCY.fullmatch(currency) or amount_minor < 0:
        raise errors.UserError(f"cannot express {amount_minor} {currency!r} for PayPal")
    exponent = _EXPONENTS.get(currency, 2)
    value = Decimal(amount_minor).scaleb(-exponent)
    if currency in _PAYPAL_WHOLE_UNITS:
        if value != value.to_integral_value():
            raise errors.UserError(f"PayPal takes no decimals for {currency}")
        exponent = 0
    return {"currency_code": currency, "value": f"{value:.{exponent}f}"}
