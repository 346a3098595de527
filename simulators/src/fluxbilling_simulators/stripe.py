"""A Stripe API simulator (Checkout Sessions, ASGI); its notifier and event builders re-exported.

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
- ``GET /v1/{checkout/sessions,payment_intents,charges,refunds,disputes}/{id}`` with
  ``expand[]`` (dotted paths over ``payment_intent``, ``latest_charge``, ``charge``) and
  ``GET /v1/events/{id}``; 404 ``resource_missing`` (``No such checkout.session: '...'``).
- Lists (`simulators._stripe_lists`): ``GET /v1/checkout/sessions``, ``/v1/payment_intents``,
  ``/v1/charges``, ``/v1/refunds``, ``/v1/disputes``, ``/v1/events``, newest first, with
  ``limit``, ``starting_after``/``ending_before`` and each list's filters (``created``,
  ``payment_intent``, ``charge``, ``status``, an event's ``type``/``types[]``/
  ``delivery_success``); an unknown parameter is a 400.
- ``POST /v1/refunds`` (``charge`` or ``payment_intent``, ``amount`` default the rest,
  ``reason``, ``metadata``): refused like Stripe (``charge_already_refunded``,
  ``amount_too_large``, ``charge_disputed``, no successful charge); it queues
  ``charge.refunded``. ``POST /v1/checkout/sessions/{id}/expire`` expires an open session
  (``checkout.session.expired``), else a 400. Every ``POST`` takes an ``Idempotency-Key``.
- Any other path or method: 404 ``Unrecognized request URL (GET: /v1/...)`` in Stripe's
  error shape, never plain text.
- The checkout page at ``url``: pay by card, with a delayed method, or go back (303 to
  ``success_url`` with ``{CHECKOUT_SESSION_ID}`` replaced, or to ``cancel_url``).
- Test helpers on `StripeState` (``pay``, ``pay_delayed``, ``settle``, ``expire``, ``refund``,
  ``dispute``), also ``POST /_sim/sessions/{id}/{action}`` (JSON arguments); ``GET
  /_sim/state``; ``POST /_sim/events/deliver`` (one notifier round).
- Faults (``state.faults``) on every ``/v1`` request, in Stripe's error shape; ``exists_next``
  is a 409 ``idempotency_key_in_use`` (``Stripe-Should-Retry: true``) on create; a crash after
  create saves the result under the key first (a lost response: the retry gets the session).

`StripeNotifier` (`simulators._stripe_notifier`) POSTs queued events to one endpoint, each
attempt signed afresh; any 2xx delivers, anything else is retried (at the back of the queue)
up to ``max_retries``. The stateless event builders (`checkout_completed`, `charge_refunded`,
`dispute_created`, `signed_headers`, `deliver`) live in `simulators._stripe_events`; every
name in ``__all__`` is importable from here.

Unverified: the 401/409/5xx texts, the refund refusals' texts and codes, the page,
`WEBHOOK_TIMEOUT`, no minimum amount, only ``mode=payment`` with inline ``price_data``, id
lengths beyond the documented prefixes.

Run standalone: ``python -m fluxbilling_simulators.stripe --port 8097 --secret-key sk_test_x
--webhook-url http://127.0.0.1:8000/webhooks/stripe/main --webhook-secret whsec_x``.
"""

from __future__ import annotations

