"""CoinGate fetched orders: parse ``GET /v2/orders/{id}`` and classify it as a payment fact.

The second layer of authenticity (`verify`): the caller re-fetches the order a callback
names and acts only on what `classify` makes of the *fetched* order, never on the posted
status. `parse_order` reads the fields money decisions rest on into a `CoinGateOrder` (exact
amounts via `amounts`); `classify` maps it to a `PaymentFact`.

Status mapping of a fetched order (§4.2; first matching row wins):

| status                        | kind                                                        |
|-------------------------------|-------------------------------------------------------------|
| new, pending, confirming      | pending                                                     |
| paid                          | underpaid when ``underpaid_amount > 0``, else paid          |
| invalid, expired, canceled    | underpaid when part of the amount arrived, else failed      |
| refunded, partially_refunded  | refund: the completed refunds, cumulative                   |
| anything else                 | ignored                                                     |

``underpaid_amount`` and ``overpaid_amount`` are in the *pay* currency (crypto), and while
nothing has arrived ``underpaid_amount`` equals ``pay_amount`` (CoinGate's own examples),
hence "part of the amount arrived" means ``0 < underpaid_amount < pay_amount``.

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

Failures raise `errors.InvalidWebhook` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from fluxbilling import errors
from fluxbilling.billing.facts import PaymentFact, PaymentKind
from fluxbilling.billing.gateways.coingate.amounts import decimal_amount, fiat_currency, to_minor

__all__ = ["CoinGateOrder", "classify", "parse_order"]

_PENDING = frozenset({"new", "pending", "confirming"})
_FAILED = frozenset({"invalid", "expired", "canceled"})
_REFUNDED = frozenset({"refunded", "partially_refunded"})


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
    return None if value is None or value == "" else decimal_amount(value, name)


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
    currency, _ = fiat_currency(order.get("price_currency"), "price_currency")
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
    """Map a *fetched* order to the payment fact it carries (the module docstring's table).

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
