"""A PayPal REST API simulator (ASGI) and a signing webhook notifier, after payments.md §3.

Endpoints (bearer token from the token endpoint unless said otherwise):

| endpoint                                          | modelled                                   |
|---------------------------------------------------|--------------------------------------------|
| ``POST /v1/oauth2/token``                         | HTTP Basic ``client_id:secret``, form      |
|                                                   | ``grant_type=client_credentials``          |
| ``POST /v2/checkout/orders``                      | create; ``PayPal-Request-Id`` replay → 200 |
| ``GET /v2/checkout/orders/{id}``                  | current order                              |
| ``POST /v2/checkout/orders/{id}/capture``         | capture (422s, replay → 200)               |
| ``GET /v2/payments/captures/{id}``                | current capture (``supplementary_data``)   |
| ``POST /v2/payments/captures/{id}/refund``        | full/partial refund (422s, replay → 200)   |
| ``GET /v2/payments/refunds/{id}``                 | current refund                             |
| ``POST /v1/notifications/verify-webhook-signature`` | postback: ``SUCCESS``/``FAILURE``        |
| ``GET /v1/notifications/webhooks-events``         | newest first; ``page_size``, ``event_type``,|
|                                                   | ``transaction_id``, time window            |
| ``GET /v1/notifications/webhooks-events/{id}``    | the event as delivered                     |
| ``POST .../webhooks-events/{id}/resend``          | 202; queued for delivery again             |
| ``GET /v1/notifications/certs/{cert_id}``         | no auth: the signing certificate (PEM)     |
| ``GET /_sim/state``, ``POST /_sim/orders/{id}/approve``, | no auth: test/demo only             |
| ``POST /_sim/notifications/deliver``              |                                            |

Writes answer the minimal ``{id, status, links}`` unless ``Prefer: return=representation``.
Errors use PayPal's shape ``{"name", "message", "details": [{"issue", "description"}],
"debug_id", "links"}`` (``links``: the ``information_link`` to the issue's documentation,
when there is an issue; the token endpoint's OAuth shape is ``{"error",
"error_description"}``). A path or method not in the table is PayPal's 404
``RESOURCE_NOT_FOUND``, never plain text.

The payer's approval happens on PayPal's pages, so tests call `PayPalState.approve` (or
``POST /_sim/orders/{id}/approve``). Every state change queues a webhook event; `Notifier`
delivers them to a receiver as signed transmissions, with helpers to deliver, redeliver
(a duplicate), reorder and drop (a lost webhook).

Fault injection on ``state.faults`` (`simulators._faults.Faults`), before authentication:
``latency``, ``fail_rate``, ``fail_next(n, status)`` (any status, PayPal-shaped),
``exists_next(n)`` (the next capture answers 422 ``ORDER_ALREADY_CAPTURED`` without
capturing), ``crash_after_create``/``crash_next_create(n)`` (create order, capture or refund
happen, then 503 — a replay with the same ``PayPal-Request-Id`` then answers 200).

Unverified choices (no PayPal sandbox reachable here): the token endpoint's error texts, the
certificate's content type (``application/x-pem-file``), the ``payer-action`` vs ``approve``
link rule, the CHECKOUT.PAYMENT-APPROVAL.REVERSED resource shape, the fee rule (3.49 %), a
reversal setting the capture ``REFUNDED``, refunds copying the capture's ``invoice_id`` /
``custom_id``, and postback equality on JSON data rather than bytes.

Run standalone: ``python -m fluxbilling_simulators.paypal --port 8090``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from fluxbilling import errors
from fluxbilling_simulators import _faults
from fluxbilling_simulators._paypal_state import (
    SIM_CERT_HOST,
    Notification,
    PayPalProblem,
    PayPalState,
    Transmission,
)

__all__ = ["SIM_CERT_HOST", "Notifier", "PayPalState", "Transmission", "create_app", "main"]

Handler = Callable[[Request, PayPalState], Awaitable[Response]]
_FAULTS = {
    400: (
        "INVALID_REQUEST",
        "Request is not well-formed, syntactically incorrect, or violates schema.",
    ),
    401: (
        "AUTHENTICATION_FAILURE",
        "Authentication failed due to missing authorization header, or invalid authentication "
        "credentials.",
    ),
    403: ("NOT_AUTHORIZED", "Authorization failed due to insufficient permissions."),
    404: ("RESOURCE_NOT_FOUND", "The specified resource does not exist."),
    422: (
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed "
        "business validation.",
    ),
    429: ("RATE_LIMIT_REACHED", "Too many requests. Blocked due to rate limiting."),
    500: ("INTERNAL_SERVER_ERROR", "An internal server error has occurred."),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable."),
}


# Where PayPal documents each API's error issues (the ``information_link`` of an error).
_DOCS = {
    "/v2/checkout/orders": "orders/v2",
    "/v2/payments": "payments/v2",
    "/v1/notifications": "webhooks/v1",
}


def _error(state: PayPalState, status: int) -> Response:
    name, message = _FAULTS.get(
        status, ("INTERNAL_SERVER_ERROR", "An internal server error has occurred.")
    )
    return JSONResponse(
        {"name": name, "message": message, "debug_id": state.debug_id()}, status_code=status
    )


def _problem(state: PayPalState, problem: PayPalProblem, path: str = "") -> Response:
    body: dict[str, Any] = {
        "name": problem.name,
        "message": problem.message,
        "debug_id": state.debug_id(),
        "details": problem.details,
    }
    api = next((doc for prefix, doc in _DOCS.items() if path.startswith(prefix)), None)
    if api is not None:
        issue = problem.details[0]["issue"]
        href = f"https://developer.paypal.com/docs/api/{api}/#error-{issue}"
        body["links"] = [{"href": href, "rel": "information_link", "method": "GET"}]
    return JSONResponse(body, status_code=problem.status)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return await request.json()
    except ValueError as exc:
        raise PayPalProblem(
            400,
            "INVALID_REQUEST",
            _FAULTS[400][1],
            "MALFORMED_REQUEST_JSON",
            "The request JSON is not well formed.",
        ) from exc


def _answer(request: Request, obj: dict[str, Any], status: int) -> Response:
    """Full representation when asked for (``Prefer: return=representation``), else minimal."""
    if "return=representation" not in request.headers.get("prefer", ""):
        obj = {key: obj[key] for key in ("id", "status", "links") if key in obj}
    return JSONResponse(obj, status_code=status)


# --- OAuth -------------------------------------------------------------------------------


def _basic_ok(header: str, state: PayPalState) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(user, state.client_id) & hmac.compare_digest(password, state.secret)


async def token(request: Request, state: PayPalState) -> Response:
    """POST /v1/oauth2/token."""
    if not _basic_ok(request.headers.get("authorization", ""), state):
        return JSONResponse(
            {"error": "invalid_client", "error_description": "Client Authentication failed"},
            status_code=401,
        )
    grant = parse_qs((await request.body()).decode("utf-8", "replace")).get("grant_type")
    if not grant:
        description = "Grant Type is NULL"
    elif grant[0] != "client_credentials":
        description = "unsupported grant_type"
    else:
        return JSONResponse(state.issue_token())
    return JSONResponse(
        {"error": "unsupported_grant_type", "error_description": description}, status_code=400
    )


# --- orders, captures, refunds -----------------------------------------------------------


async def create_order(request: Request, state: PayPalState) -> Response:
    """POST /v2/checkout/orders."""
    request_id = request.headers.get("paypal-request-id")
    earlier = state.replayed("create order", request_id)
    if earlier is not None:
        return _answer(request, state.order(earlier), 200)
    order = state.create_order(await _json_body(request))
    state.remember("create order", request_id, order["id"])
    if state.faults.take_crash():
        return _error(state, 503)
    return _answer(request, order, 201)


async def get_order(request: Request, state: PayPalState) -> Response:
    """GET /v2/checkout/orders/{id}."""
    return JSONResponse(state.order(request.path_params["id"]))


async def capture_order(request: Request, state: PayPalState) -> Response:
    """POST /v2/checkout/orders/{id}/capture."""
    order_id = request.path_params["id"]
    request_id = request.headers.get("paypal-request-id")
    earlier = state.replayed("capture order", request_id)
    if earlier is not None:
        return _answer(request, state.order(earlier), 200)
    await _json_body(request)  # an empty body or {} (payment_source is not modelled)
    state.order(order_id)  # 404 before any injected 422
    if state.faults.take_exists():
        return _problem(
            state,
            PayPalProblem(
                422,
                "UNPROCESSABLE_ENTITY",
                _FAULTS[422][1],
                "ORDER_ALREADY_CAPTURED",
                "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed.",
            ),
        )
    order = state.capture_order(order_id)
    state.remember("capture order", request_id, order_id)
    if state.faults.take_crash():
        return _error(state, 503)
    return _answer(request, order, 201)


async def get_capture(request: Request, state: PayPalState) -> Response:
    """GET /v2/payments/captures/{id}."""
    return JSONResponse(state.capture(request.path_params["id"]))


async def refund_capture(request: Request, state: PayPalState) -> Response:
    """POST /v2/payments/captures/{id}/refund."""
    request_id = request.headers.get("paypal-request-id")
    earlier = state.replayed("refund capture", request_id)
    if earlier is not None:
        return _answer(request, state.refund(earlier), 200)
    refund = state.refund_capture(request.path_params["id"], await _json_body(request))
    state.remember("refund capture", request_id, refund["id"])
    if state.faults.take_crash():
        return _error(state, 503)
    return _answer(request, refund, 201)


async def get_refund(request: Request, state: PayPalState) -> Response:
    """GET /v2/payments/refunds/{id}."""
    return JSONResponse(state.refund(request.path_params["id"]))


# --- notifications -----------------------------------------------------------------------


async def verify_signature(request: Request, state: PayPalState) -> Response:
    """POST /v1/notifications/verify-webhook-signature."""
    status = state.verify_postback(await _json_body(request))
    return JSONResponse({"verification_status": status})


async def list_events(request: Request, state: PayPalState) -> Response:
    """GET /v1/notifications/webhooks-events."""
    return JSONResponse(state.events(request.query_params))


async def get_event(request: Request, state: PayPalState) -> Response:
    """GET /v1/notifications/webhooks-events/{id}."""
    return JSONResponse(state.event(request.path_params["id"]))


async def resend_event(request: Request, state: PayPalState) -> Response:
    """POST /v1/notifications/webhooks-events/{id}/resend."""
    await _json_body(request)  # optional {"webhook_ids": [...]}: we have one webhook
    return JSONResponse(state.resend(request.path_params["id"]), status_code=202)


async def get_cert(request: Request, state: PayPalState) -> Response:
    """GET /v1/notifications/certs/{cert_id}: the PEM, no authentication."""
    pem = state.cert_pem(request.path_params["cert_id"])
    if pem is None:
        return _error(state, 404)
    return Response(pem, media_type="application/x-pem-file")


class Notifier:
    """Delivers `state`'s webhook events like PayPal: one signed transmission per attempt.

    Each attempt gets a new ``PAYPAL-TRANSMISSION-ID`` and time and the same body. A 2xx
    answer delivers the event; anything else (or a transport error) leaves it pending for
    another attempt, up to ``state.max_attempts`` (then ``failed``).

    Args:
        state: The simulated world whose outbox is delivered.
        client: The client to POST with (an ASGI transport to the receiver in tests).
        url: The receiver's URL; ``state.webhook_url`` when None.
    """

    def __init__(
        self, state: PayPalState, client: httpx.AsyncClient, url: str | None = None
    ) -> None:
        self.state = state
        self.client = client
        self.url = url or state.webhook_url

    @property
    def pending(self) -> list[str]:
        """Event ids waiting for delivery, in delivery order."""
        return list(self.state.outbox)

    def _notification(self, event_id: str) -> Notification:
        found = self.state.notifications.get(event_id)
        if found is None:
            raise errors.NotFound(f"no simulated PayPal event {event_id!r}")
        return found

    async def _send(self, notification: Notification) -> Transmission:
        sent = self.state.new_transmission(notification)
        try:
            response = await self.client.post(
                self.url, content=notification.body, headers=sent.headers
            )
        except httpx.HTTPError as exc:
            sent.error = type(exc).__name__
        else:
            sent.status = response.status_code
        self.state.record(notification, sent)
        return sent

    async def deliver(self, event_id: str | None = None) -> Transmission:
        """One attempt for `event_id`, or for the first pending event.

        Raises:
            errors.NotFound: Nothing is pending, or the event is unknown.
            errors.Conflict: The event is not pending (use `redeliver`).
        """
        if event_id is None:
            if not self.state.outbox:
                raise errors.NotFound("no pending PayPal event")
            event_id = self.state.outbox[0]
        notification = self._notification(event_id)
        if notification.state != "pending":
            raise errors.Conflict(f"event {event_id} is {notification.state}; use redeliver")
        return await self._send(notification)

    async def deliver_all(self) -> list[Transmission]:
        """One attempt for every pending event, in outbox order; failures stay pending."""
        return [await self._send(self._notification(e)) for e in list(self.state.outbox)]

    async def redeliver(self, event_id: str) -> Transmission:
        """Send an event again whatever its state: a duplicate with a new transmission."""
        return await self._send(self._notification(event_id))

    def reorder(self, event_ids: Sequence[str]) -> None:
        """Move these pending events to the front, in this order (order is not guaranteed)."""
        for event_id in event_ids:
            if event_id not in self.state.outbox:
                raise errors.Conflict(f"event {event_id} is not pending")
        rest = [e for e in self.state.outbox if e not in event_ids]
        self.state.outbox[:] = [*event_ids, *rest]

    def drop(self, event_id: str) -> None:
        """Lose a pending event for good (the reconciler has to find the payment)."""
        notification = self._notification(event_id)
        if notification.state != "pending":
            raise errors.Conflict(f"event {event_id} is {notification.state}")
        notification.state = "dropped"
        self.state.outbox.remove(event_id)


# --- app ---------------------------------------------------------------------------------


def _guarded(
    handler: Handler, state: PayPalState, *, bearer: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """Count, delay, inject faults, then authenticate, before the real handler runs."""

    async def endpoint(request: Request) -> Response:
        state.requests += 1
        status = await state.faults.before_request()
        if status is not None:
            return _error(state, status)
        if bearer:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not state.token_valid(value):
                return _error(state, 401)
        try:
            return await handler(request, state)
        except PayPalProblem as problem:
            return _problem(state, problem, request.url.path)

    return endpoint


def create_app(state: PayPalState, *, notifier_client: httpx.AsyncClient | None = None) -> ASGIApp:
    """The simulator as an ASGI app over `state` (which tests inspect and steer).

    Args:
        state: The simulated world, fault knobs included.
        notifier_client: What ``POST /_sim/notifications/deliver`` sends with; a plain
            `httpx.AsyncClient` per call when None (standalone demos).

    Returns:
        A Starlette app serving the PayPal paths, the certificates and ``/_sim/...``.
    """
    routes: list[tuple[str, Handler, str, bool]] = [
        ("/v1/oauth2/token", token, "POST", False),
        ("/v2/checkout/orders", create_order, "POST", True),
        ("/v2/checkout/orders/{id:str}", get_order, "GET", True),
        ("/v2/checkout/orders/{id:str}/capture", capture_order, "POST", True),
        ("/v2/payments/captures/{id:str}", get_capture, "GET", True),
        ("/v2/payments/captures/{id:str}/refund", refund_capture, "POST", True),
        ("/v2/payments/refunds/{id:str}", get_refund, "GET", True),
        ("/v1/notifications/verify-webhook-signature", verify_signature, "POST", True),
        ("/v1/notifications/webhooks-events", list_events, "GET", True),
        ("/v1/notifications/webhooks-events/{id:str}", get_event, "GET", True),
        ("/v1/notifications/webhooks-events/{id:str}/resend", resend_event, "POST", True),
        ("/v1/notifications/certs/{cert_id:str}", get_cert, "GET", False),
    ]

    async def dump(request: Request) -> Response:
        return JSONResponse(state.dump())

    async def approve(request: Request) -> Response:
        try:
            event_id = state.approve(request.path_params["id"])
        except PayPalProblem as problem:
            return _problem(state, problem)
        return JSONResponse({"event_id": event_id})

    async def deliver(request: Request) -> Response:
        if notifier_client is not None:
            sent = await Notifier(state, notifier_client).deliver_all()
        else:
            async with httpx.AsyncClient(timeout=10.0) as client:
                sent = await Notifier(state, client).deliver_all()
        return JSONResponse(
            [{"event_id": t.event_id, "status": t.status, "error": t.error} for t in sent]
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return _error(state, status if status in _FAULTS else 404)

    return Starlette(
        routes=[
            Route("/_sim/state", dump, methods=["GET"]),
            Route("/_sim/orders/{id:str}/approve", approve, methods=["POST"]),
            Route("/_sim/notifications/deliver", deliver, methods=["POST"]),
            *(
                Route(path, _guarded(handler, state, bearer=bearer), methods=[method])
                for path, handler, method, bearer in routes
            ),
        ],
        exception_handlers={HTTPException: not_found},
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator with uvicorn.

    Args:
        argv: Command-line arguments (default: `sys.argv[1:]`).
    """
    parser = argparse.ArgumentParser(description="PayPal REST API simulator")
    _faults.add_arguments(parser, port=8090)
    parser.add_argument("--client-id", default="sim-client-id")
    parser.add_argument("--secret", default="sim-secret")
    parser.add_argument("--webhook-id", default="1JE4291016473214C")
    parser.add_argument("--webhook-url", default="http://127.0.0.1:8000/webhooks/paypal")
    args = parser.parse_args(argv)
    state = PayPalState(
        client_id=args.client_id,
        secret=args.secret,
        webhook_id=args.webhook_id,
        webhook_url=args.webhook_url,
        seed=args.seed,
        faults=_faults.from_arguments(args),
    )
    _faults.serve(create_app(state), args)


if __name__ == "__main__":
    main()
