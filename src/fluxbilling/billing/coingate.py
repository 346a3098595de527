"""CoinGate (API v2) payment callbacks: parse, check the per-order token, classify the order.

CoinGate signs nothing (payments.md §4.1). Authenticity has two layers, both built here as
pure functions:

1. **token** — we generate a random token per order (`new_callback_token`), send it in the
   create-order request (`order_request`) and store it with the invoice (or only its HMAC,
   `hash_token`); CoinGate echoes it as the ``token`` field of every callback for that order
   and `check_token` compares it in constant time. A cheap filter, nothing more;
2. **re-fetch** — the caller fetches ``GET /v2/orders/{id}`` (`coingate_api.CoinGateApi`) and
   acts only on what `classify` makes of the *fetched* order, never on the posted status.

Status mapping of a fetched order (§4.2; first matching row wins):

| status                        | kind                                                        |
|-------------------------------|-------------------------------------------------------------|
| new, pending, confirming      | pending                                                     |
| paid                          | underpaid when ``underpaid_amount > 0``, else paid          |
| invalid, expired, canceled    | underpaid when part of the amount arrived, else failed      |
| refunded, partially_refunded  | refund: the completed refunds, cumulative                   |
| anything else                 | ignored                                                     |

Money: CoinGate sends decimal strings (``"10.0"``); `to_minor` turns them into integer minor
units with `Decimal` and the ISO 4217 exponent of the currency (JPY 0, EUR 2, KWD 3) and
refuses a value with more decimals than the currency has. Our invoices are fiat, so a price
currency outside ISO 4217 (``BTC``, ``USDT``) is refused. ``underpaid_amount`` and
``overpaid_amount`` are in the *pay* currency (crypto), and while nothing has arrived
``underpaid_amount`` equals ``pay_amount`` (CoinGate's own examples), hence "part of the
amount arrived" means ``0 < underpaid_amount < pay_amount``.

Unverified choices (no vendor statement found):

- an underpaid fact's ``amount_minor`` is an *estimate* of what arrived, in the price currency:
  ``price * (pay_amount - underpaid_amount) / pay_amount``, rounded down (0 when
  ``pay_amount`` is unknown);
- refunds count when their ``status`` is ``completed``; ``request_amount`` is in the order's
  price currency (CoinGate's create-refund documentation); a ``refunded`` order without
  completed refunds listed counts as refunded in full;
- a ``paid`` order with ``underpaid_amount > 0`` (CoinGate may accept a small underpayment,
  or the merchant may have "accepted underpaid orders") is ``underpaid``: a human decides.
  One of CoinGate's documentation examples shows a ``paid`` order whose ``underpaid_amount``
  equals ``pay_amount``; we take that for sample data, not for behaviour.

Failures raise `errors.InvalidWebhook` naming the field; messages never contain the token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fluxbilling import errors
from fluxbilling.billing.facts import PaymentFact, PaymentKind

__all__ = [
    "LIVE_API_URL",
    "SANDBOX_API_URL",
    "CoinGateCallback",
    "CoinGateOrder",
    "PaymentFact",
    "api_url",
    "check_token",
    "classify",
    "exponent",
    "from_minor",
    "hash_token",
    "new_callback_token",
    "order_request",
    "parse_callback",
    "parse_order",
    "to_minor",
]

LIVE_API_URL = "https://api.coingate.com/v2/"
SANDBOX_API_URL = "https://api-sandbox.coingate.com/v2/"

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

_PENDING = frozenset({"new", "pending", "confirming"})
_FAILED = frozenset({"invalid", "expired", "canceled"})
_REFUNDED = frozenset({"refunded", "partially_refunded"})
# Top-level callback fields kept as text; bracketed keys (``fees[][amount]``) are skipped.
_FORM_MEDIA = "application/x-www-form-urlencoded"


def api_url(*, sandbox: bool) -> str:
    """The API base URL of an environment (sandbox credentials do not work live, and back).

    Example:
        >>> api_url(sandbox=True)
        'https://api-sandbox.coingate.com/v2/'
    """
    return SANDBOX_API_URL if sandbox else LIVE_API_URL


# ---------------------------------------------------------------------------------------
# Money


def exponent(currency: str) -> int | None:
    """The ISO 4217 minor-unit exponent of `currency`, or None when it is not ISO 4217 fiat.

    Example:
        >>> exponent("JPY"), exponent("eur"), exponent("BTC")
        (0, 2, None)
    """
    return _EXPONENTS.get(currency.upper())


def _fiat(currency: object, path: str) -> tuple[str, int]:
    if not isinstance(currency, str) or not currency:
        raise errors.InvalidWebhook(f"missing field '{path}'", field=path)
    code = currency.upper()
    exp = exponent(code)
    if exp is None:
        raise errors.InvalidWebhook(
            f"field '{path}' is not an ISO 4217 currency: {currency!r}", field=path
        )
    return code, exp


def _decimal(value: object, path: str) -> Decimal:
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
    _, exp = _fiat(currency, "price_currency")
    scaled = _decimal(amount, path).scaleb(exp)
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


# ---------------------------------------------------------------------------------------
# Tokens


def new_callback_token() -> str:
    """A fresh random per-order callback token (256 bits, URL- and form-safe characters)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str, secret: str) -> str:
    """The HMAC-SHA256 (hex) of a callback token, to store instead of the token itself.

    Args:
        token: The per-order token.
        secret: Our installation secret (the HMAC key).

    Raises:
        errors.InvalidSettings: `secret` is empty.
    """
    if not secret:
        raise errors.InvalidSettings("no CoinGate token-hashing secret is configured")
    return hmac.new(secret.encode("utf-8"), token.encode("utf-8"), hashlib.sha256).hexdigest()


