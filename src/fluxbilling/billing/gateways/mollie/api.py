"""The two Mollie API calls we make, over `drivers.upstream.UpstreamHttp`.

`MollieApi` is deliberately thin: it builds the request, lets `UpstreamHttp` classify
failures (timeouts, 429 and 5xx transient; other 4xx permanent) and returns the parsed JSON.
Deciding what a payment means is `events.classify`'s job.

The `UpstreamHttp` must be bound to the API *origin* (``https://api.mollie.com``; a
simulator's URL in tests) and authenticate with the API key, e.g.
``credentials={None: Credential(headers={"Authorization": "Bearer live_..."})}``;
the key's prefix (``test_`` / ``live_``) selects the mode.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fluxbilling import errors
from fluxbilling.drivers.upstream import UpstreamHttp, json_object

__all__ = ["EMBED", "MollieApi"]

EMBED = "refunds,chargebacks"
_PAYMENT_ID = re.compile(r"tr_[A-Za-z0-9]{1,64}")


class MollieApi:
    """Mollie's Payments API, as far as we use it.

    Args:
        http: The client bound to the API origin with the API key (see the module docstring).
    """

    def __init__(self, http: UpstreamHttp) -> None:
        self.http = http

    async def get_payment(self, payment_id: str) -> dict[str, Any] | None:
        """Fetch a payment with its refunds and chargebacks embedded.

        Args:
            payment_id: A ``tr_...`` id (from `events.parse_notification`).

        Returns:
            The payment JSON (``_embedded.refunds`` / ``_embedded.chargebacks`` when there
            are any), or None when Mollie answers 404: the id is unknown to this key's
            account and mode, so the caller acknowledges the notification and does nothing.

        Raises:
            errors.InvariantViolation: `payment_id` is not a ``tr_...`` id (a caller bug).
            errors.TransientUpstreamError: Timeouts, connection errors, 429, 5xx.
            errors.PermanentUpstreamError: Other failures (401 bad key, ...), or a 200
                whose body is not a JSON object.
        """
        if not _PAYMENT_ID.fullmatch(payment_id):
            raise errors.InvariantViolation(
                "not a Mollie payment id", payment_id=payment_id[:80], upstream=self.http.upstream
            )
        operation = "get payment"
        response = await self.http.request(
            "GET",
            f"/v2/payments/{payment_id}",
            operation=operation,
            params={"embed": EMBED},
            expected=frozenset({200, 404}),
        )
        if response.status_code == 404:
            return None
        return json_object(self.http.upstream, operation, response)

    async def create_payment(self, body: Mapping[str, Any], idempotency_key: str) -> dict[str, Any]:
        """Create a payment; a retry with the same key returns the same payment.

        Args:
            body: The JSON body, e.g. from `checkout.checkout_request`.
            idempotency_key: Unique per invoice attempt; reuse it when retrying.

        Returns:
            The created payment (``_links.checkout.href`` is where the customer pays).

        Raises:
            errors.InvariantViolation: The idempotency key is empty.
            errors.TransientUpstreamError: Timeouts, connection errors, 429, 5xx.
            errors.PermanentUpstreamError: Other failures (422 validation, 401 bad key...),
                or a success whose body is not a JSON object.
        """
        if not idempotency_key:
            raise errors.InvariantViolation("a Mollie payment needs an idempotency key")
        operation = "create payment"
        response = await self.http.request(
            "POST",
            "/v2/payments",
            operation=operation,
            json_body=dict(body),
            headers={"Idempotency-Key": idempotency_key},
        )
        return json_object(self.http.upstream, operation, response)
