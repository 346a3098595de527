"""CoinGate as a `Gateway`: per-order tokens and re-fetched orders in, orders out.

CoinGate signs nothing (payments.md §4.1), so a callback is authenticated in three steps,
each cheaper than the next one and each able to stop the delivery:

```
parse_callback(body)           malformed body, unknown content type  -> InvalidWebhook (400)
attempts(str(callback.id))     not an order we created               -> no facts (200, a note)
check_token(token, our hash)   missing or wrong token                -> InvalidWebhook (400)
get_order(id) with our token   404                                   -> no facts (200, a note)
                               timeout, 429, 5xx                     -> TransientUpstreamError
classify(fetched order)        the fact; the posted status is never read
```

400 is CoinGate's "retry later", never the end of the chain (401/403/3xx would be, so none
is answered). The transport-level dedupe key is `gateway.state_key` of the *fetched* order:
a repeated callback of an unchanged order is a duplicate, a change of status or a further
refund is not.

The fetched order must name the invoice its attempt was created for (``order_id``) and be
the order asked for. Otherwise it is not applied: the ledger matches payments by our
attempt *or* by a bare invoice id, so passing such a fact on could pay the wrong invoice.
The delivery is answered 200 with a note for the operator (retrying cannot change an
order's ``order_id``).

CoinGate has no idempotency key and does not deduplicate ``order_id``: a retried
`CoinGateGateway.create_checkout` (after a timeout, or a 503 after the order was made)
creates a second order. The caller stores every created order as its own attempt before
redirecting the customer; an order nobody pays simply expires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from fluxbilling import errors
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.billing.gateway import (
    Attempt,
    AttemptLookup,
    Checkout,
    CheckoutRequest,
    Verified,
    header,
    state_key,
    unreadable,
)
from fluxbilling.billing.gateways.coingate import api as coingate_api
from fluxbilling.billing.gateways.coingate import checkout as coingate_checkout
from fluxbilling.billing.gateways.coingate import events as coingate_events
from fluxbilling.billing.gateways.coingate import verify as coingate_verify

__all__ = ["CoinGateGateway", "connect"]


def _require_secret(token_secret: str) -> str:
    if not token_secret:
        raise errors.InvalidSettings("no CoinGate token-hashing secret is configured")
    return token_secret


def _order_id(gateway_ref: str) -> int:
    """CoinGate's order id from our stored reference (always its decimal id)."""
    if not (gateway_ref.isascii() and gateway_ref.isdigit()) or int(gateway_ref) == 0:
        raise errors.InvariantViolation(
            f"not a CoinGate order reference: {gateway_ref[:40]!r}", gateway_ref=gateway_ref[:40]
        )
    return int(gateway_ref)


def _mismatch(fact: PaymentFact, ref: str, attempt: Attempt) -> str:
    """Why a fetched order is not the one our attempt created; empty when it is."""
    if fact.gateway_payment_id != ref:
        return f"CoinGate answered order {fact.gateway_payment_id} when asked for order {ref}"
    if fact.invoice_ref != str(attempt.invoice_id):
        return (
            f"CoinGate order {ref} names invoice {fact.invoice_ref!r} but was created for "
            f"invoice {attempt.invoice_id}; not applied"
        )
    return ""


def _created(order: Mapping[str, Any]) -> tuple[str, str]:
    """The id and payment URL of a create-order answer."""
    order_id, url = order.get("id"), order.get("payment_url")
    if isinstance(order_id, bool) or not isinstance(order_id, int) or order_id <= 0:
        order_id = None
    if order_id is None or not isinstance(url, str) or not url:
        raise errors.PermanentUpstreamError(
            f"{coingate_api.UPSTREAM}: create order answered without an id or payment_url",
            upstream=coingate_api.UPSTREAM,
            operation="create order",
        )
    return str(order_id), url


