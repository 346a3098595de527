"""The built-in node types: trigger, http, lookup, poll, condition, set_service_data, fail, done.

| type             | ports                         | does                                          |
|------------------|-------------------------------|-----------------------------------------------|
| trigger          | ok                            | the entry of a flow                           |
| http             | ok, exists, error             | one request to the node's connection          |
| lookup           | found, missing, error         | GET a list, find the item whose field matches |
| poll             | ok, error                     | GET until a condition holds (else wait)       |
| condition        | true, false                   | test a templated value                        |
| set_service_data | ok                            | merge a mapping into the service data         |
| fail             | (none)                        | raise PermanentUpstreamError                  |
| done             | (none)                        | end the flow                                  |

HTTP errors are classified by `drivers.upstream` (the one boundary); every request carries
`X-Correlation-Id`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from fluxbilling import errors
from fluxbilling.drivers.upstream import classify_response
from fluxbilling.plugins import templating
from fluxbilling.plugins.nodes import (
    Check,
    NodeParams,
    NodeResult,
    NodeRun,
    PathCheck,
    node_type,
)

__all__ = [
    "ConditionParams",
    "ExistsWhen",
    "HttpParams",
    "LookupParams",
    "PollParams",
    "SetServiceDataParams",
]

CORRELATION_HEADER = "X-Correlation-Id"
_OK = frozenset(range(200, 300))


class _Request(NodeParams):
    connection: str | None = None
    path: str
    query: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    extract: dict[str, str] | None = None


class ExistsWhen(BaseModel):
    """A response meaning "the object already exists" (fires port `exists`, else `ok`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int
    body_contains: str | None = None


class HttpParams(_Request):
    """Parameters of an `http` node."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    body: Any = None
    expect: list[int] | None = None
    exists_when: ExistsWhen | None = None


class LookupParams(_Request):
    """Parameters of a `lookup` node: find the item whose `field` equals `equals`
    (and that passes every check in `where`, e.g. a task still in flight)."""

    field: str
    equals: Any
    where: list[PathCheck] = Field(default_factory=list)
    items: str = "data"
    max_pages: int = Field(default=10, ge=1, le=100)


class PollParams(_Request):
    """Parameters of a `poll` node: all of `until` must hold; any of `fail_when` fails."""

    until: list[PathCheck] = Field(min_length=1)
    fail_when: list[PathCheck] = Field(default_factory=list)
    interval: float | str = Field(
        default=10.0,
        description="seconds between tries; a template such as {{settings.poll_interval ?? 10}}",
    )
    timeout: float = Field(default=3600.0, gt=0)


class ConditionParams(NodeParams, Check):
    """Parameters of a `condition` node: test the templated `value`."""

    value: Any


class SetServiceDataParams(NodeParams):
    """Parameters of a `set_service_data` node (no `data`: store the previous output)."""

    data: dict[str, Any] | None = None


class FailParams(NodeParams):
    """Parameters of a `fail` node."""

    message: str = "the flow failed"


def _parse(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _connection(params: _Request, run: NodeRun) -> str:
    name = params.connection or run.default_connection
    if not name:
        raise errors.InvalidFlow(f"node {run.node_id!r} names no connection", node=run.node_id)
    return name


async def _send(
    params: _Request,
    run: NodeRun,
    method: str,
    *,
    path: str | None = None,
    body: Any = None,
    expected: frozenset[int] | None = None,
) -> tuple[httpx.Response, Any]:
    client = run.http(_connection(params, run))
    headers = {**(run.render(params.headers) or {}), CORRELATION_HEADER: run.correlation_id}
    response = await client.request(
        method,
        str(run.render(params.path)) if path is None else path,
        operation=run.operation,
        json_body=body,
        params=None if path is not None else run.render(params.query),
        headers={k: str(v) for k, v in headers.items()},
        expected=expected,
    )
    return response, _parse(response)


def _extract(params: _Request, run: NodeRun, response: httpx.Response, body: Any) -> Any:
    if params.extract is None:
        return body
    scope = {"response": body, "status": response.status_code}
    output: dict[str, Any] = {}
    for name, path in params.extract.items():
        value = templating.resolve_path(scope, path)
        if value is templating.MISSING:
            client = run.http(_connection(params, run))
            raise errors.PermanentUpstreamError(
                f"{client.upstream}: {run.operation}: response has no {path!r}",
                upstream=client.upstream,
                operation=run.operation,
                status=response.status_code,
                body=client.redactor.value(body),
            )
        output[name] = value
    return output


@node_type("trigger", params=NodeParams)
async def trigger(params: NodeParams, run: NodeRun) -> NodeResult:
    """The entry node: fires `ok` with the run's correlation id as output."""
    return NodeResult(output={"correlation_id": run.correlation_id})


@node_type("http", params=HttpParams, ports=("ok", "exists", "error"))
async def http(params: HttpParams, run: NodeRun) -> NodeResult:
    """Send one request; fire `exists` when `exists_when` matches, else `ok`."""
    expect = frozenset(params.expect) if params.expect else _OK
    exists = params.exists_when
    allowed = expect | {exists.status} if exists else expect
    response, body = await _send(
        params, run, params.method, body=run.render(params.body), expected=allowed
    )
    if exists is not None and response.status_code not in expect:
        if exists.body_contains is None or exists.body_contains in response.text:
            return NodeResult(port="exists", output=body)
        client = run.http(_connection(params, run))
        raise classify_response(
            client.upstream,
            run.operation,
            response.status_code,
            client.redactor.text(response.text),
        )
    return NodeResult(output=_extract(params, run, response, body))


@node_type("lookup", params=LookupParams, ports=("found", "missing", "error"))
async def lookup(params: LookupParams, run: NodeRun) -> NodeResult:
    """GET a list (following `links.next`) and fire `found` with the matching item."""
    wanted = run.render(params.equals)
    next_url: str | None = None
    for _ in range(params.max_pages):
        _, body = await _send(params, run, "GET", path=next_url)
        items = templating.resolve_path(body, params.items)
        for item in items if isinstance(items, list) else []:
            if templating.resolve_path(item, params.field) == wanted and all(
                check.holds_in(item) for check in params.where
            ):
                return NodeResult(port="found", output=item)
        link = templating.resolve_path(body, "links.next")
        if not isinstance(link, str) or not link:
            break
        next_url = link
    return NodeResult(port="missing", output=None)


@node_type("poll", params=PollParams, ports=("ok", "error"))
async def poll(params: PollParams, run: NodeRun) -> NodeResult:
    """GET until every `until` check holds; wait `interval` between tries, up to `timeout`."""
    started = datetime.fromisoformat(run.state.setdefault("started_at", run.now.isoformat()))
    response, body = await _send(params, run, "GET")
    client = run.http(_connection(params, run))
    if any(check.holds_in(body) for check in params.fail_when):
        raise errors.PermanentUpstreamError(
            f"{client.upstream}: {run.operation}: failed: {client.redactor.value(body)}",
            upstream=client.upstream,
            operation=run.operation,
            status=response.status_code,
            body=client.redactor.value(body),
        )
    if all(check.holds_in(body) for check in params.until):
        return NodeResult(output=_extract(params, run, response, body))
    waited = (run.now - started).total_seconds()
    if waited >= params.timeout:
        raise errors.PermanentUpstreamError(
            f"{client.upstream}: {run.operation}: gave up waiting after {waited:.0f}s",
            upstream=client.upstream,
            operation=run.operation,
            body=client.redactor.value(body),
        )
    return NodeResult(wait=_interval(params, run))


def _interval(params: PollParams, run: NodeRun) -> float:
    raw = run.render(params.interval) if isinstance(params.interval, str) else params.interval
    try:
        seconds = float(raw)
    except (TypeError, ValueError) as exc:
        raise errors.InvalidSettings(
            f"node {run.node_id!r}: interval {raw!r} is not a number of seconds", node=run.node_id
        ) from exc
    if seconds <= 0:
        raise errors.InvalidSettings(
            f"node {run.node_id!r}: interval must be positive", node=run.node_id
        )
    return seconds


@node_type("condition", params=ConditionParams, ports=("true", "false"))
async def condition(params: ConditionParams, run: NodeRun) -> NodeResult:
    """Fire `true` or `false` by testing the templated `value`."""
    value = run.render(params.value)
    return NodeResult(port="true" if params.holds(value) else "false", output=value)


@node_type("set_service_data", params=SetServiceDataParams)
async def set_service_data(params: SetServiceDataParams, run: NodeRun) -> NodeResult:
    """Merge the templated `data` (or the previous node's output) into the service data."""
    data = run.render(params.data) if params.data is not None else run.previous
    if not isinstance(data, dict):
        raise errors.InvalidFlow(
            f"node {run.node_id!r}: service data must be a mapping, got {type(data).__name__}",
            node=run.node_id,
        )
    return NodeResult(output=data, service_data=data)


@node_type("fail", params=FailParams, ports=())
async def fail(params: FailParams, run: NodeRun) -> NodeResult:
    """Raise `PermanentUpstreamError` with the templated message."""
    raise errors.PermanentUpstreamError(
        str(run.render(params.message)), upstream=run.plugin, operation=run.operation
    )


@node_type("done", params=NodeParams, ports=())
async def done(params: NodeParams, run: NodeRun) -> NodeResult:
    """End the flow."""
    return NodeResult(port=None)
