"""A Stripe API simulator (Checkout Sessions, ASGI), its webhook notifier, and event builders.

Modelled on payments.md §1 and Stripe's API reference (v1, ``Stripe-Version`` `API_VERSION`):

- ``Authorization: Bearer sk_test_...|sk_live_...``, else 401 ``{"error": {"type":
  "invalid_request_error", "message": ...}}`` (key masked); the key's mode is the objects' mode
  (an object of the other mode is a 404).
- Form-encoded requests in bracket notation; an unknown, missing or invalid parameter is a
  400 naming ``param`` (and ``code``).
- ``POST /v1/checkout/sessions``: 200 with an ``open`` session (``url`` ``{base}/c/pay/{id}``
  only while open; ``payment_intent`` null until the customer confirms). ``Idempotency-Key``
  (per secret key): a repeat answers the *saved* first response (``Idempotent-Replayed:
  true``); other parameters under the same key are a 400 ``idempotency_error``.
- ``GET /v1/checkout/sessions/{id}``, ``GET /v1/payment_intents/{id}`` with ``expand[]``
  (dotted paths over ``payment_intent``, ``latest_charge``, ``charge``); ``GET
  /v1/disputes?payment_intent=|charge=``; 404 ``resource_missing`` (``No such
  checkout.session: '...'``); other ``/v1`` paths: 404 ``Unrecognized request URL``.
- The checkout page at ``url``: pay by card, with a delayed method, or go back (303 to
  ``success_url`` with ``{CHECKOUT_SESSION_ID}`` replaced, or to ``cancel_url``).
- Test helpers on `StripeState` (``pay``, ``pay_delayed``, ``settle``, ``expire``, ``refund``,
  ``dispute``), also ``POST /_sim/sessions/{id}/{action}`` (JSON arguments); ``GET
  /_sim/state``; ``POST /_sim/events/deliver`` (one notifier round).
- Faults (``state.faults``) on every ``/v1`` request, in Stripe's error shape; ``exists_next``
  is a 409 ``idempotency_key_in_use`` (``Stripe-Should-Retry: true``) on create; a crash after
  create saves the result under the key first (a lost response: the retry gets the session).

`StripeNotifier` POSTs queued events to one endpoint, each attempt signed afresh; any 2xx
delivers, anything else is retried (at the back of the queue) up to ``max_retries``.

Unverified: the 401/409/5xx texts, the page, `WEBHOOK_TIMEOUT`, no minimum amount, only
``mode=payment`` with inline ``price_data``, id lengths beyond the documented prefixes.

Run standalone: ``python -m fluxbilling.simulators.stripe --port 8097 --secret-key sk_test_x
--webhook-url http://127.0.0.1:8000/webhooks/stripe/main --webhook-secret whsec_x``.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import secrets
import string
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from fluxbilling import errors
from fluxbilling.billing import stripe
from fluxbilling.simulators import _faults
from fluxbilling.simulators._stripe_state import (
    API_VERSION,
    Attempt,
    Event,
    Problem,
    Saved,
    StripeState,
    decode_form,
    delivery_outcome,
    event_body,
)

__all__ = [
    "API_VERSION",
    "TEST_MODE_RETRIES",
    "WEBHOOK_TIMEOUT",
    "Attempt",
    "Event",
    "StripeNotifier",
    "StripeState",
    "charge_refunded",
    "checkout_completed",
    "create_app",
    "deliver",
    "dispute_created",
    "main",
    "signed_headers",
]

TEST_MODE_RETRIES = 3
WEBHOOK_TIMEOUT = 20.0
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
_ALPHABET = string.ascii_letters + string.digits


def _random_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


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
        "id": session_id or _random_id(f"cs_{mode}_a1", 58),
        "object": "checkout.session",
        "amount_subtotal": amount_minor,
        "amount_total": amount_minor,
        "client_reference_id": str(invoice_id),
        "created": created - 60,
        "currency": currency.lower(),
        "customer": _random_id("cus_", 14),
        "livemode": livemode,
        "metadata": {"invoice_id": str(invoice_id)},
        "mode": "payment",
        "payment_intent": _random_id("pi_"),
        "payment_status": payment_status,
        "status": "complete",
    }
    return event_body(
        event_id or _random_id("evt_"),
        "checkout.session.completed",
        session,
        livemode=livemode,
        created=created,
    )


def _event(kind: str, obj: dict[str, Any], *, livemode: bool, created: int | None) -> bytes:
    created = int(time.time()) if created is None else created
    return event_body(_random_id("evt_"), kind, obj, livemode=livemode, created=created)


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
        "id": charge_id or _random_id("ch_"),
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
        "id": _random_id("dp_"),
        "object": "dispute",
        "amount": amount_minor,
        "charge": _random_id("ch_"),
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
        stripe.SIGNATURE_HEADER: stripe.sign(body, secret, t, extra_secrets),
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


# ---------------------------------------------------------------------------------------
# Webhook notifier


class StripeNotifier:
    """POSTs the state's queued events to one webhook endpoint the way Stripe does.

    Every attempt is signed afresh with the state's clock and recorded in `state.attempts`.
    A failed event goes to the back of the queue (later events overtake it, as they may at
    Stripe) until `max_retries` retries have failed.

    Args:
        state: Whose `events`, `queue` and `attempts` to use.
        url: The endpoint's URL.
        secret: The endpoint's signing secret (``whsec_...``).
        client: The client to POST with; when None, a fresh one per attempt over
            `transport` (the network when None), following no redirects.
        transport: The transport of those fresh clients (a MockTransport in tests).
        timeout: Seconds to wait for an answer.
        max_retries: Retries after the first attempt (Stripe's test mode: 3).
        extra_secrets: More signing secrets (a rolled secret still valid): one more ``v1``.
    """

    def __init__(
        self,
        state: StripeState,
        url: str,
        secret: str,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = WEBHOOK_TIMEOUT,
        max_retries: int = TEST_MODE_RETRIES,
        extra_secrets: Sequence[str] = (),
    ) -> None:
        self.state = state
        self.url = url
        self.secret = secret
        self.client = client
        self.transport = transport
        self.timeout = timeout
        self.max_retries = max_retries
        self.extra_secrets = tuple(extra_secrets)

    @property
    def queued(self) -> list[Event]:
        """Events waiting for their next attempt, in sending order."""
        return [self.state.events[i] for i in self.state.queue]

    def event(self, event_id: str) -> Event:
        """One event by id.

        Raises:
            errors.NotFound: No such event.
        """
        found = self.state.events.get(event_id)
        if found is None:
            raise errors.NotFound(f"no event {event_id}", event_id=event_id)
        return found

    async def _post(self, event: Event, t: int) -> tuple[int | None, str | None]:
        headers = signed_headers(event.body, self.secret, t, self.extra_secrets)
        client = self.client or httpx.AsyncClient(transport=self.transport, follow_redirects=False)
        try:
            response = await client.post(
                self.url, content=event.body, headers=headers, timeout=self.timeout
            )
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.TransportError as exc:
            return None, type(exc).__name__
        finally:
            if self.client is None:
                await client.aclose()
        return response.status_code, None

    async def _attempt(self, event: Event, *, manual: bool) -> Attempt:
        event.attempts += 1
        t = self.state.now()
        status, error = await self._post(event, t)
        attempt = Attempt(
            event_id=event.id,
            event_type=event.type,
            attempt=event.attempts,
            http_status=status,
            error=error,
            outcome=delivery_outcome(status, event.attempts, self.max_retries),
            signed_at=t,
            manual=manual,
        )
        self.state.attempts.append(attempt)
        return attempt

    async def _send_queued(self, event: Event) -> Attempt:
        attempt = await self._attempt(event, manual=False)
        if attempt.outcome == "retry":
            self.state.queue.append(event.id)
        else:
            event.state = attempt.outcome
        return attempt

    async def deliver_next(self) -> Attempt | None:
        """Send the first queued event once; None when nothing is queued."""
        if not self.state.queue:
            return None
        return await self._send_queued(self.state.events[self.state.queue.popleft()])

    async def deliver(self, event_id: str) -> Attempt:
        """Send one queued event now, ahead of the others.

        Raises:
            errors.NotFound: No such event.
            errors.Conflict: It is not queued.
        """
        event = self.event(event_id)
        if event_id not in self.state.queue:
            raise errors.Conflict(f"event {event_id} is not queued ({event.state})")
        self.state.queue.remove(event_id)
        return await self._send_queued(event)

    async def deliver_all(self) -> list[Attempt]:
        """One round: every event queued now gets one attempt, in queue order."""
        return [
            attempt
            for _ in range(len(self.state.queue))
            if (attempt := await self.deliver_next()) is not None
        ]

    async def deliver_until_settled(self, *, max_rounds: int = 10) -> list[Attempt]:
        """Rounds until the queue is empty (each event delivered or given up)."""
        attempts: list[Attempt] = []
        for _ in range(max_rounds):
            if not self.state.queue:
                break
            attempts.extend(await self.deliver_all())
        return attempts

    async def redeliver(self, event_id: str) -> Attempt:
        """Send an event again, as the Dashboard's "Resend" does (never re-queued)."""
        return await self._attempt(self.event(event_id), manual=True)

    def reorder(self, event_ids: Sequence[str]) -> None:
        """Put the queued events in this order (a permutation of the queued ids).

        Raises:
            errors.Conflict: `event_ids` is not a permutation of the queue.
        """
        if sorted(event_ids) != sorted(self.state.queue):
            raise errors.Conflict(
                "reorder needs exactly the queued event ids",
                queued=list(self.state.queue),
                given=list(event_ids),
            )
        self.state.queue.clear()
        self.state.queue.extend(event_ids)

    def drop(self, event_id: str) -> Event:
        """Lose a queued event: it is never sent (state ``dropped``).

        Raises:
            errors.NotFound: No such event.
            errors.Conflict: It is not queued.
        """
        event = self.event(event_id)
        if event_id not in self.state.queue:
            raise errors.Conflict(f"event {event_id} is not queued ({event.state})")
        self.state.queue.remove(event_id)
        event.state = "dropped"
        return event


# ---------------------------------------------------------------------------------------
# The API

Handler = Callable[[Request, StripeState, str, str], Awaitable[Response]]
_TYPES = {429: ("invalid_request_error", "rate_limit"), 409: ("invalid_request_error", None)}
_MESSAGES = {
    404: "Unrecognized request URL. Please see https://stripe.com/docs or we can help at "
    "https://support.stripe.com/.",
    409: "There is currently another in-progress request using this Idempotent Key (that "
    "probably means you submitted twice, and the other request is still going through).",
    429: "Too many requests hit the API too quickly. We recommend an exponential backoff of "
    "your requests.",
}
_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
)
_EXPAND_KEY = re.compile(r"expand\[\d*\]")


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Request-Id": _random_id("req_", 14), "Stripe-Version": API_VERSION, **(extra or {})}


