"""A SolusVM 2 REST API simulator (ASGI), faithful to `shared/vendor-apis/solusvm2.md`.

Mounted at `/api/v1`; `GET /_sim/state` (no auth) dumps the state for tests. Modelled:

- Bearer auth (401 `{"message": "Unauthenticated."}`), `{"data": ...}` envelopes, lists with
  `links`/`meta` pagination (`page`, `per_page`) and `filter[...]` query parameters.
- Laravel-style 422 `{"message", "errors": {field: [msg]}}` validation errors.
- `POST /servers` answers 201 with `status: processing`, `is_processing: true`; the server
  becomes `started` after `polls_until_started` GETs of it.
- Uniqueness (our modelled rule, not confirmed by the vendor docs): a second live server with
  the same `name` gets 422 "The name has already been taken.".
- Actions (start/stop/restart/suspend/resume/reinstall/resize, DELETE) answer 200 with a task
  that walks pending -> queued -> running -> done, one step per `GET /tasks/{id}`; the effect
  (suspended flag, new plan, deletion, ...) applies when the task is done; a deleted server
  is a 404. `POST /servers/{id}/vnc_up` answers `{"url": token}` (the VNC password is in the
  server's `settings.vnc_password`); `GET /usage/{cpu|memory|network|disks}/{uuid}` answers
  `data.items` samples. `reset_password` is not modelled: the real panel generates the
  password itself and mails it to the server's owner.

Fault injection on `state.faults` (`simulators._faults.Faults`): `latency`, `fail_rate` (500/503
or a slow answer that sleeps `timeout_delay` seconds and is then processed normally, like a
real timeout where the upstream did the work), `fail_next(n, status)` (any status, rendered in
the Laravel error shape), `exists_next(n)` (the name-taken 422 without creating),
`crash_after_create` / `crash_next_create(n)` (create the server, then answer 503),
`crash_next_action(n)` (start the action's task, then answer 503); and
`state.fail_next_task(output)`. Randomness comes from seeded `random.Random`s.

Run standalone: `python -m fluxbilling_simulators.solusvm2 --port 8081 --token T`.
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
from fluxbilling_simulators._solusvm2_state import SolusVM2State

__all__ = ["SolusVM2State", "create_app", "main"]

Handler = Callable[[Request, SolusVM2State], Awaitable[Response]]
TAKEN = "The name has already been taken."
_REASONS = {
    400: "Bad Request",
    401: "Unauthenticated.",
    403: "This action is unauthorized.",
    404: "Not Found",
    409: "Conflict",
    422: "The given data was invalid.",
    429: "Too Many Attempts.",
    500: "Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _error(status: int, message: str, field_errors: dict[str, list[str]] | None = None) -> Response:
    body: dict[str, Any] = {"message": message}
    if field_errors is not None:
        body["errors"] = field_errors
    return JSONResponse(body, status_code=status)


def _page(request: Request, state: SolusVM2State, items: list[dict[str, Any]]) -> Response:
    per_page = max(1, int(request.query_params.get("per_page", state.per_page)))
    last = max(1, -(-len(items) // per_page))
    page = min(max(1, int(request.query_params.get("page", "1"))), last)
    chunk = items[(page - 1) * per_page : page * per_page]

    def link(number: int) -> str | None:
        if not 1 <= number <= last:
            return None
        return str(request.url.include_query_params(page=number))

    start = (page - 1) * per_page
    return JSONResponse(
        {
            "data": chunk,
            "links": {
                "first": link(1),
                "last": link(last),
                "prev": link(page - 1),
                "next": link(page + 1),
            },
            "meta": {
                "current_page": page,
                "from": start + 1 if chunk else None,
                "last_page": last,
                "path": str(request.url.remove_query_params(list(request.query_params))),
                "per_page": per_page,
                "to": start + len(chunk) if chunk else None,
                "total": len(items),
            },
        }
    )


def _filtered(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for key, wanted in request.query_params.items():
        if not (key.startswith("filter[") and key.endswith("]")):
            continue
        name = key[len("filter[") : -1]
        if name == "search":
            items = [i for i in items if wanted.lower() in str(i.get("name", "")).lower()]
        else:
            items = [i for i in items if str(_field(i, name)) == wanted]
    return items


def _field(item: dict[str, Any], name: str) -> Any:
    if name.endswith("_id") and isinstance(item.get(name[:-3]), dict):
        return item[name[:-3]].get("id")
    return item.get(name)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


async def list_servers(request: Request, state: SolusVM2State) -> Response:
    """GET /servers."""
    return _page(request, state, _filtered(request, list(state.servers.values())))


async def create_server(request: Request, state: SolusVM2State) -> Response:
    """POST /servers."""
    body = await _json_body(request)
    problems = state.validate_create(body)
    if problems:
        return _error(422, next(iter(problems.values()))[0], problems)
    if state.faults.take_exists():
        return _error(422, TAKEN, {"name": [TAKEN]})
    server = state.create_server(body)
    if state.faults.take_crash():
        return _error(503, "Service Unavailable")
    return JSONResponse({"data": server}, status_code=201)


async def get_server(request: Request, state: SolusVM2State) -> Response:
    """GET /servers/{id}."""
    server = state.poll_server(int(request.path_params["id"]))
    if server is None:
        return _error(404, "Not Found")
    return JSONResponse({"data": server})


async def server_action(request: Request, state: SolusVM2State) -> Response:
    """POST /servers/{id}/{action} and DELETE /servers/{id}: answer a task."""
    server_id = int(request.path_params["id"])
    action = "delete" if request.method == "DELETE" else request.path_params["action"]
    if server_id not in state.servers:
        return _error(404, "Not Found")
    body = await _json_body(request)
    if action == "reinstall" and not state.os_version_exists(body.get("os")):
        return _error(422, "The selected os is invalid.", {"os": ["The selected os is invalid."]})
    if action == "resize" and state.plan(body.get("plan_id")) is None:
        message = "The selected plan id is invalid."
        return _error(422, message, {"plan_id": [message]})
    if action == "vnc_up":
        server = state.servers[server_id]
        return JSONResponse({"url": f"vnc-{server['uuid']}-{state.rng.getrandbits(32):08x}"})
    if action not in _TASK_ACTIONS:
        return _error(404, "Not Found")
    task = state.start_task(server_id, action, body)
    if state.faults.take_action_crash():
        return _error(503, "Service Unavailable")
    return JSONResponse({"data": task})


_TASK_ACTIONS = frozenset(
    {"start", "stop", "restart", "suspend", "resume", "reinstall", "resize", "delete"}
)


async def server_usage(request: Request, state: SolusVM2State) -> Response:
    """GET /usage/{kind}/{uuid}: usage graph samples of a server."""
    kind = request.path_params["kind"]
    server = next(
        (s for s in state.servers.values() if s["uuid"] == request.path_params["uuid"]), None
    )
    if server is None or kind not in ("cpu", "memory", "network", "disks"):
        return _error(404, "Not Found")
    return JSONResponse({"data": {"items": state.usage(server, kind)}})


async def get_task(request: Request, state: SolusVM2State) -> Response:
    """GET /tasks/{id}: each GET moves the task one step on."""
    task = state.advance_task(int(request.path_params["id"]))
    if task is None:
        return _error(404, "Not Found")
    return JSONResponse({"data": task})


async def list_tasks(request: Request, state: SolusVM2State) -> Response:
    """GET /tasks."""
    return _page(request, state, _filtered(request, list(state.tasks.values())))


def _catalogue(name: str) -> Handler:
    async def handler(request: Request, state: SolusVM2State) -> Response:
        return _page(request, state, _filtered(request, list(state.catalogue[name])))

    handler.__doc__ = f"GET /{name}."
    return handler


def _guarded(handler: Handler, state: SolusVM2State) -> Callable[[Request], Awaitable[Response]]:
    """Count, delay, inject faults, then authenticate, before the real handler runs."""

    async def endpoint(request: Request) -> Response:
        state.requests += 1
        status = await state.faults.before_request()
        if status is not None:
            return _error(status, _REASONS.get(status, "Error"))
        if request.headers.get("authorization") != f"Bearer {state.token}":
            return _error(401, "Unauthenticated.")
        return await handler(request, state)

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return _error(status, "Not Found" if status == 404 else str(exc))


def create_app(state: SolusVM2State) -> ASGIApp:
    """The simulator as an ASGI app over `state` (which tests inspect and steer).

    Args:
        state: the simulated world, fault knobs included.

    Returns:
        A Starlette app serving `/api/v1/...` and `GET /_sim/state`.
    """
    routes: list[tuple[str, Handler, list[str]]] = [
        ("/servers", list_servers, ["GET"]),
        ("/servers", create_server, ["POST"]),
        ("/servers/{id:int}", get_server, ["GET"]),
        ("/servers/{id:int}", server_action, ["DELETE"]),
        ("/servers/{id:int}/{action:str}", server_action, ["POST"]),
        ("/tasks", list_tasks, ["GET"]),
        ("/usage/{kind:str}/{uuid:str}", server_usage, ["GET"]),
        ("/tasks/{id:int}", get_task, ["GET"]),
        *((f"/{name}", _catalogue(name), ["GET"]) for name in state.catalogue),
    ]

    return _faults.api_app(
        "/api/v1",
        routes,
        lambda handler: _guarded(handler, state),
        faults=state.faults,
        dump=state.dump,
        exception_handlers={HTTPException: _http_error},
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator with uvicorn (one process; several workers may share it).

    Args:
        argv: command-line arguments (default: `sys.argv[1:]`).
    """
    parser = argparse.ArgumentParser(description="SolusVM 2 API simulator")
    _faults.add_arguments(parser, port=8081)
    parser.add_argument("--token", default="sim-token")
    parser.add_argument("--polls-until-started", type=int, default=2)
    args = parser.parse_args(argv)
    state = SolusVM2State(
        token=args.token,
        seed=args.seed,
        faults=_faults.from_arguments(args),
        polls_until_started=args.polls_until_started,
    )
    _faults.serve(create_app(state), args)


if __name__ == "__main__":
    main()
