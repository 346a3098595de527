"""PayPal webhooks: check the certificate URL, verify the RSA signature, parse, classify.

Everything here is a pure function over the transmission headers, the raw body bytes, our
configured webhook id, the certificate PEM and an explicit `now` (payments.md §3.2):

1. the five ``PAYPAL-*`` headers must be present; ``PAYPAL-AUTH-ALGO`` must be exactly
   ``SHA256withRSA`` (anything else is refused, so a downgrade is impossible);
2. ``PAYPAL-CERT-URL`` must be ``https`` on one of PayPal's API hosts, default port, no
   userinfo, path ``/v1/notifications/certs/<id>`` (`check_cert_url`) — so neither an SSRF
   target nor an attacker's key can be planted;
3. the certificate (first PEM block; PayPal may append its chain) must be valid at `now`
   and its subject CN must be a PayPal name (the old SDK's rule: ends with
   ``.paypal.com``);
4. ``message = transmission_id|transmission_time|webhook_id|crc32(raw_body)``, header
   strings verbatim, the CRC-32 as an unsigned decimal, UTF-8; `webhook_id` is *ours*, from
   configuration, never from the request;
5. ``base64decode(PAYPAL-TRANSMISSION-SIG)`` must verify over `message` with the
   certificate's RSA key, PKCS#1 v1.5, SHA-256.

Fetching the certificate is not done here: `paypal_api.CertCache` fetches it over TLS,
only after `check_cert_url`. §3.2's "chains to a trusted root" is not checked: trust comes
from that TLS-verified fetch from an allow-listed PayPal host (PayPal's real chain was not
available to test a chain check against).

Money: PayPal amounts are ``{"currency_code", "value"}`` with ``value`` a decimal string;
facts carry ISO 4217 minor units (``JPY`` exponent 0, ``EUR`` 2, ``KWD`` 3). Failures raise
`errors.InvalidWebhook` naming what failed; messages never contain the webhook id, keys
or the body.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from fluxbilling import errors
from fluxbilling.billing.facts import PaymentFact, PaymentKind

__all__ = [
    "AUTH_ALGO",
    "AUTH_ALGO_HEADER",
    "CERT_HOSTS",
    "CERT_NAMES",
    "CERT_PATH_PREFIX",
    "CERT_URL_HEADER",
    "HEADERS",
    "TRANSMISSION_ID_HEADER",
    "TRANSMISSION_SIG_HEADER",
    "TRANSMISSION_TIME_HEADER",
    "PayPalEvent",
    "PaymentFact",
    "PaymentKind",
    "Transmission",
    "check_cert_url",
    "classify",
    "fact_from_capture",
    "fact_from_order",
    "minor_units",
    "order_request",
    "parse_event",
    "paypal_amount",
    "read_transmission",
    "related_order_id",
    "verify",
]

TRANSMISSION_ID_HEADER = "PAYPAL-TRANSMISSION-ID"
TRANSMISSION_TIME_HEADER = "PAYPAL-TRANSMISSION-TIME"
TRANSMISSION_SIG_HEADER = "PAYPAL-TRANSMISSION-SIG"
CERT_URL_HEADER = "PAYPAL-CERT-URL"
AUTH_ALGO_HEADER = "PAYPAL-AUTH-ALGO"
HEADERS = (
    TRANSMISSION_ID_HEADER,
    TRANSMISSION_TIME_HEADER,
    TRANSMISSION_SIG_HEADER,
    CERT_URL_HEADER,
    AUTH_ALGO_HEADER,
)
AUTH_ALGO = "SHA256withRSA"
CERT_PATH_PREFIX = "/v1/notifications/certs/"
#: Hosts a certificate may be fetched from (§3.2). Entries are exact host names; an entry
#: starting with ``.`` matches any longer name ending with it.
CERT_HOSTS: frozenset[str] = frozenset(
    {"api.paypal.com", "api-m.paypal.com", "api.sandbox.paypal.com", "api-m.sandbox.paypal.com"}
)
#: Accepted certificate subject CNs, same matching as `CERT_HOSTS`. Observed names are
#: ``messageverificationcerts.paypal.com`` and its ``.sandbox.`` variant; §3.2 (PayPal's
#: former SDK) accepts any name ending with ``.paypal.com``.
CERT_NAMES: frozenset[str] = frozenset({".paypal.com"})
_MIN_RSA_BITS = 2048
_CERT_ID = frozenset(string.ascii_letters + string.digits + "-_.")
_HOST_CHARS = frozenset(string.ascii_lowercase + string.digits + "-.")


def _name_allowed(name: str, allowed: Collection[str]) -> bool:
    name = name.lower()
    for entry in allowed:
        entry = entry.lower()
        if entry.startswith("."):
            if name.endswith(entry) and len(name) > len(entry):
                return True
        elif name == entry:
            return True
    return False


# ---------------------------------------------------------------------------------------
# Certificate URL


def check_cert_url(url: str, allowed_hosts: Collection[str] = CERT_HOSTS) -> str:
    """Refuse a ``PAYPAL-CERT-URL`` that is not a PayPal certificate URL.

    Accepted: ``https://<host>[:443]/v1/notifications/certs/<id>`` where ``<host>`` is in
    `allowed_hosts` and ``<id>`` is letters, digits, ``-``, ``_`` and ``.`` (not ``.``/``..``).
    Refused: other schemes, userinfo (``user@host``), other ports, look-alike hosts
    (``api.paypal.com.evil.test``, a trailing dot), paths elsewhere, query strings,
    fragments, percent-encoding, backslashes, whitespace and non-ASCII.

    Args:
        url: The header value.
        allowed_hosts: Exact host names, or ``.suffix`` entries (tests add the simulator's
            test-only host).

    Returns:
        `url`, unchanged, for the caller to fetch.

    Raises:
        errors.InvalidWebhook: The URL is refused (the message says why).

    Example:
        >>> check_cert_url("https://api.paypal.com/v1/notifications/certs/CERT-1")
        'https://api.paypal.com/v1/notifications/certs/CERT-1'
    """

    def refuse(why: str) -> errors.InvalidWebhook:
        return errors.InvalidWebhook(f"certificate URL refused: {why}", cert_url=url[:300])

    if (
        not url
        or not url.isascii()
        or any(c in url for c in "\\?#%@ \t\r\n")
        or not url.isprintable()
    ):
        raise refuse("it contains characters a PayPal certificate URL never has")
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise refuse("not https")
    host = (parts.hostname or "").lower()
    if (
        not host
        or not set(host) <= _HOST_CHARS
        or parts.netloc.lower() not in (host, f"{host}:443")
    ):
        raise refuse("malformed host or a port other than 443")
    if not _name_allowed(host, allowed_hosts):
        raise refuse(f"host {host!r} is not a PayPal host")
    cert_id = parts.path.removeprefix(CERT_PATH_PREFIX)
    if (
        not parts.path.startswith(CERT_PATH_PREFIX)
        or not cert_id
        or not set(cert_id) <= _CERT_ID
        or cert_id in (".", "..")
    ):
        raise refuse(f"path is not under {CERT_PATH_PREFIX}")
    return url


# ---------------------------------------------------------------------------------------
# Signature


@dataclass(frozen=True, slots=True)
class Transmission:
    """The five transmission headers of one delivery attempt, verbatim.

    Attributes:
        id: ``PAYPAL-TRANSMISSION-ID`` (one delivery attempt, not the event id).
        time: ``PAYPAL-TRANSMISSION-TIME``, as sent (signed verbatim).
        sig: ``PAYPAL-TRANSMISSION-SIG``, base64.
        cert_url: ``PAYPAL-CERT-URL``.
        auth_algo: ``PAYPAL-AUTH-ALGO``.
    """

    id: str
    time: str
    sig: str
    cert_url: str
    auth_algo: str

    @property
    def sent_at(self) -> datetime | None:
        """The transmission time as an aware datetime, None when it does not parse.

        PayPal documents no freshness window (§3.5): record it and alert on skew, do not
        reject on it.
        """
        try:
            parsed = datetime.fromisoformat(self.time)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None


def read_transmission(headers: Mapping[str, str]) -> Transmission:
    """The transmission headers of a delivery (header names in any case).

    Args:
        headers: The request headers.

    Returns:
        The five values, verbatim.

    Raises:
        errors.InvalidWebhook: A header is missing or empty, or the algorithm is not
            ``SHA256withRSA``.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    missing = [name for name in HEADERS if not lowered.get(name.lower())]
    if missing:
        raise errors.InvalidWebhook(f"missing header {', '.join(missing)}", missing=missing)
    found = Transmission(*(lowered[name.lower()] for name in HEADERS))
    if found.auth_algo != AUTH_ALGO:
        raise errors.InvalidWebhook(
            f"unsupported {AUTH_ALGO_HEADER} {found.auth_algo[:40]!r}; only {AUTH_ALGO}",
            auth_algo=found.auth_algo[:40],
        )
    return found


