"""Stripe events and fetched sessions as payment facts: parse, then classify.

`parse_event` reads a verified body (`verify`) into a `StripeEvent`; `classify` maps it to
the `PaymentFact` it carries. `facts_from_session` turns a *fetched* Checkout Session (the
API path, `api.StripeApi.session_facts`) into the same facts, under the same keys, its
webhooks would have produced, for the reconciler when a webhook was lost. Pure functions;
failures raise `errors.InvalidWebhook` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fluxbilling import errors, limits
from fluxbilling.billing.facts import PaymentFact, PaymentKind

__all__ = ["StripeEvent", "classify", "facts_from_session", "parse_event"]


@dataclass(frozen=True, slots=True)
class StripeEvent:
    """The envelope fields of a Stripe Event we rely on.

    Attributes:
        id: The event id (``evt_...``), the transport-level dedupe key.
        type: The event type, e.g. ``checkout.session.completed``.
        livemode: Whether the event comes from live mode.
        created: Unix seconds when Stripe created the event.
        object: ``data.object``, the snapshot of the resource, as a plain dict.
    """

    id: str
    type: str
    livemode: bool
    created: int
    object: dict[str, Any]


# ---------------------------------------------------------------------------------------
# Signatures


# ---------------------------------------------------------------------------------------
# Parsing


def _field(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], path: str) -> Any:
    if name not in data or data[name] is None:
        raise errors.InvalidWebhook(f"missing field '{path}'", field=path)
    value = data[name]
    # bool is an int subclass; an integer field must not accept true/false.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise errors.InvalidWebhook(f"field '{path}' has the wrong type", field=path)
    return value


def parse_event(body: bytes) -> StripeEvent:
    """Parse a verified body into a `StripeEvent`.

    Args:
        body: The raw request body.

    Returns:
        The event envelope with ``data.object`` as a plain dict.

    Raises:
        errors.InvalidWebhook: The body is not a JSON object or a field is missing or
            has the wrong type (the message names the field).
    """
    try:
        data = limits.loads_json(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidWebhook(f"malformed JSON body: {exc}") from exc
    if not isinstance(data, dict):
        raise errors.InvalidWebhook("malformed JSON body: not an object")
    envelope = _field(data, "data", dict, "data")
    return StripeEvent(
        id=_field(data, "id", str, "id"),
        type=_field(data, "type", str, "type"),
        livemode=_field(data, "livemode", bool, "livemode"),
        created=_field(data, "created", int, "created"),
        object=_field(envelope, "object", dict, "data.object"),
    )


# ---------------------------------------------------------------------------------------
# Classification

# event type -> (kind, amount field of data.object)
_TABLE: dict[str, tuple[PaymentKind, str]] = {
    "checkout.session.completed": ("paid", "amount_total"),  # downgraded when unpaid
    "checkout.session.async_payment_succeeded": ("paid", "amount_total"),
    "checkout.session.async_payment_failed": ("failed", "amount_total"),
    "checkout.session.expired": ("failed", "amount_total"),
    "payment_intent.succeeded": ("paid", "amount_received"),
    "payment_intent.processing": ("pending", "amount"),
    "payment_intent.payment_failed": ("failed", "amount"),
    "payment_intent.canceled": ("failed", "amount"),
    "invoice.paid": ("paid", "amount_paid"),
    "invoice.payment_failed": ("failed", "amount_due"),
    "charge.refunded": ("refund", "amount_refunded"),
    "refund.created": ("refund", "amount"),
    "refund.updated": ("refund", "amount"),
    "refund.failed": ("ignored", "amount"),  # the money never left: nothing to reverse
    "charge.refund.updated": ("refund", "amount"),
    "charge.dispute.created": ("dispute", "amount"),
    "charge.dispute.funds_withdrawn": ("dispute", "amount"),
    "charge.dispute.funds_reinstated": ("ignored", "amount"),  # won: the money came back
    "charge.dispute.closed": ("dispute", "amount"),
}


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _invoice_ref(obj: Mapping[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    from_metadata = metadata.get("invoice_id") if isinstance(metadata, dict) else None
    return _optional_str(obj.get("client_reference_id")) or _optional_str(from_metadata)


def _payment_id(kind: PaymentKind, obj: Mapping[str, Any]) -> str:
    """The payment a refund or dispute belongs to; the object itself otherwise."""
    if kind in ("refund", "dispute"):
        for name in ("payment_intent", "charge"):
            linked = obj.get(name)
            if isinstance(linked, dict):  # expanded object
                linked = linked.get("id")
            if isinstance(linked, str) and linked:
                return linked
    return str(_field(obj, "id", str, "data.object.id"))


def classify(event: StripeEvent) -> PaymentFact:
    """Map an event to the payment fact it carries (payments.md §1.2).

    ``checkout.session.completed`` is *paid* only when ``payment_status == "paid"``
    (delayed methods arrive ``unpaid`` and are *pending*). Unknown or non-payment
    types (``customer.subscription.deleted`` ...) give kind ``ignored`` so the caller
    can store and acknowledge them.

    Args:
        event: A parsed, verified event.

    Returns:
        The fact; never None (every event maps to a kind, ``ignored`` included).

    Raises:
        errors.InvalidWebhook: A known payment event lacks a field we need (named).
    """
    obj = event.object
    entry = _TABLE.get(event.type)
    if entry is None:
        return PaymentFact(
            kind="ignored",
            gateway_payment_id=_optional_str(obj.get("id")) or "",
            invoice_ref=_invoice_ref(obj),
            amount_minor=0,
            currency="",
            livemode=event.livemode,
            gateway_object_id=_optional_str(obj.get("id")) or "",
        )
    kind, amount_field = entry
    if event.type == "checkout.session.completed" and obj.get("payment_status") != "paid":
        kind = "pending"
    return PaymentFact(
        kind=kind,
        gateway_payment_id=_payment_id(kind, obj),
        invoice_ref=_invoice_ref(obj),
        amount_minor=_field(obj, amount_field, int, f"data.object.{amount_field}"),
        currency=str(_field(obj, "currency", str, "data.object.currency")).upper(),
        livemode=event.livemode,
        gateway_object_id=str(_field(obj, "id", str, "data.object.id")),
        alias_id=_alias(kind, obj),
    )


def _alias(kind: PaymentKind, obj: Mapping[str, Any]) -> str:
    """A Checkout Session's PaymentIntent: refunds and disputes name that, not the session."""
    if kind in ("refund", "dispute"):
        return ""
    linked = obj.get("payment_intent")
    if isinstance(linked, dict):
        linked = linked.get("id")
    return linked if isinstance(linked, str) and linked != obj.get("id") else ""


