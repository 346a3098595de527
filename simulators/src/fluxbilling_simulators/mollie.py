"""A Mollie API v2 simulator (ASGI) and a notifier that calls webhooks the way Mollie does.

Modelled, per `shared/vendor-apis/payments.md` §2 and Mollie's public docs:

- ``Authorization: Bearer test_...|live_...``; anything else is 401 with Mollie's error shape
  ``{"status", "title", "detail", "_links": {"documentation"}}`` (``application/hal+json``).
  The key's prefix is the mode: a payment of the other mode is a 404.
- ``POST /v2/payments``: 422 with ``field`` for an invalid body; 201 with an ``open``
  payment and ``_links.checkout.href``. ``Idempotency-Key`` (scoped to the API key): a
  repeat returns the same payment (current state, 201, ``Idempotent-Replayed: true``).
- ``GET /v2/payments/{id}`` with ``embed=refunds,chargebacks`` (``_embedded`` lists, only
  when non-empty); 404 body ``No payment exists with token tr_....``.
- ``GET /v2/payments`` (cursor pages), refunds created, read, listed and canceled
  (``/v2/payments/{id}/refunds[/{id}]``, ``/v2/refunds``), chargebacks read and listed:
  `simulators._mollie_resources`. Any other path or method is Mollie's HAL 404.
- A checkout page at ``_links.checkout.href`` where a person picks the outcome, like
  Mollie's test-mode payment screen (then a 303 to ``redirectUrl``).
- ``GET /_sim/state`` dumps the account; ``POST /_sim/payments/{id}/{action}`` drives it from
  another process (``pay``, ``pending``, ``authorize``, ``fail``, ``expire``, ``cancel``,
  ``refund``, ``chargeback``; JSON ``{"amount_minor": ...}`` for the last two).
- Faults on ``state.faults`` (`simulators._faults.Faults`) for every ``/v2`` request:
  ``latency``, ``fail_rate``, ``fail_next(n, status)`` (Mollie's error shape), slow answers
  that are still processed, ``exists_next`` (409 duplicate on create), ``crash_after_create``
  / ``crash_next_create`` (created, then 503: retry with the same ``Idempotency-Key``).

`MollieNotifier` turns state changes into deliveries: a classic form POST ``id=tr_...``
to the payment's ``webhookUrl`` (``User-Agent: Mollie HTTP client/1.0``) for paid,
authorized, failed, canceled and expired payments and every refund/chargeback change, and,
when configured, a next-gen JSON event signed with ``X-Mollie-Signature`` (one header per
secret) for ``payment.*`` changes. Tests queue, reorder, drop, flush and redeliver them;
only HTTP 200 counts as delivered. Mollie's own retry schedule (10 calls over 26 h) is not
replayed automatically: `redeliver` is the retry.

Unverified choices (not confirmed by Mollie's documentation): the exact 422/409/400
``detail`` texts except "The amount is higher than the maximum" and the unreachable-webhook
text; the 1,000,000 maximum; a reused ``Idempotency-Key`` with a *different* body replays the
first payment; a replay answers the payment's *current* state; test/live separation as 404;
a webhook call on refund *creation* and on chargeback *reversal*; the checkout URL path;
next-gen events only for ``payment.*`` types, ``event_`` ids, and the ``User-Agent`` of
next-gen deliveries; ``_embedded`` omitted when a list is empty; ``_links.checkout`` only
while the payment is ``open``; refund/chargeback ids and settlement amounts are shaped like
the docs' examples but their generation rules are ours; which status moves are allowed
(`_mollie_state._FROM`) beyond Mollie's status diagram.

Run standalone: ``python -m fluxbilling_simulators.mollie --port 8090``.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from fluxbilling import errors
from fluxbilling.billing.gateways.mollie import verify as mollie_verify
from fluxbilling_simulators import _faults
from fluxbilling_simulators import _mollie_resources as resources
from fluxbilling_simulators._mollie_state import Change, MollieState

__all__ = [
    "NEXT_GEN_EVENTS",
    "Delivery",
    "MollieNotifier",
    "MollieState",
    "Notification",
    "create_app",
    "main",
]

NEXT_GEN_EVENTS = frozenset(
    {
        "payment.paid",
        "payment.authorized",
        "payment.failed",
        "payment.canceled",
        "payment.expired",
    }
)
USER_AGENT = "Mollie HTTP client/1.0"


# ---------------------------------------------------------------------------------------
# Notifications


@dataclass(frozen=True, slots=True)
class Notification:
    """One webhook call Mollie would make, ready to send byte for byte.

    Attributes:
        kind: ``classic`` (form ``id=tr_...``) or ``next-gen`` (signed JSON event).
        url: Where it goes.
        body: The exact body.
        headers: The exact headers (``X-Mollie-Signature`` may repeat).
        payment_id: The payment it is about.
        event: The change behind it, e.g. ``payment.paid`` or ``refund.pending``.
    """

    kind: Literal["classic", "next-gen"]
    url: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    payment_id: str
    event: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to deliver a `Notification`: the receiver's status or the error."""

    notification: Notification
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Mollie counts only HTTP 200 as delivered (not 201, 204 or a redirect)."""
        return self.status == 200


class MollieNotifier:
    """Delivers the state's changes as Mollie's webhook calls, under the test's control.

    Args:
        state: The simulated account whose `changes` are drained.
        client: Sends the calls (an ASGI or Mock transport in tests); one is created if None.
        next_gen_url: Where next-gen events go (None: classic webhooks only).
        next_gen_secrets: Signing secrets; one ``X-Mollie-Signature`` header each.
        next_gen_events: The subscribed event types.
        full_payload: Embed the payment as it was at the change (False: "simple").
        timeout: Seconds before a call counts as failed (Mollie: 15).
    """

    def __init__(
        self,
        state: MollieState,
        client: httpx.AsyncClient | None = None,
        *,
        next_gen_url: str | None = None,
        next_gen_secrets: Sequence[str] = (),
        next_gen_events: frozenset[str] = NEXT_GEN_EVENTS,
        full_payload: bool = True,
        timeout: float = 15.0,
    ) -> None:
        self.state = state
        self.client = client or httpx.AsyncClient()
        self.next_gen_url = next_gen_url
        self.next_gen_secrets = list(next_gen_secrets)
        self.next_gen_events = next_gen_events
        self.full_payload = full_payload
        self.timeout = timeout
        self.queue: list[Notification] = []
        self.dropped: list[Notification] = []
        self.deliveries: list[Delivery] = []

    def classic(self, payment_id: str, url: str, event: str = "manual") -> Notification:
        """The classic call for `payment_id` (any id: an unknown one tests forged pings)."""
        return Notification(
            kind="classic",
            url=url,
            body=f"id={payment_id}".encode("ascii"),
            headers=(
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("User-Agent", USER_AGENT),
                ("Accept", "*/*"),
            ),
            payment_id=payment_id,
            event=event,
        )

    def _next_gen(self, change: Change, url: str) -> Notification:
        event: dict[str, Any] = {
            "resource": "event",
            "id": self.state.new_id("event_", 21),
            "type": change.event,
            "entityId": change.payment_id,
            "createdAt": change.created_at,
        }
        if self.full_payload:
            event["_embedded"] = {"entity": change.snapshot}
        event["_links"] = {
            "entity": {
                "href": f"{self.state.public_url}/v2/payments/{change.payment_id}",
                "type": resources.HAL,
            },
            "documentation": {
                "href": "https://docs.mollie.com/reference/webhooks-new",
                "type": "text/html",
            },
        }
        body = json.dumps(event).encode("utf-8")
        signatures = tuple(
            (mollie_verify.SIGNATURE_HEADER, mollie_verify.sign(body, s))
            for s in self.next_gen_secrets
        )
        return Notification(
            kind="next-gen",
            url=url,
            body=body,
            headers=(("Content-Type", "application/json"), ("User-Agent", USER_AGENT), *signatures),
            payment_id=change.payment_id,
            event=change.event,
        )

    def collect(self) -> list[Notification]:
        """Turn the state's new changes into queued notifications; return the new ones."""
        new: list[Notification] = []
        changes, self.state.changes = self.state.changes, []
        for change in changes:
            webhook = self.state.payments[change.payment_id].get("webhookUrl")
            if webhook:
                new.append(self.classic(change.payment_id, webhook, change.event))
            if self.next_gen_url and change.event in self.next_gen_events:
                new.append(self._next_gen(change, self.next_gen_url))
        self.queue.extend(new)
        return new

    async def deliver(self, notification: Notification) -> Delivery:
        """Send one notification now and record the attempt."""
        try:
            response = await self.client.post(
                notification.url,
                content=notification.body,
                headers=list(notification.headers),
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            delivery = Delivery(notification, None, type(exc).__name__)
        else:
            delivery = Delivery(notification, response.status_code)
        self.deliveries.append(delivery)
        return delivery

    def _take(self, indices: Sequence[int]) -> list[Notification]:
        """Remove the queued notifications at `indices` (negative ones count from the end)."""
        size = len(self.queue)
        positions = [i + size if i < 0 else i for i in indices]
        if len(set(positions)) != len(positions) or not all(0 <= i < size for i in positions):
            raise errors.NotFound(f"no such queue positions {list(indices)} (size {size})")
        chosen = [self.queue[i] for i in positions]
        self.queue = [n for i, n in enumerate(self.queue) if i not in set(positions)]
        return chosen

    async def flush(self, order: Sequence[int] | None = None) -> list[Delivery]:
        """Deliver queued notifications, all (FIFO) or those at `order` in that order.

        Args:
            order: Queue positions (after collecting new changes) to deliver, in this
                order; the others stay queued. None delivers the whole queue.

        Returns:
            The attempts, in delivery order.
        """
        self.collect()
        chosen = self._take(range(len(self.queue)) if order is None else order)
        return [await self.deliver(n) for n in chosen]

    def drop(self, *indices: int) -> list[Notification]:
        """Lose queued notifications (all when no position is given), as when Mollie gives
        up; they are kept in `dropped`."""
        self.collect()
        lost = self._take(indices or range(len(self.queue)))
        self.dropped.extend(lost)
        return lost

    async def redeliver(self, which: int = -1) -> Delivery:
        """Send an earlier delivery's notification again, byte for byte (a retry/duplicate)."""
        return await self.deliver(self.deliveries[which].notification)

    async def aclose(self) -> None:
        """Close the client."""
        await self.client.aclose()


# ---------------------------------------------------------------------------------------
# The API


async def create_payment(request: Request, state: MollieState, mode: str, key: str) -> Response:
    """POST /v2/payments."""
    idem = request.headers.get("idempotency-key")
    if idem and (key, idem) in state.idempotency:
        replayed = state.payments[state.idempotency[(key, idem)]]
        return JSONResponse(
            state.render(replayed, resources.base_url(request)),
            status_code=201,
            media_type=resources.HAL,
            headers={"Idempotent-Replayed": "true"},
        )
    body = await resources.read_object(request)
    if isinstance(body, Response):
        return body
    problem = state.validate_create(body)
    if problem is not None:
        return resources.error(422, problem[1], problem[0])
    if state.faults.take_exists():
        return resources.error(409, "A duplicate request was made.")
    payment = state.create_payment(body, mode)
    if idem:
        state.idempotency[(key, idem)] = payment["id"]
    if state.faults.take_crash():
        return resources.error(503, "The service is temporarily unavailable.")
    rendered = state.render(payment, resources.base_url(request))
    return JSONResponse(rendered, status_code=201, media_type=resources.HAL)


async def get_payment(request: Request, state: MollieState, mode: str, key: str) -> Response:
    """GET /v2/payments/{id}?embed=refunds,chargebacks."""
    payment_id = request.path_params["id"]
    payment = state.payment(payment_id, mode)
    if payment is None:
        return resources.no_payment(payment_id)
    rendered = state.render(payment, resources.base_url(request), resources.embeds(request))
    return JSONResponse(rendered, media_type=resources.HAL)


def _guarded(
    handler: resources.Handler, state: MollieState, notifier: MollieNotifier | None
) -> Callable[[Request], Awaitable[Response]]:
    """Count, delay, inject faults, then authenticate, before the real handler runs; what
    the call changed (a refund created or canceled) is delivered after the response."""

    async def endpoint(request: Request) -> Response:
        state.requests += 1
        status = await state.faults.before_request()
        if status is not None:
            return resources.error(status, resources.TITLES.get(status, "Error"))
        authorization = request.headers.get("authorization")
        mode = state.mode_of(authorization)
        if mode is None or authorization is None:
            return resources.error(401, "Missing authentication, or failed to authenticate")
        waiting = len(state.changes)
        response = await handler(request, state, mode, authorization)
        if len(state.changes) > waiting:
            response.background = _flush_later(notifier)
        return response

    return endpoint


async def _unmodelled(request: Request, exc: Exception) -> Response:
    """Any path or method the simulator does not serve: Mollie's 404, never plain text."""
    detail = f"The simulator does not model {request.method} {request.url.path}."
    return resources.error(404, detail)


# ---------------------------------------------------------------------------------------
# Checkout page and simulator controls

_OUTCOMES: dict[str, Callable[[MollieState, str], object]] = {
    "paid": MollieState.pay,
    "authorized": MollieState.authorize,
    "failed": MollieState.fail,
    "canceled": MollieState.cancel,
    "expired": MollieState.expire,
    "open": lambda state, payment_id: None,
}


def _flush_later(notifier: MollieNotifier | None) -> BackgroundTask | None:
    return None if notifier is None else BackgroundTask(notifier.flush)


def _checkout(
    state: MollieState, notifier: MollieNotifier | None
) -> Callable[[Request], Awaitable[Response]]:
    async def checkout(request: Request) -> Response:
        payment_id = "tr_" + request.path_params["token"]
        payment = state.payment(payment_id)
        if payment is None:
            return HTMLResponse("<h1>Payment not found</h1>", status_code=404)
        if request.method == "GET":
            options = "".join(
                f'<label><input type="radio" name="status" value="{s}"> {s}</label><br>'
                for s in _OUTCOMES
            )
            amount = html.escape(f"{payment['amount']['currency']} {payment['amount']['value']}")
            return HTMLResponse(
                f"<h1>Test mode</h1><p>{html.escape(payment['description'])}: {amount}</p>"
                f'<form method="post">{options}<button>Continue</button></form>'
            )
        fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        outcome = _OUTCOMES.get(fields.get("status", ""))
        if outcome is None:
            return HTMLResponse("<h1>Choose a status</h1>", status_code=400)
        with contextlib.suppress(errors.Conflict):  # already final: just redirect
            outcome(state, payment_id)
        return RedirectResponse(
            payment["redirectUrl"], status_code=303, background=_flush_later(notifier)
        )

    return checkout


def _control(
    state: MollieState, notifier: MollieNotifier | None
) -> Callable[[Request], Awaitable[Response]]:
    actions: dict[str, Callable[[str, dict[str, Any]], object]] = {
        "pay": lambda pid, _: state.pay(pid),
        "pending": lambda pid, _: state.mark_pending(pid),
        "authorize": lambda pid, _: state.authorize(pid),
        "fail": lambda pid, _: state.fail(pid),
        "expire": lambda pid, _: state.expire(pid),
        "cancel": lambda pid, _: state.cancel(pid),
        "refund": lambda pid, b: state.refund(pid, b.get("amount_minor")),
        "chargeback": lambda pid, b: state.chargeback(pid, b.get("amount_minor")),
    }

    async def control(request: Request) -> Response:
        action = actions.get(request.path_params["action"])
        if action is None:
            return JSONResponse({"error": "unknown action"}, status_code=404)
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        try:
            result = action(request.path_params["id"], body if isinstance(body, dict) else {})
        except errors.FluxError as exc:
            status = 404 if isinstance(exc, errors.NotFound) else 409
            return JSONResponse({"error": exc.message}, status_code=status)
        return JSONResponse(result, background=_flush_later(notifier))

    return control


def create_app(state: MollieState, notifier: MollieNotifier | None = None) -> ASGIApp:
    """The simulator as an ASGI app over `state` (which tests inspect and steer).

    Args:
        state: The simulated account, fault knobs included.
        notifier: When given, changes made through the API (refunds), the checkout page or
            ``/_sim`` controls are delivered after the response (changes made by calling
            `state` directly are delivered when the test flushes).

    Returns:
        A Starlette app serving ``/v2/...``, the checkout page and ``/_sim/...``.
    """
    payment, refund = "/v2/payments/{id:str}", "/v2/payments/{id:str}/refunds/{item:str}"
    api: list[tuple[str, resources.Handler, list[str]]] = [
        ("/v2/payments", resources.list_payments, ["GET"]),
        ("/v2/payments", create_payment, ["POST"]),
        (payment, get_payment, ["GET"]),
        (payment + "/refunds", resources.list_refunds, ["GET"]),
        (payment + "/refunds", resources.create_refund, ["POST"]),
        (refund, resources.get_refund, ["GET"]),
        (refund, resources.cancel_refund, ["DELETE"]),
        (payment + "/chargebacks", resources.list_chargebacks, ["GET"]),
        (payment + "/chargebacks/{item:str}", resources.get_chargeback, ["GET"]),
        ("/v2/refunds", resources.list_refunds, ["GET"]),
        ("/v2/chargebacks", resources.list_chargebacks, ["GET"]),
    ]

    async def dump(request: Request) -> Response:
        return JSONResponse(state.dump(resources.base_url(request)))

    return Starlette(
        routes=[
            *(Route(path, _guarded(h, state, notifier), methods=m) for path, h, m in api),
            Route(
                "/checkout/select-method/{token:str}",
                _checkout(state, notifier),
                methods=["GET", "POST"],
            ),
            Route("/_sim/state", dump, methods=["GET"]),
            Route(
                "/_sim/payments/{id:str}/{action:str}", _control(state, notifier), methods=["POST"]
            ),
        ],
        exception_handlers={HTTPException: _unmodelled},
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator with uvicorn; changes made via checkout or ``/_sim`` are notified.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description="Mollie API v2 simulator")
    _faults.add_arguments(parser, port=8090)
    parser.add_argument("--api-key", action="append", default=[])
    parser.add_argument("--next-gen-url", default=None)
    parser.add_argument("--next-gen-secret", action="append", default=[])
    parser.add_argument("--reject-private-webhooks", action="store_true")
    args = parser.parse_args(argv)
    state = MollieState(
        api_keys=frozenset(args.api_key),
        faults=_faults.from_arguments(args),
        seed=args.seed,
        reject_private_webhooks=args.reject_private_webhooks,
    )
    notifier = MollieNotifier(
        state, next_gen_url=args.next_gen_url, next_gen_secrets=args.next_gen_secret
    )
    _faults.serve(create_app(state, notifier), args)


if __name__ == "__main__":
    main()
