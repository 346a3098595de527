"""The interpreter against a fake upstream (an httpx MockTransport handler)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from fluxbilling import errors, plugins
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.engine.outcome import Done, Pending
from fluxbilling.plugins.nodes import REQUEST_BUDGET

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT: dict[str, Any] = {
    "order": {"id": 1, "hostname": "vps-1"},
    "options": {"plan_id": 4},
    "correlation_id": "order-1-provision",
    "project": 7,
    "plan_id": 4,
    "location": "ams",
}


class FakeVendor:
    """Answers from a route table and remembers every request."""

    def __init__(self, routes: dict[tuple[str, str], list[httpx.Response]]) -> None:
        self.routes = routes
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answers = self.routes[(request.method, request.url.path)]
        return answers.pop(0) if len(answers) > 1 else answers[0]


@pytest.fixture
def vendor() -> FakeVendor:
    return FakeVendor({})


@pytest.fixture
async def http(vendor: FakeVendor) -> AsyncIterator[Callable[[str], UpstreamHttp]]:
    client = UpstreamHttp("acme", "https://acme.test/api/", transport=httpx.MockTransport(vendor))
    yield lambda name: client
    await client.aclose()


def plugin(
    flow: dict[str, Any], verb: str = "provision", *, strict: bool = True
) -> plugins.LoadedPlugin:
    return plugins.load_plugin(
        {
            "format": "fluxbilling-visual-plugin",
            "plugin": {
                "slug": "acme",
                "type": "infrastructure-provider",
                "serviceType": "vps",
                "connectionType": "http",
                "capabilities": {"canProvision": True},
            },
            "flows": {verb: flow},
        },
        version=3,
        strict=strict,
    )


def linear(*nodes: dict[str, Any]) -> plugins.LoadedPlugin:
    return plugin({"nodes": [{"id": "start", "type": "trigger"}, *nodes]})


def ok(data: Any, status: int = 200) -> list[httpx.Response]:
    return [httpx.Response(status, json={"data": data})]


async def test_linear_flow_sends_typed_body_and_correlation_header(
    vendor: FakeVendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.routes[("POST", "/api/servers/projects/7/servers")] = ok({"id": 99}, 201)
    flow = linear(
        {
            "id": "create_vm",
            "type": "http",
            "method": "POST",
            "path": "/servers/projects/{{project}}/servers",
            "body": {"plan": "{{plan_id}}", "location": "{{location}}"},
        },
        {"id": "persist", "type": "set_service_data"},
    )

    outcome = await plugins.run_flow(flow, "provision", CONTEXT, http, None, now=NOW)

    assert isinstance(outcome, Done)
    [request] = vendor.seen
    assert json.loads(request.content) == {"plan": 4, "location": "ams"}
    assert request.headers["X-Correlation-Id"] == "order-1-provision"
    assert outcome.output["service_data"] == {"data": {"id": 99}}
    assert outcome.output["outputs"]["start"] == {"correlation_id": "order-1-provision"}


async def test_poll_returns_pending_then_resumes_and_times_out(
    vendor: FakeVendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.routes[("GET", "/api/jobs/5")] = ok({"state": "busy"})
    flow = linear(
        {
            "id": "wait",
            "type": "poll",
            "path": "jobs/5",
            "interval": 30,
            "timeout": 60,
            "until": [{"path": "data.state", "equals": "ready"}],
        }
    )

    first = await plugins.run_flow(flow, "provision", CONTEXT, http, None, now=NOW)
    assert isinstance(first, Pending)
    assert first.check_after == timedelta(seconds=30)
    assert first.cursor["node"] == "wait"
    assert first.cursor["node_state"] == {"started_at": NOW.isoformat()}
    json.dumps(first.cursor)

    second = await plugins.run_flow(
        flow, "provision", CONTEXT, http, first.cursor, now=NOW + timedelta(seconds=30)
    )
    assert isinstance(second, Pending)
    assert second.cursor["node_state"] == {"started_at": NOW.isoformat()}

    vendor.routes[("GET", "/api/jobs/5")] = ok({"state": "ready"})
    done = await plugins.run_flow(
        flow, "provision", CONTEXT, http, second.cursor, now=NOW + timedelta(seconds=59)
    )
    assert isinstance(done, Done)
    assert done.output["outputs"]["wait"] == {"data": {"state": "ready"}}

    vendor.routes[("GET", "/api/jobs/5")] = ok({"state": "busy"})
    with pytest.raises(errors.PermanentUpstreamError, match="gave up waiting after 60s"):
        await plugins.run_flow(
            flow, "provision", CONTEXT, http, second.cursor, now=NOW + timedelta(seconds=60)
        )


async def test_poll_fail_when_fails_with_the_body(
    vendor: FakeVendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.routes[("GET", "/api/jobs/5")] = ok({"state": "failed", "output": "disk full"})
    flow = linear(
        {
            "id": "wait",
            "type": "poll",
            "path": "jobs/5",
            "until": [{"path": "data.state", "equals": "ready"}],
            "fail_when": [{"path": "data.state", "in": ["failed"]}],
        }
    )
    with pytest.raises(errors.PermanentUpstreamError, match="disk full") as caught:
        await plugins.run_flow(flow, "provision", CONTEXT, http, None, now=NOW)
    assert caught.value.details["body"]["data"]["output"] == "disk full"


def branching(create: dict[str, Any]) -> plugins.LoadedPlugin:
    return plugin(
        {
            "nodes": [
                {"id": "start", "type": "trigger"},
                {"id": "create", "type": "http", "method": "POST", "path": "things", **create},
                {"id": "made", "type": "set_service_data", "data": {"made": True}},
                {"id": "had", "type": "set_service_data", "data": {"made": False}},
                {"id": "broke", "type": "set_service_data", "data": {"error": "{{create.status}}"}},
            ],
            "edges": [
                {"from": "start", "to": "create"},
                {"from": "create", "port": "ok", "to": "made"},
                {"from": "create", "port": "exists", "to": "had"},
                {"from": "create", "port": "error", "to": "broke"},
            ],
        }
    )


async def test_exists_when_routes_the_exists_port(
    vendor: FakeVendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.routes[("POST", "/api/things")] = [
        httpx.Response(422, json={"message": "The name has already been taken."})
    ]
    flow = branching({"exists_when": {"status": 422, "body_contains": "already"}})
    outcome = await plugins.run_flow(flow, "provision", CONTEXT, http, None, now=NOW)
    assert isinstance(outcome, Done)
    assert outcome.output["service_data"] == {"made": False}


async def test_other_422_is_permanent_and_on_error_route_routes_it(
    vendor: FakeVendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.routes[("POST", "/api/things")] = [httpx.Response(422, json={"message": "bad plan"})]
    failing = branching({"exists_when": {"status": 422, "body_contains": "already"}})
    with pytest.raises(errors.PermanentUpstreamError, match="bad plan"):
        await plugins.run_flow(failing, "provision", CONTEXT, http, None, now=NOW)

    routed = branching({"on_error": "route"})
    outcome = await plugins.run_flow(routed, "provision", CONTEXT, http, None, now=NOW)
    assert isinstance(outcome, Done)
    assert outcome.output["service_data"] == {"error": 422}
    assert outcome.output["outputs"]["create"]["code"] == "PermanentUpstreamError"


async def test_lookup_follows_pages_and_extract_misses_are_permanent(
    vendor: FakeVendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.routes[("GET", "/api/items")] = [
        httpx.Response(
            200,
            json={"data": [{"name": "a"}], "links": {"next": "https://acme.test/api/items?page=2"}},
        ),
        httpx.Response(200, json={"data": [{"name": "vps-1", "id": 3}], "links": {"next": None}}),
    ]
    flow = plugin(
        {
            "nodes": [
                {"id": "start", "type": "trigger"},
                {
                    "id": "find",
                    "type": "lookup",
                    "path": "items",
                    "field": "name",
                    "equals": "{{order.hostname}}",
                },
                {"id": "hit", "type": "set_service_data"},
                {"id": "miss", "type": "fail", "message": "no {{order.hostname}}"},
            ],
            "edges": [
                {"from": "start", "to": "find"},
                {"from": "find", "port": "found", "to": "hit"},
                {"from": "find", "port": "missing", "to": "miss"},
            ],
        }
    )
    outcome = await plugins.run_flow(flow, "provision", CONTEXT, http, None, now=NOW)
    assert isinstance(outcome, Done)
    assert outcome.output["service_data"] == {"name": "vps-1", "id": 3}
    assert vendor.seen[1].url.params["page"] == "2"

    vendor.routes[("GET", "/api/items")] = [httpx.Response(200, json={"data": []})]
    with pytest.raises(errors.PermanentUpstreamError, match="no vps-1"):
        await plugins.run_flow(flow, "provision", CONTEXT, http, None, now=NOW)

    vendor.routes[("GET", "/api/x")] = ok({})
    extracting = linear(
        {"id": "get", "type": "http", "path": "x", "extract": {"id": "response.data.id"}}
    )
    with pytest.raises(
        errors.PermanentUpstreamError, match=r"response has no 'response\.data\.id'"
    ):
        await plugins.run_flow(extracting, "provision", CONTEXT, http, None, now=NOW)


async def test_condition_and_step_budget(http: Callable[[str], UpstreamHttp]) -> None:
    flow = plugin(
        {
            "nodes": [
                {"id": "start", "type": "trigger"},
                {"id": "big", "type": "condition", "value": "{{options.plan_id}}", "in": [4, 8]},
                {"id": "a", "type": "set_service_data", "data": {"n": 1}},
                {"id": "b", "type": "set_service_data", "data": {"n": 2}},
                {"id": "end", "type": "done"},
            ],
            "edges": [
                {"from": "start", "to": "big"},
                {"from": "big", "port": "true", "to": "a"},
                {"from": "big", "port": "false", "to": "end"},
                {"from": "a", "to": "b"},
                {"from": "b", "to": "a"},
            ],
        },
        strict=False,  # saving refuses the loop; a version stored before that still runs
    )
    with pytest.raises(errors.InvalidFlow, match="ran 10 nodes without finishing"):
        await plugins.run_flow(flow, "provision", CONTEXT, http, None, now=NOW, step_budget=10)

    small = {**CONTEXT, "options": {"plan_id": 1}}
    outcome = await plugins.run_flow(flow, "provision", small, http, None, now=NOW)
    assert isinstance(outcome, Done)
    assert outcome.output["outputs"] == {
        "start": {"correlation_id": "order-1-provision"},
        "big": 1,
        "end": None,
    }


async def test_context_and_cursor_guards(http: Callable[[str], UpstreamHttp]) -> None:
    flow = linear({"id": "keep", "type": "set_service_data"})
    with pytest.raises(errors.InvariantViolation, match="correlation_id"):
        await plugins.run_flow(flow, "provision", {}, http, None, now=NOW)
    cursor = {"plugin": "acme", "version": 2, "verb": "provision", "node": "keep"}
    with pytest.raises(errors.InvariantViolation, match="cursor belongs to"):
        await plugins.run_flow(flow, "provision", CONTEXT, http, cursor, now=NOW)
    with pytest.raises(errors.InvalidFlow, match="must be a mapping"):
        await plugins.run_flow(
            flow,
            "provision",
            CONTEXT,
            http,
            {
                **cursor,
                "version": 3,
                "previous": "x",
                "outputs": {"x": [1]},
                "service_data": {},
                "node_state": {},
            },
            now=NOW,
        )
    with pytest.raises(errors.InvalidFlow, match=r"template path 'order\.nope' not found"):
        await plugins.run_flow(
            linear({"id": "f", "type": "fail", "message": "{{order.nope}}"}),
            "provision",
            CONTEXT,
            http,
            None,
            now=NOW,
        )


async def test_a_stored_loop_of_http_nodes_stops_at_the_request_budget(
    vendor: FakeVendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.routes[("POST", "/api/a")] = ok({})
    vendor.routes[("POST", "/api/b")] = ok({})
    looping = plugin(
        {
            "nodes": [
                {"id": "start", "type": "trigger"},
                {"id": "a", "type": "http", "method": "POST", "path": "a"},
                {"id": "b", "type": "http", "method": "POST", "path": "b"},
            ],
            "edges": [
                {"from": "start", "to": "a"},
                {"from": "a", "to": "b"},
                {"from": "b", "to": "a"},
            ],
        },
        strict=False,  # a version stored before loops without a wait were refused
    )
    with pytest.raises(errors.InvalidFlow, match="over the budget of 32") as caught:
        await plugins.run_flow(looping, "provision", CONTEXT, http, None, now=NOW)
    assert len(vendor.seen) == REQUEST_BUDGET == 32
    assert caught.value.details == {"verb": "provision", "node": "a", "request_budget": 32}


async def test_a_poll_that_never_has_to_wait_cannot_spin_either(
    vendor: FakeVendor, http: Callable[[str], UpstreamHttp]
) -> None:
    """A loop through a poll loads, but a poll whose test holds at once does not wait."""
    vendor.routes[("GET", "/api/task")] = ok({"done": True})
    vendor.routes[("POST", "/api/kick")] = ok({})
    spinning = plugin(
        {
            "nodes": [
                {"id": "start", "type": "trigger"},
                {"id": "kick", "type": "http", "method": "POST", "path": "kick"},
                {
                    "id": "wait",
                    "type": "poll",
                    "path": "task",
                    "until": [{"path": "data.done", "truthy": True}],
                },
            ],
            "edges": [
                {"from": "start", "to": "kick"},
                {"from": "kick", "to": "wait"},
                {"from": "wait", "to": "kick"},
            ],
        }
    )
    with pytest.raises(errors.InvalidFlow, match="request 11 of one step"):
        await plugins.run_flow(
            spinning, "provision", CONTEXT, http, None, now=NOW, request_budget=10
        )
    assert len(vendor.seen) == 10


async def test_each_resumed_step_has_its_own_request_budget(
    vendor: FakeVendor, http: Callable[[str], UpstreamHttp]
) -> None:
    polling = linear(
        {"id": "one", "type": "http", "path": "task"},
        {
            "id": "wait",
            "type": "poll",
            "path": "task",
            "interval": 5,
            "until": [{"path": "data.done", "truthy": True}],
        },
    )
    vendor.routes[("GET", "/api/task")] = [
        httpx.Response(200, json={"data": {"done": False}}),
        httpx.Response(200, json={"data": {"done": False}}),
        httpx.Response(200, json={"data": {"done": True}}),
    ]
    first = await plugins.run_flow(
        polling, "provision", CONTEXT, http, None, now=NOW, request_budget=2
    )
    assert isinstance(first, Pending)
    second = await plugins.run_flow(
        polling, "provision", CONTEXT, http, first.cursor, now=NOW, request_budget=1
    )
    assert isinstance(second, Done)
    assert len(vendor.seen) == 3
