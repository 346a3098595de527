"""Request limits enforced before anything reads a request: header size, body size, JSON depth.

`LimitRequests` is a pure ASGI middleware in front of every route. For each HTTP request it

1. answers 431 when the header lines together exceed `RequestLimits.header_bytes`;
2. answers 413 at once when a declared `Content-Length` exceeds the route's body limit,
   without reading the body;
3. reads the body (also a chunked one) and answers 413 as soon as it grows past the limit,
   reading no further;
4. answers 422 when a body that will be parsed as JSON (no `Content-Type`, `application/json`
   or `application/*+json`) is not UTF-8 or nests deeper than `limits.JSON_DEPTH` — except
   on webhook routes, which keep their gateways' contract: the gateway's parser checks the
   depth before parsing (`limits.loads_json`), an unsigned body is answered 400 and a signed
   one we cannot read is kept and answered 200 `rejected` (nothing a gateway signed is
   dropped);
5. hands the body it read to the route unchanged.

Route classes (`route_class`): `webhook` (`/webhooks/...`), `plugin` (`/api/v1/plugins` and
the flow tests under `/api/v1/plugins/test-runs`, where whole plugin documents are posted) and
`api` (everything else). Refusals are in the
one error shape, close the connection when a body was left unread, and are counted in
`fluxbilling_requests_refused_total`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fluxbilling import errors, limits, metrics
from fluxbilling.api.errors import error_body, status_of
from fluxbilling.jsontypes import JsonObject

__all__ = [
    "LimitRequests",
    "RequestLimits",
    "RouteClass",
    "document_limits",
    "header_size",
    "route_class",
]

RouteClass = Literal["api", "plugin", "webhook"]

_PLUGIN_DOCUMENTS = "/api/v1/plugins"
_PLUGIN_TESTS = ("/api/v1/plugins/test-runs", "/api/v1/plugins/test-runs/resume")


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """The limits `LimitRequests` enforces, in bytes."""

    header_bytes: int = limits.HEADER_BYTES
    api_bytes: int = limits.API_BYTES
    plugin_bytes: int = limits.PLUGIN_BYTES
    webhook_bytes: int = limits.WEBHOOK_BYTES
    json_depth: int = limits.JSON_DEPTH

    def summary(self) -> str:
        """The limits in a sentence (for the API's description)."""
        size = limits.describe_size
        return (
            f"Limits, checked before a request is read: headers {size(self.header_bytes)} "
            f"(431); bodies {size(self.api_bytes)}, plugin documents {size(self.plugin_bytes)}, "
            f"webhooks {size(self.webhook_bytes)} (413); JSON nested at most {self.json_depth} "
            "levels (422)."
        )

    def body_bytes(self, route: RouteClass) -> int:
        """The body limit of a route class."""
        sizes = {"api": self.api_bytes, "plugin": self.plugin_bytes, "webhook": self.webhook_bytes}
        return sizes[route]


def route_class(path: str) -> RouteClass:
    """Which body limit applies to a request path.

    Examples:
        >>> route_class("/webhooks/stripe"), route_class("/api/v1/plugins")
        ('webhook', 'plugin')
        >>> route_class("/api/v1/plugins/acme/versions"), route_class("/api/v1/orders")
        ('api', 'api')
        >>> route_class("/api/v1/plugins/test-runs")
        'plugin'
    """
    if path.startswith("/webhooks/"):
        return "webhook"
    if path.rstrip("/") == _PLUGIN_DOCUMENTS or path.rstrip("/") in _PLUGIN_TESTS:
        return "plugin"
    return "api"


def header_size(headers: list[tuple[bytes, bytes]]) -> int:
    """The size of header lines as sent: `name: value` and CRLF for each.

    Example:
        >>> header_size([(b"host", b"example.com")])
        19
    """
    return sum(len(name) + len(value) + 4 for name, value in headers)


def document_limits(openapi: JsonObject, request_limits: RequestLimits) -> None:
    """Add the 413 answer to every operation of an OpenAPI document that reads a body.

    Operations that document a 413 themselves keep theirs.
    """
    for path, operations in openapi.get("paths", {}).items():
        route = route_class(path)
        for operation in operations.values():
            if "requestBody" in operation or route == "webhook":
                limit = limits.describe_size(request_limits.body_bytes(route))
                operation.setdefault("responses", {}).setdefault(
                    "413", {"description": f"the body is larger than {limit}"}
                )


class LimitRequests:
    """The ASGI middleware: refuse what is too large or too deep before a route reads it."""

    def __init__(self, app: ASGIApp, request_limits: RequestLimits | None = None) -> None:
        self.app = app
        self.limits = request_limits or RequestLimits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_class(scope["path"])
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        max_bytes = self.limits.body_bytes(route)
        try:
            if header_size(headers) > self.limits.header_bytes:
                raise errors.HeadersTooLarge(
                    f"request headers larger than {limits.describe_size(self.limits.header_bytes)}",
                    max_bytes=self.limits.header_bytes,
                )
            declared = _content_length(headers)
            if declared is not None:
                limits.check_size(declared, max_bytes)
            body = await _read_body(receive, max_bytes)
            if body is None:
                return  # the client went away; nobody to answer
            if body and route != "webhook" and _parsed_as_json(headers):
                limits.check_json(body, max_depth=self.limits.json_depth)
        except (errors.HeadersTooLarge, errors.InvalidBody) as exc:
            await _refuse(exc, route, scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole body, or None when the client disconnected first.

    Raises:
        errors.BodyTooLarge: the body grew past `max_bytes` (reading stopped there).
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        limits.check_size(size, max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body read already, then whatever the client sends next."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses it first; otherwise the bytes read count
    return None


def _parsed_as_json(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether FastAPI parses such a body as JSON: no type, `application/json` or `...+json`.

    Examples:
        >>> _parsed_as_json([]), _parsed_as_json([(b"content-type", b"Application/JSON")])
        (True, True)
        >>> _parsed_as_json([(b"content-type", b"application/x-www-form-urlencoded")])
        False
    """
    value = next((v for n, v in headers if n.lower() == b"content-type"), None)
    if value is None:
        return True
    media = value.split(b";", 1)[0].strip().lower()
    kind, _, subtype = media.partition(b"/")
    return kind == b"application" and (subtype == b"json" or subtype.endswith(b"+json"))


async def _refuse(
    exc: errors.HeadersTooLarge | errors.InvalidBody,
    route: RouteClass,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    if isinstance(exc, errors.HeadersTooLarge):
        reason = "headers_too_large"
    elif isinstance(exc, errors.BodyTooLarge):
        reason = "body_too_large"
    else:
        reason = "invalid_json"
    metrics.REQUESTS_REFUSED.labels(route, reason).inc()
    # A body left unread would be read and thrown away by the server: close instead.
    headers = {} if reason == "invalid_json" else {"connection": "close"}
    body = error_body(type(exc).__name__, exc.message, exc.details)
    await JSONResponse(body, status_of(exc) or 400, headers)(scope, receive, send)
