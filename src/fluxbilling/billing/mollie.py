"""Mollie: parse classic notifications, verify next-gen webhooks, classify fetched payments.

Everything here is pure: bytes, header values, secrets and plain mappings in; values,
`PaymentFact`s or `errors.InvalidWebhook` out. Fetching is `billing.mollie_api`'s job.

**Classic webhooks** (a payment's ``webhookUrl``) carry no signature and no state: the
form body is ``id=tr_...`` and nothing else (payments.md §2.1). `parse_notification`
only extracts the id; the caller authenticates by *re-fetching* the payment with the API
key (an unknown id is a 404: answer 200 and do nothing, §6.5).

**Next-gen webhooks** (beta, §2.2) POST a JSON event signed with
``X-Mollie-Signature: sha256=<hex>``, ``hex = HMAC_SHA256(key=secret UTF-8, msg=raw body)``.
While a secret is rotated the header comes once per secret; we accept when any value
matches any of our secrets (constant-time). There is no timestamp, so dedupe on the event
id. Even then, re-fetch the payment before provisioning (the feature is beta).

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
per-object keys.

Amounts are strings (``"10.00"``) with a currency; they become integer minor units with
Mollie's decimal places for that currency (JPY and ISK have 0), through `Decimal`, never
float. A value with more decimals than the currency allows is rejected.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from fluxbilling import errors, limits
from fluxbilling.billing.facts import PaymentFact, PaymentKind

__all__ = [
    "CURRENCY_DECIMALS",
    "SIGNATURE_HEADER",
    "MollieEvent",
    "PaymentFact",
    "checkout_request",
    "classify",
    "format_amount",
    "needs_capture",
    "parse_event",
    "parse_notification",
    "sign",
    "to_minor",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Mollie-Signature"

# Mollie's documented currencies and their decimal places (docs: multicurrency).
_TWO_DECIMALS = (
    "AED", "AUD", "BGN", "BRL", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "HKD", "HRK", "HUF",
    "ILS", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RON", "RUB", "SEK", "SGD", "THB", "TWD",
    "USD", "ZAR",
)  # fmt: skip
# Mollie's documented currencies and their decimal places (docs: multicurrency).
CURRENCY_DECIMALS: Mapping[str, int] = {**dict.fromkeys(_TWO_DECIMALS, 2), "ISK": 0, "JPY": 0}

_PAYMENT_ID = re.compile(r"tr_[A-Za-z0-9]{1,64}")
_AMOUNT = re.compile(r"[0-9]{1,15}(\.[0-9]{1,10})?")
_HEX = "0123456789abcdefABCDEF"
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


def _decimals(currency: object, path: str) -> int:
    if not isinstance(currency, str) or currency.upper() not in CURRENCY_DECIMALS:
        raise errors.InvalidWebhook(f"unsupported currency in '{path}'", field=path)
    return CURRENCY_DECIMALS[currency.upper()]


def to_minor(value: str, currency: str, *, path: str = "amount") -> int:
    """Convert a Mollie amount string to integer minor units of its currency.

    Args:
        value: The amount as Mollie writes it, e.g. ``"10.00"`` (``"10.5"`` is accepted).
        currency: ISO 4217 code (any case) that Mollie supports.
        path: The field named in errors.

    Returns:
        The amount in minor units.

    Raises:
        errors.InvalidWebhook: The value is not a non-negative decimal string, has more
            decimals than the currency allows, or the currency is unknown.

    Example:
        >>> to_minor("10.5", "EUR"), to_minor("1000", "JPY")
        (1050, 1000)
    """
    places = _decimals(currency, f"{path}.currency")
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise errors.InvalidWebhook(f"field '{path}.value' is not a decimal amount", field=path)
    minor = Decimal(value).scaleb(places)
    if minor != minor.to_integral_value():
        raise errors.InvalidWebhook(
            f"field '{path}.value' has more decimals than {currency.upper()} allows",
            field=path,
        )
    return int(minor)


def format_amount(amount_minor: int, currency: str) -> str:
    """Write minor units as Mollie's amount string with the currency's decimal places.

    Example:
        >>> format_amount(1050, "EUR"), format_amount(1000, "JPY")
        ('10.50', '1000')
    """
    places = CURRENCY_DECIMALS.get(currency.upper())
    if places is None:
        raise errors.InvalidSettings(f"Mollie does not support the currency {currency!r}")
    return f"{Decimal(amount_minor).scaleb(-places):.{places}f}"


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


def sign(body: bytes, secret: str) -> str:
    """The ``X-Mollie-Signature`` value Mollie sends for `body` signed with `secret`.

    Example:
        >>> sign(b"{}", "s3cret").startswith("sha256=")
        True
    """
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _candidates(headers: str | Sequence[str] | None) -> list[str]:
    values = [headers] if isinstance(headers, str) else list(headers or ())
    # A proxy may fold repeated headers into one, comma-separated; hex has no commas.
    found = [part.strip() for value in values for part in value.split(",")]
    return [value.removeprefix("sha256=") for value in found if value]


def verify_signature(
    body: bytes, headers: str | Sequence[str] | None, secrets: Sequence[str]
) -> None:
    """Check a next-gen delivery's signature; return silently when it is authentic.

    Args:
        body: The raw request body, exactly as received.
        headers: Every ``X-Mollie-Signature`` value of the request (one per secret while
            Mollie rotates), a single value, or None when the header is absent.
        secrets: Our signing secrets, current first, then previous ones.

    Raises:
        errors.InvalidSettings: No secret is configured.
        errors.InvalidWebhook: The header is missing, or no value matches any secret.

    Example:
        >>> verify_signature(b"{}", sign(b"{}", "s3cret"), ["s3cret"])
    """
    if not secrets:
        raise errors.InvalidSettings("no Mollie webhook signing secret is configured")
    candidates = _candidates(headers)
    if not candidates:
        raise errors.InvalidWebhook(f"missing {SIGNATURE_HEADER} header")
    matched = False
    # No early exit: timing must not reveal which secret or value matched.
    for secret in secrets:
        want = sign(body, secret).removeprefix("sha256=").encode("ascii")
        for candidate in candidates:
            given = candidate.lower() if all(c in _HEX for c in candidate) else candidate
            if hmac.compare_digest(want, given.encode("utf-8", "replace")):
                matched = True
    if not matched:
        raise errors.InvalidWebhook(
            "no signature matches", signatures=len(candidates), secrets_tried=len(secrets)
        )


def _field(data: Mapping[str, Any], name: str, kind: type, path: str) -> Any:
    value = data.get(name)
    if value is None or value == "":
        raise errors.InvalidWebhook(f"missing field '{path}'", field=path)
    if not isinstance(value, kind):
        raise errors.InvalidWebhook(f"field '{path}' has the wrong type", field=path)
    return value


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
        id=_field(data, "id", str, "id"),
        type=_field(data, "type", str, "type"),
        entity_id=_field(data, "entityId", str, "entityId"),
        created_at=_field(data, "createdAt", str, "createdAt"),
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
            object_id = _field(item, "id", str, f"{path}.id")
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
    payment_id = _field(payment, "id", str, "id")
    mode = payment.get("mode")
    if mode not in ("test", "live"):
        raise errors.InvalidWebhook("field 'mode' is neither 'test' nor 'live'", field="mode")
    status = _field(payment, "status", str, "status")
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


def checkout_request(
    invoice_id: int | str,
    amount_minor: int,
    currency: str,
    description: str,
    redirect_url: str,
    webhook_url: str,
) -> dict[str, Any]:
    """The ``POST /v2/payments`` body for one of our invoices.

    Args:
        invoice_id: Our invoice id, sent as ``metadata.invoice_id`` (a string).
        amount_minor: The amount in minor units, positive.
        currency: ISO 4217 code Mollie supports (any case; sent upper-case).
        description: Shown to the customer and on their statement.
        redirect_url: Where Mollie sends the customer after the checkout.
        webhook_url: Our classic webhook endpoint for this payment.

    Returns:
        The JSON body.

    Raises:
        errors.InvalidSettings: The currency is not one Mollie supports.
        errors.InvariantViolation: The amount is not a positive integer.

    Example:
        >>> checkout_request(7, 1050, "eur", "Invoice 7", "https://r", "https://w")["amount"]
        {'currency': 'EUR', 'value': '10.50'}
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise errors.InvariantViolation(
            "a Mollie payment needs a positive amount in minor units", invoice_id=invoice_id
        )
    return {
        "amount": {"currency": currency.upper(), "value": format_amount(amount_minor, currency)},
        "description": description,
        "redirectUrl": redirect_url,
        "webhookUrl": webhook_url,
        "metadata": {"invoice_id": str(invoice_id)},
    }
