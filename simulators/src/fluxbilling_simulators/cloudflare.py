"""A Cloudflare API v4 simulator (zones and DNS records, ASGI), faithful to
`shared/vendor-apis/cloudflare.md` and the 2024-08-06 OpenAPI subset beside it.

Mounted at `/client/v4`; `GET /_sim/state` (no auth) dumps the state and `POST /_sim/faults`
steers the fault knobs. Modelled:

- Cloudflare's envelope on every answer: `success`, `errors` and `messages` (lists of
  `{"code", "message"}`), `result`, and `result_info` (`page`, `per_page`, `count`,
  `total_count`, `total_pages`) on lists. Creates answer 200, not 201.
- API-token auth: no `Authorization` header is 400/9106; one that is not `Bearer <token>` is
  400/6003 with the `error_chain` 6111; an unknown token is 403/9109 "Invalid access token".
  `GET /user/tokens/verify` answers `{"status": "active"}` for the token.
- `GET /zones` with `name` (exact, or `contains:`, `starts_with:`, `ends_with:`, `equal:`,
  `not_equal:`), `status`, `account.id`, `account.name`, `match`, `order`/`direction`, `page`
  and `per_page` (5-50, default 20); `GET /zones/{id}`. Zones are created by the test
  (`state.add_zone`), as an operator would in the dashboard.
- `GET /zones/{id}/dns_records` with `type`, `name` and `content` (plain = exact, and the
  `.exact`/`.contains`/`.startswith`/`.endswith` forms), `proxied`, `comment.*`, `search`,
  `match`, `order`/`direction`, `page` and `per_page` (default 100); `POST` (create), `GET`,
  `PUT` (the whole record), `PATCH` (the given fields) and `DELETE` (`{"id"}`) of one record.
- Input rules: a known type, a name inside the zone (`@` is the apex; a relative name gets
  the zone appended; stored lower-case without the trailing dot), content (an address of
  the right family for A/AAAA, a host name for CNAME/NS/MX/PTR), TTL 1 or 60-86400,
  `proxied` only for A/AAAA/CNAME. Refusals are 400 with codes in the 9000s (the numbers are
  our model; the vendor documents none); an invalid JSON body is 400/9207.
- Conflicts, as reported in practice: an identical record (type, name, content) is
  400/81058; a CNAME beside other records of its name 400/81053; a record beside a CNAME
  400/81054. Several PTR (or A) records of one name with different contents are allowed, as
  on Cloudflare.
- Rate limit: `state.rate_limit` authenticated requests per `state.rate_window` seconds
  (1,200 per 5 minutes); every answer carries `Ratelimit` (`"default";r=<remaining>;t=<s>`)
  and `Ratelimit-Policy` (`"burst";q=<quota>;w=<window>`); past the limit, 429/971 with
  `retry-after` (the seconds until a slot frees).
- Unknown ids: a malformed zone id is 400/7003 ("perhaps your object identifier is
  invalid?"), an unknown zone 404/1001 "Invalid zone identifier", an unknown record
  404/81044 "Record does not exist."; an unknown path 404/7003 "No route for the URI", a
  wrong method 405/7001.

Fault injection on `state.faults` (`fluxbilling_simulators._faults.Faults`): `latency`,
`fail_rate`, `fail_next(n, status)` (any status, in the envelope; a 429 carries
`retry-after`), `fail_always`, `exists_next(n)` (a create answers 400/81057 "Record already
exists." without creating), `crash_after_create` / `crash_next_create(n)` (the record is
created, then the answer is a 503), `crash_next_action(n)` (an update or delete is done, then
the answer is a 503).

Run standalone: `python -m fluxbilling_simulators.cloudflare --port 8087 --token T --zone
2.0.192.in-addr.arpa`.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from fluxbilling_simulators import _faults
from fluxbilling_simulators._cloudflare_state import CloudflareError, CloudflareState

__all__ = ["CloudflareError", "CloudflareState", "create_app", "main"]

Handler = Callable[[Request, CloudflareState], Awaitable[Response]]
_FAULT_CODES = {429: 971, 500: 10001, 502: 10002, 503: 10003, 504: 10004}
_FAULT_MESSAGES = {
    401: "Authentication error",
    403: "Authentication error",
    404: "No route for the URI",
    409: "Conflict",
    429: "Please wait and consider throttling your request speed",
}


def _envelope(result: Any, result_info: dict[str, int] | None = None) -> Response:
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return JSONResponse(body)


def _failure(
    status: int,
    code: int,
    message: str,
    *,
    chain: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if chain:
        error["error_chain"] = chain
    return JSONResponse(
        {"success": False, "errors": [error], "messages": [], "result": None},
        status_code=status,
        headers=headers,
    )


def _refusal(exc: CloudflareError) -> Response:
    return _failure(exc.status, exc.code, exc.message)


def _fault(status: int) -> Response:
    code = _FAULT_CODES.get(status, 10000 if status < 500 else 10001)
    message = _FAULT_MESSAGES.get(
        status, "Internal server error" if status >= 500 else "Bad request"
    )
    headers = {"retry-after": "1"} if status == 429 else None
    return _failure(status, code, message, headers=headers)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise CloudflareError(400, 1004, f"Invalid '{name}' value: {raw!r}") from None
    if not low <= value <= high:
        raise CloudflareError(400, 1004, f"'{name}' must be between {low} and {high}")
    return value


def _page(
    request: Request, items: list[dict[str, Any]], *, per_page_default: int, low: int, high: int
) -> Response:
    per_page = _int_param(request, "per_page", per_page_default, low, high)
    page = _int_param(request, "page", 1, 1, 10**9)
    chunk = items[(page - 1) * per_page : page * per_page]
    return _envelope(
        chunk,
        {
            "page": page,
            "per_page": per_page,
            "count": len(chunk),
            "total_count": len(items),
            "total_pages": -(-len(items) // per_page),
        },
    )


def _operator_match(value: str, wanted: str) -> bool:
    """A zone filter value: plain (exact) or `contains:`, `starts_with:`, `ends_with:`, ..."""
    op, sep, operand = wanted.partition(":")
    if sep and op in ("contains", "starts_with", "ends_with", "equal", "not_equal"):
        operand = operand.lower()
        return {
            "contains": operand in value,
            "starts_with": value.startswith(operand),
            "ends_with": value.endswith(operand),
            "equal": value == operand,
            "not_equal": value != operand,
        }[op]
    return value == wanted.lower()


def _combine(checks: list[bool], match: str) -> bool:
    if not checks:
        return True
    return any(checks) if match == "any" else all(checks)


def _match_mode(request: Request) -> str:
    match = request.query_params.get("match", "all")
    if match not in ("all", "any"):
        raise CloudflareError(400, 1004, "'match' must be 'all' or 'any'")
    return match


def _ordered(
    request: Request, items: list[dict[str, Any]], fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    order = request.query_params.get("order")
    direction = request.query_params.get("direction", "asc")
    if direction not in ("asc", "desc"):
        raise CloudflareError(400, 1004, "'direction' must be 'asc' or 'desc'")
    if order is None:
        return items
    if order not in fields:
        raise CloudflareError(400, 1004, f"'order' must be one of {', '.join(fields)}")

    def key(item: dict[str, Any]) -> str:
        value: Any = item
        for part in order.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return str(value)

    return sorted(items, key=key, reverse=direction == "desc")


async def list_zones(request: Request, state: CloudflareState) -> Response:
    """GET /zones."""
    match = _match_mode(request)
    params = request.query_params
    zones = []
    for zone in state.zones.values():
        checks = []
        if "name" in params:
            checks.append(_operator_match(zone["name"], params["name"]))
        if "status" in params:
            checks.append(zone["status"] == params["status"])
        if "account.id" in params:
            checks.append(zone["account"]["id"] == params["account.id"])
        if "account.name" in params:
            checks.append(_operator_match(zone["account"]["name"].lower(), params["account.name"]))
        if _combine(checks, match):
            zones.append(zone)
    zones = _ordered(request, zones, ("name", "status", "account.id", "account.name"))
    return _page(request, zones, per_page_default=20, low=5, high=50)


async def get_zone(request: Request, state: CloudflareState) -> Response:
    """GET /zones/{zone_id}."""
    return _envelope(state.zone(request.path_params["zone_id"]))


def _text_checks(record: dict[str, Any], field: str, params: Any) -> list[bool]:
    value = str(record.get(field) or "").lower()
    checks = []
    for suffix, test in (
        ("", lambda v, w: v == w),
        (".exact", lambda v, w: v == w),
        (".contains", lambda v, w: w in v),
        (".startswith", lambda v, w: v.startswith(w)),
        (".endswith", lambda v, w: v.endswith(w)),
    ):
        wanted = params.get(field + suffix)
        if wanted is not None:
            wanted = wanted.lower()
            if field in ("name", "content"):
                wanted = wanted.rstrip(".") if suffix in ("", ".exact", ".endswith") else wanted
            checks.append(test(value, wanted))
    return checks


def _record_checks(record: dict[str, Any], params: Any) -> list[bool]:
    checks = _text_checks(record, "name", params) + _text_checks(record, "content", params)
    checks += _text_checks(record, "comment", params)
    if "type" in params:
        checks.append(record["type"] == params["type"].upper())
    if "proxied" in params:
        checks.append(str(record["proxied"]).lower() == params["proxied"].lower())
    if "comment.present" in params:
        checks.append(bool(record.get("comment")))
    if "comment.absent" in params:
        checks.append(not record.get("comment"))
    if "search" in params:
        needle = params["search"].lower()
        checks.append(needle in record["name"] or needle in record["content"].lower())
    return checks


async def list_records(request: Request, state: CloudflareState) -> Response:
    """GET /zones/{zone_id}/dns_records."""
    zone_id = request.path_params["zone_id"]
    state.zone(zone_id)
    match = _match_mode(request)
    records = [
        r
        for r in state.records[zone_id].values()
        if _combine(_record_checks(r, request.query_params), match)
    ]
    records = _ordered(request, records, ("type", "name", "content", "ttl", "proxied"))
    return _page(request, records, per_page_default=100, low=1, high=5_000_000)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise CloudflareError(400, 9207, "Request body is invalid.")
    return body


async def create_record(request: Request, state: CloudflareState) -> Response:
    """POST /zones/{zone_id}/dns_records (200 with the record, as Cloudflare answers)."""
    zone_id = request.path_params["zone_id"]
    state.zone(zone_id)
    body = await _json_body(request)
    if state.faults.take_exists():
        return _failure(400, 81057, "Record already exists.")
    record = state.create_record(zone_id, body)
    if state.faults.take_crash():
        return _fault(503)
    return _envelope(record)


async def get_record(request: Request, state: CloudflareState) -> Response:
    """GET /zones/{zone_id}/dns_records/{id}."""
    return _envelope(state.record(request.path_params["zone_id"], request.path_params["id"]))


async def change_record(request: Request, state: CloudflareState) -> Response:
    """PUT (the whole record), PATCH (given fields) or DELETE one record."""
    zone_id, record_id = request.path_params["zone_id"], request.path_params["id"]
    if request.method == "DELETE":
        result = state.delete_record(zone_id, record_id)
    else:
        state.record(zone_id, record_id)
        body = await _json_body(request)
        result = state.replace_record(zone_id, record_id, body, partial=request.method == "PATCH")
    if state.faults.take_action_crash():
        return _fault(503)
    return _envelope(result)


async def verify_token(request: Request, state: CloudflareState) -> Response:
    """GET /user/tokens/verify."""
    return _envelope(
        {"id": "0" * 31 + "2", "status": "active", "not_before": None, "expires_on": None},
        None,
    )


def _guarded(handler: Handler, state: CloudflareState) -> Callable[[Request], Awaitable[Response]]:
    """Count, delay, inject faults, then authenticate, before the real handler runs."""

    async def endpoint(request: Request) -> Response:
        state.requests += 1
        status = await state.faults.before_request()
        if status is not None:
            return _fault(status)
        header = request.headers.get("authorization")
        if header is None:
            return _failure(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token.strip():
            return _failure(
                400,
                6003,
                "Invalid request headers",
                chain=[{"code": 6111, "message": "Invalid format for Authorization header"}],
            )
        if token.strip() != state.token:
            return _failure(403, 9109, "Invalid access token")
        allowed, remaining, reset = state.take_rate()
        if not allowed:
            response = _fault(429)
            response.headers["retry-after"] = str(reset)
        else:
            try:
                response = await handler(request, state)
            except CloudflareError as exc:
                response = _refusal(exc)
        response.headers["ratelimit"] = f'"default";r={remaining};t={reset}'
        response.headers["ratelimit-policy"] = (
            f'"burst";q={state.rate_limit};w={int(state.rate_window)}'
        )
        return response

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return _failure(404, 7003, "No route for the URI")
    if status == 405:
        return _failure(405, 7001, "Method not allowed")
    return _failure(status, 10001 if status >= 500 else 10000, str(exc))


def create_app(state: CloudflareState) -> ASGIApp:
    """The simulator as an ASGI app over `state` (which tests inspect and steer).

    Args:
        state: the simulated account, fault knobs included.

    Returns:
        A Starlette app serving `/client/v4/...`, `GET /_sim/state` and `POST /_sim/faults`.
    """
    records = "/zones/{zone_id}/dns_records"
    routes: list[tuple[str, Handler, list[str]]] = [
        ("/user/tokens/verify", verify_token, ["GET"]),
        ("/zones", list_zones, ["GET"]),
        ("/zones/{zone_id}", get_zone, ["GET"]),
        (records, list_records, ["GET"]),
        (records, create_record, ["POST"]),
        (records + "/{id}", get_record, ["GET"]),
        (records + "/{id}", change_record, ["PUT", "PATCH", "DELETE"]),
    ]

    return _faults.api_app(
        "/client/v4",
        routes,
        lambda handler: _guarded(handler, state),
        faults=state.faults,
        dump=state.dump,
        exception_handlers={HTTPException: _http_error},
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the Cloudflare simulator with uvicorn, with the zones `--zone` names.

    Args:
        argv: command-line arguments (default: `sys.argv[1:]`).
    """
    parser = argparse.ArgumentParser(description="Cloudflare API v4 (DNS) simulator")
    _faults.add_arguments(parser, port=8087)
    parser.add_argument("--token", default="sim-token")
    parser.add_argument("--zone", action="append", default=[], help="a zone to create")
    args = parser.parse_args(argv)
    state = CloudflareState(token=args.token, seed=args.seed, faults=_faults.from_arguments(args))
    for name in args.zone:
        state.add_zone(name)
    _faults.serve(create_app(state), args)


if __name__ == "__main__":
    main()