def _json(body: dict[str, Any], status: int = 200, extra: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=_headers(extra))


def _error(
    status: int,
    message: str | None = None,
    *,
    kind: str | None = None,
    code: str | None = None,
    param: str | None = None,
    extra: dict[str, str] | None = None,
) -> Response:
    default_kind, default_code = _TYPES.get(
        status, ("api_error" if status >= 500 else "invalid_request_error", None)
    )
    error: dict[str, Any] = {
        "message": message or _MESSAGES.get(status, "An unknown error occurred"),
        "type": kind or default_kind,
    }
    code = code or default_code
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    return _json({"error": error}, status, extra)


def _problem(problem: Problem) -> Response:
    return _error(400, problem.message, code=problem.code, param=problem.param)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _mask(key: str) -> str:
    return key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else "***"


def _missing_object(
    kind: str, param: str, object_id: str, state: StripeState, mode: str
) -> Response:
    message = f"No such {kind}: '{object_id}'"
    if state.lookup(object_id) is not None:
        other = "live" if mode == "test" else "test"
        message += f"; a similar object exists in {other} mode, but a {mode} mode key was used"
        message += " to make this request."
    return _error(404, message, code="resource_missing", param=param)


def _expand(request: Request) -> list[str] | Problem:
    paths = [v for k, v in request.query_params.multi_items() if _EXPAND_KEY.fullmatch(k)]
    return StripeState.validate_expand(paths) or paths


