"""A Stripe webhook simulator: realistic signed Event deliveries without the internet.

`checkout_completed(...)` builds the JSON body of a ``checkout.session.completed``
event shaped like Stripe's (pinned ``api_version``, lower-case currency, ``cs_test_``
ids in test mode), `signed_headers(...)` signs it like Stripe does and `deliver(...)`
POSTs it to our webhook endpoint.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from typing import Any

import httpx

from fluxbilling.billing import stripe

__all__ = [
    "API_VERSION",
    "charge_refunded",
    "checkout_completed",
    "deliver",
    "dispute_created",
    "signed_headers",
]

API_VERSION = "2024-06-20"
_ALPHABET = string.ascii_letters + string.digits


def _random_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def checkout_completed(
    invoice_id: int,
    amount_minor: int,
    currency: str,
    *,
    session_id: str | None = None,
    payment_status: str = "paid",
    livemode: bool = False,
    event_id: str | None = None,
    created: int | None = None,
) -> bytes:
    """The body of a ``checkout.session.completed`` event for one of our invoices.

    Args:
        invoice_id: Our invoice id, carried as ``client_reference_id`` and
            ``metadata.invoice_id`` like our checkout code sets them.
        amount_minor: ``amount_total`` in minor units.
        currency: ISO code in any case; Stripe sends it lower-case.
        session_id: The Checkout Session id; random ``cs_test_``/``cs_live_`` if None.
        payment_status: ``paid``, ``unpaid`` (delayed methods) or
            ``no_payment_required``.
        livemode: Live or test mode.
        event_id: The event id; random ``evt_...`` if None.
        created: Unix seconds of the event; the current time if None.

    Returns:
        The JSON body, indented like Stripe's deliveries.
    """
    mode = "live" if livemode else "test"
    created = int(time.time()) if created is None else created
    session: dict[str, Any] = {
        "id": session_id or _random_id(f"cs_{mode}_a1", 58),
        "object": "checkout.session",
        "amount_subtotal": amount_minor,
        "amount_total": amount_minor,
        "client_reference_id": str(invoice_id),
        "created": created - 60,
        "currency": currency.lower(),
        "customer": _random_id("cus_", 14),
        "livemode": livemode,
        "metadata": {"invoice_id": str(invoice_id)},
        "mode": "payment",
        "payment_intent": _random_id("pi_"),
        "payment_status": payment_status,
        "status": "complete",
    }
    event = {
        "id": event_id or _random_id("evt_"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": session},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
    }
    return json.dumps(event, indent=2).encode("utf-8")


def _event(kind: str, obj: dict[str, Any], *, livemode: bool, created: int | None) -> bytes:
    created = int(time.time()) if created is None else created
    event = {
        "id": _random_id("evt_"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": obj},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }
    return json.dumps(event, indent=2).encode("utf-8")


def charge_refunded(
    payment_intent: str,
    amount_minor: int,
    amount_refunded: int,
    currency: str,
    *,
    charge_id: str | None = None,
    livemode: bool = False,
    created: int | None = None,
) -> bytes:
    """A ``charge.refunded`` event: `amount_refunded` is cumulative over the charge's refunds.

    Args:
        payment_intent: The PaymentIntent the charge belongs to (a session's `payment_intent`).
        amount_minor: The charge's amount.
        amount_refunded: How much of it is refunded so far.
        currency: ISO code in any case.
        charge_id: The charge id; random ``ch_...`` if None.
        livemode: Live or test mode.
        created: Unix seconds of the event; now if None.
    """
    charge = {
        "id": charge_id or _random_id("ch_"),
        "object": "charge",
        "amount": amount_minor,
        "amount_refunded": amount_refunded,
        "currency": currency.lower(),
        "livemode": livemode,
        "payment_intent": payment_intent,
        "refunded": amount_refunded >= amount_minor,
        "status": "succeeded",
    }
    return _event("charge.refunded", charge, livemode=livemode, created=created)


def dispute_created(
    payment_intent: str,
    amount_minor: int,
    currency: str,
    *,
    livemode: bool = False,
    created: int | None = None,
) -> bytes:
    """A ``charge.dispute.created`` event (a chargeback) for a PaymentIntent's charge."""
    dispute = {
        "id": _random_id("dp_"),
        "object": "dispute",
        "amount": amount_minor,
        "charge": _random_id("ch_"),
        "currency": currency.lower(),
        "livemode": livemode,
        "payment_intent": payment_intent,
        "reason": "fraudulent",
        "status": "needs_response",
    }
    return _event("charge.dispute.created", dispute, livemode=livemode, created=created)


def signed_headers(body: bytes, secret: str, t: int) -> dict[str, str]:
    """The headers Stripe sends with a delivery, signature included.

    Args:
        body: The exact body bytes.
        secret: The endpoint secret (``whsec_...``).
        t: The signing timestamp (unix seconds).

    Returns:
        ``Stripe-Signature``, ``Content-Type`` and ``User-Agent`` headers.
    """
    return {
        stripe.SIGNATURE_HEADER: stripe.sign(body, secret, t),
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }


async def deliver(
    client: httpx.AsyncClient, url: str, body: bytes, secret: str, *, t: int | None = None
) -> httpx.Response:
    """POST one signed delivery, as Stripe would.

    Args:
        client: The client to send with (an ASGI transport in tests works too).
        url: Our webhook endpoint.
        body: The event body, sent byte for byte.
        secret: The endpoint secret to sign with.
        t: The signing timestamp; the current time if None.

    Returns:
        Our endpoint's response.
    """
    t = int(time.time()) if t is None else t
    return await client.post(url, content=body, headers=signed_headers(body, secret, t))