import argparse
import html
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from fluxbilling import errors
from fluxbilling_simulators import _faults, _stripe_lists
from fluxbilling_simulators._stripe_events import (
    API_VERSION,
    Attempt,
    Event,
    charge_refunded,
    checkout_completed,
    deliver,
    dispute_created,
    random_id,
    signed_headers,
)
from fluxbilling_simulators._stripe_events import USER_AGENT as USER_AGENT  # not in __all__
from fluxbilling_simulators._stripe_notifier import (
    TEST_MODE_RETRIES,
    WEBHOOK_TIMEOUT,
    StripeNotifier,
)
from fluxbilling_simulators._stripe_params import validate_refund
from fluxbilling_simulators._stripe_state import (
    Problem,
    Saved,
    StripeState,
    decode_form,
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
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Request-Id": random_id("req_", 14), "Stripe-Version": API_VERSION, **(extra or {})}


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
    return _error(problem.status, problem.message, code=problem.code, param=problem.param)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _mask(key: str) -> str:
    return key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else "***"


def _no_such(state: StripeState, mode: str, kind: str, param: str, object_id: str) -> Problem:
    message = f"No such {kind}: '{object_id}'"
    if state.lookup(object_id) is not None:
        other = "live" if mode == "test" else "test"
        message += f"; a similar object exists in {other} mode, but a {mode} mode key was used"
        message += " to make this request."
    return Problem(param, message, "resource_missing", status=404)


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


FormHandler = Callable[[Request, StripeState, str, dict[str, Any]], dict[str, Any] | Problem]


def _post(handler: FormHandler, *, creates: bool) -> Handler:
    """A ``POST`` over its decoded form, with ``Idempotency-Key`` (per secret key): a repeat
    answers the saved first 200; other parameters under the same key are a 400. On `creates`
    the ``exists_next`` and crash-after-create faults apply."""

    async def post(request: Request, state: StripeState, mode: str, key: str) -> Response:
        idem = request.headers.get("idempotency-key")
        try:
            params = decode_form(await request.body())
        except errors.UserError as exc:
            return _error(400, exc.message)
        saved = state.idempotency.get((key, idem)) if idem else None
        if saved is not None and idem:
            return _replay(saved, request.url.path, params, idem)
        if creates and state.faults.take_exists():
            return _error(409, code="idempotency_key_in_use", extra={"Stripe-Should-Retry": "true"})
        body = handler(request, state, mode, params)
        if isinstance(body, Problem):
            return _problem(body)
        if idem:
            state.idempotency[(key, idem)] = Saved(request.url.path, params, 200, body)
        if creates and state.faults.take_crash():
            return _error(503)
        return _json(body, 200, {"Idempotency-Key": idem} if idem else None)

    return post


def create_session(
    request: Request, state: StripeState, mode: str, params: dict[str, Any]
) -> dict[str, Any] | Problem:
    """POST /v1/checkout/sessions."""
    checked = state.validate_create(params)
    if isinstance(checked, Problem):
        return checked
    session = state.create_session(params, checked, mode)
    return state.render(session, _base(request), params.get("expand") or [])


def expire_session(
    request: Request, state: StripeState, mode: str, params: dict[str, Any]
) -> dict[str, Any] | Problem:
    """POST /v1/checkout/sessions/{id}/expire."""
    session_id = request.path_params["id"]
    problem = _unknown_params(params, {"expand"}) or StripeState.validate_expand(
        params.get("expand")
    )
    if problem is not None:
        return problem
    if state.lookup(session_id, mode) is None or not session_id.startswith("cs_"):
        return _no_such(state, mode, "checkout.session", "session", session_id)
    expired = state.expire_open(session_id)
    if isinstance(expired, Problem):
        return expired
    return state.render(state.sessions[session_id], _base(request), params.get("expand") or [])


def create_refund(
    request: Request, state: StripeState, mode: str, params: dict[str, Any]
) -> dict[str, Any] | Problem:
    """POST /v1/refunds (by ``charge`` or ``payment_intent``; ``amount`` defaults to the rest)."""
    problem = validate_refund(params)
    if problem is not None:
        return problem
    refund = state.create_refund(params, mode)
    if isinstance(refund, Problem):
        return refund
    return state.render(refund, _base(request), params.get("expand") or [])


def _unknown_params(params: dict[str, Any], known: set[str]) -> Problem | None:
    unknown = sorted(set(params) - known)
    if unknown:
        return Problem(unknown[0], f"Received unknown parameter: {unknown[0]}", None)
    return None


def _fetch(kind: str, param: str, prefix: str) -> Handler:
    """``GET /v1/<objects>/{id}`` with ``expand[]`` for objects of `kind` (ids `prefix`...)."""

    async def fetch(request: Request, state: StripeState, mode: str, key: str) -> Response:
        object_id = request.path_params["id"]
        found = state.lookup(object_id, mode) if object_id.startswith(prefix) else None
        if found is None:
            return _problem(_no_such(state, mode, kind, param, object_id))
        expand = _expand(request)
        if isinstance(expand, Problem):
            return _problem(expand)
        return _json(state.render(found, _base(request), expand))

    return fetch


async def fetch_event(request: Request, state: StripeState, mode: str, key: str) -> Response:
    """GET /v1/events/{id}."""
    event = state.events.get(request.path_params["id"])
    if event is None or event.livemode != (mode == "live"):
        message = f"No such event: '{request.path_params['id']}'"
        return _error(404, message, code="resource_missing", param="id")
    return _json(state.render(state.event_view(event)))


def _list(
    table: Callable[[StripeState], Iterable[dict[str, Any]]],
    url: str,
    kind: str,
    filters: Sequence[_stripe_lists.Filter],
) -> Handler:
    """``GET /v1/<objects>``: a page of `table`'s objects of the key's mode, newest first."""

    async def listing(request: Request, state: StripeState, mode: str, key: str) -> Response:
        try:
            query = decode_form(request.url.query.encode("utf-8"))
        except errors.UserError as exc:
            return _error(400, exc.message)
        objects = [o for o in reversed(list(table(state))) if o["livemode"] == (mode == "live")]
        found = _stripe_lists.page(
            objects,
            query,
            url=url,
            kind=kind,
            filters=filters,
            render=lambda obj: state.render(obj, _base(request)),
        )
        return _problem(found) if isinstance(found, Problem) else _json(found)

    return listing


_CREATED = _stripe_lists.created
_LISTS: list[tuple[str, Handler]] = [
    (
        "/v1/checkout/sessions",
        _list(
            lambda s: s.sessions.values(),
            "/v1/checkout/sessions",
            "checkout.session",
            [_stripe_lists.equal(p) for p in ("payment_intent", "status", "customer")] + [_CREATED],
        ),
    ),
    (
        "/v1/payment_intents",
        _list(
            lambda s: s.intents.values(),
            "/v1/payment_intents",
            "payment_intent",
            [_stripe_lists.equal("customer"), _CREATED],
        ),
    ),
    (
        "/v1/charges",
        _list(
            lambda s: s.charges.values(),
            "/v1/charges",
            "charge",
            [_stripe_lists.equal(p) for p in ("payment_intent", "customer")] + [_CREATED],
        ),
    ),
    (
        "/v1/refunds",
        _list(
            lambda s: s.refunds.values(),
            "/v1/refunds",
            "refund",
            [_stripe_lists.equal(p) for p in ("charge", "payment_intent")] + [_CREATED],
        ),
    ),
    (
        "/v1/disputes",
        _list(
            lambda s: s.disputes.values(),
            "/v1/disputes",
            "dispute",
            [_stripe_lists.equal(p) for p in ("charge", "payment_intent")] + [_CREATED],
        ),
    ),
    (
        "/v1/events",
        _list(
            lambda s: (s.event_view(e) for e in s.events.values()),
            "/v1/events",
            "event",
            [
                _stripe_lists.event_type,
                _stripe_lists.event_types,
                _stripe_lists.delivery_success,
                _CREATED,
            ],
        ),
    ),
]


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
        ("/v1/checkout/sessions", _post(create_session, creates=True), "POST"),
        ("/v1/checkout/sessions/{id:str}", _fetch("checkout.session", "session", "cs_"), "GET"),
        ("/v1/checkout/sessions/{id:str}/expire", _post(expire_session, creates=False), "POST"),
        ("/v1/payment_intents/{id:str}", _fetch("payment_intent", "intent", "pi_"), "GET"),
        ("/v1/charges/{id:str}", _fetch("charge", "charge", "ch_"), "GET"),
        ("/v1/refunds", _post(create_refund, creates=True), "POST"),
        ("/v1/refunds/{id:str}", _fetch("refund", "refund", "re_"), "GET"),
        ("/v1/disputes/{id:str}", _fetch("dispute", "dispute", "dp_"), "GET"),
        ("/v1/events/{id:str}", fetch_event, "GET"),
        *((path, handler, "GET") for path, handler in _LISTS),
    ]

    async def dump(request: Request) -> Response:
        return JSONResponse(state.dump(_base(request)))

    async def unknown(request: Request) -> Response:
        return _error(
            404,
            f"Unrecognized request URL ({request.method}: {request.url.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )

    return Starlette(
        routes=[
            *(Route(path, _guarded(h, state), methods=[m]) for path, h, m in api),
            Route("/c/pay/{id:str}", _checkout(state, notifier), methods=["GET", "POST"]),
            Route("/_sim/state", dump, methods=["GET"]),
            Route(
                "/_sim/sessions/{id:str}/{action:str}", _control(state, notifier), methods=["POST"]
            ),
            Route("/_sim/events/deliver", _deliver(notifier), methods=["POST"]),
            # Last: any other path or method (a known path with another method included).
            Route("/{rest:path}", unknown, methods=_METHODS),
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
