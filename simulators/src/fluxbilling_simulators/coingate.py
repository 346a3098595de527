"""A CoinGate API v2 simulator (ASGI) and its callback notifier, faithful to payments.md §4.

Served under both ``/v2`` (the path of CoinGate's curl examples) and ``/api/v2`` (the
server in its OpenAPI file). Modelled:

- ``Authorization: Token <api token>``; anything else answers 401
  ``{"message": "Not found App by Access-Key", "reason": "BadCredentials"}`` (the example of
  CoinGate's errors page); errors always carry ``message`` and ``reason``.
- ``POST /orders`` (form-encoded or JSON) answers **200** with the order (``status: new``,
  ``payment_url``, ``token``: ours when sent, else a generated one); invalid bodies answer
  422 ``{"message": "Order is not valid", "reason": "OrderIsNotValid", "errors": [...]}``.
  ``title`` and ``description`` are optional, as the API reference says (``title`` null
  when absent). ``order_id`` is not unique at CoinGate, nor here.
- ``GET /orders/{id}`` answers the order without ``token``, or 404
  ``{"message": "Order not found", "reason": "OrderNotFound"}``; ``GET /orders`` pages them
  (``per_page`` ≤ 100, ``page``, ``sort`` ``created_at_desc|asc``, ``created_at[from|to]``)
  as ``{"current_page", "per_page", "total_orders", "total_pages", "orders"}``;
  ``POST /orders/{id}/checkout`` picks ``pay_currency`` (``new`` → ``pending``).
- Refunds: ``POST /orders/{id}/refunds`` (``amount`` in the price currency, ``address``,
  ``currency_id``, ``platform_id``, ``reason``, ``email``, ``ledger_account_id`` required)
  completes at once; ``GET /orders/{id}/refunds``, ``GET /orders/{id}/refunds/{refund_id}``
  and ``GET /refunds`` read them (the same paging, ``total_refunds``/``refunds``).
- ``GET /ips-v4`` (no auth) lists the callback source addresses, one per line or split by
  ``separator``; ``GET /ping`` (no auth) answers ``{"ping": "pong", "time": ...}``. Any other
  path or method answers 404 ``{"message": "Page not found", "reason": "PageNotFound"}``.
- Orders move only through the test helpers on `CoinGateState` (``choose_currency``,
  ``underpay``, ``pay``, ``confirm``, ``accept_underpaid``, ``expire``, ``invalidate``,
  ``cancel``, ``refund``), also reachable as ``POST /_sim/orders/{id}/{action}`` (JSON
  arguments) for a simulator run standalone. ``GET /_sim/state`` dumps everything.
- `Notifier` POSTs queued callbacks to each order's ``callback_url`` exactly like CoinGate:
  the API app's format (form by default, Rails bracket notation for ``fees``), the order's
  token, a 20 s timeout, success only on 200/204, the chain ended by 3xx/401/403, otherwise
  retried on CoinGate's schedule, 40 retries at most; every attempt is recorded with whether
  CoinGate would retry. `deliver_next`/`deliver_all`/`deliver_until_settled`, `redeliver`
  (the dashboard's resend), `reorder` and `drop` steer it.

Fault injection on ``state.faults`` (`simulators._faults.Faults`) for API requests: latency,
``fail_rate``, ``fail_next(n, status)`` (any status, in CoinGate's error shape; "timeout"
sleeps ``timeout_delay`` and then processes the request), ``crash_after_create`` /
``crash_next_create(n)`` (the order is created, the answer is 503). ``exists_next`` does not
apply: CoinGate has no "already exists" error for orders.

Unverified choices (CoinGate does not document them): the 401 body when no header is sent;
``reason`` values for 502/503/504; the wording of 422 messages (Rails defaults, after the
"Price can't be blank" example); the status of an underpaid order before it expires
(``pending``); the ``User-Agent`` of callbacks; sandbox payment URLs on
``pay-sandbox.coingate.com``; ending the chain on 3xx other than 301/302; the 400 texts
of list parameters; 422 ``RefundIsNotValid`` for refunds; refunds that complete at once.

Run standalone: ``python -m fluxbilling_simulators.coingate --port 8086 --token T``.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from fluxbilling import errors
from fluxbilling_simulators import _faults
from fluxbilling_simulators._coingate_state import (
    Attempt,
    Callback,
    CoinGateState,
    delivery_outcome,
    encode_callback,
)
from fluxbilling_simulators._outbox import Outbox

__all__ = ["CALLBACK_TIMEOUT", "USER_AGENT", "CoinGateState", "Notifier", "create_app", "main"]

CALLBACK_TIMEOUT = 20.0
USER_AGENT = "CoinGate Payment Callback"
Handler = Callable[[Request, CoinGateState], Awaitable[Response]]
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_REASONS = {
    400: ("Bad request", "BadRequest"),
    401: ("Not found App by Access-Key", "BadCredentials"),
    403: ("Forbidden", "Forbidden"),
    404: ("Page not found", "PageNotFound"),
    422: ("Order is not valid", "OrderIsNotValid"),
    429: ("API request limit is exceeded", "RateLimitException"),
    500: ("Something wrong in CoinGate", "InternalServerError"),
    502: ("Bad gateway", "BadGateway"),
    503: ("Service unavailable", "ServiceUnavailable"),
    504: ("Gateway timeout", "GatewayTimeout"),
}
_ACTIONS = {
    "choose_currency": ("pay_currency",),
    "underpay": ("fraction",),
    "pay": ("overpay",),
    "confirm": (),
    "accept_underpaid": (),
    "expire": (),
    "invalidate": (),
    "cancel": (),
    "refund": ("amount",),
}


def _error(status: int, message: str | None = None, reason: str | None = None) -> Response:
    default_message, default_reason = _REASONS.get(status, ("Error", "Error"))
    body = {"message": message or default_message, "reason": reason or default_reason}
    return JSONResponse(body, status_code=status)


async def _body(request: Request) -> dict[str, str]:
    """The request's fields as text, from JSON or a form (CoinGate takes both)."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(raw, parse_float=Decimal)
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: str(v) for k, v in data.items() if isinstance(v, str | int | Decimal)}
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


