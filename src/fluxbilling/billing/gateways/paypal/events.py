"""PayPal webhook events and fetched objects as payment facts: parse, then classify.

`parse_event` reads a verified body into a `PayPalEvent` envelope; `classify` maps an event
to the `PaymentFact` it carries (payments.md §3.4), and `fact_from_capture` /
`fact_from_order` do the same for captures and orders fetched from the API;
`facts_from_order` adds the refunds (and reversals) an order lists, keyed exactly as their
webhooks are. The payment is the **order** we created, the capture its ``alias_id``;
refunds, reversals and disputes name only the capture. Amounts go through
`amounts.minor_units`. Failures raise `errors.InvalidWebhook` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from fluxbilling import errors, limits
from fluxbilling.billing.facts import PaymentFact, PaymentKind
from fluxbilling.billing.gateways.fields import required
from fluxbilling.billing.gateways.paypal.amounts import minor_units

__all__ = [
    "PayPalEvent",
    "classify",
    "fact_from_capture",
    "fact_from_order",
    "facts_from_order",
    "parse_event",
    "related_order_id",
]

# ---------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True, slots=True)
class PayPalEvent:
    """The envelope fields of a PayPal webhook event we rely on.

    Attributes:
        id: The event id (``WH-...``), the transport-level dedupe key (the same for every
            transmission of the event).
        event_type: E.g. ``PAYMENT.CAPTURE.COMPLETED``.
        resource_type: E.g. ``capture``, ``refund``, ``checkout-order``, ``dispute``.
        create_time: When PayPal created the event (RFC 3339 string, as sent).
        resource: The resource snapshot, as a plain dict.
    """

    id: str
    event_type: str
    resource_type: str
    create_time: str
    resource: dict[str, Any]


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_event(body: bytes) -> PayPalEvent:
    """Parse a verified body into a `PayPalEvent`.

    Args:
        body: The raw request body.

    Returns:
        The envelope with ``resource`` as a plain dict.

    Raises:
        errors.InvalidWebhook: The body is not a JSON object or ``id``, ``event_type`` or
            ``resource`` is missing or has the wrong type (named).
    """
    try:
        data = limits.loads_json(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidWebhook(f"malformed JSON body: {exc}") from exc
    if not isinstance(data, dict):
        raise errors.InvalidWebhook("malformed JSON body: not an object")
    return PayPalEvent(
        id=required(data, "id", str, "id"),
        event_type=required(data, "event_type", str, "event_type"),
        resource_type=_optional_str(data.get("resource_type")) or "",
        create_time=_optional_str(data.get("create_time")) or "",
        resource=required(data, "resource", dict, "resource"),
    )


# ---------------------------------------------------------------------------------------
# Classification


def _invoice_ref(obj: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        found = _optional_str(obj.get(name))
        if found:
            return found
    return None


def related_order_id(resource: Mapping[str, Any]) -> str | None:
    """The order a capture belongs to (``supplementary_data.related_ids.order_id``)."""
    supplementary = resource.get("supplementary_data")
    related = supplementary.get("related_ids") if isinstance(supplementary, dict) else None
    return _optional_str(related.get("order_id")) if isinstance(related, dict) else None


def _linked_id(resource: Mapping[str, Any], collection: str) -> str | None:
    """The id at the end of the ``rel: up`` link when it points into `collection`.

    A refund's ``up`` link is ``.../v2/payments/captures/{id}``, a capture's is
    ``.../v2/checkout/orders/{id}`` (or an authorization, which we never create).
    """
    links = resource.get("links")
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict) or link.get("rel") != "up":
            continue
        parts = (_optional_str(link.get("href")) or "").rstrip("/").rsplit("/", 2)
        if len(parts) == 3 and parts[1] == collection and parts[2]:
            return parts[2]
    return None


_CAPTURE_KINDS: dict[str, PaymentKind] = {
    "COMPLETED": "paid",
    "PARTIALLY_REFUNDED": "paid",  # it was paid; refunds are facts of their own
    "REFUNDED": "paid",
    # Not among PayPal's published capture statuses (Orders v2 OpenAPI 2.13); accepted so an
    # order whose capture says so after a chargeback stays readable. The reversal is its own
    # fact.
    "REVERSED": "paid",
    "PENDING": "pending",
    "DECLINED": "failed",
    "FAILED": "failed",
}


def _capture_fact(
    kind: PaymentKind,
    capture: Mapping[str, Any],
    livemode: bool,
    path: str,
    order_id: str | None = None,
) -> PaymentFact:
    """A capture names its order as the payment and itself as the alias (see `classify`)."""
    capture_id = required(capture, "id", str, f"{path}.id")
    amount, currency = minor_units(capture.get("amount"), f"{path}.amount")
    order_id = order_id or related_order_id(capture) or _linked_id(capture, "orders")
    return PaymentFact(
        kind=kind,
        gateway_payment_id=order_id or capture_id,
        invoice_ref=_invoice_ref(capture, "custom_id", "invoice_id"),
        amount_minor=amount,
        currency=currency,
        livemode=livemode,
        gateway_object_id=capture_id,
        alias_id=capture_id if order_id else "",
    )


def fact_from_capture(
    capture: Mapping[str, Any],
    *,
    livemode: bool,
    path: str = "capture",
    order_id: str | None = None,
) -> PaymentFact:
    """The fact a capture object states by its ``status`` (a webhook or ``GET`` capture).

    ``COMPLETED``, ``PARTIALLY_REFUNDED``, ``REFUNDED`` and ``REVERSED`` are *paid* (the money
    came in; refunds and reversals are separate facts), ``PENDING`` is *pending*,
    ``DECLINED``/``FAILED`` are *failed*. The fact's payment id is the capture's order
    (``supplementary_data.related_ids.order_id``, else its ``up`` link), its ``alias_id``
    and object id the capture; a capture that names no order is its own payment id.

    Args:
        capture: A capture object.
        livemode: Whether our configuration is live (never read from the object).
        path: Where the object sits, named in errors.
        order_id: The capture's order when the caller knows it (captures listed inside an
            order carry no ``supplementary_data``).

    Returns:
        The fact.

    Raises:
        errors.InvalidWebhook: A field is missing, or the status is unknown.
    """
    status = required(capture, "status", str, f"{path}.status")
    kind = _CAPTURE_KINDS.get(status)
    if kind is None:
        raise errors.InvalidWebhook(
            f"unknown capture status {status[:40]!r}", field=f"{path}.status"
        )
    return _capture_fact(kind, capture, livemode, path, order_id)


def _first_unit(order: Mapping[str, Any], path: str) -> dict[str, Any]:
    units = order.get("purchase_units")
    if not isinstance(units, list) or not units or not isinstance(units[0], dict):
        raise errors.InvalidWebhook(
            f"missing field '{path}.purchase_units'", field=f"{path}.purchase_units"
        )
    return units[0]


def _order_level(
    kind: PaymentKind, order: Mapping[str, Any], livemode: bool, path: str
) -> PaymentFact:
    order_id = _optional_str(order.get("id")) or required(order, "order_id", str, f"{path}.id")
    unit = _first_unit(order, path)
    amount, currency = minor_units(unit.get("amount"), f"{path}.purchase_units[0].amount")
    return PaymentFact(
        kind=kind,
        gateway_payment_id=order_id,
        invoice_ref=_invoice_ref(unit, "custom_id", "invoice_id"),
        amount_minor=amount,
        currency=currency,
        livemode=livemode,
        gateway_object_id=order_id,
    )


def fact_from_order(
    order: Mapping[str, Any], *, livemode: bool, path: str = "order"
) -> PaymentFact:
    """The fact an order object states (a webhook, ``GET`` order or the capture response).

    A ``COMPLETED`` order states the fact of its first purchase unit's paid capture (completed
    or refunded since; payment id = the order, alias = the capture, as for
    ``PAYMENT.CAPTURE.*`` events, so both hit the same key); ``VOIDED`` is *failed*; any other
    status is *pending*. Its refunds are `facts_from_order`'s.

    Args:
        order: An order object.
        livemode: Whether our configuration is live.
        path: Where the object sits, named in errors.

    Returns:
        The fact.

    Raises:
        errors.InvalidWebhook: A field is missing (a completed order without a capture
            included).
    """
    status = required(order, "status", str, f"{path}.status")
    if status == "VOIDED":
        return _order_level("failed", order, livemode, path)
    if status != "COMPLETED":
        return _order_level("pending", order, livemode, path)
    unit = _first_unit(order, path)
    payments = unit.get("payments")
    captures = payments.get("captures") if isinstance(payments, dict) else None
    captures_path = f"{path}.purchase_units[0].payments.captures"
    if not isinstance(captures, list) or not captures:
        raise errors.InvalidWebhook(f"missing field '{captures_path}'", field=captures_path)
    # The paid capture (completed, or refunded since) wins over earlier declined attempts,
    # wherever it is listed.
    ranked = sorted(
        (c for c in captures if isinstance(c, dict)),
        key=lambda c: _CAPTURE_KINDS.get(str(c.get("status"))) != "paid",
    )
    if not ranked:
        raise errors.InvalidWebhook(f"missing field '{captures_path}'", field=captures_path)
    order_id = _optional_str(order.get("id"))
    fact = fact_from_capture(
        ranked[0], livemode=livemode, path=f"{captures_path}[0]", order_id=order_id
    )
    if fact.invoice_ref is None:  # captures inside an order may omit the unit's ids
        fact = replace(fact, invoice_ref=_invoice_ref(unit, "custom_id", "invoice_id"))
    return fact


def _refund_like(
    kind: PaymentKind,
    resource: Mapping[str, Any],
    livemode: bool,
    path: str = "resource",
    capture_id: str | None = None,
) -> PaymentFact:
    """A refund or reversal (resource_type ``refund``): the payment is the ``up`` capture.

    `capture_id` stands in when the object has no ``up`` link (only `facts_from_order`
    knows one: the order's paid capture).
    """
    object_id = required(resource, "id", str, f"{path}.id")
    amount, currency = minor_units(resource.get("amount"), f"{path}.amount")
    return PaymentFact(
        kind=kind,
        gateway_payment_id=_linked_id(resource, "captures") or capture_id or object_id,
        invoice_ref=_invoice_ref(resource, "custom_id", "invoice_id"),
        amount_minor=amount,
        currency=currency,
        livemode=livemode,
        gateway_object_id=object_id,
    )


def _dispute(resource: Mapping[str, Any], livemode: bool) -> PaymentFact:
    dispute_id = required(resource, "dispute_id", str, "resource.dispute_id")
    amount, currency = minor_units(resource.get("dispute_amount"), "resource.dispute_amount")
    transactions = resource.get("disputed_transactions")
    first = transactions[0] if isinstance(transactions, list) and transactions else {}
    first = first if isinstance(first, dict) else {}
    return PaymentFact(
        kind="dispute",
        gateway_payment_id=_optional_str(first.get("seller_transaction_id")) or dispute_id,
        invoice_ref=_invoice_ref(first, "custom", "invoice_number"),
        amount_minor=amount,
        currency=currency,
        livemode=livemode,
        gateway_object_id=dispute_id,
    )


# event type -> (kind, resource shape)
_TABLE: dict[str, tuple[PaymentKind, str]] = {
    "CHECKOUT.ORDER.APPROVED": ("pending", "order"),  # we capture next; not paid yet
    "CHECKOUT.ORDER.COMPLETED": ("paid", "completed-order"),
    "CHECKOUT.PAYMENT-APPROVAL.REVERSED": ("failed", "order"),
    "PAYMENT.CAPTURE.PENDING": ("pending", "capture"),
    "PAYMENT.CAPTURE.COMPLETED": ("paid", "capture"),
    "PAYMENT.CAPTURE.DENIED": ("failed", "capture"),
    "PAYMENT.CAPTURE.DECLINED": ("failed", "capture"),
    "PAYMENT.CAPTURE.REFUNDED": ("refund", "refund"),
    "PAYMENT.CAPTURE.REVERSED": ("dispute", "refund"),  # a chargeback took the money back
    "CUSTOMER.DISPUTE.CREATED": ("dispute", "dispute"),
    "CUSTOMER.DISPUTE.UPDATED": ("dispute", "dispute"),
    "CUSTOMER.DISPUTE.RESOLVED": ("dispute", "dispute"),
}


def classify(event: PayPalEvent, *, livemode: bool) -> PaymentFact:
    """Map an event to the payment fact it carries (payments.md §3.4).

    Payment ids: the payment is the **order** we created (what the invoice stores), so
    order events (``CHECKOUT.ORDER.APPROVED`` → *pending*, ``.COMPLETED`` → *paid*,
    ``CHECKOUT.PAYMENT-APPROVAL.REVERSED`` → *failed*) and capture events name the order,
    with the **capture** as ``alias_id`` (and object id). Refunds and reversals (their
    ``up`` link) and disputes (``seller_transaction_id``) name only the capture, which the
    ledger finds through that alias. The invoice reference is ``custom_id``, else
    ``invoice_id`` (disputes: ``custom``, else ``invoice_number``). Other types
    (subscriptions' ``PAYMENT.SALE.*``, ``BILLING.*``, anything unknown) are *ignored*.

    Args:
        event: A parsed, verified event.
        livemode: Whether our configuration for this webhook is live; events carry no
            trustworthy mode of their own.

    Returns:
        The fact; never None.

    Raises:
        errors.InvalidWebhook: A known payment event lacks a field we need (named).
    """
    resource = event.resource
    entry = _TABLE.get(event.event_type)
    if entry is None:
        object_id = _optional_str(resource.get("id")) or ""
        return PaymentFact(
            kind="ignored",
            gateway_payment_id=object_id,
            invoice_ref=_invoice_ref(resource, "custom_id", "invoice_id"),
            amount_minor=0,
            currency="",
            livemode=livemode,
            gateway_object_id=object_id,
        )
    kind, shape = entry
    if shape == "capture":
        return _capture_fact(kind, resource, livemode, "resource")
    if shape == "order":
        return _order_level(kind, resource, livemode, "resource")
    if shape == "completed-order":
        return fact_from_order(
            {**resource, "status": "COMPLETED"}, livemode=livemode, path="resource"
        )
    if shape == "refund":
        return _refund_like(kind, resource, livemode)
    return _dispute(resource, livemode)


# ---------------------------------------------------------------------------------------
# Fetched orders: the payment and its refunds

_REFUNDED = "PAYMENT.CAPTURE.REFUNDED"
_REVERSED = "PAYMENT.CAPTURE.REVERSED"
#: The ``note_to_payer`` PayPal writes on the refund-shaped object of a chargeback reversal
#: (its published ``PAYMENT.CAPTURE.REVERSED`` sample). PayPal documents no other field that
#: tells a reversal listed among an order's refunds from a refund.
_REVERSAL_NOTE = "Payment reversed"


def _listed_refunds(unit: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    payments = unit.get("payments")
    refunds = payments.get("refunds") if isinstance(payments, dict) else None
    if refunds is None:
        return []
    if not isinstance(refunds, list) or not all(isinstance(r, dict) for r in refunds):
        raise errors.InvalidWebhook(f"field '{path}' has the wrong type", field=path)
    return refunds


def facts_from_order(
    order: Mapping[str, Any], *, livemode: bool, path: str = "order"
) -> list[PaymentFact]:
    """Every fact an order states: its payment, then each completed refund or reversal.

    PayPal's Orders v2 ``GET /v2/checkout/orders/{id}`` lists, per purchase unit,
    ``payments.captures[]`` and ``payments.refunds[]`` ("an array of refunds for a purchase
    unit"; Orders v2 OpenAPI 2.13, ``payment_collection``, in
    github.com/paypal/paypal-rest-api-specifications and developer.paypal.com/sdk/orders/v2/
    definitions/payment_collection). A refund has ``id``, ``status`` (``CANCELLED``,
    ``FAILED``, ``PENDING``, ``COMPLETED``), ``amount`` and ``links`` with ``rel: up`` to its
    capture (schema ``refund``), the same object ``PAYMENT.CAPTURE.REFUNDED`` carries
    (payments.md §3.4). So a refund whose webhook was lost is found by fetching the order.

    The first fact is `fact_from_order`'s. Each ``COMPLETED`` refund then goes through
    `classify`'s own table entry for ``PAYMENT.CAPTURE.REFUNDED`` (a *refund* keyed by the
    capture, with the refund as object id), so a refund read here and the same refund's
    webhook are one fact and the ledger records it once. Other refund statuses state
    nothing (their webhooks are ignored too). An entry without an ``up`` link names the
    order's paid capture, one without ``custom_id``/``invoice_id`` the unit's reference.

    Reversals: ``PAYMENT.CAPTURE.REVERSED`` carries a refund-shaped object and is classified
    as a *dispute* keyed by that object's id. PayPal does not document whether an order lists
    it among its refunds, nor a field that marks it; an entry with PayPal's reversal note
    (``Payment reversed``, from its published sample event) is taken for one and goes
    through the ``PAYMENT.CAPTURE.REVERSED`` entry instead (*inferred*, not verified against
    PayPal).

    Args:
        order: An order object (``GET`` order or the capture answer).
        livemode: Whether our configuration is live.
        path: Where the object sits, named in errors.

    Returns:
        The order's payment fact first, then one fact per completed refund or reversal, in
        the order PayPal lists them.

    Raises:
        errors.InvalidWebhook: A field is missing (see `fact_from_order`), ``refunds`` is
            not a list of objects, or a completed refund lacks its id or amount (named).
    """
    paid = fact_from_order(order, livemode=livemode, path=path)
    unit = _first_unit(order, path)
    refunds_path = f"{path}.purchase_units[0].payments.refunds"
    facts = [paid]
    for index, refund in enumerate(_listed_refunds(unit, refunds_path)):
        if refund.get("status") != "COMPLETED":
            continue
        event_type = _REVERSED if refund.get("note_to_payer") == _REVERSAL_NOTE else _REFUNDED
        kind, _ = _TABLE[event_type]
        fact = _refund_like(
            kind, refund, livemode, f"{refunds_path}[{index}]", paid.alias_id or None
        )
        if fact.invoice_ref is None:  # as for captures: entries may omit the unit's ids
            fact = replace(fact, invoice_ref=_invoice_ref(unit, "custom_id", "invoice_id"))
        facts.append(fact)
    return facts