def check_token(received: str | None, expected: str, *, secret: str | None = None) -> None:
    """Check a callback's ``token`` against the one stored for the order; return when equal.

    Args:
        received: The callback's ``token`` (None or empty when absent).
        expected: What we stored: the token itself, or its `hash_token` when `secret` is given.
        secret: The HMAC key when `expected` is a hash.

    Raises:
        errors.InvalidSettings: No token is stored for the order (nothing can match).
        errors.InvalidWebhook: The token is missing or does not match.

    Example:
        >>> check_token("t0k3n", "t0k3n")
        >>> check_token("t0k3n", hash_token("t0k3n", "k"), secret="k")
    """
    if not expected:
        raise errors.InvalidSettings("no callback token is stored for this order")
    if not received:
        raise errors.InvalidWebhook("missing callback token")
    candidate = received if secret is None else hash_token(received, secret)
    if not hmac.compare_digest(candidate.encode("utf-8"), expected.encode("utf-8")):
        raise errors.InvalidWebhook("callback token does not match")


# ---------------------------------------------------------------------------------------
# Callbacks


@dataclass(frozen=True, slots=True)
class CoinGateCallback:
    """A parsed callback: hints about which order to re-fetch, never the truth about it.

    Attributes:
        id: CoinGate's order id (what to fetch).
        order_id: Our reference as sent at creation (the invoice id).
        status: The posted status (informational; act on the fetched one).
        token: The per-order token, or None when absent.
        fields: Every other top-level field as text (amounts, currencies, ``created_at``).
    """

    id: int
    order_id: str
    status: str
    token: str | None = field(repr=False)
    fields: dict[str, str]


def _media_type(content_type: str | None, body: bytes) -> str:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media:
        return media
    # No header at all: sniff, as CoinGate's format is an API-app setting we may not know.
    return "application/json" if body.lstrip().startswith(b"{") else _FORM_MEDIA


