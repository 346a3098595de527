"""What we ask CoinGate to create for one invoice attempt: an order (pure)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fluxbilling import errors
from fluxbilling.billing.gateways.coingate.amounts import from_minor

__all__ = ["order_request"]


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

    CoinGate documents the body both form-encoded and as JSON; `api.CoinGateApi` sends it
    form-encoded, like CoinGate's own examples, so amounts stay exact decimal strings.

    Args:
        invoice_id: Our invoice id, sent as ``order_id`` (the fact's ``invoice_ref``).
        amount_minor: The price in minor units (> 0).
        currency: The ISO 4217 price currency.
        callback_url: Our callback endpoint: public, direct (CoinGate stops on redirects).
        success_url: Where the shopper returns after paying.
        cancel_url: Where the shopper returns after canceling.
        token: The per-order token (`verify.new_callback_token`) CoinGate echoes in callbacks.
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
