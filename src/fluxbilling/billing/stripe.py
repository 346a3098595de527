"""Stripe webhooks: verify the `Stripe-Signature` header, parse the Event, classify it.

Everything here is a pure function over the raw body bytes, the header value, the
configured endpoint secrets and an explicit `now` (unix seconds). The algorithm is
Stripe's own (docs, cross-checked against the `stripe` library):

1. split the header on ``,`` and each item on the first ``=``; take the single ``t``
   and *all* ``v1`` values; ignore every other scheme (``v0`` ...) so a downgrade is
   impossible;
2. ``signed_payload = t + "." + raw_body``;
3. ``expected = hex(HMAC_SHA256(key=secret.encode("utf-8"), msg=signed_payload))`` —
   the key is the whole secret string *including* ``whsec_``, not base64-decoded;
4. accept when any of our secrets (current + previous, for rotation) matches any
   ``v1`` value under a constant-time comparison;
5. reject when the timestamp is too old *or* too far in the future.

Failures raise `errors.InvalidWebhook`; messages and details never contain secrets.

Two pure helpers serve the API path (`billing.stripe_api`): `checkout_request` builds the
Checkout Session we create for an invoice, and `facts_from_session` turns a *fetched* session
into the same `PaymentFact`s (same keys) its webhooks would have produced, for the
reconciler when a webhook was lost.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fluxbilling import errors, limits
from fluxbilling.billing.facts import PaymentFact, PaymentKind

__all__ = [
    "SIGNATURE_HEADER",
    "PaymentFact",
    "PaymentKind",
    "StripeEvent",
    "checkout_request",
    "classify",
    "facts_from_session",
    "parse_event",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "Stripe-Signature"


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


def _signature(secret: str, t: int, body: bytes) -> str:
    signed_payload = str(t).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed_payload, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, t: int, extra_secrets: Sequence[str] = ()) -> str:
    """Build a ``Stripe-Signature`` header value the way Stripe does.

    Args:
        body: The exact body bytes that will be sent.
        secret: The endpoint secret (``whsec_...``), used verbatim as the HMAC key.
        t: The timestamp to sign (unix seconds).
        extra_secrets: More secrets to add one ``v1`` each (Stripe does this while an
            endpoint secret is being rolled).

    Returns:
        The header value, e.g. ``t=1764140000,v1=5257a869...``.

    Example:
        >>> sign(b"{}", "whsec_test", 1).startswith("t=1,v1=")
        True
    """
    signatures = [_signature(s, t, body) for s in (secret, *extra_secrets)]
    return f"t={t}," + ",".join(f"v1={sig}" for sig in signatures)


def _parse_header(header: str | None) -> tuple[int, list[str]]:
    """The timestamp and the ``v1`` signatures of a header value."""
    if header is None or not header.strip():
        raise errors.InvalidWebhook("missing Stripe-Signature header")
    timestamps: list[str] = []
    v1: list[str] = []
    schemes: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key:
            raise errors.InvalidWebhook("malformed header: an item has no 'key=value' form")
        schemes.append(key)
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            v1.append(value)
    if len(timestamps) != 1:
        raise errors.InvalidWebhook(
            f"malformed header: expected one timestamp 't', found {len(timestamps)}",
            schemes=schemes,
        )
    raw_t = timestamps[0]
    # Unix seconds need 10 digits until 2286; `int` refuses more than 4300.
    if not (raw_t.isascii() and raw_t.isdigit()) or len(raw_t) > 15:
        raise errors.InvalidWebhook(
            "malformed header: the timestamp 't' is not an integer", schemes=schemes
        )
    if not v1:
        raise errors.InvalidWebhook("no v1 signature in the header", schemes=schemes)
    return int(raw_t), v1


def _matches(expected: str, candidates: Sequence[str]) -> bool:
    want = expected.encode("ascii")
    # Every candidate is compared (no early exit) so timing does not reveal which matched.
    found = False
    for candidate in candidates:
        if hmac.compare_digest(want, candidate.encode("utf-8", "replace")):
            found = True
    return found


def verify_signature(
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: int,
    tolerance: int = 300,
    future_tolerance: int = 300,
) -> None:
    """Check that a delivery is authentic and fresh; return silently when it is.

    Args:
        body: The raw request body, exactly as received (never re-serialised JSON).
        header: The ``Stripe-Signature`` header value, or None when it was absent.
        secrets: Our endpoint secrets, current first, then previous ones (rotation).
        now: The current time in unix seconds.
        tolerance: Maximum age of the signed timestamp in seconds.
        future_tolerance: Maximum clock skew into the future in seconds.

    Raises:
        errors.InvalidSettings: No secret is configured.
        errors.InvalidWebhook: The header is missing or malformed, has no ``v1``
            signature, no signature matches any secret, or the timestamp lies outside
            the tolerance.

    Example:
        >>> body = b'{"id": "evt_1"}'
        >>> verify_signature(body, sign(body, "whsec_a", 100), ["whsec_a"], now=160)
    """
    if not secrets:
        raise errors.InvalidSettings("no Stripe webhook secret is configured")
    t, candidates = _parse_header(header)
    matched = False
    for secret in secrets:
        if _matches(_signature(secret, t, body), candidates):
            matched = True
    if not matched:
        raise errors.InvalidWebhook(
            "no signature matches",
            v1_signatures=len(candidates),
            secrets_tried=len(secrets),
        )
    age = now - t
    if age > tolerance:
        raise errors.InvalidWebhook(
            f"timestamp outside the tolerance ({age} s old)",
            timestamp=t,
            now=now,
            tolerance=tolerance,
        )
    if -age > future_tolerance:
        raise errors.InvalidWebhook(
            f"timestamp outside the tolerance ({-age} s in the future)",
            timestamp=t,
            now=now,
            future_tolerance=future_tolerance,
        )


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


def checkout_request(
    invoice_id: int | str,
    amount_minor: int,
    currency: str,
    success_url: str,
    cancel_url: str,
    description: str,
) -> dict[str, Any]:
    """The ``POST /v1/checkout/sessions`` parameters for one of our invoices (nested).

    Our invoice id travels three ways: ``client_reference_id`` and ``metadata.invoice_id``
    on the session, and ``payment_intent_data.metadata.invoice_id`` so the PaymentIntent
    (and the charge Stripe copies its metadata to) carries it too. `classify` reads it back
    as ``invoice_ref``. `stripe_api.encode_form` flattens the result into bracket notation.

    Args:
        invoice_id: Our invoice id.
        amount_minor: The amount in minor units, positive.
        currency: ISO 4217 code in any case (Stripe takes it lower-case).
        success_url: Where Checkout sends the customer after paying (Stripe replaces
            ``{CHECKOUT_SESSION_ID}`` in it).
        cancel_url: Where the customer's "back" link goes.
        description: The line item's product name, shown on the checkout page.

    Returns:
        The parameters as nested dicts and lists.

    Raises:
        errors.InvariantViolation: The amount is not a positive integer.
        errors.InvalidSettings: The currency is not three letters.

    Example:
        >>> body = checkout_request(7, 1050, "EUR", "https://s", "https://c", "Invoice 7")
        >>> body["line_items"][0]["price_data"]["currency"], body["metadata"]
        ('eur', {'invoice_id': '7'})
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise errors.InvariantViolation(
            "a Stripe checkout needs a positive amount in minor units", invoice_id=invoice_id
        )
    if len(currency) != 3 or not (currency.isascii() and currency.isalpha()):
        raise errors.InvalidSettings(f"not an ISO 4217 currency: {currency!r}")
    reference = str(invoice_id)
    return {
        "mode": "payment",
        "client_reference_id": reference,
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": {"invoice_id": reference},
        "payment_intent_data": {"metadata": {"invoice_id": reference}},
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": amount_minor,
                    "product_data": {"name": description},
                },
            }
        ],
    }


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
