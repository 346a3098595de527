"""Mollie's lists, refunds and chargebacks endpoints, and the HAL error shape they share.

Served by `simulators.mollie`, which authenticates and injects faults first; every handler
takes ``(request, state, mode, api_key)``. Per Mollie's API reference (v2):

- Lists (``GET /v2/payments``, ``/v2/refunds``, ``/v2/chargebacks`` and a payment's
  ``/refunds`` and ``/chargebacks``) are cursor pages, newest first: ``from`` (an id,
  included) and ``limit`` (1-250); ``{"count", "_embedded": {name: [...]}, "_links":
  {"self", "previous", "next", "documentation"}}`` with ``previous``/``next`` null at the
  ends. ``GET /v2/payments`` takes ``embed=refunds,chargebacks`` like a single payment.
- ``POST /v2/payments/{id}/refunds`` (``amount``, ``description`` up to 140 characters,
  ``metadata``): 201 with a ``pending`` refund; ``Idempotency-Key`` replays it.
  ``GET``/``DELETE`` ``/v2/payments/{id}/refunds/{refundId}``: the refund, or 204 when a
  ``queued``/``pending`` one is canceled. ``GET /v2/payments/{id}/chargebacks/{chbId}``.
- Errors are ``{"status", "title", "detail", "field"?, "_links": {"documentation"}}`` with
  ``application/hal+json``; a path or method the simulator does not serve is such a 404.

Unverified choices: the default ``limit`` (50, as Mollie's current reference says), the
400 texts for a bad ``limit``/``from``, the 404 texts for refunds and chargebacks, the 422
texts for refunding an unpaid payment, too much or in another currency, and for canceling
a refund that is already processing; a refund's ``documentation`` link is left out.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fluxbilling import errors
from fluxbilling.billing.gateways.mollie import amounts as mollie_amounts
from fluxbilling_simulators._mollie_state import MollieState

__all__ = [
    "HAL",
    "TITLES",
    "base_url",
    "cancel_refund",
    "create_refund",
    "embeds",
    "error",
    "get_chargeback",
    "get_refund",
    "list_chargebacks",
    "list_payments",
    "list_refunds",
    "no_payment",
    "read_object",
]

HAL = "application/hal+json"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
DEFAULT_LIMIT = 50
Handler = Callable[[Request, MollieState, str, str], Awaitable[Response]]
MAX_LIMIT = 250
_DOCS = "https://docs.mollie.com/reference/v2"


def error(status: int, detail: str, field: str | None = None) -> JSONResponse:
    """Mollie's error body for `status` (``field`` names the offending parameter)."""
    doc = "authentication" if status == 401 else "handling-errors"
    body: dict[str, Any] = {
        "status": status,
        "title": TITLES.get(status, "Error"),
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    body["_links"] = {
        "documentation": {"href": f"https://docs.mollie.com/overview/{doc}", "type": "text/html"}
    }
    return JSONResponse(body, status_code=status, media_type=HAL)


def base_url(request: Request) -> str:
    """The origin the caller used, for links it can follow."""
    return str(request.base_url).rstrip("/")


def _hal(body: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, media_type=HAL)


def _limit(raw: str | None) -> int | None:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        return None
    return limit if 1 <= limit <= MAX_LIMIT else None


def _page(
    request: Request,
    items: list[dict[str, Any]],
    name: str,
    doc: str,
    render: Callable[[dict[str, Any]], dict[str, Any]],
) -> Response:
    """One cursor page of `items` (newest first), with Mollie's ``_links``."""
    limit = _limit(request.query_params.get("limit"))
    if limit is None:
        return error(400, f"The limit must be a number between 1 and {MAX_LIMIT}.", "limit")
    ids = [item["id"] for item in items]
    cursor = request.query_params.get("from")
    if cursor is not None and cursor not in ids:
        return error(400, f"The 'from' cursor {cursor} does not exist in this list.", "from")
    start = 0 if cursor is None else ids.index(cursor)
    chosen = items[start : start + limit]
    path = f"{base_url(request)}{request.url.path}"
    kept = {k: v for k, v in request.query_params.items() if k not in ("from", "limit")}

    def link(first: int | None) -> dict[str, str] | None:
        if first is None:
            return None
        query = {**kept, **({"from": ids[first]} if first else {}), "limit": str(limit)}
        return {"href": f"{path}?{urlencode(query)}", "type": HAL}

    more = start + limit < len(items)
    self_query = urlencode(request.query_params.multi_items())
    return _hal(
        {
            "count": len(chosen),
            "_embedded": {name: [render(item) for item in chosen]},
            "_links": {
                "self": {"href": f"{path}?{self_query}" if self_query else path, "type": HAL},
                "previous": link(max(start - limit, 0) if start else None),
                "next": link(start + limit if more else None),
                "documentation": {"href": f"{_DOCS}/{doc}", "type": "text/html"},
            },
        }
    )


def embeds(request: Request) -> set[str]:
    """The ``embed`` query parameter's names."""
    return {e.strip() for e in request.query_params.get("embed", "").split(",") if e.strip()}


def no_payment(payment_id: str) -> Response:
    """Mollie's 404 for a payment id unknown to this key's account and mode."""
    return error(404, f"No payment exists with token {payment_id}.")


async def list_payments(request: Request, state: MollieState, mode: str, key: str) -> Response:
    """GET /v2/payments?from=&limit=&embed=."""
    base, embed = base_url(request), embeds(request)
    return _page(
        request,
        state.listing("payments", mode),
        "payments",
        "payments-api/list-payments",
        lambda payment: state.render(payment, base, embed),
    )


def _sub_list(name: str) -> Handler:
    async def handler(request: Request, state: MollieState, mode: str, key: str) -> Response:
        payment_id = request.path_params.get("id")
        if payment_id is not None and state.payment(payment_id, mode) is None:
            return no_payment(payment_id)
        base = base_url(request)
        return _page(
            request,
            state.listing(name, mode, payment_id),
            name,
            f"{name}-api/list-{name}",
            lambda item: state.render_sub(item, base),
        )

    handler.__doc__ = f"GET /v2/{name} and /v2/payments/{{id}}/{name}."
    return handler


list_refunds = _sub_list("refunds")
list_chargebacks = _sub_list("chargebacks")


async def read_object(request: Request) -> dict[str, Any] | Response:
    """The JSON object body, or Mollie's 400 when it is not one."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        return error(400, "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return error(400, "The request body must be a JSON object.")
    return body


async def create_refund(request: Request, state: MollieState, mode: str, key: str) -> Response:
    """POST /v2/payments/{id}/refunds."""
    payment_id = request.path_params["id"]
    payment = state.payment(payment_id, mode)
    if payment is None:
        return no_payment(payment_id)
    base = base_url(request)
    idem = request.headers.get("idempotency-key")
    earlier = state.refund_keys.get((key, idem)) if idem else None
    replayed = None if earlier is None else state.find("refunds", payment_id, earlier)
    if replayed is not None:
        headers = {"Idempotent-Replayed": "true"}
        return JSONResponse(
            state.render_sub(replayed, base), status_code=201, media_type=HAL, headers=headers
        )
    body = await read_object(request)
    if isinstance(body, Response):
        return body
    problem = state.validate_refund(payment, body)
    if problem is not None:
        return error(422, problem[1], problem[0])
    amount = body["amount"]
    try:
        refund = state.refund(
            payment_id,
            mollie_amounts.to_minor(amount["value"], amount["currency"]),
            description=body.get("description") or "",
            metadata=body.get("metadata"),
        )
    except errors.Conflict:
        return error(422, "The amount is higher than the amount that can be refunded.", "amount")
    if idem:
        state.refund_keys[(key, idem)] = refund["id"]
    return _hal(state.render_sub(refund, base), 201)


async def cancel_refund(request: Request, state: MollieState, mode: str, key: str) -> Response:
    """DELETE /v2/payments/{id}/refunds/{item}: 204, only while queued or pending."""
    payment_id, refund_id = request.path_params["id"], request.path_params["item"]
    if state.payment(payment_id, mode) is None:
        return no_payment(payment_id)
    try:
        state.cancel_refund(payment_id, refund_id)
    except errors.NotFound:
        return error(404, f"No refund exists with token {refund_id}.")
    except errors.Conflict:
        return error(422, "The refund is already being processed and cannot be canceled.")
    return Response(status_code=204)


def _sub_getter(name: str) -> Handler:
    noun = name.removesuffix("s")

    async def handler(request: Request, state: MollieState, mode: str, key: str) -> Response:
        payment_id, item_id = request.path_params["id"], request.path_params["item"]
        if state.payment(payment_id, mode) is None:
            return no_payment(payment_id)
        found = state.find(name, payment_id, item_id)
        if found is None:
            return error(404, f"No {noun} exists with token {item_id}.")
        return _hal(state.render_sub(found, base_url(request)))

    handler.__doc__ = f"GET /v2/payments/{{id}}/{name}/{{item}}."
    return handler


get_refund = _sub_getter("refunds")
get_chargeback = _sub_getter("chargebacks")
