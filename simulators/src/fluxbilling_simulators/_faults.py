"""Fault injection shared by the vendor simulators: latency, 5xx, timeouts, 4xx, duplicates.

Each simulator state owns one `Faults` and asks it, at the start of every API request, what to
do (`await faults.before_request()`), and, in its create handler, whether to pretend the object
already exists or to crash after creating it. Everything random comes from one seeded
`random.Random`, so a failing test can be replayed.

| knob                       | effect                                                          |
|----------------------------|-----------------------------------------------------------------|
| `latency`                  | every request sleeps this many seconds first                    |
| `fail_rate`                | probability of a random 500, 503 or timeout per request         |
| `timeout_delay`            | a "timeout" sleeps this long, then the request is processed    |
|                            | normally (like a real timeout where the upstream did the work)  |
| `fail_next(n, status)`     | the next `n` requests answer `status` (any 4xx/5xx) or time out |
| `exists_next(n)`           | the next `n` creates answer the vendor's "already exists" error |
| `crash_after_create`       | creates succeed, then answer 503 (always, while set)            |
| `crash_next_create(n)`     | the same, for the next `n` creates only                         |
| `crash_next_action(n)`     | the next `n` actions on an object (a reinstall, ...) are done,  |
|                            | then answer 503 (the answer was lost, the work was not)         |
| `fail_always`              | every request answers this status (a broken panel) until        |
|                            | cleared                                                         |

`POST /_sim/faults` (`control_route`, on each panel simulator) sets them over HTTP, for a
browser test or a person at the demo: `{"fail_next": 3, "status": 503}`, `{"fail_always":
422}`, `{"latency": 0.5}`, or `{"clear": true}` (no forced faults, no latency); it answers
the knobs as they now stand.
"""

from __future__ import annotations

import argparse
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

__all__ = ["Faults", "add_arguments", "api_app", "control_route", "from_arguments", "serve"]

TIMEOUT = "timeout"
_H = TypeVar("_H")


@dataclass
class Faults:
    """The fault-injection knobs of one simulator (see the module docstring)."""

    latency: float = 0.0
    fail_rate: float = 0.0
    timeout_delay: float = 30.0
    crash_after_create: bool = False
    fail_always: int | None = None
    seed: int = 0
    rng: random.Random = field(init=False, repr=False)
    _forced: deque[int | str] = field(default_factory=deque, init=False, repr=False)
    _exists: int = field(default=0, init=False, repr=False)
    _crashes: int = field(default=0, init=False, repr=False)
    _action_crashes: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - simulation, not cryptography

    def fail_next(self, n: int = 1, status: int | str = 503) -> None:
        """Make the next `n` API requests answer `status` (an HTTP status or `"timeout"`)."""
        self._forced.extend([status] * n)

    def exists_next(self, n: int = 1) -> None:
        """Make the next `n` creates answer the vendor's "already exists" error."""
        self._exists += n

    def crash_next_create(self, n: int = 1) -> None:
        """Make the next `n` creates create the object, then answer 503."""
        self._crashes += n

    def crash_next_action(self, n: int = 1) -> None:
        """Make the next `n` actions on an object do their work, then answer 503."""
        self._action_crashes += n

    def next_fault(self) -> int | str | None:
        """The fault for the current request: forced first, then random by `fail_rate`."""
        if self._forced:
            return self._forced.popleft()
        if self.fail_always is not None:
            return self.fail_always
        if self.fail_rate and self.rng.random() < self.fail_rate:
            faults: list[int | str] = [500, 503, TIMEOUT]
            return self.rng.choice(faults)
        return None

    async def before_request(self) -> int | None:
        """Apply latency and the next fault; return a status to answer with, or None to go on.

        A timeout fault sleeps `timeout_delay` and returns None: the client has given up by
        then, but the request is still processed, as on a real upstream.
        """
        if self.latency:
            await anyio.sleep(self.latency)
        fault = self.next_fault()
        if fault == TIMEOUT:
            await anyio.sleep(self.timeout_delay)
            return None
        return fault if isinstance(fault, int) else None

    def take_exists(self) -> bool:
        """Whether this create must answer "already exists" (consumes one `exists_next`)."""
        if self._exists:
            self._exists -= 1
            return True
        return False

    def take_crash(self) -> bool:
        """Whether this create must answer 503 after creating (consumes one crash)."""
        if self.crash_after_create:
            return True
        if self._crashes:
            self._crashes -= 1
            return True
        return False

    def take_action_crash(self) -> bool:
        """Whether this action must answer 503 after doing its work (consumes one)."""
        if self._action_crashes:
            self._action_crashes -= 1
            return True
        return False

    def clear(self) -> None:
        """No forced fault, no standing failure, no latency (random faults stay as set)."""
        self._forced.clear()
        self.fail_always = None
        self.latency = 0.0

    def describe(self) -> dict[str, object]:
        """The knobs as they stand (what `POST /_sim/faults` answers)."""
        return {
            "latency": self.latency,
            "fail_rate": self.fail_rate,
            "fail_always": self.fail_always,
            "forced": list(self._forced),
        }


