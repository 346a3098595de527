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

Layout: `coingate_callback` holds the token functions and `parse_callback`,
`coingate_order` parses and classifies fetched orders, `coingate_money` converts amounts.
This module holds the API URLs and `order_request`, and re-exports every public name of
the three, so callers keep importing `billing.coingate` alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fluxbilling import errors
from fluxbilling.billing.coingate_callback import (
    CoinGateCallback,
    check_token,
    hash_token,
    new_callback_token,
    parse_callback,
)
from fluxbilling.billing.coingate_money import exponent, from_minor, to_minor
from fluxbilling.billing.coingate_order import CoinGateOrder, PaymentFact, classify, parse_order

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


def api_url(*, sandbox: bool) -> str:
    """The API base URL of an environment (sandbox credentials do not work live, and back).

    Example:
        >>> api_url(sandbox=True)
        'https://api-sandbox.coingate.com/v2/'
    """
    return SANDBOX_API_URL if sandbox else LIVE_API_URL


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