# ---------------------------------------------------------------------------------------
# The API path: what we create, and what a fetched session means


# PaymentIntent statuses after a delayed payment method failed: Checkout then sends
# ``checkout.session.async_payment_failed`` and the session stays complete/unpaid.
_FAILED_INTENT = frozenset({"requires_payment_method", "canceled"})
_SESSION_STATUSES = frozenset({"open", "complete", "expired"})


def _expanded(obj: Mapping[str, Any], name: str, expand: str) -> dict[str, Any] | None:
    linked = obj.get(name)
    if linked is None or isinstance(linked, dict):
        return linked
    raise errors.InvariantViolation(
        f"fetch the Checkout Session with expand[]={expand}: {name} is not expanded",
        field=name,
    )


def _session_event_type(session: Mapping[str, Any], intent: Mapping[str, Any] | None) -> str:
    """The event whose classification a session in this state gets (payments.md §1.2).

    An ``open`` session is classified like a ``completed`` one: its ``payment_status`` is
    ``unpaid``, so the fact is *pending*, keyed on the session as the later webhooks are.
    """
    status = session.get("status")
    if status not in _SESSION_STATUSES:
        raise errors.PermanentUpstreamError(
            f"stripe: a fetched Checkout Session has an unknown status {status!r}",
            upstream="stripe",
            operation="read checkout session",
        )
    if status == "expired":
        return "checkout.session.expired"
    if (
        status == "complete"
        and session.get("payment_status") != "paid"
        and intent is not None
        and intent.get("status") in _FAILED_INTENT
    ):
        return "checkout.session.async_payment_failed"
    return "checkout.session.completed"


def _fetched_fact(event_type: str, obj: Mapping[str, Any], livemode: bool) -> PaymentFact:
    """Classify a fetched object as its event would be: the same keys by construction."""
    event = StripeEvent(id="", type=event_type, livemode=livemode, created=0, object=dict(obj))
    try:
        return classify(event)
    except errors.InvalidWebhook as exc:
        raise errors.PermanentUpstreamError(
            f"stripe: a fetched {obj.get('object', 'object')} is incomplete: {exc.message}",
            upstream="stripe",
            operation="read checkout session",
        ) from exc


def facts_from_session(
    session: Mapping[str, Any], disputes: Sequence[Mapping[str, Any]] = ()
) -> list[PaymentFact]:
    """The facts a *fetched* Checkout Session carries, keyed exactly as its webhooks are.

    Each fact is `classify` applied to the object the matching event would carry, so the
    webhook path and this fetch path dedupe on the same keys:

    | fetched state                                  | as if the event were                     |
    |------------------------------------------------|------------------------------------------|
    | session complete, ``payment_status`` paid      | ``checkout.session.completed`` → paid    |
    | session complete, unpaid, PaymentIntent failed | ``checkout.session.async_payment_failed``|
    | session complete unpaid, or open               | ``checkout.session.completed`` → pending |
    | session expired                                | ``checkout.session.expired`` → failed    |
    | charge with ``amount_refunded > 0``            | ``charge.refunded`` (cumulative, key ch_)|
    | each dispute of the PaymentIntent              | ``charge.dispute.created`` (key dp_)     |

    Args:
        session: ``GET /v1/checkout/sessions/{id}`` with
            ``expand[]=payment_intent&expand[]=payment_intent.latest_charge``.
        disputes: The PaymentIntent's disputes (``GET /v1/disputes?payment_intent=...``);
            needed when the charge is ``disputed``.

    Returns:
        The session's fact first, then a refund fact and the dispute facts, if any.

    Raises:
        errors.InvariantViolation: The PaymentIntent or its charge is not expanded, or the
            charge is disputed and no dispute was given (a caller bug: money would be missed).
        errors.PermanentUpstreamError: The session lacks a field we need or has an unknown
            status.
    """
    livemode = session.get("livemode")
    if session.get("object") != "checkout.session" or not isinstance(livemode, bool):
        raise errors.PermanentUpstreamError(
            "stripe: not a Checkout Session with a livemode flag",
            upstream="stripe",
            operation="read checkout session",
        )
    intent = _expanded(session, "payment_intent", "payment_intent")
    charge = (
        None
        if intent is None
        else _expanded(intent, "latest_charge", "payment_intent.latest_charge")
    )
    facts = [_fetched_fact(_session_event_type(session, intent), session, livemode)]
    if charge is not None and charge.get("amount_refunded"):
        facts.append(_fetched_fact("charge.refunded", charge, livemode))
    if charge is not None and charge.get("disputed") and not disputes:
        raise errors.InvariantViolation(
            "the charge is disputed: list its disputes and pass them", charge=charge.get("id")
        )
    facts.extend(_fetched_fact("charge.dispute.created", d, livemode) for d in disputes)
    return facts