def _replay(saved: Saved, path: str, params: dict[str, Any], idem: str) -> Response:
    if saved.path != path or saved.params != params:
        return _error(
            400,
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{idem}' if you meant to execute a "
            "different request.",
            kind="idempotency_error",
        )
    return _json(saved.body, saved.status, {"Idempotency-Key": idem, "Idempotent-Replayed": "true"})


async def create_session(request: Request, state: StripeState, mode: str, key: str) -> Response:
    """POST /v1/checkout/sessions."""
    idem = request.headers.get("idempotency-key")
    try:
        params = decode_form(await request.body())
    except errors.UserError as exc:
        return _error(400, exc.message)
    saved = state.idempotency.get((key, idem)) if idem else None
    if saved is not None and idem:
        return _replay(saved, request.url.path, params, idem)
    if state.faults.take_exists():
        return _error(409, code="idempotency_key_in_use", extra={"Stripe-Should-Retry": "true"})
    checked = state.validate_create(params)
    if isinstance(checked, Problem):
        return _problem(checked)
    session = state.create_session(params, checked, mode)
    body = state.render(session, _base(request), params.get("expand") or [])
    if idem:
        state.idempotency[(key, idem)] = Saved(request.url.path, params, 200, body)
    if state.faults.take_crash():
        return _error(503)
    return _json(body, 200, {"Idempotency-Key": idem} if idem else None)


