"""Mollie: parse notifications and classify fetched payments.

Everything here is pure: bytes and plain mappings in; values, `PaymentFact`s or
`errors.InvalidWebhook` out. Fetching is `api.MollieApi`'s job, signatures are `verify`'s.

**Classic webhooks** (a payment's ``webhookUrl``) carry no signature and no state: the
form body is ``id=tr_...`` and nothing else (payments.md §2.1). `parse_notification`
only extracts the id; the caller authenticates by *re-fetching* the payment with the API
key (an unknown id is a 404: answer 200 and do nothing, §6.5).

**Next-gen webhooks** (beta, §2.2) POST a signed JSON event (`verify`); `parse_event` reads
its envelope. Even then, re-fetch the payment before provisioning (the feature is beta).

**Classification** of a fetched payment object (§2.3):

| ``status``                      | fact kind | amount                          |
|---------------------------------|-----------|---------------------------------|
| ``paid``                        | paid      | ``amount``                      |
| ``open``, ``pending``           | pending   | ``amount``                      |
| ``authorized``                  | pending   | ``amount`` (capture it: `needs_capture`) |
| ``failed``, ``canceled``, ``expired`` | failed | ``amount``                   |
| anything else                   | ignored   | ``amount``                      |

plus one *refund* fact per embedded refund (``re_...``) and one *dispute* fact per
embedded chargeback (``chb_...``). A refund that ``failed`` or was ``canceled`` and a
chargeback that was reversed (``reversedAt``) give amount 0, so a ledger that upserts by
object id converges on what really left our account. Without ``_embedded`` lists (payment
fetched without ``embed``), ``amountRefunded`` / ``amountChargedBack`` above zero give one
aggregate fact each with an *empty* ``gateway_object_id``: re-fetch with the embeds to get
per-object keys. Amounts become minor units through `amounts.to_minor`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fluxbilling import errors, limits
from fluxbilling.billing.facts import PaymentFact, PaymentKind
from fluxbilling.billing.gateways.fields import required
from fluxbilling.billing.gateways.mollie.amounts import to_minor

__all__ = ["MollieEvent", "classify", "needs_capture", "parse_event", "parse_notification"]


_PAYMENT_ID = re.compile(r"tr_[A-Za-z0-9]{1,64}")
_STATUS_KIND: Mapping[str, PaymentKind] = {
    "paid": "paid",
    "open": "pending",
    "pending": "pending",
    "authorized": "pending",
    "failed": "failed",
    "canceled": "failed",
    "expired": "failed",
}
_VOID_REFUND_STATUSES = frozenset({"failed", "canceled"})
# (fact kind, _embedded list, aggregate amount field used when the list was not embedded)
_SUB_RESOURCES: tuple[tuple[PaymentKind, str, str], ...] = (
    ("refund", "refunds", "amountRefunded"),
    ("dispute", "chargebacks", "amountChargedBack"),
)


@dataclass(frozen=True, slots=True)
class MollieEvent:
    """The envelope fields of a next-gen webhook event we rely on.

    Attributes:
        id: The event id (``event_...``), the transport-level dedupe key.
        type: The event type, e.g. ``payment.paid``.
        entity_id: The id of the object the event is about (``tr_...`` for payments).
        created_at: ISO 8601 creation time, as sent.
        entity: ``_embedded.entity`` (a snapshot of the object) with the *full* payload,
            None with the *simple* payload.
    """

    id: str
    type: str
    entity_id: str
    created_at: str
    entity: dict[str, Any] | None


# ---------------------------------------------------------------------------------------
# Money


def _amount(obj: Mapping[str, Any], name: str, path: str) -> tuple[int, str]:
    amount = obj.get(name)
    if not isinstance(amount, Mapping):
        raise errors.InvalidWebhook(f"missing field '{path}'", field=path)
    value, currency = amount.get("value"), amount.get("currency")
    minor = to_minor(
        value if isinstance(value, str) else "",
        currency if isinstance(currency, str) else "",
        path=path,
    )
    return minor, str(currency).upper()


# ---------------------------------------------------------------------------------------
# Classic notifications


def parse_notification(body: bytes, content_type: str | None = None) -> str:
    """The payment id of a classic notification (form body ``id=tr_...``).

    Args:
        body: The raw request body.
        content_type: The request's ``Content-Type``, checked when given.

    Returns:
        The payment id, e.g. ``tr_5B8cwPMGnU6qLbRvo7qEZo``.

    Raises:
        errors.InvalidWebhook: The content type is not a form, the body is not a form,
            has no ``id``, several ``id``s, other fields, or an id that is not ``tr_...``.

    Example:
        >>> parse_notification(b"id=tr_5B8cwPMGnU6qLbRvo7qEZo")
        'tr_5B8cwPMGnU6qLbRvo7qEZo'
    """
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media != "application/x-www-form-urlencoded":
            raise errors.InvalidWebhook(
                f"content type {media!r} is not a form", content_type=content_type[:100]
            )
    try:
        fields = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidWebhook("malformed form body") from exc
    names = sorted({name for name, _ in fields})
    if names != ["id"]:
        others = [name[:40] for name in names if name != "id"]
        if others:
            raise errors.InvalidWebhook("unexpected form fields", fields=others)
        raise errors.InvalidWebhook("missing field 'id'", field="id")
    ids = [value for _, value in fields]
    if len(ids) != 1:
        raise errors.InvalidWebhook(f"expected one 'id', found {len(ids)}", field="id")
    if not _PAYMENT_ID.fullmatch(ids[0]):
        raise errors.InvalidWebhook("field 'id' is not a payment id (tr_...)", field="id")
    return ids[0]


# ---------------------------------------------------------------------------------------
# Next-gen signatures and events


def parse_event(body: bytes) -> MollieEvent:
    """Parse a verified next-gen body into a `MollieEvent`.

    Raises:
        errors.InvalidWebhook: The body is not a JSON object, is not an event, or a field
            is missing or has the wrong type (the message names the field).
    """
    try:
        data = limits.loads_json(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidWebhook(f"malformed JSON body: {exc}") from exc
    if not isinstance(data, dict):
        raise errors.InvalidWebhook("malformed JSON body: not an object")
    if data.get("resource", "event") != "event":
        raise errors.InvalidWebhook("field 'resource' is not 'event'", field="resource")
    embedded = data.get("_embedded")
    if embedded is not None and not isinstance(embedded, dict):
        raise errors.InvalidWebhook("field '_embedded' has the wrong type", field="_embedded")
    entity = (embedded or {}).get("entity")
    if entity is not None and not isinstance(entity, dict):
        raise errors.InvalidWebhook(
            "field '_embedded.entity' has the wrong type", field="_embedded.entity"
        )
    return MollieEvent(
        id=required(data, "id", str, "id"),
        type=required(data, "type", str, "type"),
        entity_id=required(data, "entityId", str, "entityId"),
        created_at=required(data, "createdAt", str, "createdAt"),
        entity=entity,
    )


# ---------------------------------------------------------------------------------------
# Classification of a fetched payment


def _invoice_ref(payment: Mapping[str, Any]) -> str | None:
    metadata = payment.get("metadata")
    ref = metadata.get("invoice_id") if isinstance(metadata, Mapping) else None
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        return None
    return str(ref) or None


def _embedded(payment: Mapping[str, Any], name: str) -> list[Mapping[str, Any]] | None:
    embedded = payment.get("_embedded")
    items = embedded.get(name) if isinstance(embedded, Mapping) else None
    if items is None:
        return None
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        path = f"_embedded.{name}"
        raise errors.InvalidWebhook(f"field '{path}' has the wrong type", field=path)
    return items


def _sub_facts(payment: Mapping[str, Any], base: PaymentFact) -> list[PaymentFact]:
    facts: list[PaymentFact] = []
    for kind, name, total_field in _SUB_RESOURCES:
        items = _embedded(payment, name)
        if items is None:
            if isinstance(payment.get(total_field), Mapping):
                total, currency = _amount(payment, total_field, total_field)
                if total > 0:
                    facts.append(_derive(base, kind, total, currency, ""))
            continue
        for n, item in enumerate(items):
            path = f"_embedded.{name}[{n}]"
            object_id = required(item, "id", str, f"{path}.id")
            amount, currency = _amount(item, "amount", f"{path}.amount")
            void = (
                item.get("status") in _VOID_REFUND_STATUSES
                if kind == "refund"
                else item.get("reversedAt") is not None
            )
            facts.append(_derive(base, kind, 0 if void else amount, currency, object_id))
    return facts


def _derive(
    base: PaymentFact, kind: PaymentKind, amount: int, currency: str, object_id: str
) -> PaymentFact:
    return PaymentFact(
        kind=kind,
        gateway_payment_id=base.gateway_payment_id,
        invoice_ref=base.invoice_ref,
        amount_minor=amount,
        currency=currency,
        livemode=base.livemode,
        gateway_object_id=object_id,
    )


def classify(payment: Mapping[str, Any]) -> list[PaymentFact]:
    """The payment facts a fetched Mollie payment object carries (see the module table).

    Args:
        payment: The JSON of ``GET /v2/payments/{id}``, ideally with
            ``embed=refunds,chargebacks``.

    Returns:
        First the status fact (kind per the module table, ``gateway_object_id`` = the
        payment id), then one refund fact per refund and one dispute fact per chargeback.

    Raises:
        errors.InvalidWebhook: A field we need is missing or malformed (named), the
            currency is unknown, or ``mode`` is neither ``test`` nor ``live``.
    """
    if payment.get("resource", "payment") != "payment":
        raise errors.InvalidWebhook("field 'resource' is not 'payment'", field="resource")
    payment_id = required(payment, "id", str, "id")
    mode = payment.get("mode")
    if mode not in ("test", "live"):
        raise errors.InvalidWebhook("field 'mode' is neither 'test' nor 'live'", field="mode")
    status = required(payment, "status", str, "status")
    amount, currency = _amount(payment, "amount", "amount")
    head = PaymentFact(
        kind=_STATUS_KIND.get(status, "ignored"),
        gateway_payment_id=payment_id,
        invoice_ref=_invoice_ref(payment),
        amount_minor=amount,
        currency=currency,
        livemode=mode == "live",
        gateway_object_id=payment_id,
    )
    return [head, *_sub_facts(payment, head)]


def needs_capture(payment: Mapping[str, Any]) -> bool:
    """Whether the payment is ``authorized`` and waits for us to capture it (§2.3)."""
    return payment.get("status") == "authorized"


# ---------------------------------------------------------------------------------------
# Creating a payment