def _certificate(cert_pem: bytes) -> x509.Certificate:
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as exc:
        raise errors.InvalidWebhook("certificate is not a PEM X.509 certificate") from exc
    return chain[0]


def _check_certificate(cert: x509.Certificate, now: datetime, cert_names: Collection[str]) -> None:
    if now.tzinfo is None:
        raise errors.InvariantViolation("now must be timezone-aware")
    if now < cert.not_valid_before_utc:
        raise errors.InvalidWebhook(
            "certificate is not yet valid",
            not_before=cert.not_valid_before_utc.isoformat(),
        )
    if now > cert.not_valid_after_utc:
        raise errors.InvalidWebhook(
            "certificate has expired", not_after=cert.not_valid_after_utc.isoformat()
        )
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if len(names) == 1 else ""
    if not _name_allowed(common_name, cert_names):
        raise errors.InvalidWebhook(
            "certificate subject is not a PayPal name", common_name=common_name[:100]
        )


def verify(
    headers: Mapping[str, str],
    raw_body: bytes,
    webhook_id: str,
    cert_pem: bytes,
    now: datetime,
    *,
    cert_hosts: Collection[str] = CERT_HOSTS,
    cert_names: Collection[str] = CERT_NAMES,
) -> Transmission:
    """Check that a delivery is authentic and meant for our webhook; return its headers.

    Args:
        headers: The request headers (any case).
        raw_body: The raw request body, exactly as received.
        webhook_id: Our webhook subscription id for this environment (configuration).
        cert_pem: The certificate served at the delivery's ``PAYPAL-CERT-URL`` (PEM; extra
            chain certificates after the first are ignored).
        now: The current time (timezone-aware) for the certificate's validity.
        cert_hosts: Hosts the certificate URL may name (`CERT_HOSTS`).
        cert_names: Accepted subject CNs (`CERT_NAMES`).

    Returns:
        The verified transmission headers.

    Raises:
        errors.InvalidSettings: No webhook id is configured.
        errors.InvalidWebhook: A header is missing, the algorithm is not
            ``SHA256withRSA``, the certificate URL is refused, the certificate does not
            parse, is expired or not yet valid, has a non-PayPal CN or a non-RSA key, the
            signature is not base64, or it does not verify.
    """
    if not webhook_id:
        raise errors.InvalidSettings("no PayPal webhook id is configured")
    transmission = read_transmission(headers)
    check_cert_url(transmission.cert_url, cert_hosts)
    cert = _certificate(cert_pem)
    _check_certificate(cert, now, cert_names)
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < _MIN_RSA_BITS:
        raise errors.InvalidWebhook(f"certificate key is not RSA of at least {_MIN_RSA_BITS} bits")
    try:
        signature = base64.b64decode(transmission.sig, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.InvalidWebhook(f"{TRANSMISSION_SIG_HEADER} is not base64") from exc
    crc = zlib.crc32(raw_body) & 0xFFFFFFFF
    message = f"{transmission.id}|{transmission.time}|{webhook_id}|{crc}".encode()
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise errors.InvalidWebhook(
            "signature does not match", transmission_id=transmission.id[:100]
        ) from exc
    return transmission


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


def _field(data: Mapping[str, Any], name: str, kind: type, path: str) -> Any:
    value = data.get(name)
    if value is None or value == "":
        raise errors.InvalidWebhook(f"missing field '{path}'", field=path)
    if not isinstance(value, kind):
        raise errors.InvalidWebhook(f"field '{path}' has the wrong type", field=path)
    return value


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
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidWebhook(f"malformed JSON body: {exc}") from exc
    if not isinstance(data, dict):
        raise errors.InvalidWebhook("malformed JSON body: not an object")
    return PayPalEvent(
        id=_field(data, "id", str, "id"),
        event_type=_field(data, "event_type", str, "event_type"),
        resource_type=_optional_str(data.get("resource_type")) or "",
        create_time=_optional_str(data.get("create_time")) or "",
        resource=_field(data, "resource", dict, "resource"),
    )


# ---------------------------------------------------------------------------------------
# Money

# ISO 4217 exponents that are not 2.
_NOT_TWO = (
    (0, "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"),
    (3, "BHD IQD JOD KWD LYD OMR TND"),
    (4, "CLF UYW"),
)
_EXPONENTS = {code: exponent for exponent, codes in _NOT_TWO for code in codes.split()}
# PayPal refuses decimals for these (its currency-codes page), whatever ISO says.
_PAYPAL_WHOLE_UNITS = frozenset({"HUF", "JPY", "TWD"})
_VALUE = re.compile(r"\d+(\.\d+)?|\.\d+")
_CURRENCY = re.compile(r"[A-Z]{3}")


def minor_units(amount: object, path: str = "amount") -> tuple[int, str]:
    """A PayPal money object as ``(minor units, currency)``.

    Args:
        amount: ``{"currency_code": "EUR", "value": "19.99"}``.
        path: Where the object sits, named in errors.

    Returns:
        E.g. ``(1999, "EUR")``; ``{"currency_code": "JPY", "value": "500"}`` gives
        ``(500, "JPY")``.

    Raises:
        errors.InvalidWebhook: Not a money object, a bad currency, a value that is not a
            non-negative decimal string, or more decimals than the currency has.
    """
    if not isinstance(amount, dict):
        raise errors.InvalidWebhook(f"missing field '{path}'", field=path)
    currency = _field(amount, "currency_code", str, f"{path}.currency_code")
    value = _field(amount, "value", str, f"{path}.value")
    if not _CURRENCY.fullmatch(currency):
        raise errors.InvalidWebhook(
            f"field '{path}.currency_code' is not an ISO 4217 code", field=f"{path}.currency_code"
        )
    if not _VALUE.fullmatch(value):
        raise errors.InvalidWebhook(
            f"field '{path}.value' is not a non-negative decimal", field=f"{path}.value"
        )
    scaled = Decimal(value).scaleb(_EXPONENTS.get(currency, 2))
    if scaled != scaled.to_integral_value():
        raise errors.InvalidWebhook(
            f"field '{path}.value' has more decimals than {currency} has",
            field=f"{path}.value",
        )
    return int(scaled), currency


def paypal_amount(amount_minor: int, currency: str) -> dict[str, str]:
    """Minor units as a PayPal money object.

    Args:
        amount_minor: The amount in ISO 4217 minor units.
        currency: ISO 4217 code, any case.

    Returns:
        E.g. ``{"currency_code": "EUR", "value": "19.99"}``; ``HUF``, ``JPY`` and ``TWD``
        are written without decimals, as PayPal requires.

    Raises:
        errors.UserError: A bad currency, a negative amount, or a fraction PayPal cannot
            take for a whole-unit currency.

    Example:
        >>> paypal_amount(1999, "eur")
        {'currency_code': 'EUR', 'value': '19.99'}
    """
    currency = currency.upper()
    if not _CURRENCY.fullmatch(currency) or amount_minor < 0:
        raise errors.UserError(f"cannot express {amount_minor} {currency!r} for PayPal")
    exponent = _EXPONENTS.get(currency, 2)
    value = Decimal(amount_minor).scaleb(-exponent)
    if currency in _PAYPAL_WHOLE_UNITS:
        if value != value.to_integral_value():
            raise errors.UserError(f"PayPal takes no decimals for {currency}")
        exponent = 0
    return {"currency_code": currency, "value": f"{value:.{exponent}f}"}


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
    capture_id = _field(capture, "id", str, f"{path}.id")
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

    ``COMPLETED``, ``PARTIALLY_REFUNDED`` and ``REFUNDED`` are *paid* (the money came in;
    refunds are separate facts), ``PENDING`` is *pending*, ``DECLINED``/``FAILED`` are
    *failed*. The fact's payment id is the capture's order
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
    status = _field(capture, "status", str, f"{path}.status")
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
    order_id = _optional_str(order.get("id")) or _field(order, "order_id", str, f"{path}.id")
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

    A ``COMPLETED`` order states the fact of its first purchase unit's completed capture
    (payment id = the order, alias = the capture, as for ``PAYMENT.CAPTURE.*`` events, so
    both hit the same key); ``VOIDED`` is *failed*; any other status is *pending*.

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
    status = _field(order, "status", str, f"{path}.status")
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
    # The completed capture wins over earlier declined attempts, wherever it is listed.
    ranked = sorted(
        (c for c in captures if isinstance(c, dict)),
        key=lambda c: c.get("status") != "COMPLETED",
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


def _refund_like(kind: PaymentKind, resource: Mapping[str, Any], livemode: bool) -> PaymentFact:
    """A refund or reversal (resource_type ``refund``): the payment is the ``up`` capture."""
    object_id = _field(resource, "id", str, "resource.id")
    amount, currency = minor_units(resource.get("amount"), "resource.amount")
    return PaymentFact(
        kind=kind,
        gateway_payment_id=_linked_id(resource, "captures") or object_id,
        invoice_ref=_invoice_ref(resource, "custom_id", "invoice_id"),
        amount_minor=amount,
        currency=currency,
        livemode=livemode,
        gateway_object_id=object_id,
    )


def _dispute(resource: Mapping[str, Any], livemode: bool) -> PaymentFact:
    dispute_id = _field(resource, "dispute_id", str, "resource.dispute_id")
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
# Orders

_MAX_ID = 127


def order_request(
    invoice_ref: str,
    amount_minor: int,
    currency: str,
    *,
    description: str | None = None,
    brand_name: str | None = None,
    return_url: str | None = None,
    cancel_url: str | None = None,
) -> dict[str, Any]:
    """The body of ``POST /v2/checkout/orders`` for one of our invoices.

    Our invoice reference goes into ``invoice_id`` (PayPal refuses a second capture with
    the same one per merchant: a guard against paying twice) and ``custom_id`` (echoed on
    captures and refunds). ``intent`` is ``CAPTURE``; with a return or cancel URL the
    ``payment_source.paypal.experience_context`` is set (no shipping, "Pay Now").

    Args:
        invoice_ref: Our invoice reference (1-127 characters).
        amount_minor: The invoice total in minor units (positive).
        currency: ISO 4217 code.
        description: Shown to the payer (cut to 127 characters).
        brand_name: The shop name shown on PayPal's pages.
        return_url: Where PayPal sends the payer after approval.
        cancel_url: Where PayPal sends the payer after cancelling.

    Returns:
        The JSON body.

    Raises:
        errors.UserError: An empty or too long reference, a non-positive amount, or an
            amount PayPal cannot express.

    Example:
        >>> order_request("INV-7", 1999, "EUR")["purchase_units"][0]["amount"]
        {'currency_code': 'EUR', 'value': '19.99'}
    """
    if not invoice_ref or len(invoice_ref) > _MAX_ID:
        raise errors.UserError(f"invoice reference must be 1-{_MAX_ID} characters")
    if amount_minor <= 0:
        raise errors.UserError("an order amount must be positive")
    unit: dict[str, Any] = {
        "reference_id": "default",
        "invoice_id": invoice_ref,
        "custom_id": invoice_ref,
        "amount": paypal_amount(amount_minor, currency),
    }
    if description:
        unit["description"] = description[:_MAX_ID]
    body: dict[str, Any] = {"intent": "CAPTURE", "purchase_units": [unit]}
    context = {
        key: value
        for key, value in (
            ("brand_name", brand_name),
            ("return_url", return_url),
            ("cancel_url", cancel_url),
        )
        if value
    }
    if context:
        context |= {"shipping_preference": "NO_SHIPPING", "user_action": "PAY_NOW"}
        body["payment_source"] = {"paypal": {"experience_context": context}}
    return body
