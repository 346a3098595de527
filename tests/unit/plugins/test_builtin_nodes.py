"""The node types added for real panels: classify rules, forms, credentials, map, wait, retry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from fluxbilling import errors, plugins
from fluxbilling.drivers.upstream import Credential, UpstreamHttp
from fluxbilling.engine import policy
from fluxbilling.engine.outcome import Done, Pending
from fluxbilling.plugins.nodes import RetryParams

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT: dict[str, Any] = {
    "order": {"id": 1, "hostname": "vps-1.example.net"},
    "options": {"plan": "starter"},
    "correlation_id": "1:provision",
}
Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


class Vendor:
    """Answers queued responses per (method, path) and remembers every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.seen: list[httpx.Request] = []

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes[(method, path)] = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        queue = self.routes[(request.method, request.url.path)]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer(request) if callable(answer) else answer


@pytest.fixture
def vendor() -> Vendor:
    return Vendor()


@pytest.fixture
async def http(vendor: Vendor) -> AsyncIterator[Callable[[str], UpstreamHttp]]:
    client = UpstreamHttp(
        "panel",
        "https://panel.test/",
        secrets=["k3y-abcdef", "ptlc_secret"],
        transport=httpx.MockTransport(vendor),
        credentials={
            None: Credential(params={"apikey": "k3y-abcdef"}),
            "client": Credential(headers={"Authorization": "Bearer ptlc_secret"}),
        },
    )
    yield lambda name: client
    await client.aclose()


def linear(*nodes: dict[str, Any], verb: str = "provision") -> plugins.LoadedPlugin:
    return plugins.load_plugin(
        {
            "format": "fluxbilling-visual-plugin",
            "plugin": {
                "slug": "panel",
                "type": "infrastructure-provider",
                "serviceType": "shared",
                "connectionType": "http",
                "capabilities": {"canProvision": True},
            },
            "flows": {verb: {"nodes": [{"id": "start", "type": "trigger"}, *nodes]}},
        },
        version=1,
    )


async def run(
    plugin: plugins.LoadedPlugin,
    http: Callable[[str], UpstreamHttp],
    cursor: dict[str, Any] | None = None,
    now: datetime = NOW,
) -> Done | Pending:
    return await plugins.run_flow(plugin, "provision", CONTEXT, http, cursor, now=now)


WHM_RULES = [
    {
        "where": [{"path": "metadata.result", "equals": 0}],
        "body_contains": "already exists",
        "means": "exists",
    },
    {
        "where": [{"path": "metadata.result", "equals": 0}],
        "body_contains": "limit",
        "means": "capacity",
        "message": "{{response.metadata.reason}}",
    },
    {
        "where": [{"path": "metadata.result", "equals": 0}],
        "means": "permanent",
        "message": "WHM refused: {{response.metadata.reason}}",
    },
]


def whm(result: int, reason: str) -> httpx.Response:
    return httpx.Response(200, json={"metadata": {"result": result, "reason": reason}})


def create_node(**extra: Any) -> dict[str, Any]:
    return {
        "id": "create",
        "type": "http",
        "path": "createacct",
        "query": {"username": "vps1"},
        "classify": WHM_RULES,
        **extra,
    }