def _fetch(kind: str, param: str, prefix: str) -> Handler:
    """``GET /v1/<objects>/{id}`` with ``expand[]`` for objects of `kind` (ids `prefix`...)."""

    async def fetch(request: Request, state: StripeState, mode: str, key: str) -> Response:
        object_id = request.path_params["id"]
        found = state.lookup(object_id, mode) if object_id.startswith(prefix) else None
        if found is None:
            return _missing_object(kind, param, object_id, state, mode)
        expand = _expand(request)
        if isinstance(expand, Problem):
            return _problem(expand)
        return _json(state.render(found, _base(request), expand))

    return fetch


async def list_disputes(request: Request, state: StripeState, mode: str, key: str) -> Response:
    """GET /v1/disputes?payment_intent=...&charge=...&limit=..."""
    query = request.query_params
    limit = query.get("limit", "10")
    if not (limit.isdigit() and 1 <= int(limit) <= 100):
        return _error(400, f"Invalid integer: {limit}", code="parameter_invalid_integer")
    found = [
        d
        for d in reversed(state.disputes.values())
        if d["livemode"] == (mode == "live")
        and query.get("payment_intent", d["payment_intent"]) == d["payment_intent"]
        and query.get("charge", d["charge"]) == d["charge"]
    ]
    page = found[: int(limit)]
    return _json(
        {"object": "list", "data": page, "has_more": len(found) > len(page), "url": "/v1/disputes"}
    )


def _guarded(handler: Handler, state: StripeState) -> Callable[[Request], Awaitable[Response]]:
    """Count, delay, inject faults, then authenticate, before the real handler runs."""

    async def endpoint(request: Request) -> Response:
        state.requests += 1
        status = await state.faults.before_request()
        if status is not None:
            return _error(status)
        authorization = request.headers.get("authorization", "")
        mode = state.mode_of(authorization)
        if mode is None:
            key = authorization.partition(" ")[2]
            message = f"Invalid API Key provided: {_mask(key)}" if key else _NO_KEY
            return _error(401, message)
        return await handler(request, state, mode, authorization.partition(" ")[2])

    return endpoint


# ---------------------------------------------------------------------------------------
# Checkout page and simulator controls


def _later(notifier: StripeNotifier | None) -> BackgroundTask | None:
    return None if notifier is None else BackgroundTask(notifier.deliver_all)


def _checkout(
    state: StripeState, notifier: StripeNotifier | None
) -> Callable[[Request], Awaitable[Response]]:
    actions = {"pay": state.pay, "pay_delayed": state.pay_delayed}

    async def checkout(request: Request) -> Response:
        session = state.sessions.get(request.path_params["id"])
        if session is None:
            return HTMLResponse("<h1>Something went wrong</h1>", status_code=404)
        if session["status"] != "open":
            return HTMLResponse("<h1>This Checkout Session is no longer active</h1>")
        if request.method == "GET":
            amount = f"{session['amount_total']} {session['currency'].upper()} (minor units)"
            buttons = "".join(
                f'<button name="action" value="{a}">{a}</button>'
                for a in ("pay", "pay_delayed", "cancel")
            )
            return HTMLResponse(
                f"<h1>Test mode</h1><p>{html.escape(amount)}</p>"
                f'<form method="post">{buttons}</form>'
            )
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        action = form.get("action", "")
        if action == "cancel" and session["cancel_url"]:
            return RedirectResponse(session["cancel_url"], status_code=303)
        if action not in actions:
            return HTMLResponse("<h1>Choose an action</h1>", status_code=400)
        actions[action](session["id"])
        target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        return RedirectResponse(target, status_code=303, background=_later(notifier))

    return checkout


