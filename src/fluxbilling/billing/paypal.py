"""PayPal webhooks: check the certificate URL, verify the RSA signature, parse, classify.

Everything in this module and its siblings is a pure function over the transmission
headers, the raw body bytes, our configured webhook id, the certificate PEM and an explicit
`now` (payments.md §3.2):

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

Layout: `paypal_verify` holds steps 1-5 (`check_cert_url`, `read_transmission`, `verify`);
`paypal_events` parses events and classifies them and fetched captures and orders into
facts; `paypal_money` converts amounts. This module builds order requests
(`order_request`) and re-exports every public name of the three, so callers keep importing
`billing.paypal` alone.
"""

from __future__ import annotations

from typing import Any

from fluxbilling import errors
from fluxbilling.billing.facts import PaymentFact, PaymentKind
from fluxbilling.billing.paypal_events import (
    PayPalEvent,
    classify,
    fact_from_capture,
    fact_from_order,
    facts_from_order,
    parse_event,
    related_order_id,
)
from fluxbilling.billing.paypal_money import minor_units, paypal_amount
from fluxbilling.billing.paypal_verify import (
    AUTH_ALGO,
    AUTH_ALGO_HEADER,
    CERT_HOSTS,
    CERT_NAMES,
    CERT_PATH_PREFIX,
    CERT_URL_HEADER,
    HEADERS,
    TRANSMISSION_ID_HEADER,
    TRANSMISSION_SIG_HEADER,
    TRANSMISSION_TIME_HEADER,
    Transmission,
    check_cert_url,
    read_transmission,
    verify,
)

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
    "facts_from_order",
    "minor_units",
    "order_request",
    "parse_event",
    "paypal_amount",
    "read_transmission",
    "related_order_id",
    "verify",
]

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
