"""The built-in node types: trigger, http, lookup, poll, condition, set_service_data, fail, done.

| type             | ports                         | does                                          |
|------------------|-------------------------------|-----------------------------------------------|
| trigger          | ok                            | the entry of a flow                           |
| http             | ok, exists, error             | one request to the node's connection          |
| lookup           | found, missing, error         | GET a list, find the item whose field matches |
|                  |                               | (waits while a matching object is pending)    |
| poll             | ok, error                     | GET until a condition holds (else wait)       |
| condition        | true, false                   | test a templated value                        |
| set_service_data | ok                            | merge a mapping into the service data         |
| fail             | (none)                        | raise PermanentUpstreamError                  |
| done             | (none)                        | end the flow                                  |

HTTP errors are classified by `drivers.upstream` (the one boundary); every request carries
`X-Correlation-Id`; a node may not set `Host` or framing headers (`upstream.RESERVED_HEADERS`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from fluxbilling import errors, limits
from fluxbilling.drivers.upstream import RESERVED_HEADERS, classify_response, parse_retry_after
from fluxbilling.jsontypes import JsonObject
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
    "MapParams",
    "PollParams",
    "Rule",
    "SetServiceDataParams",
    "WaitParams",
]

CORRELATION_HEADER = "X-Correlation-Id"
_OK = frozenset(range(200, 300))


class _Request(NodeParams):
    connection: str | None = None
    credential: str | None = Field(
        default=None, description="one of the connection's extra credentials (default: main)"
    )
    path: str
    query: JsonObject | None = None
    headers: dict[str, str] | None = Field(
        default=None, description="extra headers; `Host` and framing headers are the client's"
    )
    extract: dict[str, str] | None = None

    @field_validator("headers")
    @classmethod
    def _no_reserved_headers(cls, headers: dict[str, str] | None) -> dict[str, str] | None:
        reserved = sorted(name for name in headers or {} if name.lower() in RESERVED_HEADERS)
        if reserved:
            msg = f"header(s) {', '.join(reserved)} are set by the client, never by a flow"
            raise ValueError(msg)
        return headers


class ExistsWhen(BaseModel):
    """A response meaning "the object already exists" (fires port `exists`, else `ok`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int
    body_contains: str | None = None


class Rule(BaseModel):
    """What a response means, for vendors whose status code does not tell.

    A rule matches when every given test holds: `status` (one code or a list),
    `body_contains` (a substring of the raw body) and `where` (checks on the JSON body).
    The first matching rule decides: `ok` (success whatever the status), `exists` (fire the
    `exists` port), `capacity` (the provider is out of stock: the order waits for capacity),
    `permanent` or `transient` (fail, with `message` rendered over `response` and `status`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: int | list[int] | None = None
    body_contains: str | None = None
    where: list[PathCheck] = Field(default_factory=list)
    means: Literal["ok", "exists", "capacity", "permanent", "transient"]
    message: str | None = None

    def matches(self, status: int, text: str, body: Any) -> bool:
        """Whether this rule applies to a response."""
        codes = [self.status] if isinstance(self.status, int) else self.status
        return (
            (codes is None or status in codes)
            and (self.body_contains is None or self.body_contains in text)
            and all(check.holds_in(body) for check in self.where)
        )


class HttpParams(_Request):
    """Parameters of an `http` node."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    body: Any = None
    body_format: Literal["json", "form"] = "json"
    expect: list[int] | None = None
    exists_when: ExistsWhen | None = None
    classify: list[Rule] = Field(default_factory=list)

    def rules(self) -> list[Rule]:
        """`classify`, then `exists_when` as a rule."""
        rules = list(self.classify)
        if self.exists_when is not None:
            rules.append(
                Rule(
                    status=self.exists_when.status,
                    body_contains=self.exists_when.body_contains,
                    means="exists",
                )
            )
        return rules


class LookupParams(_Request):
    """Parameters of a `lookup` node.

    List mode (`field` given): GET a list and find the item whose `field` equals `equals`
    and that passes every check in `where` (e.g. a task still in flight); `items` is where
    the list is in the body (a JSON object keyed by id counts as a list of its values).
    Object mode (no `field`): GET one object by key; `missing_status` (default 404) means
    missing, and so does any failed `where` check. Check paths and values are templates, like
    a `poll` node's.

    `pending_when` makes "missing" safe on panels that list an object they are still
    creating under a placeholder (locked, no name or reference yet, until the create task
    ends): while no item matches but one passes every `pending_when` check, the lookup does
    not answer `missing` (which would lead to a second create) but waits and looks again.
    """

    field: str | None = None
    equals: Any = None
    where: list[PathCheck] = Field(default_factory=list)
    items: str = "data"
    max_pages: int = Field(default=10, ge=1, le=100)
    missing_status: list[int] = Field(default_factory=lambda: [404])
    classify: list[Rule] = Field(
        default_factory=list,
        description="rules for answers that are failures despite their status (a 200 with an "
        "error body): `permanent`, `transient` and `capacity` rules raise; `ok` and `exists` "
        "rules let the lookup read the answer",
    )
    pending_when: list[PathCheck] = Field(
        default_factory=list,
        title="Pending when",
        description="checks (templates, all must hold) that mark an item (list mode) or the "
        'object (object mode) as still being created, e.g. `{"path": "locked", '
        '"equals": true}`: it may be the one an earlier attempt created before the panel '
        "gave it its name or reference. While no item matches but one is pending (or the "
        "object is), the lookup waits `pending_interval` and looks again instead of firing "
        "`missing` or `found`; after `pending_timeout` it fails (permanent)",
    )
    pending_interval: float | str = Field(
        default=10.0,
        title="Pending interval",
        description="with `pending_when`: seconds between looks; a number or a template such "
        "as {{settings.poll_interval ?? 10}}",
    )
    pending_timeout: float = Field(
        default=1800.0,
        gt=0,
        le=86400,
        title="Pending timeout",
        description="with `pending_when`: seconds of looking after which an object still "
        "pending is a permanent failure (an operator must look), never a second create",
    )


class PollParams(_Request):
    """Parameters of a `poll` node: all of `until` must hold; any of `fail_when` fails.

    Check paths and values are templates too, for answers keyed by an id learnt earlier in
    the flow (`tasks.{{task.actid}}.status`).
    """

    until: list[PathCheck] = Field(min_length=1)
    fail_when: list[PathCheck] = Field(default_factory=list)
    fail_message: str | None = Field(
        default=None,
        description="the error when `fail_when` holds, rendered over `response` and `status` "
        "(default: the redacted answer)",
    )
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

    data: JsonObject | None = None


class FailParams(NodeParams):
    """Parameters of a `fail` node."""

    message: str = "the flow failed"


class MapParams(NodeParams):
    """Parameters of a `map` node: render `value`; with `each`, once per item as `item`."""

    value: Any
    each: str | None = Field(
        default=None, description="a template naming a list (or an object, for its values)"
    )
    where: list[PathCheck] = Field(
        default_factory=list, description="with `each`: keep only items passing every check"
    )


class WaitParams(NodeParams):
    """Parameters of a `wait` node: suspend the flow for `seconds` (a number or template)."""

    seconds: float | str


def _parse(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return limits.loads_json(response.content)
    except ValueError:  # not JSON, not UTF-8 or nested too deep: kept as text
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
    run.budget.spend(run)
    headers = {**(run.render(params.headers) or {}), CORRELATION_HEADER: run.correlation_id}
    form = isinstance(params, HttpParams) and params.body_format == "form"
    if form and body is not None and not isinstance(body, dict):
        raise errors.InvalidFlow(
            f"node {run.node_id!r}: a form body must be an object", node=run.node_id
        )
    response = await client.request(
        method,
        str(run.render(params.path)) if path is None else path,
        operation=run.operation,
        json_body=None if form else body,
        form_body=body if form else None,
        params=None if path is not None else run.render(params.query),
        headers={k: str(v) for k, v in headers.items()},
        expected=expected,
        credential=params.credential,
    )
    return response, _parse(response)


def _extract(params: _Request, run: NodeRun, response: httpx.Response, body: Any) -> Any:
    if params.extract is None:
        return body
    scope = {"response": body, "status": response.status_code}
    output: JsonObject = {}
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
    """Send one request; `classify` rules (and `exists_when`) decide what the answer means."""
    expect = frozenset(params.expect) if params.expect else _OK
    rules = params.rules()
    # With rules, every status reaches them; without, unexpected ones fail at the boundary.
    response, body = await _send(
        params,
        run,
        params.method,
        body=run.render(params.body),
        expected=frozenset(range(100, 600)) if rules else expect,
    )
    for rule in rules:
        if rule.matches(response.status_code, response.text, body):
            return _apply_rule(rule, params, run, response, body)
    if response.status_code not in expect:
        raise _unexpected(params, run, response)
    return NodeResult(output=_extract(params, run, response, body))


def _unexpected(params: _Request, run: NodeRun, response: httpx.Response) -> errors.UpstreamError:
    """The boundary's classification of a status no rule explained (redacted)."""
    client = run.http(_connection(params, run))
    return classify_response(
        client.upstream,
        run.operation,
        response.status_code,
        client.redactor.text(response.text),
        parse_retry_after(response.headers.get("retry-after")),
    )


def _apply_rule(
    rule: Rule, params: _Request, run: NodeRun, response: httpx.Response, body: Any
) -> NodeResult:
    if rule.means == "ok":
        return NodeResult(output=_extract(params, run, response, body))
    if rule.means == "exists":
        return NodeResult(port="exists", output=body)
    client = run.http(_connection(params, run))
    scope = {**run.scope, "response": body, "status": response.status_code}
    detail = (
        templating.render(rule.message, scope, node_id=run.node_id)
        if rule.message
        else response.text[:300]
    )
    text = client.redactor.text(f"{client.upstream}: {run.operation}: {_as_text(detail)}")
    redacted = client.redactor.value(body)
    if rule.means == "capacity":
        raise errors.CapacityExhausted(
            text, upstream=client.upstream, operation=run.operation, body=redacted
        )
    cls: type[errors.UpstreamError] = (
        errors.TransientUpstreamError
        if rule.means == "transient"
        else errors.PermanentUpstreamError
    )
    raise cls(
        text,
        upstream=client.upstream,
        operation=run.operation,
        status=response.status_code,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        body=redacted,
    )


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


@node_type("lookup", params=LookupParams, ports=("found", "missing", "error"))
async def lookup(params: LookupParams, run: NodeRun) -> NodeResult:
    """Find an existing upstream object: fire `found` with it, or `missing`.

    With `pending_when`, an object the panel is still creating makes it wait instead (the
    node runs again after `pending_interval`; `node_state` keeps when it started waiting).
    """
    where, pending_when = _rendered(params.where, run), _rendered(params.pending_when, run)
    everything = frozenset(range(100, 600))
    if params.field is None:
        expected = everything if params.classify else _OK | frozenset(params.missing_status)
        response, body = await _send(params, run, "GET", expected=expected)
        _screen(params, run, response, body)
        if response.status_code in params.missing_status:
            return NodeResult(port="missing", output=None)
        if _is_pending(body, pending_when):
            return _still_pending(params, run, body)
        if not all(check.holds_in(body) for check in where):
            return NodeResult(port="missing", output=None)
        return NodeResult(port="found", output=_extract(params, run, response, body))
    wanted = run.render(params.equals)
    next_url: str | None = None
    pending: Any = templating.MISSING
    for _ in range(params.max_pages):
        response, body = await _send(
            params, run, "GET", path=next_url, expected=everything if params.classify else None
        )
        _screen(params, run, response, body)
        items = templating.resolve_path(body, params.items)
        if isinstance(items, dict):
            items = list(items.values())
        for item in items if isinstance(items, list) else []:
            if templating.resolve_path(item, params.field) == wanted and all(
                check.holds_in(item) for check in where
            ):
                return NodeResult(port="found", output=_extract(params, run, response, item))
            if pending is templating.MISSING and _is_pending(item, pending_when):
                pending = item
        link = templating.resolve_path(body, "links.next")
        if not isinstance(link, str) or not link:
            break
        next_url = link
    if pending is not templating.MISSING:
        return _still_pending(params, run, pending)
    return NodeResult(port="missing", output=None)


def _is_pending(value: Any, pending_when: list[PathCheck]) -> bool:
    return bool(pending_when) and all(check.holds_in(value) for check in pending_when)


def _still_pending(params: LookupParams, run: NodeRun, item: Any) -> NodeResult:
    """Wait for an object the panel is still creating, or fail once `pending_timeout` passed."""
    started = datetime.fromisoformat(run.state.setdefault("pending_since", run.now.isoformat()))
    waited = (run.now - started).total_seconds()
    if waited >= params.pending_timeout:
        client = run.http(_connection(params, run))
        shown = client.redactor.text(_as_text(client.redactor.value(item)))[:300]
        raise errors.PermanentUpstreamError(
            f"{client.upstream}: {run.operation}: an object is still being created after "
            f"{waited:.0f}s and may be the one an earlier attempt created; not creating "
            f"another (look at it in the panel): {shown}",
            upstream=client.upstream,
            operation=run.operation,
            body=client.redactor.value(item),
        )
    return NodeResult(wait=_seconds(params.pending_interval, run, "pending_interval"))


def _screen(params: LookupParams, run: NodeRun, response: httpx.Response, body: Any) -> None:
    """Raise for an answer a `classify` rule calls a failure, or an unexpected status."""
    for rule in params.classify:
        if rule.matches(response.status_code, response.text, body):
            if rule.means in ("permanent", "transient", "capacity"):
                _apply_rule(rule, params, run, response, body)
            return
    ok = response.status_code in _OK or (
        params.field is None and response.status_code in params.missing_status
    )
    if params.classify and not ok:
        raise _unexpected(params, run, response)


@node_type("poll", params=PollParams, ports=("ok", "error"), suspends=True)
async def poll(params: PollParams, run: NodeRun) -> NodeResult:
    """GET until every `until` check holds; wait `interval` between tries, up to `timeout`."""
    started = datetime.fromisoformat(run.state.setdefault("started_at", run.now.isoformat()))
    fail_when, until = _rendered(params.fail_when, run), _rendered(params.until, run)
    response, body = await _send(params, run, "GET")
    client = run.http(_connection(params, run))
    if any(check.holds_in(body) for check in fail_when):
        detail: Any = client.redactor.value(body)
        if params.fail_message is not None:
            scope = {**run.scope, "response": body, "status": response.status_code}
            rendered = templating.render(params.fail_message, scope, node_id=run.node_id)
            detail = client.redactor.text(_as_text(rendered))
        raise errors.PermanentUpstreamError(
            f"{client.upstream}: {run.operation}: failed: {detail}",
            upstream=client.upstream,
            operation=run.operation,
            status=response.status_code,
            body=client.redactor.value(body),
        )
    if all(check.holds_in(body) for check in until):
        return NodeResult(output=_extract(params, run, response, body))
    waited = (run.now - started).total_seconds()
    if waited >= params.timeout:
        raise errors.PermanentUpstreamError(
            f"{client.upstream}: {run.operation}: gave up waiting after {waited:.0f}s",
            upstream=client.upstream,
            operation=run.operation,
            body=client.redactor.value(body),
        )
    return NodeResult(wait=_seconds(params.interval, run, "interval"))


def _rendered(checks: list[PathCheck], run: NodeRun) -> list[PathCheck]:
    """Checks with templates in their paths and values rendered: answers keyed by an id learnt
    earlier in the flow (Virtualizor's `tasks.{{task.actid}}.status`)."""
    dumped = [check.model_dump(by_alias=True, exclude_unset=True) for check in checks]
    return [PathCheck.model_validate(run.render(check)) for check in dumped]


def _seconds(raw: float | str, run: NodeRun, name: str) -> float:
    value = run.render(raw) if isinstance(raw, str) else raw
    try:
        seconds = float(value)
    except (TypeError, ValueError) as exc:
        raise errors.InvalidSettings(
            f"node {run.node_id!r}: {name} {value!r} is not a number of seconds",
            node=run.node_id,
        ) from exc
    if seconds <= 0:
        raise errors.InvalidSettings(
            f"node {run.node_id!r}: {name} must be positive", node=run.node_id
        )
    return seconds


@node_type("map", params=MapParams)
async def map_(params: MapParams, run: NodeRun) -> NodeResult:
    """Reshape data: render `value` (with `each`, once per item, bound as `item`)."""
    if params.each is None:
        return NodeResult(output=run.render(params.value))
    items = run.render(params.each)
    where = _rendered(params.where, run)
    if isinstance(items, dict):
        items = list(items.values())
    if not isinstance(items, list):
        raise errors.InvalidFlow(
            f"node {run.node_id!r}: 'each' must name a list, got {type(items).__name__}",
            node=run.node_id,
        )
    return NodeResult(
        output=[
            templating.render(params.value, {**run.scope, "item": item}, node_id=run.node_id)
            for item in items
            if all(check.holds_in(item) for check in where)
        ]
    )


@node_type("wait", params=WaitParams, suspends=True)
async def wait(params: WaitParams, run: NodeRun) -> NodeResult:
    """Suspend the flow once for `seconds`, then fire `ok`."""
    if run.state.get("waited"):
        return NodeResult()
    run.state["waited"] = True
    return NodeResult(wait=_seconds(params.seconds, run, "seconds"))


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