def _form_fields(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidWebhook("malformed form body") from exc
    fields: dict[str, str] = {}
    for key, value in pairs:
        if "[" in key:
            continue  # nested values in Rails bracket notation (``fees[][type]``) may repeat
        if key in fields:
            raise errors.InvalidWebhook(f"field '{key}' is repeated", field=key)
        fields[key] = value
    return fields


def _json_fields(body: bytes) -> dict[str, str]:
    try:
        data = json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidWebhook(f"malformed JSON body: {exc}") from exc
    if not isinstance(data, dict):
        raise errors.InvalidWebhook("malformed JSON body: not an object")
    fields: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, bool):
            fields[key] = "true" if value else "false"
        elif isinstance(value, str | int | Decimal):
            fields[key] = str(value)
        # None and nested values (``fees``) carry nothing we act on.
    return fields


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise errors.InvalidWebhook(f"missing field '{name}'", field=name)
    return value


def parse_callback(body: bytes, content_type: str | None = None) -> CoinGateCallback:
    """Parse a callback body, form-encoded or JSON (CoinGate's per-API-app setting).

    Args:
        body: The raw request body.
        content_type: The request's ``Content-Type`` (None: sniffed from the body).

    Returns:
        The callback; its `token` still has to pass `check_token`.

    Raises:
        errors.InvalidWebhook: An unsupported content type, a malformed body, a repeated
            field, or a missing/invalid ``id``, ``order_id`` or ``status`` (named).
    """
    media = _media_type(content_type, body)
    if media == "application/json":
        fields = _json_fields(body)
    elif media == _FORM_MEDIA:
        fields = _form_fields(body)
    else:
        raise errors.InvalidWebhook(f"unsupported content type '{media}'", content_type=media)
    raw_id = _required(fields, "id")
    if not (raw_id.isascii() and raw_id.isdigit()) or int(raw_id) == 0:
        raise errors.InvalidWebhook("field 'id' is not a CoinGate order id", field="id")
    token = fields.pop("token", "") or None
    return CoinGateCallback(
        id=int(raw_id),
        order_id=_required(fields, "order_id"),
        status=_required(fields, "status"),
        token=token,
        fields=fields,
    )


# ---------------------------------------------------------------------------------------
# Fetched orders


@dataclass(frozen=True, slots=True)
class CoinGateOrder:
    """The fields of a fetched order that money decisions rest on.

    Attributes:
        id: CoinGate's order id.
        order_id: Our reference (invoice id) as sent at creation; None when empty.
        status: CoinGate's order status.
        price_minor: The price in minor units of `price_currency`.
        price_currency: Upper-case ISO 4217 code.
        receive_currency: The settlement currency (``EUR``, ``BTC``, ``DO_NOT_CONVERT``...);
            None when empty.
        pay_currency: The crypto the shopper pays in; None until chosen.
        pay_amount: The amount due in `pay_currency`; None until chosen.
        underpaid_amount: Still missing, in `pay_currency` (0 when paid in full).
        overpaid_amount: Paid too much, in `pay_currency`.
        refunded_minor: Completed refunds, cumulative, in minor units of `price_currency`.
    """

    id: int
    order_id: str | None
    status: str
    price_minor: int
    price_currency: str
    receive_currency: str | None
    pay_currency: str | None
    pay_amount: Decimal | None
    underpaid_amount: Decimal
    overpaid_amount: Decimal
    refunded_minor: int


def _optional_decimal(order: Mapping[str, Any], name: str) -> Decimal | None:
    value = order.get(name)
    return None if value is None or value == "" else _decimal(value, name)


def _optional_text(order: Mapping[str, Any], name: str) -> str | None:
    value = order.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise errors.InvalidWebhook(f"field '{name}' has the wrong type", field=name)
    return str(value)


