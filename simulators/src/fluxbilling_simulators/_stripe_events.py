"""Stripe events: their bodies and records, and the builders and signed POSTs tests use.

`event_body` is Stripe's event envelope (API v1 snapshot events); `Event` and `Attempt`
record what `simulators._stripe_state.StripeState` queued and what the notifier
(`simulators._stripe_notifier`) made of each POST, judged by `delivery_outcome`. The
stateless builders (`checkout_completed`, `charge_refunded`, `dispute_created`) and
`signed_headers`/`deliver` let tests and benchmarks post a delivery without a simulated
account. All of them are importable from `simulators.stripe`.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from fluxbilling.billing.gateways.stripe import api as stripe_api
from fluxbilling.billing.gateways.stripe import verify as stripe_verify

__all__ = [
    "ALPHABET",
    "API_VERSION",
    "USER_AGENT",
    "Attempt",
    "Event",
    "Outcome",
    "charge_refunded",
    "checkout_completed",
    "deliver",
    "delivery_outcome",
    "dispute_created",
    "event_body",
    "random_id",
    "signed_headers",
]

API_VERSION = stripe_api.API_VERSION
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
ALPHABET = string.ascii_letters + string.digits

Outcome = Literal["delivered", "retry", "gave_up"]


def random_id(prefix: str, length: int = 24) -> str:
    """A random (unseeded) id such as ``evt_...`` for the stateless builders and headers."""
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(length))


def event_body(
    event_id: str, event_type: str, obj: Mapping[str, Any], *, livemode: bool, created: int
) -> bytes:
    """The JSON body of a Stripe Event (API v1 snapshot event), indented like Stripe's."""
    event = {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": dict(obj)},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(event, indent=2).encode("utf-8")


@dataclass
class Event:
    """One event Stripe created, and its fate at our endpoint.

    `state` is ``queued`` (waiting or being retried), ``delivered``, ``gave_up`` (retries
    exhausted) or ``dropped`` (lost, by a test).
    """

    id: str
    type: str
    body: bytes
    object_id: str
    session_id: str
    livemode: bool
    attempts: int = 0
    state: str = "queued"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST of an event: the answer (or the error) and what Stripe does next.

    Attributes:
        event_id: The event.
        event_type: Its type.
        attempt: 1-based count of this event's attempts.
        http_status: Our endpoint's answer, or None (timeout, connection error).
        error: Why there was no answer, if none.
        outcome: ``delivered`` (2xx), ``retry`` or ``gave_up``.
        signed_at: The ``t`` of this attempt's ``Stripe-Signature`` (each attempt is signed
            afresh).
        manual: A dashboard "Resend" (never re-queued).
    """

    event_id: str
    event_type: str
    attempt: int
    http_status: int | None
    error: str | None
    outcome: Outcome
    signed_at: int
    manual: bool = False


def delivery_outcome(http_status: int | None, attempt: int, max_retries: int) -> Outcome:
    """What Stripe does after attempt `attempt`: any 2xx delivers; anything else (3xx, 4xx,
    5xx, no answer) is retried until `max_retries` retries have failed.

    Example:
        >>> delivery_outcome(204, 1, 3), delivery_outcome(302, 3, 3), delivery_outcome(None, 4, 3)
        ('delivered', 'retry', 'gave_up')
    """
    if http_status is not None and 200 <= http_status < 300:
        return "delivered"
    return "retry" if attempt <= max_retries else "gave_up"


# ---------------------------------------------------------------------------------------
# Stateless event builders


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
        "id": session_id or random_id(f"cs_{mode}_a1", 58),
        "object": "checkout.session",
        "amount_subtotal": amount_minor,
        "amount_total": amount_minor,
        "client_reference_id": str(invoice_id),
        "created": created - 60,
        "currency": currency.lower(),
        "customer": random_id("cus_", 14),
        "livemode": livemode,
        "metadata": {"invoice_id": str(invoice_id)},
        "mode": "payment",
        "payment_intent": random_id("pi_"),
        "payment_status": payment_status,
        "status": "complete",
    }
    return event_body(
        event_id or random_id("evt_"),
        "checkout.session.completed",
        session,
        livemode=livemode,
        created=created,
    )


def _event(kind: str, obj: dict[str, Any], *, livemode: bool, created: int | None) -> bytes:
    created = int(time.time()) if created is None else created
    return event_body(random_id("evt_"), kind, obj, livemode=livemode, created=created)


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
        "id": charge_id or random_id("ch_"),
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
        "id": random_id("dp_"),
        "object": "dispute",
        "amount": amount_minor,
        "charge": random_id("ch_"),
        "currency": currency.lower(),
        "livemode": livemode,
        "payment_intent": payment_intent,
        "reason": "fraudulent",
        "status": "needs_response",
    }
    return _event("charge.dispute.created", dispute, livemode=livemode, created=created)


def signed_headers(
    body: bytes, secret: str, t: int, extra_secrets: Sequence[str] = ()
) -> dict[str, str]:
    """The headers Stripe sends with a delivery, signature included.

    Args:
        body: The exact body bytes.
        secret: The endpoint secret (``whsec_...``).
        t: The signing timestamp (unix seconds).
        extra_secrets: More secrets, one more ``v1`` each (while a secret is being rolled).

    Returns:
        ``Stripe-Signature``, ``Content-Type`` and ``User-Agent`` headers.
    """
    return {
        stripe_verify.SIGNATURE_HEADER: stripe_verify.sign(body, secret, t, extra_secrets),
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
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
