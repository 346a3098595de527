"""Stripe as a `Gateway`: signed events in, Checkout Sessions out.

Verification is `gateways.stripe` (HMAC over ``t.body``, every ``v1``, current and previous
secrets, tolerance both ways); the event's own object is authoritative (it is signed), so
there is no re-fetch on the webhook path. With a secret key (`api`) checkout
creates Checkout Sessions, and the reconciler fetches a session with its PaymentIntent,
charge and disputes (`StripeApi.session_facts`), which give facts under the same keys as
the webhooks do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fluxbilling import errors
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.billing.gateway import AttemptLookup, Checkout, CheckoutRequest, Verified, header
from fluxbilling.billing.gateways.stripe import checkout as stripe_checkout
from fluxbilling.billing.gateways.stripe import events as stripe_events
from fluxbilling.billing.gateways.stripe import verify as stripe_verify
from fluxbilling.billing.gateways.stripe.api import StripeApi

__all__ = ["StripeGateway"]


class StripeGateway:
    """One Stripe account and endpoint.

    Args:
        secrets: The endpoint's signing secrets, current first (rotation).
        livemode: Whether the account is live.
        api: The API client (secret key); without it, webhooks only: no checkout, no
            reconciliation.
    """

    name = "stripe"

    def __init__(
        self, secrets: Sequence[str], *, livemode: bool = False, api: StripeApi | None = None
    ) -> None:
        self.secrets = list(secrets)
        self.livemode = livemode
        self.api = api

    def screen(self, body: bytes, headers: Mapping[str, str], *, now: float) -> bool:
        """Check ``Stripe-Signature`` (a local HMAC): a delivery that passes is authentic."""
        stripe_verify.verify_signature(
            body, header(headers, stripe_verify.SIGNATURE_HEADER), self.secrets, now=int(now)
        )
        return True

    async def verify(
        self, body: bytes, headers: Mapping[str, str], *, now: float, attempts: AttemptLookup
    ) -> Verified:
        """Check ``Stripe-Signature`` and classify the signed event (no re-fetch)."""
        stripe_verify.verify_signature(
            body, header(headers, stripe_verify.SIGNATURE_HEADER), self.secrets, now=int(now)
        )
        event = stripe_events.parse_event(body)
        fact = stripe_events.classify(event)
        return Verified(event.id, event.type, (fact,), resource_id=fact.gateway_payment_id)

    def _api(self) -> StripeApi:
        if self.api is None:
            raise errors.InvalidSettings("no Stripe secret key is configured (stripe_api_key)")
        return self.api

    async def fetch(self, gateway_ref: str) -> Sequence[PaymentFact] | None:
        """The Checkout Session's facts: payment, cumulative refunds, disputes."""
        return await self._api().session_facts(gateway_ref)

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """A Checkout Session for one attempt (its Idempotency-Key: one session per attempt)."""
        body = stripe_checkout.checkout_request(
            request.invoice_id,
            request.amount_minor,
            request.currency,
            request.success_url,
            request.cancel_url,
            request.description,
        )
        session = await self._api().create_checkout_session(body, request.idempotency_key)
        session_id, url = session.get("id"), session.get("url")
        if not isinstance(session_id, str) or not isinstance(url, str) or not url:
            raise errors.PermanentUpstreamError(
                "stripe: create checkout session: the answer has no id or url",
                upstream="stripe",
                operation="create checkout session",
            )
        return Checkout(session_id, url)

    async def aclose(self) -> None:
        """Close the API client."""
        if self.api is not None:
            await self.api.aclose()
