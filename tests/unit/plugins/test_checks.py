"""`not_equals` and `not_in`: negated checks wherever checks are (poll, lookup, map, rules,
condition), so "the task finished but not OK" needs no condition node and no fail node."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import jsonschema
import pytest
from pydantic import ValidationError

from fluxbilling import errors, plugins
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.engine.outcome import Done
from fluxbilling.plugins import schema, templating
from fluxbilling.plugins.nodes import Check, PathCheck

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT = {"order": {"id": 7, "hostname": "h7"}, "correlation_id": "7:provision"}


@pytest.mark.parametrize(
    ("check", "value", "holds"),
    [
        ({"not_equals": "ok"}, "error", True),
        ({"not_equals": "ok"}, "ok", False),
        ({"not_equals": "ok"}, None, True),
        ({"not_equals": 1}, 1.0, False),
        ({"not_in": ["queued", "running"]}, "failed", True),
        ({"not_in": ["queued", "running"]}, "running", False),
        ({"not_in": []}, "anything", True),
    ],
)
def test_negated_checks_are_the_opposite_of_equals_and_in(
    check: dict[str, Any], value: Any, holds: bool
) -> None:
    assert Check.model_validate(check).holds(value) is holds
    positive = {"equals" if "not_equals" in check else "in": next(iter(check.values()))}
    assert Check.model_validate(positive).holds(value) is not holds


@pytest.mark.parametrize("check", [{"not_equals": "ok"}, {"not_in": ["ok"]}, {"equals": "x"}])
def test_a_value_that_is_not_there_passes_no_comparison(check: dict[str, Any]) -> None:
    assert PathCheck.model_validate({"path": "task.state", **check}).holds_in({}) is False
    assert Check.model_validate(check).holds(templating.MISSING) is False


@pytest.mark.parametrize(
    "check",
    [
        {"path": "a"},
        {"path": "a", "equals": 1, "not_equals": 2},
        {"path": "a", "in": [1], "not_in": [2]},
        {"path": "a", "not_in": "ok"},
    ],
)
def test_a_check_has_exactly_one_test_for_the_loader_and_the_schema(
    check: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError):
        PathCheck.model_validate(check)
    path_check = schema.format_schema()["$defs"]["PathCheck"]
    validator = jsonschema.Draft202012Validator(path_check)
    assert not validator.is_valid(check)


def test_the_schema_describes_the_negated_tests() -> None:
    properties = schema.format_schema()["$defs"]["PathCheck"]["properties"]

    assert properties["not_equals"]["title"] == "Not equals"
    assert "differs" in properties["not_equals"]["description"]
    assert properties["not_in"]["title"] == "Not in"
    assert jsonschema.Draft202012Validator(schema.format_schema()["$defs"]["PathCheck"]).is_valid(
        {"path": "a", "not_in": ["ok"]}
    )


def plugin(*nodes: dict[str, Any], edges: list[dict[str, str]] | None = None) -> Any:
    flow: dict[str, Any] = {"nodes": [{"id": "start", "type": "trigger"}, *nodes]}
    if edges is not None:
        flow["edges"] = edges
    return plugins.load_plugin(
        {
            "format": "fluxbilling-visual-plugin",
            "plugin": {
                "slug": "p",
                "type": "infrastructure-provider",
                "serviceType": "vps",
                "connectionType": "http",
                "capabilities": {"canProvision": True},
            },
            "flows": {"provision": flow},
        },
        1,
    )


@pytest.fixture
def answers() -> dict[str, Any]:
    return {}


@pytest.fixture
async def http(answers: dict[str, Any]) -> AsyncIterator[Callable[[str], UpstreamHttp]]:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers[request.url.path])

    client = UpstreamHttp("panel", "https://panel.test/", transport=httpx.MockTransport(handle))
    yield lambda name: client
    await client.aclose()


async def run(flow: Any, http: Callable[[str], UpstreamHttp]) -> Any:
    return await plugins.run_flow(flow, "provision", CONTEXT, http, None, now=NOW)


@pytest.mark.anyio
async def test_a_poll_fails_when_a_finished_task_is_not_ok(
    answers: dict[str, Any], http: Callable[[str], UpstreamHttp]
) -> None:
    flow = plugin(
        {
            "id": "task",
            "type": "poll",
            "path": "tasks/{{order.id}}",
            "until": [{"path": "state", "equals": "finished"}],
            "fail_when": [{"path": "result", "not_in": [None, "ok"]}],
            "fail_message": "task ended {{response.result}}",
        }
    )
    answers["/tasks/7"] = {"state": "finished", "result": "disk_full"}
    with pytest.raises(errors.PermanentUpstreamError, match="task ended disk_full"):
        await run(flow, http)

    answers["/tasks/7"] = {"state": "finished", "result": "ok"}
    assert isinstance(await run(flow, http), Done)


@pytest.mark.anyio
async def test_map_keeps_items_passing_a_negated_check(
    answers: dict[str, Any], http: Callable[[str], UpstreamHttp]
) -> None:
    answers["/ips"] = {"data": [{"ip": "a", "kind": "v4"}, {"ip": "b", "kind": "v6"}]}
    flow = plugin(
        {"id": "ips", "type": "http", "path": "ips"},
        {
            "id": "v4",
            "type": "map",
            "each": "{{ips.data}}",
            "value": "{{item.ip}}",
            "where": [{"path": "kind", "not_in": ["v6"]}],
        },
    )

    done = await run(flow, http)

    assert isinstance(done, Done)
    assert done.output["result"] == ["a"]


@pytest.mark.anyio
async def test_lookup_condition_and_rules_take_negated_checks(
    answers: dict[str, Any], http: Callable[[str], UpstreamHttp]
) -> None:
    answers["/servers"] = {
        "data": [
            {"name": "h7", "state": "deleted", "id": 1},
            {"name": "h7", "state": "running", "id": 2},
            {"name": "h8", "state": "running", "id": 3},
        ],
        "status": "ok",
    }
    flow = plugin(
        {
            "id": "find",
            "type": "lookup",
            "path": "servers",
            "field": "name",
            "equals": "{{order.hostname}}",
            "where": [{"path": "state", "not_equals": "deleted"}],
            "classify": [{"where": [{"path": "status", "not_equals": "ok"}], "means": "permanent"}],
        },
        {"id": "missing", "type": "fail", "message": "no server"},
        {"id": "is_new", "type": "condition", "value": "{{find.id}}", "not_in": [1, 3]},
        {"id": "old", "type": "fail", "message": "old server"},
        {"id": "end", "type": "done"},
        edges=[
            {"from": "start", "to": "find"},
            {"from": "find", "port": "found", "to": "is_new"},
            {"from": "find", "port": "missing", "to": "missing"},
            {"from": "is_new", "port": "true", "to": "end"},
            {"from": "is_new", "port": "false", "to": "old"},
        ],
    )
    done = await run(flow, http)
    assert isinstance(done, Done)
    assert done.output["outputs"]["find"]["id"] == 2

    answers["/servers"] = {**answers["/servers"], "status": "maintenance"}
    with pytest.raises(errors.PermanentUpstreamError):
        await run(flow, http)
