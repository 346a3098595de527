"""PayPal as a `Gateway`: signed webhook events in, orders out, approved orders captured.

```
verify(body, headers)
  "self"      read the five PAYPAL-* headers ─► check_cert_url (foreign host: 400, nothing
              fetched) ─► CertCache.get (TLS, cached per URL) ─► paypal_verify.verify (RSA over
              id|time|webhook_id|crc32)
  "postback"  POST /v1/notifications/verify-webhook-signature (an operator diagnostic)
  then        parse_event ─► classify: one fact, keyed by our order (capture = alias)
              CHECKOUT.ORDER.APPROVED of an order we created: capture it now
              (PayPal-Request-Id capture-<order>) and add the capture answer's fact, so the
              invoice is paid by this delivery; ORDER_ALREADY_CAPTURED: the order's fact;
              DUPLICATE_INVOICE_ID (the invoice was paid through another order): the order
              stays uncaptured, its fact is pending; ORDER_NOT_APPROVED (the approval was
              reversed since): the order's fact
fetch(order)  GET the order; an APPROVED one is captured the same way (a lost webhook);
              facts_from_order: its payment's fact, then one per completed refund (and
              reversal) it lists, keyed as their webhooks are (lost refund webhooks are
              found by the reconciler's re-check of paid invoices)
create_checkout
              POST /v2/checkout/orders (PayPal-Request-Id = the attempt's key), the payer
              goes to the order's ``payer-action`` (else ``approve``) link
```

Errors: a delivery that is not authentic, malformed, names a foreign certificate URL or a
certificate PayPal's host says does not exist (4xx) is `errors.InvalidWebhook` (400). A
certificate that cannot be fetched (timeouts, 429, 5xx), a failing capture or order lookup is
an `errors.UpstreamError` (the delivery is deferred; PayPal and our sweeper retry it; captures
are idempotent by their request id). A missing webhook id is
`errors.InvalidSettings`. An API answer our fact rules cannot read is an
`errors.PermanentUpstreamError`, never `InvalidWebhook`: the delivery was authentic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from fluxbilling import errors
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.billing.gateway import (
    AttemptLookup,
    Checkout,
    CheckoutRequest,
    Verified,
    unreadable,
)
from fluxbilling.billing.gateways.paypal import api as paypal_api
from fluxbilling.billing.gateways.paypal import checkout as paypal_checkout
from fluxbilling.billing.gateways.paypal import events as paypal_events
from fluxbilling.billing.gateways.paypal import verify as paypal_verify
from fluxbilling.drivers.upstream import UpstreamHttp

__all__ = ["PayPalGateway", "Verification", "connect"]

#: How deliveries are authenticated: locally with PayPal's certificate (``self``, the
#: primary path, payments.md §3.2) or by asking PayPal (``postback``, §3.3).
Verification = Literal["self", "postback"]
_APPROVED = "CHECKOUT.ORDER.APPROVED"
# The payer goes to the first of these links the order has (``payer-action`` when the
# order was created with a payment source, as `checkout.order_request` does with return URLs).
_PAYER_LINKS = ("payer-action", "approve")


def _check_verification(verification: str) -> None:
    if verification not in ("self", "postback"):
        raise errors.InvalidSettings(
            f"PayPal verification must be 'self' or 'postback', not {verification!r}"
        )


# The capture is refused but the order's own state says what happened: use that.
_NOT_CAPTURABLE = ("ORDER_ALREADY_CAPTURED", "DUPLICATE_INVOICE_ID", "ORDER_NOT_APPROVED")


def _not_capturable(exc: errors.PermanentUpstreamError) -> bool:
    """Captured already, paid through another order of the invoice, or no longer approved."""
    return exc.status == 422 and any(issue in exc.message for issue in _NOT_CAPTURABLE)


def _answer_error(operation: str, why: str) -> errors.PermanentUpstreamError:
    return errors.PermanentUpstreamError(
        f"{paypal_api.UPSTREAM}: {operation}: {why}",
        upstream=paypal_api.UPSTREAM,
        operation=operation,
    )


def _payer_link(order: Mapping[str, Any]) -> str | None:
    links = order.get("links")
    found = {
        link.get("rel"): link.get("href")
        for link in (links if isinstance(links, list) else [])
        if isinstance(link, dict)
    }
    return next(
        (href for rel in _PAYER_LINKS if isinstance(href := found.get(rel), str) and href), None
    )


class PayPalGateway:
    """One PayPal REST app and webhook, in one mode.

    Args:
        api: The REST client (orders, captures, postback verification).
        certs: Fetches and caches the signing certificates (``self`` verification).
        webhook_id: Our webhook subscription's id for this environment (signed into every
            transmission; never read from the request).
        livemode: Whether the app is live; facts carry it (events carry no trustworthy mode).
        cert_hosts: Hosts a ``PAYPAL-CERT-URL`` may name (`verify.CERT_HOSTS`).
        cert_names: Accepted certificate subject CNs (`verify.CERT_NAMES`).
        verification: ``self`` (default) or ``postback``.
        closers: What `aclose` closes: the HTTP clients this gateway owns (`connect` passes
            both of its clients; without it the caller closes its own).

    Raises:
        errors.InvalidSettings: An unknown `verification`.
    """

    name = "paypal"

    def __init__(
        self,
        api: paypal_api.PayPalApi,
        certs: paypal_api.CertCache,
        *,
        webhook_id: str,
        livemode: bool,
        cert_hosts: Collection[str] = paypal_verify.CERT_HOSTS,
        cert_names: Collection[str] = paypal_verify.CERT_NAMES,
        verification: Verification = "self",
        closers: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        _check_verification(verification)
        self.api = api
        self.certs = certs
        self.webhook_id = webhook_id
        self.livemode = livemode
        self.cert_hosts = frozenset(cert_hosts)
        self.cert_names = frozenset(cert_names)
        self.verification: Verification = verification
        self._closers = tuple(closers)

    async def verify(
        self, body: bytes, headers: Mapping[str, str], *, now: float, attempts: AttemptLookup
    ) -> Verified:
        """Authenticate a delivery, say what it means, and capture an approved order of ours.

        Args:
            body: The raw request body.
            headers: The request headers (any case).
            now: Epoch seconds, for the certificate's validity.
            attempts: Finds our checkout attempt by order id: only our orders are captured.

        Returns:
            The event id (dedupe key), type, the event's fact and, for an approved order of
            ours, the fact of its capture; `resource_id` is the order when the event names it.

        Raises:
            errors.InvalidWebhook: Not authentic (headers, algorithm, certificate URL or
                certificate, signature, PayPal's postback answer) or not parseable.
            errors.InvalidSettings: No webhook id is configured.
            errors.UpstreamError: The certificate, the postback or the capture failed.
        """
        if not self.webhook_id:
            raise errors.InvalidSettings("no PayPal webhook id is configured")
        if self.verification == "postback":
            if not await self.api.verify_webhook_signature(headers, body, self.webhook_id):
                raise errors.InvalidWebhook("PayPal says the signature does not verify")
        else:
            await self._verify_locally(body, headers, now)
        try:
            event = paypal_events.parse_event(body)
            fact = paypal_events.classify(event, livemode=self.livemode)
        except errors.InvalidWebhook as exc:
            raise unreadable(exc) from exc  # the signature verified: authentic
        facts = [fact]
        order_id = fact.gateway_payment_id
        if event.event_type == _APPROVED and await attempts(order_id) is not None:
            facts.append(self._order_fact(await self._capture(order_id), "capture order"))
        resource_id = order_id or paypal_events.related_order_id(event.resource) or ""
        return Verified(event.id, event.event_type, tuple(facts), resource_id=resource_id)

    def screen(self, body: bytes, headers: Mapping[str, str], *, now: float) -> bool:
        """The five ``PAYPAL-*`` headers and (self-verification) the certificate URL's host,
        before anything is fetched; False: the signature needs the certificate."""
        transmission = paypal_verify.read_transmission(headers)
        if self.verification == "self":
            paypal_verify.check_cert_url(transmission.cert_url, self.cert_hosts)
        return False

    async def _verify_locally(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        transmission = paypal_verify.read_transmission(headers)
        # The URL comes from the unverified request: refuse it before anything is fetched.
        paypal_verify.check_cert_url(transmission.cert_url, self.cert_hosts)
        try:
            pem = await self.certs.get(transmission.cert_url)
        except errors.PermanentUpstreamError as exc:
            if exc.status is None or not 400 <= exc.status < 500 or exc.status == 429:
                raise  # not an answer about the certificate: keep it for a retry
            # PayPal's own host says there is no such certificate: the delivery is not
            # authentic (payments.md §6.5: a failed verification is a 400, never retried here).
            raise errors.InvalidWebhook(
                f"certificate URL names no certificate at PayPal (HTTP {exc.status})"
            ) from exc
        paypal_verify.verify(
            headers,
            body,
            self.webhook_id,
            pem,
            datetime.fromtimestamp(now, UTC),
            cert_hosts=self.cert_hosts,
            cert_names=self.cert_names,
        )

    async def _capture(self, order_id: str) -> dict[str, Any]:
        """Capture an approved order once (the request id makes a retry a replay)."""
        try:
            return await self.api.capture_order(order_id, request_id=f"capture-{order_id}")
        except errors.PermanentUpstreamError as exc:
            if not _not_capturable(exc):
                raise
        # Captured earlier (by us after the request id expired, or elsewhere): its state.
        # DUPLICATE_INVOICE_ID: another order of the same invoice was captured; this one
        # stays approved and uncaptured (never charged twice) and reads as pending, which
        # does nothing to a paid invoice. ORDER_NOT_APPROVED: the approval was reversed
        # before this (late) approval notification arrived.
        return await self.api.get_order(order_id)

    def _order_fact(self, order: Mapping[str, Any], operation: str) -> PaymentFact:
        try:
            return paypal_events.fact_from_order(order, livemode=self.livemode)
        except errors.InvalidWebhook as exc:
            raise _answer_error(operation, exc.message) from exc

    def _order_facts(self, order: Mapping[str, Any], operation: str) -> list[PaymentFact]:
        try:
            return paypal_events.facts_from_order(order, livemode=self.livemode)
        except errors.InvalidWebhook as exc:
            raise _answer_error(operation, exc.message) from exc

    async def fetch(self, gateway_ref: str) -> Sequence[PaymentFact] | None:
        """The current facts of an order we created; an approved order is captured first.

        The reconciler relies on both: an approved order whose webhook was lost is still
        captured and paid, and a refund whose ``PAYMENT.CAPTURE.REFUNDED`` was lost is found
        in the order's ``payments.refunds`` (`events.facts_from_order`, which keys it as
        the webhook does, so a refund already recorded is a duplicate). Disputes
        (``CUSTOMER.DISPUTE.*``) are not part of an order and still arrive by webhook only.

        Args:
            gateway_ref: The order id.

        Returns:
            The order's payment fact, then one fact per completed refund or reversal it
            lists; None when PayPal has no such order.

        Raises:
            errors.UpstreamError: PayPal failed, refused the capture, or answered an order
                our rules cannot read.
        """
        try:
            order = await self.api.get_order(gateway_ref)
        except errors.PermanentUpstreamError as exc:
            if exc.status == 404 and exc.operation == "get order":
                return None
            raise
        operation = "get order"
        if order.get("status") == "APPROVED":
            order, operation = await self._capture(gateway_ref), "capture order"
        return self._order_facts(order, operation)

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Create the order for one attempt; a retried attempt gets the same order.

        Our invoice id is the order's ``invoice_id`` and ``custom_id``. The request's
        webhook URL is not sent: PayPal webhooks are configured on the REST app.

        Args:
            request: The attempt.

        Returns:
            The order id and the link the payer follows to approve.

        Raises:
            errors.UserError: An amount or currency PayPal cannot take.
            errors.PermanentUpstreamError: PayPal refused, or answered without an order id
                or an approve link.
            errors.TransientUpstreamError: PayPal is unreachable or failing.
        """
        body = paypal_checkout.order_request(
            str(request.invoice_id),
            request.amount_minor,
            request.currency,
            description=request.description,
            return_url=request.success_url,
            cancel_url=request.cancel_url,
        )
        order = await self.api.create_order(body, request_id=request.idempotency_key)
        order_id = order.get("id")
        link = _payer_link(order)
        if not isinstance(order_id, str) or not order_id or link is None:
            missing = [
                what
                for what, absent in (
                    ("an order id", not isinstance(order_id, str) or not order_id),
                    ("a payer-action or approve link", link is None),
                )
                if absent
            ]
            raise _answer_error("create order", f"the answer has no {' and no '.join(missing)}")
        return Checkout(order_id, link)

    async def aclose(self) -> None:
        """Close the HTTP clients this gateway owns (see `closers`)."""
        for close in self._closers:
            await close()


