"""A thin async client of CoinGate's API v2: create an order, fetch an order.

No usable official Python package exists (payments.md §4.4), so this is ours: two calls over
`drivers.upstream.UpstreamHttp`, which keeps requests under the connection's base URL,
redacts the API token and classifies failures once (timeouts, 429 and 5xx transient; 401,
422 and the other 4xx permanent). Deciding what an order means is `events.classify`'s job.

Authentication is the connection's credential: ``Authorization: Token <api token>``
(`credential`). Sandbox and live are separate systems with separate tokens
(`api_url`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from fluxbilling import errors
from fluxbilling.drivers import upstream

__all__ = [
    "LIVE_API_URL",
    "SANDBOX_API_URL",
    "UPSTREAM",
    "CoinGateApi",
    "api_url",
    "connect",
    "credential",
]

UPSTREAM = "coingate"

LIVE_API_URL = "https://api.coingate.com/v2/"
SANDBOX_API_URL = "https://api-sandbox.coingate.com/v2/"


def api_url(*, sandbox: bool) -> str:
    """The API base URL of an environment (sandbox credentials do not work live, and back).

    Example:
        >>> api_url(sandbox=True)
        'https://api-sandbox.coingate.com/v2/'
    """
    return SANDBOX_API_URL if sandbox else LIVE_API_URL


def credential(api_token: str) -> upstream.Credential:
    """The credential CoinGate expects: ``Authorization: Token <api token>``.

    Raises:
        errors.InvalidSettings: `api_token` is empty.
    """
    if not api_token:
        raise errors.InvalidSettings("no CoinGate API token is configured")
    return upstream.Credential(headers={"Authorization": f"Token {api_token}"})


def connect(
    api_token: str,
    *,
    sandbox: bool,
    base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 20.0,
) -> CoinGateApi:
    """A client for one API app (its token and environment).

    Args:
        api_token: The API app's auth token (redacted everywhere).
        sandbox: Whether the token belongs to CoinGate's sandbox.
        base_url: Overrides the environment's URL (a simulator).
        transport: An httpx transport (an ASGI simulator in tests).
        timeout: Seconds per request.

    Returns:
        The client; close it with `CoinGateApi.aclose`.
    """
    http = upstream.UpstreamHttp(
        UPSTREAM,
        base_url or api_url(sandbox=sandbox),
        secrets=[api_token],
        transport=transport,
        timeout=timeout,
        credentials={None: credential(api_token)},
    )
    return CoinGateApi(http)


class CoinGateApi:
    """CoinGate's order endpoints over one connection.

    Args:
        http: The connection's client; its default credential must be `credential(...)`.
    """

    def __init__(self, http: upstream.UpstreamHttp) -> None:
        self.http = http

    async def get_order(self, order_id: int) -> dict[str, Any] | None:
        """Fetch an order by CoinGate's id (``GET /orders/{id}``).

        Args:
            order_id: CoinGate's order id (a callback's ``id``).

        Returns:
            The order as decoded JSON, or None when CoinGate answers 404 (an unknown id: a
            forged callback or another account's order).

        Raises:
            errors.InvariantViolation: `order_id` is not a positive integer.
            errors.TransientUpstreamError: Timeouts, 429, 5xx.
            errors.PermanentUpstreamError: 401 and other 4xx, or a body that is not a JSON
                object.
        """
        if isinstance(order_id, bool) or not isinstance(order_id, int) or order_id <= 0:
            raise errors.InvariantViolation(f"not a CoinGate order id: {order_id!r}")
        operation = "get order"
        response = await self.http.request(
            "GET", f"orders/{order_id}", operation=operation, expected=frozenset({200, 404})
        )
        if response.status_code == 404:
            return None
        return upstream.json_object(UPSTREAM, operation, response)

    async def create_order(self, body: Mapping[str, str]) -> dict[str, Any]:
        """Create an order (``POST /orders``, form-encoded) and return it.

        CoinGate does not deduplicate on ``order_id``: a retried create after a timeout may
        leave a second order behind. Store the returned ``id`` before redirecting the shopper
        to ``payment_url``; an orphan order simply expires.

        Args:
            body: `checkout.order_request(...)`.

        Returns:
            The created order (``id``, ``status`` ``new``, ``payment_url``, ``token``...).

        Raises:
            errors.TransientUpstreamError: Timeouts, 429, 5xx.
            errors.PermanentUpstreamError: 401, 422 (the message carries CoinGate's
                ``errors`` list) and other 4xx, or a body that is not a JSON object.
        """
        operation = "create order"
        response = await self.http.request(
            "POST", "orders", operation=operation, form_body=body, expected=frozenset({200, 201})
        )
        return upstream.json_object(UPSTREAM, operation, response)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()
