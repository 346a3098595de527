"""The PayPal REST calls we make (thin, async) and the webhook certificate cache.

`PayPalApi` wraps an `UpstreamHttp` bound to PayPal's base URL (`LIVE_BASE_URL`,
`SANDBOX_BASE_URL` or a simulator), so containment, redaction and error classification
happen in `drivers.upstream`. It authenticates itself: an OAuth2 client-credentials token
(``POST /v1/oauth2/token`` with HTTP Basic ``client_id:secret``) is cached until shortly
before ``expires_in`` and sent as ``Authorization: Bearer``; a 401 from a call drops the
token and retries that call once with a new one. Give it an `UpstreamHttp` without a
default credential (credential headers would override ours).

`CertCache` fetches ``PAYPAL-CERT-URL`` for `verify.verify`. The URL comes from
the (not yet verified) request, so it is checked with `verify.check_cert_url` *before*
any request; the fetch uses an `httpx.AsyncClient` the caller injects (it must reach
PayPal's hosts, not one base URL; TLS verification stays on), never follows redirects,
refuses bodies over `max_bytes` and bodies that are not PEM certificates, and caches per
URL for `ttl` seconds.

| failure                                      | raised                         |
|----------------------------------------------|--------------------------------|
| certificate URL not a PayPal one             | `errors.InvalidWebhook`        |
| timeouts, connection errors, 408/429/5xx     | `errors.TransientUpstreamError` |
| other statuses (redirects too), non-PEM,     | `errors.PermanentUpstreamError` |
| oversized, malformed JSON answers            |                                |
"""

from __future__ import annotations

import base64
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
import httpx
from cryptography import x509

from fluxbilling import errors, limits
from fluxbilling.billing.gateways.paypal import verify as paypal_verify
from fluxbilling.drivers.upstream import (
    UpstreamHttp,
    classify_response,
    json_object,
    upstream_call,
)

__all__ = [
    "LIVE_BASE_URL",
    "SANDBOX_BASE_URL",
    "UPSTREAM",
    "CertCache",
    "PayPalApi",
]

LIVE_BASE_URL = "https://api-m.paypal.com/"
SANDBOX_BASE_URL = "https://api-m.sandbox.paypal.com/"
UPSTREAM = "paypal"
_PEM_START = b"-----BEGIN CERTIFICATE-----"


def _segment(value: str) -> str:
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: float


