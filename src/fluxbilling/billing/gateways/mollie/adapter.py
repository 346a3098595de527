"""Mollie as a `Gateway`: pings and signed events in, re-fetched payments out, payments created.

One endpoint takes both kinds of notification; the ``X-Mollie-Signature`` header tells them
apart (payments.md §2.1, §2.2):

| notification             | body               | authentic because                   | `Verified.event_id`         |
|--------------------------|--------------------|-------------------------------------|-----------------------------|
| classic (``webhookUrl``) | form ``id=tr_...`` | the payment re-fetched with our key | `state_key` of the payment  |
| next-gen (beta)          | signed JSON event  | HMAC with one of our secrets        | the event id (``event_...``)|

Either way the payment is re-fetched (``embed=refunds,chargebacks``) and *that* is classified
(`events.classify`); a next-gen event's embedded entity is never trusted. Choices:

- **Dedupe.** A classic ping carries nothing but the id, and Mollie sends the same body for
  paid, every refund change and every chargeback, so its key is the fetched *state*: a
  repeated ping of an unchanged payment is a duplicate, a ping after a refund is not. A
  next-gen event is keyed by its own id, as Mollie intends; a redelivered event is a
  duplicate even if the payment changed since, because that change has its own notification.
- **Unknown payments** (404: forged, another account, the other mode) give no facts and a
  note (answered 200, recorded as nothing). Next-gen events about *other* entities (payment
  links, ...) give one ``ignored`` fact instead, so they are acknowledged and their event id
  is recorded: a redelivery is a duplicate, not re-examined.
- **Zero-amount facts** (a failed or canceled refund, a reversed chargeback) pass through
  unchanged: the ledger upserts by refund / chargeback id and converges.
- **Authorized payments** are classified ``pending`` and never captured: our checkout
  creates plain payments, which Mollie captures itself. One that is ``authorized`` anyway
  (created outside FluxBilling) gets a note for the operator.
- **A fetched payment we cannot read** (unknown currency, missing field, another id) is
  `errors.PermanentUpstreamError`, not `errors.InvalidWebhook`: the delivery is authentic,
  so it is deferred and kept for the operator instead of being rejected.
- **Ownership, amount and mode** are checked by the ledger (`payment_attempts`, the
  invoice), so `verify` does not use its `attempts` lookup.

The API key's prefix is the account's mode (`connect`); it is a secret of the `UpstreamHttp`,
so it is redacted from every recorded exchange and error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from fluxbilling import errors
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.billing.gateway import (
    AttemptLookup,
    Checkout,
    CheckoutRequest,
    Verified,
    header,
    state_key,
)
from fluxbilling.billing.gateways.mollie import checkout as mollie_checkout
from fluxbilling.billing.gateways.mollie import events as mollie_events
from fluxbilling.billing.gateways.mollie import verify as mollie_verify
from fluxbilling.billing.gateways.mollie.api import MollieApi
from fluxbilling.drivers import upstream

__all__ = ["API_URL", "UPSTREAM", "MollieGateway", "connect"]

UPSTREAM = "mollie"
API_URL = "https://api.mollie.com"

_API_KEY = re.compile(r"(live|test)_[A-Za-z0-9_]+")
_PAYMENT_ID = re.compile(r"tr_[A-Za-z0-9]{1,64}")
_SIGNATURE = mollie_verify.SIGNATURE_HEADER.lower()


def connect(
    api_key: str,
    *,
    base_url: str = API_URL,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 15.0,
    webhook_secrets: Sequence[str] = (),
) -> MollieGateway:
    """A gateway for one Mollie account; the key's prefix says whether it is live.

    Args:
        api_key: The profile's API key, ``test_...`` or ``live_...`` (redacted everywhere).
        base_url: The API origin (a simulator's URL in tests).
        transport: An httpx transport (an ASGI simulator in tests).
        timeout: Seconds per request (Mollie waits 15 s for our webhook answer).
        webhook_secrets: Next-gen signing secrets, current first (none: classic only).

    Returns:
        The gateway; close it with `MollieGateway.aclose`.

    Raises:
        errors.InvalidSettings: The key is empty or not ``test_...`` / ``live_...`` (an
            organization access token, a key with whitespace); the key is not in the message.
    """
    if not api_key:
        raise errors.InvalidSettings("no Mollie API key is configured", upstream=UPSTREAM)
    found = _API_KEY.fullmatch(api_key)
    if found is None:
        raise errors.InvalidSettings(
            "the Mollie API key must be 'test_' or 'live_' followed by letters, digits and"
            " underscores",
            upstream=UPSTREAM,
        )
    http = upstream.UpstreamHttp(
        UPSTREAM,
        base_url,
        secrets=[api_key],
        transport=transport,
        timeout=timeout,
        credentials={None: upstream.Credential(headers={"Authorization": f"Bearer {api_key}"})},
    )
    return MollieGateway(
        MollieApi(http), livemode=found.group(1) == "live", webhook_secrets=webhook_secrets
    )


def _classify(payment_id: str, payment: Mapping[str, Any]) -> list[PaymentFact]:
    """The facts of a re-fetched payment; an answer we cannot read is Mollie's, not the sender's."""
    operation = "get payment"
    if payment.get("id") != payment_id:
        raise errors.PermanentUpstreamError(
            f"{UPSTREAM}: {operation}: asked for {payment_id}, the answer is another payment",
            upstream=UPSTREAM,
            operation=operation,
            payment_id=payment_id,
        )
    try:
        return mollie_events.classify(payment)
    except errors.InvalidWebhook as exc:
        raise errors.PermanentUpstreamError(
            f"{UPSTREAM}: {operation}: cannot read payment {payment_id}: {exc.message}",
            upstream=UPSTREAM,
            operation=operation,
            payment_id=payment_id,
            field=exc.details.get("field"),
        ) from exc


def _signatures(headers: Mapping[str, str]) -> list[str]:
    return [value for key, value in headers.items() if key.lower() == _SIGNATURE]


def _unknown(payment_id: str) -> str:
    return f"payment {payment_id} is unknown to this Mollie account"


def _note(payment_id: str, payment: Mapping[str, Any]) -> str:
    if mollie_events.needs_capture(payment):
        return (
            f"payment {payment_id} is authorized and waits for a capture; FluxBilling never"
            " captures (its checkouts create plain payments): capture or cancel it in Mollie"
        )
    return ""


def _incomplete(payment: Mapping[str, Any], missing: str) -> errors.PermanentUpstreamError:
    status = payment.get("status")
    return errors.PermanentUpstreamError(
        f"{UPSTREAM}: create payment: the answer has no valid '{missing}'",
        upstream=UPSTREAM,
        operation="create payment",
        field=missing,
        payment_status=status if isinstance(status, str) else None,
    )


def _created(payment: Mapping[str, Any]) -> Checkout:
    """The checkout of a created payment, or an error naming the field the answer lacks."""
    payment_id = payment.get("id")
    if not isinstance(payment_id, str) or not _PAYMENT_ID.fullmatch(payment_id):
        raise _incomplete(payment, "id")
    links = payment.get("_links")
    checkout = links.get("checkout") if isinstance(links, Mapping) else None
    href = checkout.get("href") if isinstance(checkout, Mapping) else None
    if not isinstance(href, str) or not href:
        raise _incomplete(payment, "_links.checkout.href")
    return Checkout(payment_id, href)


class MollieGateway:
    """One Mollie account (one API key, so one mode) and its webhook endpoint.

    Args:
        api: The account's API client.
        livemode: Whether the key is a live key (`connect` derives it from the prefix).
        webhook_secrets: Next-gen signing secrets, current first, then previous ones.
    """

    name = "mollie"

    def __init__(
        self, api: MollieApi, *, livemode: bool, webhook_secrets: Sequence[str] = ()
    ) -> None:
        self.api = api
        self.livemode = livemode
        self.webhook_secrets = tuple(webhook_secrets)

    async def verify(
        self, body: bytes, headers: Mapping[str, str], *, now: float, attempts: AttemptLookup
    ) -> Verified:
        """Authenticate a classic ping or a next-gen event and classify the re-fetched payment.

        Args:
            body: The raw request body.
            headers: The request headers; every ``X-Mollie-Signature`` item counts, and one
                value may hold several signatures, comma-separated.
            now: Unused: neither kind of notification carries a timestamp to check.
            attempts: Unused: the ledger checks that the payment is ours.

        Returns:
            What the notification means (see the module docstring for the keys).

        Raises:
            errors.InvalidWebhook: Not a classic ping (form ``id=tr_...``), or a next-gen
                event whose signature matches none of our secrets (or we have none: anyone
                can add the header) or that is malformed.
            errors.TransientUpstreamError: Mollie could not be asked (timeout, 429, 5xx).
            errors.PermanentUpstreamError: Mollie refused (401) or answered a payment we
                cannot read.
        """
        signatures = _signatures(headers)
        if signatures:
            return await self._next_gen(body, signatures)
        return await self._classic(body, header(headers, "Content-Type"))

    def screen(self, body: bytes, headers: Mapping[str, str], *, now: float) -> bool:
        """A next-gen event's HMAC (authentic: True), or a classic ping's shape (False: only
        the re-fetch tells)."""
        signatures = _signatures(headers)
        if signatures:
            self._check_signature(body, signatures)
            return True
        mollie_events.parse_notification(body, header(headers, "Content-Type"))
        return False

    def _check_signature(self, body: bytes, signatures: Sequence[str]) -> None:
        if not self.webhook_secrets:
            # Not a setting problem to wait out: anyone can send the header.
            raise errors.InvalidWebhook(
                f"signed with {mollie_verify.SIGNATURE_HEADER}, but no next-gen webhook secret is "
                "configured (FLUXBILLING_MOLLIE_WEBHOOK_SECRET)"
            )
        mollie_verify.verify_signature(body, signatures, self.webhook_secrets)

    async def _classic(self, body: bytes, content_type: str | None) -> Verified:
        payment_id = mollie_events.parse_notification(body, content_type)
        payment = await self.api.get_payment(payment_id)
        if payment is None:
            # Nothing vouches for the ping: anyone can post an id.
            return Verified(
                "",
                "unknown",
                (),
                resource_id=payment_id,
                note=_unknown(payment_id),
                authentic=False,
            )
        facts = tuple(_classify(payment_id, payment))
        return Verified(
            state_key(payment_id, facts),
            str(payment["status"]),
            facts,
            resource_id=payment_id,
            note=_note(payment_id, payment),
        )

    async def _next_gen(self, body: bytes, signatures: Sequence[str]) -> Verified:
        self._check_signature(body, signatures)
        event = mollie_events.parse_event(body)
        entity_id = event.entity_id
        if not entity_id.startswith("tr_"):
            ignored = PaymentFact(
                kind="ignored",
                gateway_payment_id=entity_id[:200],
                invoice_ref=None,
                amount_minor=0,
                currency="",
                livemode=self.livemode,
                gateway_object_id=entity_id[:200],
            )
            return Verified(event.id, event.type, (ignored,), resource_id=entity_id[:200])
        if not _PAYMENT_ID.fullmatch(entity_id):
            raise errors.InvalidWebhook(
                "field 'entityId' is not a payment id (tr_...)", field="entityId"
            )
        payment = await self.api.get_payment(entity_id)
        if payment is None:
            return Verified(
                event.id, event.type, (), resource_id=entity_id, note=_unknown(entity_id)
            )
        return Verified(
            event.id,
            event.type,
            tuple(_classify(entity_id, payment)),
            resource_id=entity_id,
            note=_note(entity_id, payment),
        )

    async def fetch(self, gateway_ref: str) -> Sequence[PaymentFact] | None:
        """The current facts of a payment we created (reconciler, return page).

        Args:
            gateway_ref: The payment's ``tr_...`` id, as stored by `create_checkout`.

        Returns:
            `events.classify` of the payment, or None when Mollie does not know it.

        Raises:
            errors.TransientUpstreamError: Mollie could not be asked.
            errors.PermanentUpstreamError: Mollie refused, or answered a payment we cannot read.
        """
        payment = await self.api.get_payment(gateway_ref)
        return None if payment is None else _classify(gateway_ref, payment)

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Create the payment of one attempt; retrying the attempt returns the same payment.

        The customer returns to `CheckoutRequest.success_url` whatever the outcome (the
        return page only triggers a sync); `cancel_url` is not sent.

        Args:
            request: The attempt (its idempotency key is Mollie's ``Idempotency-Key``).

        Returns:
            The ``tr_...`` id and ``_links.checkout.href``, where the customer pays.

        Raises:
            errors.InvalidSettings: Mollie does not support the currency.
            errors.TransientUpstreamError: Mollie could not be asked; retry the same attempt.
            errors.PermanentUpstreamError: Mollie refused (422, 401), or answered without
                an id or a checkout link (named), e.g. a replayed attempt that is paid.
        """
        body = mollie_checkout.checkout_request(
            request.invoice_id,
            request.amount_minor,
            request.currency,
            request.description,
            redirect_url=request.success_url,
            webhook_url=request.webhook_url,
        )
        return _created(await self.api.create_payment(body, request.idempotency_key))

    async def aclose(self) -> None:
        """Close the API client's connection pool."""
        await self.api.http.aclose()
