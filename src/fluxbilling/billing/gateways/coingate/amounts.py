"""CoinGate amounts: exact decimal strings to ISO 4217 minor units and back.

CoinGate sends decimal strings (``"10.0"``); `to_minor` turns them into integer minor units
with `Decimal` and the ISO 4217 exponent of the currency (`exponent`: JPY 0, EUR 2, KWD 3)
and refuses a value with more decimals than the currency has, or a price currency outside
ISO 4217 (``BTC``, ``USDT``: our invoices are fiat). `from_minor` writes the decimal string
a create-order request carries (`checkout`). `fiat_currency` and `decimal_amount` read
single fields of a fetched order (`events`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from fluxbilling import errors

__all__ = ["decimal_amount", "exponent", "fiat_currency", "from_minor", "to_minor"]

# ISO 4217 active codes by minor-unit exponent (2 unless listed under 0, 3 or 4).
_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
    "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD "
    "KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD "
    "NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
    "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED "
    "VES WST XCD XCG YER ZAR ZMW ZWG"
)
_EXPONENTS: dict[str, int] = {
    code: exp
    for exp, codes in ((0, _EXPONENT_0), (2, _EXPONENT_2), (3, _EXPONENT_3), (4, _EXPONENT_4))
    for code in codes.split()
}


def exponent(currency: str) -> int | None:
    """The ISO 4217 minor-unit exponent of `currency`, or None when it is not ISO 4217 fiat.

    Example:
        >>> exponent("JPY"), exponent("eur"), exponent("BTC")
        (0, 2, None)
    """
    return _EXPONENTS.get(currency.upper())


def fiat_currency(currency: object, path: str) -> tuple[str, int]:
    """An ISO 4217 fiat currency field as ``(upper-case code, exponent)``.

    Args:
        currency: The field's value.
        path: The field named in errors.

    Returns:
        E.g. ``("EUR", 2)`` for ``"eur"``.

    Raises:
        errors.InvalidWebhook: The field is missing or not ISO 4217 fiat (``BTC``).
    """
    if not isinstance(currency, str) or not currency:
        raise errors.InvalidWebhook(f"missing field '{path}'", field=path)
    code = currency.upper()
    exp = exponent(code)
    if exp is None:
        raise errors.InvalidWebhook(
            f"field '{path}' is not an ISO 4217 currency: {currency!r}", field=path
        )
    return code, exp


def decimal_amount(value: object, path: str) -> Decimal:
    """A non-negative decimal amount field, exactly (a float is refused).

    Args:
        value: The field's value: a decimal string, an int or a `Decimal`.
        path: The field named in errors.

    Returns:
        The value as a `Decimal`.

    Raises:
        errors.InvalidWebhook: The wrong type, not a decimal, negative or not finite.
    """
    # Floats are refused: a float has already lost the amount CoinGate wrote.
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise errors.InvalidWebhook(f"field '{path}' has the wrong type", field=path)
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise errors.InvalidWebhook(f"field '{path}' is not a decimal amount", field=path) from exc
    if not number.is_finite() or number < 0:
        raise errors.InvalidWebhook(f"field '{path}' is not a decimal amount", field=path)
    return number


def to_minor(amount: str | int | Decimal, currency: str, *, path: str = "price_amount") -> int:
    """A decimal amount in integer minor units of `currency`, exactly.

    Args:
        amount: CoinGate's decimal string (``"19.99"``, ``"10.0"``, ``"1369"``).
        currency: An ISO 4217 code (any case).
        path: The field named in errors.

    Returns:
        The amount in minor units (``1999`` for ``"19.99" EUR``, ``1000`` for ``"1000.0" JPY``).

    Raises:
        errors.InvalidWebhook: Not a non-negative decimal, not an ISO 4217 currency, or more
            decimals than the currency has (nothing is rounded away).

    Example:
        >>> to_minor("19.99", "EUR"), to_minor("1000.0", "JPY"), to_minor("1.5", "KWD")
        (1999, 1000, 1500)
    """
    _, exp = fiat_currency(currency, "price_currency")
    scaled = decimal_amount(amount, path).scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise errors.InvalidWebhook(
            f"field '{path}' has more decimals than {currency.upper()} allows", field=path
        )
    return int(scaled)


def from_minor(amount_minor: int, currency: str) -> str:
    """Minor units as the decimal string CoinGate expects (``1999`` EUR → ``"19.99"``).

    Raises:
        errors.InvariantViolation: `currency` is not ISO 4217 or the amount is negative.

    Example:
        >>> from_minor(1999, "EUR"), from_minor(1000, "JPY")
        ('19.99', '1000')
    """
    exp = exponent(currency)
    if exp is None or amount_minor < 0:
        raise errors.InvariantViolation(
            f"cannot price {amount_minor} {currency!r} at CoinGate", currency=currency
        )
    return f"{Decimal(amount_minor).scaleb(-exp):f}"