def _refunded_minor(order: Mapping[str, Any], currency: str) -> int:
    refunds = order.get("refunds")
    if refunds is None:
        return 0
    if not isinstance(refunds, list):
        raise errors.InvalidWebhook("field 'refunds' has the wrong type", field="refunds")
    total = 0
    for n, refund in enumerate(refunds):
        if not isinstance(refund, dict):
            raise errors.InvalidWebhook(
                f"field 'refunds[{n}]' has the wrong type", field=f"refunds[{n}]"
            )
        if refund.get("status") != "completed":
            continue
        path = f"refunds[{n}].request_amount"
        if refund.get("request_amount") is None:
            raise errors.InvalidWebhook(f"missing field '{path}'", field=path)
        total += to_minor(refund["request_amount"], currency, path=path)
    return total


def parse_order(order: Mapping[str, Any]) -> CoinGateOrder:
    """Parse a fetched order (``GET /v2/orders/{id}``) into typed, exact values.

    Args:
        order: The order object as decoded from CoinGate's JSON.

    Returns:
        The fields money decisions rest on.

    Raises:
        errors.InvalidWebhook: A field we need is missing or has the wrong type, the price
            currency is not ISO 4217 fiat, or an amount is not exact in it (the message names
            the field).
    """
    raw_id = order.get("id")
    if raw_id is None:
        raise errors.InvalidWebhook("missing field 'id'", field="id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int) or raw_id <= 0:
        raise errors.InvalidWebhook("field 'id' has the wrong type", field="id")
    status = order.get("status")
    if not isinstance(status, str) or not status:
        raise errors.InvalidWebhook("missing field 'status'", field="status")
    currency, _ = _fiat(order.get("price_currency"), "price_currency")
    if order.get("price_amount") is None:
        raise errors.InvalidWebhook("missing field 'price_amount'", field="price_amount")
    receive = _optional_text(order, "receive_currency")
    pay_currency = _optional_text(order, "pay_currency")
    return CoinGateOrder(
        id=raw_id,
        order_id=_optional_text(order, "order_id"),
        status=status,
        price_minor=to_minor(order["price_amount"], currency),
        price_currency=currency,
        receive_currency=None if receive is None else receive.upper(),
        pay_currency=None if pay_currency is None else pay_currency.upper(),
        pay_amount=_optional_decimal(order, "pay_amount"),
        underpaid_amount=_optional_decimal(order, "underpaid_amount") or Decimal(0),
        overpaid_amount=_optional_decimal(order, "overpaid_amount") or Decimal(0),
        refunded_minor=_refunded_minor(order, currency),
    )


def _arrived_minor(order: CoinGateOrder) -> int:
    """What arrived of a partly paid order, in price minor units, rounded down (estimate)."""
    if not order.pay_amount:
        return 0
    arrived = max(order.pay_amount - order.underpaid_amount, Decimal(0))
    estimate = Decimal(order.price_minor) * arrived / order.pay_amount
    return int(estimate.to_integral_value(rounding=ROUND_DOWN))


def _partly_paid(order: CoinGateOrder) -> bool:
    return order.pay_amount is not None and 0 < order.underpaid_amount < order.pay_amount


def _kind(order: CoinGateOrder) -> PaymentKind:
    if order.status in _PENDING:
        return "pending"
    if order.status == "paid":
        return "underpaid" if order.underpaid_amount > 0 else "paid"
    if order.status in _FAILED:
        return "underpaid" if _partly_paid(order) else "failed"
    if order.status in _REFUNDED:
        return "refund"
    return "ignored"


def classify(order: Mapping[str, Any], *, sandbox: bool) -> PaymentFact:
    """Map a *fetched* order to the payment fact it carries (see the module table).

    Args:
        order: The order as fetched with the API token (never a callback body).
        sandbox: Whether the connection that fetched it is CoinGate's sandbox; the order
            itself does not say (sandbox and live are separate systems).

    Returns:
        The fact. ``gateway_payment_id`` is CoinGate's order id; ``invoice_ref`` is the
        order's ``order_id`` (our invoice id); ``amount_minor`` is the price (the arrived
        estimate for ``underpaid``, the completed refunds for ``refund``) in
        ``price_currency``; ``gateway_object_id`` is the order id, or ``<id>:refunds`` for the
        cumulative refund fact (one stable key whose amount only grows).

    Raises:
        errors.InvalidWebhook: See `parse_order`.

    Example:
        >>> order = {"id": 7, "order_id": "42", "status": "paid", "price_amount": "19.99",
        ...          "price_currency": "EUR", "underpaid_amount": "0"}
        >>> fact = classify(order, sandbox=True)
        >>> fact.kind, fact.amount_minor, fact.currency, fact.livemode
        ('paid', 1999, 'EUR', False)
    """
    parsed = parse_order(order)
    kind = _kind(parsed)
    amount = parsed.price_minor
    object_id = str(parsed.id)
    if kind == "underpaid":
        amount = _arrived_minor(parsed)
    elif kind == "refund":
        amount = parsed.refunded_minor
        if parsed.status == "refunded" and amount == 0:
            amount = parsed.price_minor
        object_id = f"{parsed.id}:refunds"
    return PaymentFact(
        kind=kind,
        gateway_payment_id=str(parsed.id),
        invoice_ref=parsed.order_id,
        amount_minor=amount,
        currency=parsed.price_currency,
        livemode=not sandbox,
        gateway_object_id=object_id,
    )


# ---------------------------------------------------------------------------------------
# Creating orders


def _url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise errors.InvalidSettings(f"{name} is not an absolute http(s) URL", field=name)
    return value


def order_request(
    invoice_id: int | str,
    amount_minor: int,
    currency: str,
    callback_url: str,
    success_url: str,
    cancel_url: str,
    token: str,
    title: str,
    *,
    description: str | None = None,
    receive_currency: str | None = None,
) -> dict[str, str]:
    """The body of ``POST /v2/orders`` for one of our invoices (all values text).

    CoinGate documents the body both form-encoded and as JSON; `coingate_api` sends it
    form-encoded, like CoinGate's own examples, so amounts stay exact decimal strings.

    Args:
        invoice_id: Our invoice id, sent as ``order_id`` (the fact's ``invoice_ref``).
        amount_minor: The price in minor units (> 0).
        currency: The ISO 4217 price currency.
        callback_url: Our callback endpoint: public, direct (CoinGate stops on redirects).
        success_url: Where the shopper returns after paying.
        cancel_url: Where the shopper returns after canceling.
        token: The per-order token (`new_callback_token`) CoinGate echoes in callbacks.
        title: The order title, 3-150 characters (longer ones are cut).
        description: 3-500 characters (cut); CoinGate's v2 reference lists it as required,
            so the title is sent when None.
        receive_currency: The settlement currency (``EUR``, ``BTC``, ``DO_NOT_CONVERT``...);
            omitted when None (the API app's setting applies).

    Returns:
        The body.

    Raises:
        errors.InvariantViolation: A non-positive amount, a non-ISO currency, an empty
            token or a title shorter than 3 characters (our bug, not the customer's).
        errors.InvalidSettings: A URL is not absolute http(s).
    """
    if amount_minor <= 0:
        raise errors.InvariantViolation(f"cannot create a CoinGate order for {amount_minor}")
    if not token:
        raise errors.InvariantViolation("a CoinGate order needs a callback token")
    title = title.strip()[:150]
    if len(title) < 3:
        raise errors.InvariantViolation("a CoinGate order title needs at least 3 characters")
    summary = (description or "").strip()[:500]
    body = {
        "order_id": str(invoice_id),
        "price_amount": from_minor(amount_minor, currency),
        "price_currency": currency.upper(),
        "title": title,
        "description": summary if len(summary) >= 3 else title,
        "callback_url": _url(callback_url, "callback_url"),
        "success_url": _url(success_url, "success_url"),
        "cancel_url": _url(cancel_url, "cancel_url"),
        "token": token,
    }
    if receive_currency:
        body["receive_currency"] = receive_currency.upper()
    return body