def _status(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
        return value
    raise ValueError(f"a fault status is an HTTP status from 400 to 599, not {value!r}")


def _count(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10_000:
        return value
    raise ValueError(f"fail_next is a count from 0 to 10000, not {value!r}")


def _latency(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 30:
        return float(value)
    raise ValueError(f"latency is seconds from 0 to 30, not {value!r}")


def _apply(faults: Faults, body: object) -> None:
    """Set the knobs `body` names (see the module docstring), all or none.

    Raises:
        ValueError: naming what is wrong (nothing was changed).
    """
    if not isinstance(body, dict):
        raise ValueError("the body is a JSON object")
    unknown = set(body) - {"clear", "fail_next", "status", "fail_always", "latency"}
    if unknown:
        raise ValueError(f"unknown fault knobs: {', '.join(sorted(unknown))}")
    forced = None
    if "fail_next" in body:
        forced = (_count(body["fail_next"]), _status(body.get("status", 503)))
    always = body.get("fail_always")
    always = None if always is None else _status(always)
    latency = _latency(body["latency"]) if "latency" in body else None
    if body.get("clear"):
        faults.clear()
    if forced is not None:
        faults.fail_next(*forced)
    if "fail_always" in body:
        faults.fail_always = always
    if latency is not None:
        faults.latency = latency


def control_route(faults: Faults) -> Route:
    """`POST /_sim/faults`: set `faults` over HTTP (no auth: a simulator, on loopback)."""

    async def control(request: Request) -> Response:
        try:
            _apply(faults, await request.json())
        except ValueError as exc:  # a JSON syntax error is a ValueError too
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(faults.describe())

    return Route("/_sim/faults", control, methods=["POST"])


def api_app(
    prefix: str,
    routes: Iterable[tuple[str, _H, list[str]]],
    wrap: Callable[[_H], Callable[[Request], Awaitable[Response]]],
    *,
    faults: Faults,
    dump: Callable[[], Any],
    exception_handlers: Mapping[Any, Callable[..., Any]],
) -> ASGIApp:
    """A simulator app: its API `routes` (path, handler, methods) under `prefix`, each
    handler made an endpoint by `wrap` (auth, faults), plus `GET /_sim/state` answering
    `dump()` and `POST /_sim/faults` steering `faults` (both without auth)."""

    async def state(request: Request) -> Response:
        return JSONResponse(dump())

    api = [Route(path, wrap(handler), methods=methods) for path, handler, methods in routes]
    return Starlette(
        routes=[
            Route("/_sim/state", state, methods=["GET"]),
            control_route(faults),
            Mount(prefix, routes=api),
        ],
        exception_handlers=dict(exception_handlers),
    )


def add_arguments(parser: argparse.ArgumentParser, *, port: int) -> None:
    """The command-line options every simulator has: where to listen and the fault knobs."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--timeout-delay", type=float, default=30.0)


def from_arguments(args: argparse.Namespace) -> Faults:
    """The `Faults` the options of `add_arguments` ask for."""
    return Faults(
        latency=args.latency,
        fail_rate=args.fail_rate,
        timeout_delay=args.timeout_delay,
        seed=args.seed,
    )


def serve(app: ASGIApp, args: argparse.Namespace) -> None:
    """Serve a simulator app with uvicorn where `add_arguments` said (blocks)."""
    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