def _control(
    state: StripeState, notifier: StripeNotifier | None
) -> Callable[[Request], Awaitable[Response]]:
    actions: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
        "pay": lambda sid, _: state.pay(sid),
        "pay_delayed": lambda sid, _: state.pay_delayed(sid),
        "settle": lambda sid, b: state.settle(sid, bool(b.get("succeeded", True))),
        "expire": lambda sid, _: state.expire(sid),
        "refund": lambda sid, b: state.refund(sid, b.get("amount_minor")),
        "dispute": lambda sid, b: state.dispute(sid, str(b.get("reason", "fraudulent"))),
    }

    async def control(request: Request) -> Response:
        action = actions.get(request.path_params["action"])
        if action is None:
            return JSONResponse({"error": "unknown action"}, status_code=404)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        try:
            result = action(request.path_params["id"], body)
        except errors.UserError as exc:
            status = 404 if isinstance(exc, errors.NotFound) else 409
            return JSONResponse({"error": exc.message}, status_code=status)
        return JSONResponse(result, background=_later(notifier))

    return control


def _deliver(notifier: StripeNotifier | None) -> Callable[[Request], Awaitable[Response]]:
    async def deliver_round(request: Request) -> Response:
        if notifier is None:
            return JSONResponse({"error": "no webhook endpoint is configured"}, status_code=404)
        attempts = await notifier.deliver_all()
        return JSONResponse({"attempts": len(attempts), "queued": len(notifier.queued)})

    return deliver_round


def create_app(state: StripeState, notifier: StripeNotifier | None = None) -> ASGIApp:
    """The simulator as an ASGI app over `state` (which tests inspect and steer).

    Args:
        state: The simulated account, fault knobs included.
        notifier: When given, changes made on the checkout page or through ``/_sim`` controls
            are delivered (one round) after the response; ``/_sim/events/deliver`` runs one.

    Returns:
        A Starlette app serving ``/v1/...``, ``/c/pay/{id}`` and ``/_sim/...``.
    """
    api: list[tuple[str, Handler, str]] = [
        ("/v1/checkout/sessions", create_session, "POST"),
        ("/v1/checkout/sessions/{id:str}", _fetch("checkout.session", "session", "cs_"), "GET"),
        ("/v1/payment_intents/{id:str}", _fetch("payment_intent", "intent", "pi_"), "GET"),
        ("/v1/disputes", list_disputes, "GET"),
    ]

    async def dump(request: Request) -> Response:
        return JSONResponse(state.dump(_base(request)))

    async def unknown(request: Request) -> Response:
        return _error(404, f"Unrecognized request URL ({request.method}: {request.url.path}).")

    return Starlette(
        routes=[
            *(Route(path, _guarded(h, state), methods=[m]) for path, h, m in api),
            Route("/v1/{rest:path}", unknown, methods=["GET", "POST", "DELETE"]),
            Route("/c/pay/{id:str}", _checkout(state, notifier), methods=["GET", "POST"]),
            Route("/_sim/state", dump, methods=["GET"]),
            Route(
                "/_sim/sessions/{id:str}/{action:str}", _control(state, notifier), methods=["POST"]
            ),
            Route("/_sim/events/deliver", _deliver(notifier), methods=["POST"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator with uvicorn; with ``--webhook-url`` changes are delivered, signed.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description="Stripe API simulator (Checkout Sessions)")
    _faults.add_arguments(parser, port=8097)
    parser.add_argument("--secret-key", action="append", default=[])
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--webhook-secret", default="whsec_sim")
    parser.add_argument("--max-retries", type=int, default=TEST_MODE_RETRIES)
    args = parser.parse_args(argv)
    state = StripeState(
        secret_keys=frozenset(args.secret_key), faults=_faults.from_arguments(args), seed=args.seed
    )
    notifier = (
        None
        if args.webhook_url is None
        else StripeNotifier(
            state, args.webhook_url, args.webhook_secret, max_retries=args.max_retries
        )
    )
    _faults.serve(create_app(state, notifier), args)


if __name__ == "__main__":
    main()