async def create_order(request: Request, state: CoinGateState) -> Response:
    """POST /orders."""
    body = await _body(request)
    problems = state.validate_create(body)
    if problems:
        return _unprocessable(problems)
    created = state.create_order(body)
    if state.faults.take_crash():
        return _error(503)
    return JSONResponse(created)


async def get_order(request: Request, state: CoinGateState) -> Response:
    """GET /orders/{id}."""
    order = state.orders.get(int(request.path_params["id"]))
    if order is None:
        return _error(404, "Order not found", "OrderNotFound")
    return JSONResponse(state.public(order))


def _int(text: str | None, default: int, lowest: int, highest: int) -> int | None:
    if text is None:
        return default
    value = int(text) if text.isascii() and text.isdigit() else None
    return value if value is not None and lowest <= value <= highest else None


def _paged(request: Request, items: list[dict[str, Any]], noun: str) -> Response:
    """One page of `items` in CoinGate's list shape (``per_page`` up to 100, ``page``)."""
    per_page = _int(request.query_params.get("per_page"), 100, 1, 100)
    page = _int(request.query_params.get("page"), 1, 1, 1_000_000)
    if per_page is None or page is None:
        return _error(400, "per_page must be 1-100 and page a positive integer")
    start = (page - 1) * per_page
    return JSONResponse(
        {
            "current_page": page,
            "per_page": per_page,
            f"total_{noun}": len(items),
            "total_pages": -(-len(items) // per_page),
            noun: items[start : start + per_page],
        }
    )


async def list_orders(request: Request, state: CoinGateState) -> Response:
    """GET /orders?per_page=&page=&sort=&created_at[from]=&created_at[to]=."""
    query = request.query_params
    sort = query.get("sort", "created_at_desc")
    dates = [query.get("created_at[from]"), query.get("created_at[to]")]
    if sort not in ("created_at_desc", "created_at_asc") or not all(
        d is None or _DATE.fullmatch(d) for d in dates
    ):
        return _error(400, "sort must be created_at_desc or created_at_asc, dates YYYY-MM-DD")
    return _paged(request, state.list_orders(sort, *dates), "orders")


async def checkout(request: Request, state: CoinGateState) -> Response:
    """POST /orders/{id}/checkout: the shopper's currency chosen for them (white label)."""
    body = await _body(request)
    pay_currency = body.get("pay_currency", "").strip()
    if not pay_currency:
        return _unprocessable(["Pay currency can't be blank"])
    try:
        order = state.choose_currency(int(request.path_params["id"]), pay_currency)
    except errors.NotFound:
        return _error(404, "Order not found", "OrderNotFound")
    except errors.UserError as exc:
        return _unprocessable([exc.message])
    return JSONResponse(order)


async def order_refunds(request: Request, state: CoinGateState) -> Response:
    """GET /orders/{id}/refunds."""
    try:
        refunds = state.refunds_of(int(request.path_params["id"]))
    except errors.NotFound:
        return _error(404, "Order not found", "OrderNotFound")
    return _paged(request, refunds, "refunds")


async def all_refunds(request: Request, state: CoinGateState) -> Response:
    """GET /refunds."""
    return _paged(request, state.refunds_of(), "refunds")


async def get_refund(request: Request, state: CoinGateState) -> Response:
    """GET /orders/{order_id}/refunds/{id}."""
    order = state.orders.get(int(request.path_params["id"]))
    if order is None:
        return _error(404, "Order not found", "OrderNotFound")
    refund_id = int(request.path_params["refund_id"])
    found = next((r for r in order["refunds"] if r["id"] == refund_id), None)
    if found is None:
        return _error(404, "Refund not found", "RefundNotFound")
    return JSONResponse(found)


async def create_refund(request: Request, state: CoinGateState) -> Response:
    """POST /orders/{id}/refunds."""
    body = await _body(request)
    problems = state.validate_refund(body)
    if problems:
        return _unprocessable(problems, "Refund is not valid", "RefundIsNotValid")
    try:
        refund = state.request_refund(int(request.path_params["id"]), body)
    except errors.NotFound:
        return _error(404, "Order not found", "OrderNotFound")
    except errors.UserError as exc:
        return _unprocessable([exc.message], "Refund is not valid", "RefundIsNotValid")
    return JSONResponse(refund)


def _unprocessable(
    problems: list[str], message: str = "Order is not valid", reason: str = "OrderIsNotValid"
) -> Response:
    return JSONResponse({"message": message, "reason": reason, "errors": problems}, 422)


def _guarded(handler: Handler, state: CoinGateState) -> Callable[[Request], Awaitable[Response]]:
    """Count, delay, inject faults, then authenticate, before the real handler runs."""

    async def endpoint(request: Request) -> Response:
        state.requests += 1
        status = await state.faults.before_request()
        if status is not None:
            return _error(status)
        if request.headers.get("authorization") != f"Token {state.api_token}":
            return _error(401)
        return await handler(request, state)

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    # A known path with another method is an unknown route to Rails too: 404.
    return _error(404 if status == 405 else status)


def create_app(state: CoinGateState, notifier: Notifier | None = None) -> ASGIApp:
    """The simulator as an ASGI app over `state` (which tests inspect and steer).

    Args:
        state: The simulated world, fault knobs included.
        notifier: When given, ``POST /_sim/callbacks/deliver`` runs one delivery round.

    Returns:
        A Starlette app serving ``/v2/...``, ``/api/v2/...`` and ``/_sim/...``.
    """

    async def ips(request: Request) -> Response:
        separator = request.query_params.get("separator", "\n")
        return PlainTextResponse(separator.join(state.callback_ips))

    async def ping(request: Request) -> Response:
        return JSONResponse({"ping": "pong", "time": state.clock().isoformat()})

    api = [
        Route("/orders", _guarded(create_order, state), methods=["POST"]),
        Route("/orders", _guarded(list_orders, state), methods=["GET"]),
        Route("/orders/{id:int}", _guarded(get_order, state), methods=["GET"]),
        Route("/orders/{id:int}/checkout", _guarded(checkout, state), methods=["POST"]),
        Route("/orders/{id:int}/refunds", _guarded(create_refund, state), methods=["POST"]),
        Route("/orders/{id:int}/refunds", _guarded(order_refunds, state), methods=["GET"]),
        Route(
            "/orders/{id:int}/refunds/{refund_id:int}",
            _guarded(get_refund, state),
            methods=["GET"],
        ),
        Route("/refunds", _guarded(all_refunds, state), methods=["GET"]),
        Route("/ips-v4", ips, methods=["GET"]),
        Route("/ping", ping, methods=["GET"]),
    ]

    async def dump(request: Request) -> Response:
        return JSONResponse(state.dump())

    async def steer(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in _ACTIONS:
            return _error(404)
        try:
            args = json.loads(await request.body() or b"{}")
        except ValueError:
            args = None
        if not isinstance(args, dict):
            return _error(400, "the body must be a JSON object")
        kwargs = {k: str(v) for k, v in args.items() if k in _ACTIONS[action]}
        try:
            order = getattr(state, action)(request.path_params["id"], **kwargs)
        except errors.NotFound as exc:
            return _error(404, exc.message, "OrderNotFound")
        except errors.UserError as exc:
            return _error(409, exc.message, "Conflict")
        return JSONResponse(order)

    async def deliver(request: Request) -> Response:
        if notifier is None:
            return _error(404)
        attempts = await notifier.deliver_all()
        return JSONResponse({"attempts": len(attempts), "queued": len(state.queue)})

    return Starlette(
        routes=[
            Route("/_sim/state", dump, methods=["GET"]),
            Route("/_sim/orders/{id:int}/{action:str}", steer, methods=["POST"]),
            Route("/_sim/callbacks/deliver", deliver, methods=["POST"]),
            Mount("/v2", routes=api),
            Mount("/api/v2", routes=api),
        ],
        exception_handlers={HTTPException: _http_error},
    )


# ---------------------------------------------------------------------------------------
# Callback notifier


def _refused(url: str) -> str | None:
    """Why CoinGate would not send to `url` at all (private network, localhost, TOR)."""
    host = (urlsplit(url).hostname or "").lower()
    if host.endswith(".onion"):
        return "TOR network"
    if host == "localhost" or host.endswith(".localhost"):
        return "private network"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return "private network" if not address.is_global else None


class Notifier(Outbox[int, Callback, Attempt]):
    """POSTs the state's queued callbacks the way CoinGate does; records every attempt.

    Simulated time: a failed callback is re-queued at the back (later callbacks of other
    statuses may overtake it, as they do at CoinGate) with the delay CoinGate would wait.
    Only 200/204 deliver; 3xx/401/403 (and, with ``state.refuse_private_networks``, a
    private or TOR URL) end the chain; anything else is retried on CoinGate's schedule, 40
    retries at most (`delivery_outcome`). The queue mechanics are
    `simulators._outbox.Outbox`'s.

    Args:
        state: Whose `queue`, `callbacks` and `attempts` to use.
        client: The client to POST with; when None, a fresh client per attempt over
            `transport` (the network when None), following no redirects, like CoinGate.
        transport: The transport of those fresh clients (a MockTransport in tests).
        timeout: Seconds to wait for an answer (CoinGate: 20).
    """

    noun = "callback"

    def __init__(
        self,
        state: CoinGateState,
        client: httpx.AsyncClient | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = CALLBACK_TIMEOUT,
    ) -> None:
        super().__init__(client=client, transport=transport, timeout=timeout)
        self.state = state

    @property
    def _items(self) -> Mapping[int, Callback]:
        return self.state.callbacks

    @property
    def _queue(self) -> deque[int]:
        return self.state.queue

    @property
    def _log(self) -> list[Attempt]:
        return self.state.attempts

    async def _try(self, item: Callback, *, manual: bool) -> Attempt:
        refused = _refused(item.url) if self.state.refuse_private_networks else None
        if refused is None:
            body, content_type = encode_callback(item.fields, self.state.callback_format)
            headers = {"Content-Type": content_type, "User-Agent": USER_AGENT}
            status, error = await self._post(item.url, body, headers)
            outcome, retry_in = delivery_outcome(status, item.attempts)
        else:
            status, error, outcome, retry_in = None, refused, "terminated", None
        return Attempt(
            callback_id=item.id,
            order_id=item.order_id,
            order_status=item.status,
            attempt=item.attempts,
            http_status=status,
            error=error,
            outcome=outcome,
            retry_in=retry_in,
            manual=manual,
        )

    def callback(self, callback_id: int) -> Callback:
        """One callback by id.

        Raises:
            errors.NotFound: No such callback.
        """
        return self._item(callback_id)

    async def deliver_until_settled(self, *, max_rounds: int = 50) -> list[Attempt]:
        """Rounds until the queue is empty (each callback delivered, ended or given up)."""
        return await super().deliver_until_settled(max_rounds=max_rounds)

    async def redeliver(self, callback_id: int) -> Attempt:
        """Send a callback again, as the dashboard's manual resend does (never re-queued).

        Raises:
            errors.NotFound: No such callback.
        """
        return await self._redeliver(callback_id)

    def reorder(self, callback_ids: Sequence[int]) -> None:
        """Put the queued callbacks in this order (a permutation of the queued ids).

        Raises:
            errors.Conflict: `callback_ids` is not a permutation of the queue.
        """
        self._reorder(callback_ids)

    def drop(self, callback_id: int) -> Callback:
        """Lose a queued callback: it is never sent (state ``dropped``).

        Raises:
            errors.NotFound: No such callback.
            errors.Conflict: It is not queued.
        """
        return self._drop(callback_id)


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator with uvicorn; ``POST /_sim/callbacks/deliver`` sends callbacks.

    Args:
        argv: Command-line arguments (default: `sys.argv[1:]`).
    """
    parser = argparse.ArgumentParser(description="CoinGate API v2 simulator")
    _faults.add_arguments(parser, port=8086)
    parser.add_argument("--token", default="sim-coingate-token")
    parser.add_argument("--live", action="store_true", help="live payment URLs, not sandbox")
    parser.add_argument("--callback-format", choices=("form", "json"), default="form")
    args = parser.parse_args(argv)
    state = CoinGateState(
        api_token=args.token,
        sandbox=not args.live,
        faults=_faults.from_arguments(args),
        callback_format=args.callback_format,
        seed=args.seed,
    )
    _faults.serve(create_app(state, Notifier(state)), args)


if __name__ == "__main__":
    main()