def connect(
    client_id: str,
    client_secret: str,
    *,
    webhook_id: str,
    livemode: bool,
    base_url: str | None = None,
    extra_cert_hosts: Collection[str] = (),
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 20.0,
    verification: Verification = "self",
) -> PayPalGateway:
    """A `PayPalGateway` with its own HTTP clients (closed by `PayPalGateway.aclose`).

    Args:
        client_id: The REST app's client id.
        client_secret: Its secret (redacted from every error and exchange record).
        webhook_id: Our webhook id for this environment.
        livemode: Live or sandbox; chooses the default API URL.
        base_url: The API base URL; `api.LIVE_BASE_URL` or `SANDBOX_BASE_URL` by mode
            when None (tests pass the simulator's).
        extra_cert_hosts: Certificate hosts allowed besides PayPal's own: only for tests
            (the simulator's test-only host).
        transport: An httpx transport for both the API and the certificate fetches (tests:
            the simulator in-process); real sockets with TLS verification when None.
        timeout: Seconds per request.
        verification: ``self`` (default) or ``postback``.

    Returns:
        The gateway.

    Raises:
        errors.InvalidSettings: No client id or secret, or an unknown `verification`.
    """
    if not client_id or not client_secret:
        raise errors.InvalidSettings("PayPal client id and secret are required")
    _check_verification(verification)
    default = paypal_api.LIVE_BASE_URL if livemode else paypal_api.SANDBOX_BASE_URL
    hosts = frozenset(paypal_verify.CERT_HOSTS) | frozenset(extra_cert_hosts)
    http = UpstreamHttp(
        paypal_api.UPSTREAM,
        base_url or default,
        secrets=[client_secret],
        transport=transport,
        timeout=timeout,
    )
    cert_client = httpx.AsyncClient(transport=transport, timeout=timeout)
    return PayPalGateway(
        paypal_api.PayPalApi(http, client_id, client_secret),
        paypal_api.CertCache(cert_client, allowed_hosts=hosts),
        webhook_id=webhook_id,
        livemode=livemode,
        cert_hosts=hosts,
        verification=verification,
        closers=(http.aclose, cert_client.aclose),
    )
