"""What every payment gateway adapter offers the gateway-neutral ingestion, checkout and reconciler.

One adapter per gateway (`billing.gateways.<name>.adapter`) wraps that gateway's pure
modules (verify, parse, classify) and its API client:

```
screen(body, headers)   refuse locally, before the body is stored in full, what can be refused
                        without asking anyone (a Stripe or Mollie next-gen HMAC, the shape of
                        a Mollie ping or CoinGate callback, PayPal's headers and certificate
                        URL); True when that alone proved the notification authentic
verify(body, headers)   authenticate one notification the way the gateway does it, and say
                        what it means (`Verified`): Stripe and PayPal from the signed event,
                        Mollie and CoinGate from the object *re-fetched* with our API key
fetch(ref)              the facts of a gateway object we created (reconciler, return page)
create_checkout(req)    create the gateway object for one invoice attempt (`Checkout`)
```

Errors: `errors.InvalidWebhook` = not authentic or not parseable (answer 400, nothing done);
one raised by `verify` *after* it authenticated the notification carries
``authentic=True`` in its details (`unreadable`: a signed event or a fetched object we cannot
read, kept in full and never pruned; `screen` says the same for what it proved);
`errors.UpstreamError` while re-fetching = try again later (the delivery stays stored as
`deferred`, the gateway and our sweeper both retry). Anything else an adapter raises on an
untrusted body is mapped to `errors.InvalidWebhook` by the ingestion (`billing.webhooks`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from fluxbilling import errors
from fluxbilling.billing.facts import MAX_AMOUNT_MINOR, PaymentFact

__all__ = [
    "Attempt",
    "AttemptLookup",
    "Checkout",
    "CheckoutRequest",
    "Gateway",
    "Verified",
    "header",
    "state_key",
    "unreadable",
]


@dataclass(frozen=True, slots=True)
class Attempt:
    """A gateway object we created for an invoice (a row of `payment_attempts`)."""

    invoice_id: int
    gateway: str
    gateway_ref: str
    callback_token_hash: str | None = None


#: Finds the attempt a notification names: ``await lookup(gateway_ref)`` (None: not ours).
AttemptLookup = Callable[[str], Awaitable[Attempt | None]]


@dataclass(frozen=True, slots=True)
class Verified:
    """An authentic notification and what it means.

    Attributes:
        event_id: The transport-level dedupe key (`processed_events`): the gateway's event id
            (Stripe, PayPal, Mollie next-gen), or `state_key` of the re-fetched object for
            ping-style notifications (Mollie classic, CoinGate), so a repeated ping of an
            unchanged object is a duplicate and a changed one is processed.
        event_type: The event type, or the fetched object's status.
        facts: What to apply, in order; empty when the object is unknown at the gateway.
        resource_id: The gateway object the notification is about.
        note: Why there is nothing to do (an unknown object), for the operator.
        authentic: False when nothing vouched for the notification: it names an object
            neither we nor the gateway know (a CoinGate order we never created, a payment
            Mollie does not know), so anyone could have sent it. Stored like a rejected
            delivery (bounded, pruned), still answered 200.
    """

    event_id: str
    event_type: str
    facts: tuple[PaymentFact, ...]
    resource_id: str = ""
    note: str = ""
    authentic: bool = True


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """One checkout attempt for one invoice."""

    invoice_id: int
    attempt: int
    amount_minor: int
    currency: str
    description: str
    success_url: str
    cancel_url: str
    webhook_url: str

    @property
    def idempotency_key(self) -> str:
        """The same attempt retried creates one gateway object (Idempotency-Key, Request-Id)."""
        return f"fluxbilling-invoice-{self.invoice_id}-attempt-{self.attempt}"


@dataclass(frozen=True, slots=True)
class Checkout:
    """The gateway object created for an attempt: stored before the customer is redirected."""

    gateway_ref: str
    redirect_url: str
    callback_token_hash: str | None = None


class Gateway(Protocol):
    """A configured gateway (one account, one mode)."""

    @property
    def name(self) -> str:
        """The gateway's name in URLs and rows (``stripe``, ``mollie``...)."""
        ...

    @property
    def livemode(self) -> bool:
        """Whether this account is live; objects of the other mode are rejected."""
        ...

    def screen(self, body: bytes, headers: Mapping[str, str], *, now: float) -> bool:
        """Refuse locally what can be refused without I/O (see the module docstring).

        Returns:
            True when this proved the notification authentic (a signature), False when
            only `verify` can tell (a re-fetch, a certificate).

        Raises:
            errors.InvalidWebhook: Not authentic or malformed; nothing needs to be asked.
        """
        ...

    async def verify(
        self, body: bytes, headers: Mapping[str, str], *, now: float, attempts: AttemptLookup
    ) -> Verified:
        """Authenticate one notification and say what it means (see the module docstring)."""
        ...

    async def fetch(self, gateway_ref: str) -> Sequence[PaymentFact] | None:
        """The current facts of a gateway object we created; None when the gateway has none."""
        ...

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Create the gateway object for one attempt; idempotent per attempt."""
        ...

    async def aclose(self) -> None:
        """Release HTTP clients."""
        ...


def state_key(resource_id: str, facts: Sequence[PaymentFact]) -> str:
    """A dedupe key for the *state* of a re-fetched object (ping-style notifications).

    Keyed by the payment, refund and chargeback ids and what each says, so a repeated ping
    of an unchanged object collides and any change (paid, a refund, a chargeback) does not.

    Example:
        >>> fact = PaymentFact("paid", "tr_1", "7", 1000, "EUR", False, "tr_1")
        >>> state_key("tr_1", [fact]) == state_key("tr_1", [fact])
        True
    """
    parts = sorted(
        f"{f.kind}|{f.gateway_object_id}|{f.gateway_payment_id}|{_amount(f.amount_minor)}|"
        f"{f.currency}"
        for f in facts
    )
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
    return f"{resource_id[:200]}@{digest}"


def _amount(amount_minor: int) -> str:
    """An amount in a key: decimal as always, hexadecimal past the range facts may carry (an
    int of thousands of digits cannot be written in decimal; the ledger refuses it anyway)."""
    return str(amount_minor) if abs(amount_minor) <= MAX_AMOUNT_MINOR else f"x{amount_minor:x}"


def unreadable(exc: errors.InvalidWebhook) -> errors.InvalidWebhook:
    """`exc`, raised after the notification was authenticated: authentic, but unreadable.

    Raise it ``from exc``; the ingestion keeps such a delivery in full and answers 200.
    """
    return errors.InvalidWebhook(exc.message, **{**exc.details, "authentic": True})


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header by case-insensitive name (None when absent)."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)
