"""A Pterodactyl Panel API simulator (ASGI), faithful to `shared/vendor-apis/pterodactyl.md`.

Serves the Application API (`/api/application/...`: users, servers, nodes, allocations,
locations, nests/eggs) and the Client API's server list and view, console, usage and power
(`/api/client`, `/api/client/servers/{identifier}[/websocket|resources|power]`, see
`_pterodactyl_client`); `GET /_sim/state` (no auth) dumps the world. Any other route is the
panel's JSON 404 (405 where Laravel's router would find the path with other verbs).
Modelled on the panel source (v1.11.8):

- `Authorization: Bearer <key>`: unknown key 401 `AuthenticationException`; a client key on
  the application API 403 unless its user is a root admin; an application key on the client
  API 403; an application key without the ACL for a resource 403.
- Fractal envelopes: `{"object", "attributes"}`; lists `{"object": "list", "data", "meta":
  {"pagination": {...}}}` (`page`, `per_page`, default 50; links carry only `?page=N`);
  `?include=a,b` under `attributes.relationships`; spatie `filter[field]` (partial, case-
  insensitive, comma = any; unknown filter 400 `InvalidFilterQuery`) and `sort=-id`.
- Errors `{"errors": [{"code", "status", "detail"}]}`, validation entries add `meta:
  {"source_field", "rule"}`; body strings are trimmed and "" becomes null (Laravel middleware).
- Rules and server life cycle: see `_pterodactyl_state` and `_pterodactyl_rules`.

Faults (`state.faults`, see `_faults`): every request first awaits `before_request()`; creates
honour `take_exists()` (422 `unique` on `external_id`, nothing created) and `take_crash()`
(created, then 503). Optional rate limits answer 429 `ThrottleRequestsException` with
`Retry-After` and `X-RateLimit-*` headers.

Run standalone: `python -m fluxbilling_simulators.pterodactyl --port 8082`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from fluxbilling_simulators import _faults
from fluxbilling_simulators import _pterodactyl_client as client_api
from fluxbilling_simulators import _pterodactyl_rules as rules
from fluxbilling_simulators._pterodactyl_application import ROUTES
from fluxbilling_simulators._pterodactyl_rules import Call, Caller, Handler, PanelError
from fluxbilling_simulators._pterodactyl_state import PterodactylState

__all__ = ["PterodactylState", "create_app", "main"]

Endpoint = Callable[[Request], Awaitable[Response]]


_UNEXPECTED = "An unexpected error was encountered while processing this request, please try again."
_FAULTS = {
    400: ("BadRequestHttpException", "Bad Request"),
    401: ("AuthenticationException", "Unauthenticated."),
    403: ("AccessDeniedHttpException", "This action is unauthorized."),
    404: ("NotFoundHttpException", "The requested resource could not be found on the server."),
    409: ("ConflictHttpException", "Conflict"),
    429: ("ThrottleRequestsException", "Too Many Attempts."),
    500: ("Exception", _UNEXPECTED),
    503: ("HttpException", "Service Unavailable"),
}


def _fault(status: int) -> PanelError:
    """An injected failure of HTTP `status`, shaped as the panel answers that status."""
    if status == 504:
        return rules.daemon_unreachable()
    code, detail = _FAULTS.get(status, ("HttpException", HTTPStatus(status).phrase))
    headers = {"Retry-After": "60"} if status == 429 else None
    return PanelError(status, code, detail, headers=headers)


def _error(exc: PanelError) -> Response:
    return JSONResponse({"errors": exc.errors}, status_code=exc.status, headers=exc.headers)


def _clean(value: Any, key: str = "") -> Any:
    """Laravel's TrimStrings + ConvertEmptyStringsToNull (passwords are not trimmed)."""
    if isinstance(value, dict):
        return {k: _clean(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        value = value if "password" in key else value.strip()
        return value or None
    return value


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        detail = f"The JSON data passed in the request appears to be malformed: {exc}"
        raise PanelError(400, "BadRequestHttpException", detail) from exc
    return _clean(body) if isinstance(body, dict) else {}


def _authenticate(state: PterodactylState, request: Request, api: str) -> Caller:
    """Sanctum: who calls (the key's kind and user), or 401."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if token and token == state.application_key:
        user, kind = state.users.get(1), "application"
    elif token and token == state.client_key:
        user, kind = state.users.get(state.client_key_user), "client"
    else:
        user, kind = None, ""
    if user is None:
        raise PanelError(401, "AuthenticationException", "Unauthenticated.")
    return Caller(kind, user, state.key_permissions)


def _throttle(state: PterodactylState, api: str, caller: Caller) -> dict[str, str]:
    """Laravel's ThrottleRequests per user and API: headers, or a 429."""
    limit = state.rate_limit_application if api == "application" else state.rate_limit_client
    if limit is None:
        return {}
    key, now = f"{api}:{caller.user['uuid']}", state.clock()
    start, hits = state.windows.get(key, (now, 0))
    if now - start >= state.rate_limit_period:
        start, hits = now, 0
    headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"}
    if hits >= limit:
        retry = max(1, int(start + state.rate_limit_period - now + 0.999))
        headers |= {"Retry-After": str(retry), "X-RateLimit-Reset": str(int(now) + retry)}
        raise PanelError(429, "ThrottleRequestsException", "Too Many Attempts.", headers=headers)
    state.windows[key] = (start, hits + 1)
    return headers | {"X-RateLimit-Remaining": str(limit - hits - 1)}


def _guard(
    state: PterodactylState, api: str, resource: str | None = None
) -> Callable[[Handler], Endpoint]:
    """Count and inject faults, then the panel's middleware order: 401, 400 (bad JSON), 403
    (not an admin), 429, 403 (key ACL), and only then the handler."""

    def wrap(handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            state.requests += 1
            fault = await state.faults.before_request()
            if fault is not None:
                return _error(_fault(fault))
            try:
                caller = _authenticate(state, request, api)
                body = await _body(request)
                if api == "application" and not caller.user["root_admin"]:
                    detail = "This account does not have permission to access the API."
                    raise PanelError(403, "AccessDeniedHttpException", detail)
                headers = _throttle(state, api, caller)
                if resource is not None:
                    caller.require(resource, write=request.method != "GET")
                response = await handler(Call(request, state, caller, body))
            except PanelError as exc:
                return _error(exc)
            response.headers.update(headers)
            return response

        return endpoint

    return wrap


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405, worded like Laravel's router."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    path = request.url.path.lstrip("/")
    if status == 405 and isinstance(exc, HTTPException):
        allowed = (exc.headers or {}).get("Allow", "")
        detail = f"The {request.method} method is not supported for route {path}. Supported methods: {allowed}."
        return _error(PanelError(405, "MethodNotAllowedHttpException", detail))
    if status == 404:
        return _error(rules.not_found(f"The route {path} could not be found."))
    return _error(_fault(status))


def create_app(state: PterodactylState) -> ASGIApp:
    """The simulator as an ASGI app over `state` (which tests inspect and steer).

    Args:
        state: the simulated panel, fault knobs included.

    Returns:
        A Starlette app serving `/api/application/...`, `/api/client/...` and `/_sim/state`.
    """

    async def dump(request: Request) -> Response:
        return JSONResponse(state.dump())

    application = [
        Route(path, _guard(state, "application", resource)(handler), methods=methods, name=name)
        for path, handler, methods, resource, name in ROUTES
    ]
    return Starlette(
        routes=[
            Route("/_sim/state", dump, methods=["GET"]),
            _faults.control_route(state.faults),
            Mount("/api/application", routes=application),
            Mount("/api/client", routes=client_api.routes(_guard(state, "client"))),
        ],
        exception_handlers={HTTPException: _http_error},
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator with uvicorn.

    Args:
        argv: command-line arguments (default: `sys.argv[1:]`).
    """
    parser = argparse.ArgumentParser(description="Pterodactyl Panel API simulator")
    _faults.add_arguments(parser, port=8082)
    parser.add_argument("--application-key", default="ptla_sim")
    parser.add_argument("--client-key", default="ptlc_sim")
    parser.add_argument("--polls-until-installed", type=int, default=2)
    parser.add_argument("--rate-limit", type=int, default=None, help="application requests/min")
    args = parser.parse_args(argv)
    state = PterodactylState(
        application_key=args.application_key,
        client_key=args.client_key,
        seed=args.seed,
        faults=_faults.from_arguments(args),
        polls_until_installed=args.polls_until_installed,
        rate_limit_application=args.rate_limit,
    )
    _faults.serve(create_app(state), args)


if __name__ == "__main__":
    main()