class CoinGateGateway:
    """One CoinGate API app (its token and environment).

    Args:
        api: The API client (`api.connect`); closed by `aclose`.
        sandbox: Whether `api` talks to CoinGate's sandbox (its orders are test mode).
        token_secret: The HMAC key of the stored callback tokens (`verify.hash_token`).
        title: The order title's prefix, followed by the invoice id.

    Raises:
        errors.InvalidSettings: `token_secret` is empty.
    """

    name = "coingate"

    def __init__(
        self,
        api: coingate_api.CoinGateApi,
        *,
        sandbox: bool,
        token_secret: str,
        title: str = "FluxBilling invoice",
    ) -> None:
        self.api = api
        self.sandbox = sandbox
        self.livemode = not sandbox
        self.token_secret = _require_secret(token_secret)
        self.title = title

    def screen(self, body: bytes, headers: Mapping[str, str], *, now: float) -> bool:
        """The callback's shape (`verify.parse_callback`); False: CoinGate signs nothing,
        the token and the re-fetch tell."""
        coingate_verify.parse_callback(body, header(headers, "content-type"))
        return False

    async def verify(
        self, body: bytes, headers: Mapping[str, str], *, now: float, attempts: AttemptLookup
    ) -> Verified:
        """Authenticate a callback by token and re-fetch; classify the fetched order.

        Args:
            body: The raw callback body (form-encoded or JSON).
            headers: The request headers (``Content-Type`` picks the parser).
            now: Unused: CoinGate callbacks carry no timestamp to check.
            attempts: Finds the attempt that created the callback's order.

        Returns:
            The fetched order's fact, keyed by its state; no facts (and a note) for an order
            we did not create, one CoinGate does not know, or one that contradicts our
            attempt.

        Raises:
            errors.InvalidWebhook: A malformed body, a missing or wrong token, or a fetched
                order that cannot be classified.
            errors.InvalidSettings: The attempt has no stored token hash.
            errors.UpstreamError: The re-fetch failed (transient: try again later).
        """
        callback = coingate_verify.parse_callback(body, header(headers, "content-type"))
        ref = str(callback.id)
        attempt = await attempts(ref)
        if attempt is None:
            # Unknown ids answer 200 and do nothing (payments.md §6.5); no API call needed.
            # Nothing vouches for such a callback: anyone can post an id.
            note = f"CoinGate order {ref} was not created by us"
            return Verified("", "unknown", (), resource_id=ref, note=note, authentic=False)
        coingate_verify.check_token(
            callback.token, attempt.callback_token_hash or "", secret=self.token_secret
        )
        order = await self.api.get_order(callback.id)
        if order is None:
            where = "sandbox" if self.sandbox else "live"
            note = f"CoinGate order {ref} was not found at CoinGate ({where})"
            return Verified("", "unknown", (), resource_id=ref, note=note)
        try:
            fact = coingate_events.classify(order, sandbox=self.sandbox)
        except errors.InvalidWebhook as exc:
            raise unreadable(exc) from exc  # the token matched: authentic
        status = str(order["status"])
        problem = _mismatch(fact, ref, attempt)
        if problem:
            return Verified("", status, (), resource_id=ref, note=problem)
        return Verified(state_key(ref, [fact]), status, (fact,), resource_id=ref)

    async def fetch(self, gateway_ref: str) -> Sequence[PaymentFact] | None:
        """The current fact of an order we created (reconciler, return page).

        Args:
            gateway_ref: CoinGate's order id, as `create_checkout` returned it.

        Returns:
            The order's fact, or None when CoinGate does not know the order.

        Raises:
            errors.InvariantViolation: `gateway_ref` is not a CoinGate order id.
            errors.InvalidWebhook: The fetched order cannot be classified.
            errors.UpstreamError: The fetch failed.
        """
        order = await self.api.get_order(_order_id(gateway_ref))
        if order is None:
            return None
        return (coingate_events.classify(order, sandbox=self.sandbox),)

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Create an order with a fresh callback token; return its id, URL and token hash.

        Not idempotent: CoinGate has no idempotency key, so a retry creates another order
        (see the module docstring). The plain token leaves only in the request to CoinGate.

        Args:
            request: The attempt (amount, currency, our callback and return URLs).

        Returns:
            The order id, its ``payment_url`` and the HMAC of the token callbacks will carry.

        Raises:
            errors.InvariantViolation: A non-positive amount or a non-ISO currency.
            errors.InvalidSettings: A URL is not absolute http(s).
            errors.UpstreamError: CoinGate refused or did not answer, or answered without an
                order id or payment URL.
        """
        token = coingate_verify.new_callback_token()
        body = coingate_checkout.order_request(
            request.invoice_id,
            request.amount_minor,
            request.currency,
            callback_url=request.webhook_url,
            success_url=request.success_url,
            cancel_url=request.cancel_url,
            token=token,
            title=f"{self.title} {request.invoice_id}",
            description=request.description,
        )
        order = await self.api.create_order(body)
        gateway_ref, redirect_url = _created(order)
        # Callbacks echo the token CoinGate holds for the order; its answer says which one
        # (ours, unless CoinGate replaced it; then storing ours would reject every callback).
        echoed = order.get("token")
        if isinstance(echoed, str) and echoed:
            token = echoed
        return Checkout(
            gateway_ref,
            redirect_url,
            callback_token_hash=coingate_verify.hash_token(token, self.token_secret),
        )

    async def aclose(self) -> None:
        """Close the API client."""
        await self.api.aclose()


def connect(
    api_token: str,
    *,
    sandbox: bool,
    token_secret: str,
    base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 20.0,
) -> CoinGateGateway:
    """A gateway for one API app, with its own API client.

    Args:
        api_token: The API app's auth token (redacted everywhere).
        sandbox: Whether the token belongs to CoinGate's sandbox.
        token_secret: The HMAC key of the stored callback tokens.
        base_url: Overrides the environment's URL (a simulator).
        transport: An httpx transport (an ASGI simulator in tests).
        timeout: Seconds per request.

    Returns:
        The gateway; close it with `CoinGateGateway.aclose`.

    Raises:
        errors.InvalidSettings: `api_token` or `token_secret` is empty.
    """
    _require_secret(token_secret)  # before a client exists that would need closing
    api = coingate_api.connect(
        api_token, sandbox=sandbox, base_url=base_url, transport=transport, timeout=timeout
    )
    return CoinGateGateway(api, sandbox=sandbox, token_secret=token_secret)