class PayPalApi:
    """The PayPal REST calls of our checkout, reconciler and postback verification.

    Args:
        http: An `UpstreamHttp` bound to the PayPal base URL (no default credential).
        client_id: The REST app's client id.
        secret: The REST app's secret (added to `http`'s redactor).
        clock: Monotonic seconds, for the token's expiry (tests pass a fake).
        refresh_margin: Seconds before ``expires_in`` at which a new token is fetched.
    """

    def __init__(
        self,
        http: UpstreamHttp,
        client_id: str,
        secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_margin: float = 300.0,
    ) -> None:
        if not client_id or not secret:
            raise errors.InvalidSettings("PayPal client id and secret are required")
        self._http = http
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")
        # The Basic credential is the secret, encoded: an upstream echoing it must not leak it.
        http.redactor = http.redactor.with_secrets([secret, basic])
        self._basic = f"Basic {basic}"
        self._clock = clock
        self._margin = refresh_margin
        self._token: _Token | None = None
        self._lock = anyio.Lock()

    async def access_token(self) -> str:
        """A bearer token, from the cache while it is fresh (one fetch for concurrent callers).

        Returns:
            The access token.

        Raises:
            errors.PermanentUpstreamError: Wrong client id or secret (401), or a malformed
                token answer.
            errors.TransientUpstreamError: PayPal is unreachable or failing.
        """
        async with self._lock:
            cached = self._token
            if cached is not None and self._clock() < cached.expires_at:
                return cached.value
            operation = "get access token"
            response = await self._http.request(
                "POST",
                "v1/oauth2/token",
                operation=operation,
                form_body={"grant_type": "client_credentials"},
                headers={"Authorization": self._basic, "Accept": "application/json"},
            )
            data = json_object(UPSTREAM, operation, response)
            token, expires_in = data.get("access_token"), data.get("expires_in")
            if (
                not isinstance(token, str)
                or not token
                or not isinstance(expires_in, int)
                or isinstance(expires_in, bool)
                or expires_in <= 0
            ):
                raise errors.PermanentUpstreamError(
                    f"{UPSTREAM}: {operation}: no access_token/expires_in in the answer",
                    upstream=UPSTREAM,
                    operation=operation,
                )
            margin = min(self._margin, expires_in / 2)
            self._token = _Token(token, self._clock() + expires_in - margin)
            return token

    def _forget(self, token: str) -> None:
        if self._token is not None and self._token.value == token:
            self._token = None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        async def send(token: str) -> dict[str, Any]:
            response = await self._http.request(
                method,
                path,
                operation=operation,
                json_body=json_body,
                headers={**dict(headers or {}), "Authorization": f"Bearer {token}"},
            )
            return json_object(UPSTREAM, operation, response)

        token = await self.access_token()
        try:
            return await send(token)
        except errors.PermanentUpstreamError as exc:
            if exc.status != 401:
                raise
            self._forget(token)  # revoked or expired early: one retry with a new token
        return await send(await self.access_token())

    async def get_capture(self, capture_id: str) -> dict[str, Any]:
        """``GET /v2/payments/captures/{id}``: the capture's current state.

        Raises:
            errors.PermanentUpstreamError: 404 for an unknown id, other 4xx.
            errors.TransientUpstreamError: timeouts, 429, 5xx.
        """
        return await self._call(
            "GET", f"v2/payments/captures/{_segment(capture_id)}", operation="get capture"
        )

    async def get_order(self, order_id: str) -> dict[str, Any]:
        """``GET /v2/checkout/orders/{id}``: the order's current state.

        Raises:
            errors.PermanentUpstreamError: 404 for an unknown id, other 4xx.
            errors.TransientUpstreamError: timeouts, 429, 5xx.
        """
        return await self._call(
            "GET", f"v2/checkout/orders/{_segment(order_id)}", operation="get order"
        )

    async def create_order(self, body: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        """``POST /v2/checkout/orders`` (build `body` with `checkout.order_request`).

        Args:
            body: The order request.
            request_id: ``PayPal-Request-Id``: the same id on a retry returns the order the
                first attempt created instead of a second one. PayPal keeps the key 6 hours
                (orders v2 spec); derive it from our invoice attempt.

        Returns:
            The full order (``Prefer: return=representation``), ``links`` included (the
            ``approve`` or ``payer-action`` link is where the payer goes).

        Raises:
            errors.PermanentUpstreamError: 400/422 validation errors, other 4xx.
            errors.TransientUpstreamError: timeouts, 429, 5xx.
        """
        return await self._call(
            "POST",
            "v2/checkout/orders",
            operation="create order",
            json_body=dict(body),
            headers={"PayPal-Request-Id": request_id, "Prefer": "return=representation"},
        )

    async def capture_order(self, order_id: str, request_id: str) -> dict[str, Any]:
        """``POST /v2/checkout/orders/{id}/capture`` after the payer approved.

        Args:
            order_id: The approved order.
            request_id: ``PayPal-Request-Id``, so a retried capture does not capture twice
                (kept 6 hours; after that PayPal answers ``ORDER_ALREADY_CAPTURED``).

        Returns:
            The order with ``purchase_units[].payments.captures[]`` (classify it with
            `events.fact_from_order`).

        Raises:
            errors.PermanentUpstreamError: 422 (``ORDER_NOT_APPROVED``,
                ``ORDER_ALREADY_CAPTURED``, ``DUPLICATE_INVOICE_ID``,
                ``INSTRUMENT_DECLINED`` ...), 404, other 4xx.
            errors.TransientUpstreamError: timeouts, 429, 5xx.
        """
        return await self._call(
            "POST",
            f"v2/checkout/orders/{_segment(order_id)}/capture",
            operation="capture order",
            json_body={},
            headers={"PayPal-Request-Id": request_id, "Prefer": "return=representation"},
        )

    async def verify_webhook_signature(
        self, headers: Mapping[str, str], raw_body: bytes, webhook_id: str
    ) -> bool:
        """Ask PayPal whether a delivery is authentic (the postback alternative, §3.3).

        Self-verification (`verify.verify`) is the primary path; this costs two calls and
        fails when the re-serialised event differs from what PayPal signed. Use it as an
        operator diagnostic.

        Args:
            headers: The delivery's request headers.
            raw_body: The delivery's raw body (sent back as ``webhook_event``).
            webhook_id: Our webhook id.

        Returns:
            True when PayPal answers ``verification_status: SUCCESS``.

        Raises:
            errors.InvalidWebhook: A transmission header is missing or the body is not a
                JSON object (nothing is sent).
            errors.PermanentUpstreamError: 4xx, or an answer without ``verification_status``.
            errors.TransientUpstreamError: timeouts, 429, 5xx.
        """
        transmission = paypal_verify.read_transmission(headers)
        try:
            event = limits.loads_json(raw_body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise errors.InvalidWebhook(f"malformed JSON body: {exc}") from exc
        if not isinstance(event, dict):
            raise errors.InvalidWebhook("malformed JSON body: not an object")
        operation = "verify webhook signature"
        data = await self._call(
            "POST",
            "v1/notifications/verify-webhook-signature",
            operation=operation,
            json_body={
                "auth_algo": transmission.auth_algo,
                "cert_url": transmission.cert_url,
                "transmission_id": transmission.id,
                "transmission_sig": transmission.sig,
                "transmission_time": transmission.time,
                "webhook_id": webhook_id,
                "webhook_event": event,
            },
        )
        status = data.get("verification_status")
        if not isinstance(status, str):
            raise errors.PermanentUpstreamError(
                f"{UPSTREAM}: {operation}: no verification_status in the answer",
                upstream=UPSTREAM,
                operation=operation,
            )
        return status == "SUCCESS"


class CertCache:
    """PayPal signing certificates by URL, fetched only from allow-listed PayPal URLs.

    Args:
        client: The client to fetch with (TLS verification on; tests pass an ASGI
            transport to the simulator).
        allowed_hosts: Hosts a certificate URL may name (`verify.CERT_HOSTS`).
        ttl: Seconds a fetched certificate is reused.
        max_bytes: Largest body accepted (a certificate chain is a few KiB).
        max_entries: Certificates kept; the oldest is dropped first.
        clock: Monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        allowed_hosts: Collection[str] = paypal_verify.CERT_HOSTS,
        ttl: float = 6 * 3600.0,
        max_bytes: int = 64 * 1024,
        max_entries: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._hosts = frozenset(allowed_hosts)
        self._ttl = ttl
        self._max_bytes = max_bytes
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = anyio.Lock()
        self.fetches = 0

    def _cached(self, url: str) -> bytes | None:
        entry = self._entries.get(url)
        if entry is None:
            return None
        if self._clock() >= entry[0]:
            del self._entries[url]
            return None
        return entry[1]

    async def get(self, url: str) -> bytes:
        """The PEM served at `url`, from the cache while fresh.

        Args:
            url: The delivery's ``PAYPAL-CERT-URL``.

        Returns:
            The PEM bytes (pass them to `verify.verify`).

        Raises:
            errors.InvalidWebhook: The URL is not a PayPal certificate URL (no request made).
            errors.PermanentUpstreamError: A non-200 answer (redirects included), a body
                over `max_bytes`, or a body that is not a PEM certificate.
            errors.TransientUpstreamError: Timeouts, connection errors, 408/429/5xx.
        """
        paypal_verify.check_cert_url(url, self._hosts)
        async with self._lock:
            cached = self._cached(url)
            if cached is not None:
                return cached
            pem = await self._fetch(url)
            self._entries[url] = (self._clock() + self._ttl, pem)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
            return pem

    def forget(self, url: str) -> None:
        """Drop `url` from the cache (e.g. after PayPal rotated the certificate)."""
        self._entries.pop(url, None)

    def _refuse(self, why: str, status: int | None = None) -> errors.PermanentUpstreamError:
        operation = "fetch certificate"
        return errors.PermanentUpstreamError(
            f"{UPSTREAM}: {operation}: {why}", upstream=UPSTREAM, operation=operation, status=status
        )

    async def _fetch(self, url: str) -> bytes:
        operation = "fetch certificate"
        self.fetches += 1
        with upstream_call(UPSTREAM, operation):
            async with self._client.stream("GET", url, follow_redirects=False) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise self._refuse(
                            f"body over {self._max_bytes} bytes", response.status_code
                        )
                if response.status_code != 200:
                    raise classify_response(
                        UPSTREAM,
                        operation,
                        response.status_code,
                        bytes(body[:500]).decode("utf-8", "replace"),
                    )
        pem = bytes(body)
        if not pem.lstrip().startswith(_PEM_START):
            raise self._refuse("the body is not a PEM certificate", 200)
        try:
            x509.load_pem_x509_certificates(pem)
        except ValueError as exc:
            raise self._refuse("the body is not a PEM certificate", 200) from exc
        return pem
