"""A thin async client of Stripe's API: Checkout Sessions, PaymentIntents, disputes.

Stripe's official ``stripe`` package would do, but every other gateway goes through
`drivers.upstream.UpstreamHttp` (base URL pinning, redaction of the secret key, one failure
classification), so Stripe does too. Deciding what a fetched session means is
`events.facts_from_session`'s job; `StripeApi.session_facts` chains the two for the
reconciler.

Wire format (Stripe's API v1):

- requests are form-encoded with Stripe's bracket notation (`encode_form`):
  ``line_items[0][price_data][currency]=eur``, ``metadata[invoice_id]=7``; reads expand
  linked objects with ``expand[]=payment_intent.latest_charge``;
- ``Authorization: Bearer sk_test_...|sk_live_...`` (`credential`); ``Stripe-Version`` pins
  the API version the payload shapes are written against (`API_VERSION`);
- creates carry an ``Idempotency-Key``: a retry with the same key answers the first result;
  the same key with other parameters is a 400 ``idempotency_error`` (permanent: our bug);
- failures: timeouts, 429 and 5xx are transient, other 4xx permanent (`UpstreamHttp`),
  except **409** (``idempotency_key_in_use``: the first request with the key is still
  running), which Stripe's own libraries retry and so do we (transient).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from fluxbilling import errors
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.billing.gateways.stripe import events as stripe_events
from fluxbilling.drivers import upstream

__all__ = [
    "API_URL",
    "API_VERSION",
    "SESSION_EXPAND",
    "UPSTREAM",
    "StripeApi",
    "connect",
    "credential",
    "encode_form",
]

UPSTREAM = "stripe"
API_URL = "https://api.stripe.com"
API_VERSION = "2024-06-20"
SESSION_EXPAND = ("payment_intent", "payment_intent.latest_charge")
_SECRET_KEY = re.compile(r"(sk|rk)_(test|live)_[A-Za-z0-9_]+")
_SESSION_ID = re.compile(r"cs_(test|live)_[A-Za-z0-9]{1,200}")
_INTENT_ID = re.compile(r"pi_[A-Za-z0-9]{1,200}")
_MAX_IDEMPOTENCY_KEY = 255


def credential(secret_key: str) -> upstream.Credential:
    """The credential Stripe expects: ``Authorization: Bearer <secret key>``.

    Raises:
        errors.InvalidSettings: `secret_key` is not an ``sk_``/``rk_`` test or live key (the
            message never repeats it).
    """
    if not _SECRET_KEY.fullmatch(secret_key):
        raise errors.InvalidSettings("the Stripe secret key is not an sk_test_/sk_live_ key")
    return upstream.Credential(headers={"Authorization": f"Bearer {secret_key}"})


def connect(
    secret_key: str,
    *,
    base_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 30.0,
) -> StripeApi:
    """A client for one account and mode (the key's ``test``/``live`` prefix).

    Args:
        secret_key: The account's secret key (redacted everywhere).
        base_url: Overrides `API_URL` (a simulator).
        transport: An httpx transport (an ASGI simulator in tests).
        timeout: Seconds per request.

    Returns:
        The client; close it with `StripeApi.aclose`.

    Raises:
        errors.InvalidSettings: The key is malformed.
    """
    http = upstream.UpstreamHttp(
        UPSTREAM,
        base_url or API_URL,
        headers={"Stripe-Version": API_VERSION},
        secrets=[secret_key],
        transport=transport,
        timeout=timeout,
        credentials={None: credential(secret_key)},
    )
    return StripeApi(http)


def _pairs(prefix: str, value: Any) -> Iterable[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _pairs(f"{prefix}[{key}]", item)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _pairs(f"{prefix}[{index}]", item)
    elif isinstance(value, bool):
        yield prefix, "true" if value else "false"
    elif value is not None:
        yield prefix, str(value)


def encode_form(body: Mapping[str, Any]) -> dict[str, str]:
    """Flatten nested parameters into Stripe's bracket notation (None is left out).

    Example:
        >>> encode_form({"metadata": {"invoice_id": "7"}, "line_items": [{"quantity": 1}]})
        {'metadata[invoice_id]': '7', 'line_items[0][quantity]': '1'}
    """
    return {key: text for name, value in body.items() for key, text in _pairs(str(name), value)}


def _check(pattern: re.Pattern[str], value: str, what: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise errors.InvariantViolation(f"not a Stripe {what} id", value=str(value)[:80])


class StripeApi:
    """The Stripe endpoints we use, over one connection.

    Args:
        http: The client bound to the API origin; its default credential must be
            `credential(...)` (see `connect`).
    """

    def __init__(self, http: upstream.UpstreamHttp) -> None:
        self.http = http

    async def _get(
        self, path: str, operation: str, params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        response = await self.http.request(
            "GET", path, operation=operation, params=params, expected=frozenset({200, 404})
        )
        data = upstream.json_object(self.http.upstream, operation, response)
        if response.status_code != 404:
            return data
        error = data.get("error")
        if isinstance(error, dict) and error.get("code") == "resource_missing":
            return None
        # A 404 without resource_missing is a wrong URL (our bug or a wrong base URL).
        raise upstream.classify_response(
            self.http.upstream, operation, 404, self.http.redactor.text(response.text)
        )

    async def create_checkout_session(
        self, body: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        """Create a Checkout Session; a retry with the same key returns the same session.

        Args:
            body: Nested parameters, e.g. `checkout.checkout_request(...)`; sent
                form-encoded (`encode_form`).
            idempotency_key: Unique per invoice attempt (e.g. ``invoice-7-1``); reuse it
                when retrying.

        Returns:
            The session (``id``, ``url`` to send the customer to, ``status`` open...).

        Raises:
            errors.InvariantViolation: The idempotency key is empty or longer than 255.
            errors.TransientUpstreamError: Timeouts, connection errors, 409 (the key is in
                use by a request still running), 429, 5xx.
            errors.PermanentUpstreamError: 400 (invalid parameters, or the key was used with
                other parameters), 401 and other 4xx, or a body that is not a JSON object.
        """
        if not idempotency_key or len(idempotency_key) > _MAX_IDEMPOTENCY_KEY:
            raise errors.InvariantViolation("a Stripe create needs an idempotency key (1-255)")
        operation = "create checkout session"
        response = await self.http.request(
            "POST",
            "v1/checkout/sessions",
            operation=operation,
            form_body=encode_form(body),
            headers={"Idempotency-Key": idempotency_key},
            expected=frozenset({200, 409}),
        )
        if response.status_code == 409:
            snippet = self.http.redactor.text(response.text)[:500]
            raise errors.TransientUpstreamError(
                f"{self.http.upstream}: {operation} failed with HTTP 409: {snippet}",
                upstream=self.http.upstream,
                operation=operation,
                status=409,
            )
        return upstream.json_object(self.http.upstream, operation, response)

    async def get_checkout_session(
        self, session_id: str, *, expand: Iterable[str] = SESSION_EXPAND
    ) -> dict[str, Any] | None:
        """Fetch a Checkout Session, by default with its PaymentIntent and latest charge.

        Args:
            session_id: A ``cs_test_...``/``cs_live_...`` id we stored.
            expand: The ``expand[]`` paths (`SESSION_EXPAND`: what `facts_from_session`
                needs).

        Returns:
            The session, or None when Stripe answers 404 ``resource_missing`` (unknown id,
            or an object of the other mode).

        Raises:
            errors.InvariantViolation: `session_id` is not a session id.
            errors.TransientUpstreamError: Timeouts, 429, 5xx.
            errors.PermanentUpstreamError: 401, other 4xx, or a non-object body.
        """
        _check(_SESSION_ID, session_id, "Checkout Session")
        return await self._get(
            f"v1/checkout/sessions/{session_id}",
            "get checkout session",
            {"expand[]": list(expand)},
        )

    async def get_payment_intent(
        self, intent_id: str, *, expand: Iterable[str] = ("latest_charge",)
    ) -> dict[str, Any] | None:
        """Fetch a PaymentIntent with its latest charge (``amount_refunded``, ``disputed``).

        Args:
            intent_id: A ``pi_...`` id (a session's ``payment_intent``).
            expand: The ``expand[]`` paths.

        Returns:
            The PaymentIntent, or None on 404 ``resource_missing``.

        Raises:
            errors.InvariantViolation: `intent_id` is not a PaymentIntent id.
            errors.TransientUpstreamError: Timeouts, 429, 5xx.
            errors.PermanentUpstreamError: 401, other 4xx, or a non-object body.
        """
        _check(_INTENT_ID, intent_id, "PaymentIntent")
        return await self._get(
            f"v1/payment_intents/{intent_id}", "get payment intent", {"expand[]": list(expand)}
        )

    async def list_disputes(self, intent_id: str) -> list[dict[str, Any]]:
        """The disputes of a PaymentIntent's charges (``GET /v1/disputes?payment_intent=``).

        One page of 100: a payment has a dispute per disputed charge, a handful at most.

        Raises:
            errors.InvariantViolation: `intent_id` is not a PaymentIntent id.
            errors.TransientUpstreamError: Timeouts, 429, 5xx.
            errors.PermanentUpstreamError: 4xx, or a body that is not a Stripe list.
        """
        _check(_INTENT_ID, intent_id, "PaymentIntent")
        operation = "list disputes"
        found = await self._get(
            "v1/disputes", operation, {"payment_intent": intent_id, "limit": 100}
        )
        data = None if found is None else found.get("data")
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise errors.PermanentUpstreamError(
                f"{self.http.upstream}: {operation}: the answer is not a list of disputes",
                upstream=self.http.upstream,
                operation=operation,
            )
        return data

    async def session_facts(self, session_id: str) -> list[PaymentFact] | None:
        """Fetch a session (and the disputes, if its charge is disputed) as payment facts.

        The reconciler's call when a webhook may have been lost: the facts have the keys the
        webhooks would have had (`events.facts_from_session`).

        Returns:
            The facts, or None when Stripe does not know the session.

        Raises:
            errors.TransientUpstreamError: As the fetches.
            errors.PermanentUpstreamError: As the fetches, or an incomplete session.
        """
        session = await self.get_checkout_session(session_id)
        if session is None:
            return None
        intent = session.get("payment_intent")
        charge = intent.get("latest_charge") if isinstance(intent, dict) else None
        disputes: list[dict[str, Any]] = []
        if isinstance(intent, dict) and isinstance(charge, dict) and charge.get("disputed"):
            disputes = await self.list_disputes(str(intent.get("id")))
        return stripe_events.facts_from_session(session, disputes)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()