async def test_rules_read_failures_out_of_a_200_body(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    flow = linear(create_node())
    vendor.on("GET", "/createacct", whm(1, "OK"))
    assert isinstance(await run(flow, http), Done)

    vendor.on("GET", "/createacct", whm(0, "Sorry, vps1 already exists."))
    done = await run(flow, http)
    assert isinstance(done, Done)  # `exists` falls back to `ok` in a linear flow

    vendor.on("GET", "/createacct", whm(0, "You have reached your account creation limit."))
    with pytest.raises(errors.CapacityExhausted, match="creation limit"):
        await run(flow, http)

    vendor.on("GET", "/createacct", whm(0, "Invalid package"))
    with pytest.raises(errors.PermanentUpstreamError, match="WHM refused: Invalid package") as e:
        await run(flow, http)
    assert e.value.status == 200


async def test_no_rule_matching_falls_back_to_status_classification(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.on("GET", "/createacct", httpx.Response(503, text="<html>down</html>"))
    with pytest.raises(errors.TransientUpstreamError, match="HTTP 503"):
        await run(linear(create_node()), http)


async def test_rule_messages_never_show_secrets(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.on("GET", "/createacct", whm(0, "bad key k3y-abcdef"))
    with pytest.raises(errors.PermanentUpstreamError) as caught:
        await run(linear(create_node()), http)
    assert "k3y-abcdef" not in caught.value.message
    assert "k3y-abcdef" not in str(caught.value.details)


async def test_form_bodies_query_credentials_and_extra_credentials(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.on("POST", "/index.php", httpx.Response(200, json={"done": 1}))
    vendor.on("GET", "/api/client/servers/ab12/resources", httpx.Response(200, json={}))
    flow = linear(
        {
            "id": "suspend",
            "type": "http",
            "method": "POST",
            "path": "index.php",
            "query": {"act": "vs"},
            "body_format": "form",
            "body": {"suspend": "{{order.id}}", "flag": True, "none": None},
        },
        {
            "id": "usage",
            "type": "http",
            "path": "api/client/servers/ab12/resources",
            "credential": "client",
        },
    )
    assert isinstance(await run(flow, http), Done)
    form, usage = vendor.seen
    assert form.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(form.content.decode()) == {"suspend": ["1"], "flag": ["1"]}
    assert dict(form.url.params) == {"act": "vs", "apikey": "k3y-abcdef"}
    assert usage.headers["authorization"] == "Bearer ptlc_secret"
    assert "apikey" not in usage.url.params


async def test_an_unknown_credential_is_a_settings_error(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    flow = linear({"id": "x", "type": "http", "path": "p", "credential": "reseller"})
    with pytest.raises(errors.InvalidSettings, match="no credential 'reseller'"):
        await run(flow, http)


async def test_lookup_reads_objects_keyed_by_id_and_single_objects(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.on(
        "GET",
        "/index.php",
        httpx.Response(200, json={"vs": {"7": {"vpsid": "7", "hostname": "vps-1.example.net"}}}),
    )
    vendor.on("GET", "/servers/external/1", httpx.Response(404, json={"errors": []}))
    flow = plugins.load_plugin(
        {
            "format": "fluxbilling-visual-plugin",
            "plugin": {
                "slug": "p",
                "type": "infrastructure-provider",
                "serviceType": "vps",
                "connectionType": "http",
            },
            "flows": {
                "provision": {
                    "nodes": [
                        {"id": "start", "type": "trigger"},
                        {
                            "id": "by_host",
                            "type": "lookup",
                            "path": "index.php",
                            "items": "vs",
                            "field": "hostname",
                            "equals": "{{order.hostname}}",
                            "extract": {"id": "response.vpsid"},
                        },
                        {"id": "by_key", "type": "lookup", "path": "servers/external/{{order.id}}"},
                        {"id": "end", "type": "done"},
                        {"id": "lost", "type": "fail", "message": "lost"},
                    ],
                    "edges": [
                        {"from": "start", "to": "by_host"},
                        {"from": "by_host", "port": "found", "to": "by_key"},
                        {"from": "by_host", "port": "missing", "to": "lost"},
                        {"from": "by_key", "port": "missing", "to": "end"},
                        {"from": "by_key", "port": "found", "to": "lost"},
                    ],
                }
            },
        },
        version=1,
        strict=False,
    )
    done = await run(flow, http)
    assert isinstance(done, Done)
    assert done.output["outputs"]["by_host"] == {"id": "7"}
    assert done.output["outputs"]["by_key"] is None


async def test_map_reshapes_and_filters(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.on(
        "GET",
        "/ips",
        httpx.Response(
            200,
            json={
                "ips": {
                    "1": {"ip": "192.0.2.5", "primary": 1},
                    "2": {"ip": "192.0.2.6", "primary": 0},
                }
            },
        ),
    )
    flow = linear(
        {"id": "fetch", "type": "http", "path": "ips"},
        {
            "id": "primary",
            "type": "map",
            "each": "{{fetch.ips}}",
            "value": "{{item.ip}}",
            "where": [{"path": "primary", "equals": 1}],
        },
        {
            "id": "shape",
            "type": "map",
            "value": {"ip": "{{primary.0}}", "host": "{{order.hostname}}"},
        },
        {"id": "keep", "type": "set_service_data"},
    )
    done = await run(flow, http)
    assert isinstance(done, Done)
    assert done.output["service_data"] == {"ip": "192.0.2.5", "host": "vps-1.example.net"}

    bad = linear({"id": "m", "type": "map", "each": "{{order.hostname}}", "value": 1})
    with pytest.raises(errors.InvalidFlow, match="'each' must name a list"):
        await run(bad, http)


async def test_wait_suspends_once_then_continues(http: Callable[[str], UpstreamHttp]) -> None:
    flow = linear(
        {"id": "settle", "type": "wait", "seconds": "{{options.delay ?? 45}}"},
        {"id": "keep", "type": "set_service_data", "data": {"settled": True}},
    )
    first = await run(flow, http)
    assert isinstance(first, Pending)
    assert first.check_after == timedelta(seconds=45)
    second = await run(flow, http, cursor=dict(first.cursor))
    assert isinstance(second, Done)
    assert second.output["service_data"] == {"settled": True}

    never = linear({"id": "settle", "type": "wait", "seconds": "{{order.hostname}}"})
    with pytest.raises(errors.InvalidSettings, match="is not a number of seconds"):
        await run(never, http)


async def test_node_retry_resumes_the_same_node_and_honours_retry_after(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.on(
        "GET",
        "/flaky",
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "17"}),
        httpx.Response(200, json={"fine": True}),
    )
    flow = linear(
        {"id": "first", "type": "http", "path": "first"},
        {
            "id": "flaky",
            "type": "http",
            "path": "flaky",
            "retry": {"max_attempts": 3, "backoff": 5},
        },
    )
    vendor.on("GET", "/first", httpx.Response(200, json={"n": 1}))

    one = await run(flow, http)
    assert isinstance(one, Pending)
    assert one.check_after == timedelta(seconds=5)
    two = await run(flow, http, cursor=dict(one.cursor))
    assert isinstance(two, Pending)
    assert two.check_after == timedelta(seconds=17)
    three = await run(flow, http, cursor=dict(two.cursor))
    assert isinstance(three, Done)
    assert [r.url.path for r in vendor.seen] == ["/first", "/flaky", "/flaky", "/flaky"]


@pytest.mark.parametrize(("tries", "seconds"), [(1, 2.0), (2, 4.0), (3, 5.0), (19, 5.0)])
def test_node_retry_is_the_engine_policy_doubling_without_jitter(
    tries: int, seconds: float
) -> None:
    retry = RetryParams(max_attempts=20, backoff=2, max_backoff=5).policy
    assert (retry.max_attempts, retry.deadline) == (20, None)
    for rand in (0.0, 0.99):
        assert policy.backoff(tries, retry, rand) == timedelta(seconds=seconds)


async def test_node_retry_gives_up_and_never_retries_permanent_errors(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    flow = linear({"id": "flaky", "type": "http", "path": "flaky", "retry": {"max_attempts": 2}})
    vendor.on("GET", "/flaky", httpx.Response(503))
    pending = await run(flow, http)
    assert isinstance(pending, Pending)
    with pytest.raises(errors.TransientUpstreamError):
        await run(flow, http, cursor=dict(pending.cursor))

    vendor.on("GET", "/flaky", httpx.Response(400))
    with pytest.raises(errors.PermanentUpstreamError):
        await run(flow, http)


def test_bad_rules_and_retry_settings_are_rejected_on_load() -> None:
    with pytest.raises(errors.InvalidFlow) as caught:
        linear(
            {"id": "a", "type": "http", "path": "x", "classify": [{"means": "maybe"}]},
            {"id": "b", "type": "http", "path": "x", "retry": {"max_attempts": 0}},
            {"id": "c", "type": "http", "path": "x", "body_format": "xml"},
        )
    located = {p["path"] for p in caught.value.details["problems"]}
    assert {
        "flows.provision.nodes[1].classify[0].means",
        "flows.provision.nodes[2].retry.max_attempts",
        "flows.provision.nodes[3].body_format",
    } <= located


def lookup_flow(node: dict[str, Any]) -> plugins.LoadedPlugin:
    return plugins.load_plugin(
        {
            "format": "fluxbilling-visual-plugin",
            "plugin": {
                "slug": "p",
                "type": "infrastructure-provider",
                "serviceType": "shared",
                "connectionType": "http",
                "capabilities": {"canProvision": True},
            },
            "flows": {
                "provision": {
                    "nodes": [
                        {"id": "start", "type": "trigger"},
                        node,
                        {"id": "end", "type": "done"},
                        {"id": "lost", "type": "fail", "message": "not found"},
                    ],
                    "edges": [
                        {"from": "start", "to": node["id"]},
                        {"from": node["id"], "port": "found", "to": "end"},
                        {"from": node["id"], "port": "missing", "to": "lost"},
                    ],
                }
            },
        },
        version=1,
    )


async def test_lookup_rules_turn_in_band_errors_into_failures(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    flow = lookup_flow(
        {
            "id": "find",
            "type": "lookup",
            "path": "listaccts",
            "items": "data.acct",
            "field": "user",
            "equals": "{{order.hostname}}",
            "classify": [
                {
                    "where": [{"path": "metadata.result", "equals": 0}],
                    "means": "permanent",
                    "message": "WHM: {{response.metadata.reason}}",
                },
            ],
        }
    )
    vendor.on("GET", "/listaccts", whm(0, "Access denied"))
    with pytest.raises(errors.PermanentUpstreamError, match="WHM: Access denied"):
        await run(flow, http)
    vendor.on(
        "GET",
        "/listaccts",
        httpx.Response(
            200, json={"metadata": {"result": 1}, "data": {"acct": [{"user": "vps-1.example.net"}]}}
        ),
    )
    done = await run(flow, http)
    assert isinstance(done, Done)
    assert done.output["outputs"]["find"] == {"user": "vps-1.example.net"}
    vendor.on("GET", "/listaccts", httpx.Response(502, text="bad gateway"))
    with pytest.raises(errors.TransientUpstreamError, match="HTTP 502"):
        await run(flow, http)


async def test_lookup_where_checks_are_templates(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.on(
        "GET",
        "/accounts",
        httpx.Response(
            200,
            json={
                "data": [
                    {"user": "u1", "domain": "other.example"},
                    {"user": "u1", "domain": "vps-1.example.net"},
                ]
            },
        ),
    )
    flow = lookup_flow(
        {
            "id": "find",
            "type": "lookup",
            "path": "accounts",
            "field": "user",
            "equals": "u1",
            "where": [{"path": "domain", "equals": "{{order.hostname}}"}],
        }
    )
    done = await run(flow, http)
    assert isinstance(done, Done)
    assert done.output["outputs"]["find"]["domain"] == "vps-1.example.net"


async def test_poll_fail_message_and_map_where_templates(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.on(
        "GET",
        "/tasks",
        httpx.Response(200, json={"tasks": {"9": {"status": "-1", "status_txt": "disk full"}}}),
    )
    failing = linear(
        {
            "id": "wait",
            "type": "poll",
            "path": "tasks",
            "until": [{"path": "tasks.{{order.id}}.status", "equals": "2"}],
            "fail_when": [{"path": "tasks.9.status", "equals": "-1"}],
            "fail_message": "build failed: {{response.tasks.9.status_txt}}",
        }
    )
    with pytest.raises(errors.PermanentUpstreamError, match="failed: build failed: disk full"):
        await run(failing, http)

    vendor.on(
        "GET",
        "/allocations",
        httpx.Response(200, json={"data": [{"id": 1, "port": 25565}, {"id": 2, "port": 25566}]}),
    )
    picking = linear(
        {"id": "all", "type": "http", "path": "allocations"},
        {
            "id": "primary",
            "type": "map",
            "each": "{{all.data}}",
            "value": "{{item.port}}",
            "where": [{"path": "id", "equals": "{{order.id}}"}],
        },
    )
    done = await run(picking, http)
    assert isinstance(done, Done)
    assert done.output["outputs"]["primary"] == [25565]


@pytest.mark.parametrize("node_type", ["http", "lookup"])
@pytest.mark.parametrize("header", ["Host", "host", "Transfer-Encoding", "Content-Length"])
def test_a_node_may_not_set_host_or_framing_headers(node_type: str, header: str) -> None:
    node = {"id": "call", "type": node_type, "path": "x", "headers": {header: "internal.example"}}
    with pytest.raises(errors.InvalidFlow) as caught:
        linear(node)
    found = {p["path"]: p["message"] for p in caught.value.details["problems"]}
    message = found["flows.provision.nodes[1].headers"]
    assert f"header(s) {header} are set by the client, never by a flow" in message


async def test_ordinary_node_headers_are_sent(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.on("GET", "/x", httpx.Response(200, json={}))
    plugin = linear({"id": "call", "type": "http", "path": "x", "headers": {"X-Trace": "on"}})
    assert isinstance(await run(plugin, http), Done)
    assert vendor.seen[0].headers["X-Trace"] == "on"
    assert vendor.seen[0].headers["Host"] == "panel.test"


async def test_a_lookup_waits_while_the_object_is_pending_then_finds_it(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    flow = lookup_flow(
        {
            "id": "find",
            "type": "lookup",
            "path": "vms/{{order.id}}",
            "pending_when": [{"path": "lock", "in": ["create", "clone"]}],
            "pending_interval": 7,
            "pending_timeout": 20,
        }
    )
    vendor.on(
        "GET",
        "/vms/1",
        httpx.Response(200, json={"lock": "create", "name": "Copy-of-template"}),
        httpx.Response(200, json={"name": "vps-1"}),
    )

    first = await run(flow, http)
    assert isinstance(first, Pending)
    assert first.check_after == timedelta(seconds=7)
    assert first.cursor["node"] == "find"
    done = await run(flow, http, dict(first.cursor), NOW + timedelta(seconds=7))
    assert isinstance(done, Done)
    assert done.output["outputs"]["find"] == {"name": "vps-1"}


async def test_a_list_lookup_without_a_match_or_a_pending_item_is_missing(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    flow = lookup_flow(
        {
            "id": "find",
            "type": "lookup",
            "path": "vms",
            "field": "name",
            "equals": "{{order.hostname}}",
            "pending_when": [
                {"path": "owner", "equals": "{{order.id}}"},
                {"path": "lock", "truthy": True},
            ],
        }
    )
    vendor.on(
        "GET",
        "/vms",
        httpx.Response(200, json={"data": [{"name": "x", "lock": "create", "owner": 2}]}),
    )

    with pytest.raises(errors.PermanentUpstreamError, match="not found"):
        await run(flow, http)

    vendor.on(
        "GET",
        "/vms",
        httpx.Response(200, json={"data": [{"name": "x", "lock": "create", "owner": 1}]}),
    )
    pending = await run(flow, http)
    assert isinstance(pending, Pending)
    with pytest.raises(errors.PermanentUpstreamError, match=r"still being created after 1800s"):
        await run(flow, http, dict(pending.cursor), NOW + timedelta(seconds=1800))
