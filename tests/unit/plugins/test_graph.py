"""Load-time graph validation: every problem is reported with its path."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from fluxbilling import errors, plugins
from fluxbilling.plugins.nodes import NodeParams, NodeRegistry, NodeResult, NodeRun, node_type


def document(flow: dict[str, Any], **capabilities: bool) -> dict[str, Any]:
    return {
        "format": "fluxbilling-visual-plugin",
        "plugin": {
            "slug": "acme",
            "type": "infrastructure-provider",
            "serviceType": "vps",
            "connectionType": "http",
            "capabilities": capabilities or {"canProvision": True},
        },
        "flows": {"provision": flow},
    }


def problems(doc: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(errors.InvalidFlow) as caught:
        plugins.load_plugin(doc, version=1)
    found: list[dict[str, str]] = caught.value.details["problems"]
    return found


def paths(doc: dict[str, Any]) -> set[str]:
    return {p["path"] for p in problems(doc)}


TRIGGER = {"id": "start", "type": "trigger"}
LOOKUP = {"id": "find", "type": "lookup", "path": "servers", "field": "name", "equals": "x"}


def test_unknown_node_type_is_located() -> None:
    doc = document(
        {
            "nodes": [
                TRIGGER,
                {"id": "a", "type": "http", "path": "x"},
                {"id": "b", "type": "teleport"},
            ]
        }
    )
    [problem] = problems(doc)
    assert problem["path"] == "flows.provision.nodes[2].type"
    assert "unknown node type 'teleport'" in problem["message"]


def test_bad_node_params_are_located() -> None:
    doc = document(
        {
            "nodes": [
                TRIGGER,
                {"id": "a", "type": "http", "path": "x", "colour": "red", "method": "BREW"},
            ]
        }
    )
    assert paths(doc) == {"flows.provision.nodes[1].colour", "flows.provision.nodes[1].method"}


def test_duplicate_and_reserved_ids() -> None:
    doc = document(
        {"nodes": [TRIGGER, {"id": "start", "type": "done"}, {"id": "order", "type": "done"}]}
    )
    assert paths(doc) >= {"flows.provision.nodes[1].id", "flows.provision.nodes[2].id"}


def test_dangling_edges_bad_ports_and_unreachable_nodes() -> None:
    flow = {
        "nodes": [TRIGGER, LOOKUP, {"id": "end", "type": "done"}, {"id": "island", "type": "done"}],
        "edges": [
            {"from": "start", "to": "find"},
            {"from": "find", "port": "found", "to": "end"},
            {"from": "find", "port": "missing", "to": "ghost"},
            {"from": "end", "port": "ok", "to": "find"},
            {"from": "ghost", "to": "end"},
        ],
    }
    found = paths(document(flow))
    assert {
        "flows.provision.edges[2].to",
        "flows.provision.edges[3].port",
        "flows.provision.edges[4].from",
        "flows.provision.nodes[3]",
    } <= found


def test_branch_ports_must_be_wired() -> None:
    flow = {
        "nodes": [TRIGGER, LOOKUP, {"id": "end", "type": "done"}],
        "edges": [{"from": "start", "to": "find"}, {"from": "find", "port": "found", "to": "end"}],
    }
    [problem] = problems(document(flow))
    assert problem == {"path": "flows.provision.nodes[1]", "message": "port 'missing' is not wired"}


def test_routed_errors_need_an_error_edge_and_port() -> None:
    flow = {
        "nodes": [
            TRIGGER,
            {"id": "a", "type": "http", "path": "x", "on_error": "route"},
            {"id": "b", "type": "done", "on_error": "route"},
        ],
        "edges": [{"from": "start", "to": "a"}, {"from": "a", "to": "b"}],
    }
    found = problems(document(flow))
    assert {"path": "flows.provision.nodes[1]", "message": "port 'error' is not wired"} in found
    assert "flows.provision.nodes[2].on_error" in {p["path"] for p in found}


def test_linear_flows_cannot_branch_and_end_at_terminal_nodes() -> None:
    flow = {
        "nodes": [TRIGGER, LOOKUP, {"id": "end", "type": "done"}, {"id": "after", "type": "done"}]
    }
    assert paths(document(flow)) == {"flows.provision.nodes[1].type", "flows.provision.nodes[3]"}


def test_exactly_one_trigger_first_in_linear_flows() -> None:
    assert "flows.provision.nodes" in paths(document({"nodes": [{"id": "end", "type": "done"}]}))
    doc = document({"nodes": [{"id": "x", "type": "set_service_data"}, TRIGGER]})
    assert "flows.provision.nodes[0]" in paths(doc)


def test_template_syntax_connection_capabilities_and_verbs() -> None:
    doc = document(
        {"nodes": [TRIGGER, {"id": "a", "type": "http", "path": "{{1+1}}"}]}, canFly=True
    )
    doc["plugin"].pop("connectionType")
    doc["flows"]["teleport"] = {"nodes": [TRIGGER]}
    assert paths(doc) == {
        "flows.provision.nodes[1].path",
        "flows.provision.nodes[1].connection",
        "plugin.capabilities.canFly",
        "flows.teleport",
    }


def test_flows_without_capability_are_warned_about() -> None:
    doc = document({"nodes": [TRIGGER]}, canSuspend=False)
    plugin = plugins.load_plugin(doc, version=2)
    assert [w.to_dict() for w in plugin.warnings] == [
        {"path": "flows.provision", "message": "no capability declares this flow"}
    ]


def test_the_error_message_summarises_problems() -> None:
    nodes = [TRIGGER] + [{"id": f"n{i}", "type": "nope"} for i in range(7)]
    with pytest.raises(errors.InvalidFlow, match=r"plugin acme is invalid: .*\(and 2 more\)"):
        plugins.load_plugin(document({"nodes": nodes}), version=1)


def test_registering_a_duplicate_node_type_raises() -> None:
    registry = NodeRegistry()

    @node_type("echo", params=NodeParams, registry=registry)
    async def echo(params: NodeParams, run: NodeRun) -> NodeResult:
        return NodeResult(output=run.scope)

    assert registry.names() == ["echo"]
    with pytest.raises(errors.InvariantViolation, match="'echo' is already registered"):
        node_type("echo", params=NodeParams, registry=registry)(echo)
    with pytest.raises(errors.InvariantViolation):
        node_type("http", params=NodeParams)(echo)


def test_routing_errors_needs_a_wired_error_port() -> None:
    call = {"id": "call", "type": "http", "path": "x", "on_error": "route"}
    linear = document({"nodes": [TRIGGER, call]})
    assert "flows.provision.nodes[1].on_error" in paths(linear)
    unwired = document(
        {
            "nodes": [TRIGGER, call, {"id": "end", "type": "done"}],
            "edges": [{"from": "start", "to": "call"}],
        }
    )
    assert any(
        p["path"] == "flows.provision.nodes[1]" and "'error' is not wired" in p["message"]
        for p in problems(unwired)
    )


@pytest.mark.parametrize("name", ["image", "allocation", "credentials", "cloud_init", "action"])
def test_node_ids_may_not_hide_context_keys(name: str) -> None:
    doc = document({"nodes": [TRIGGER, {"id": name, "type": "done"}]})
    assert "flows.provision.nodes[1].id" in paths(doc)


def test_os_install_by_reinstall_needs_the_reinstall_flow() -> None:
    doc = document({"nodes": [TRIGGER]})
    doc["plugin"]["osInstall"] = "reinstall"
    assert "plugin.osInstall" in paths(doc)


def http(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "http", "method": "POST", "path": node_id}


POLL = {"id": "wait", "type": "poll", "path": "task", "until": [{"path": "done", "truthy": True}]}


def a_b_loop() -> dict[str, Any]:
    """A provision flow whose http nodes `a` and `b` call each other forever."""
    return document(
        {
            "nodes": [TRIGGER, http("a"), http("b")],
            "edges": [
                {"from": "start", "to": "a"},
                {"from": "a", "to": "b"},
                {"from": "b", "to": "a"},
            ],
        }
    )


def test_a_loop_that_never_waits_is_refused_naming_its_nodes() -> None:
    doc = a_b_loop()
    [problem] = problems(doc)
    assert problem == {
        "path": "flows.provision.nodes[1]",
        "message": "a loop that never waits: a -> b -> a; put a 'poll' or 'wait' node on it "
        "(one step of a flow may not loop)",
    }


def test_a_node_wired_to_itself_is_a_loop() -> None:
    doc = document(
        {
            "nodes": [TRIGGER, {**http("a"), "on_error": "route"}, http("b")],
            "edges": [
                {"from": "start", "to": "a"},
                {"from": "a", "to": "b"},
                {"from": "a", "port": "error", "to": "a"},
            ],
        }
    )
    [problem] = problems(doc)
    assert "a loop that never waits: a -> a;" in problem["message"]


def test_loops_through_a_poll_or_wait_are_allowed_unless_one_bypasses_it() -> None:
    polled = document(
        {
            "nodes": [TRIGGER, http("a"), POLL, {"id": "again", "type": "wait", "seconds": 5}],
            "edges": [
                {"from": "start", "to": "a"},
                {"from": "a", "to": "wait"},
                {"from": "wait", "to": "again"},
                {"from": "again", "to": "a"},
            ],
        }
    )
    assert plugins.load_plugin(polled, version=1).warnings == ()

    bypass = document(
        {
            "nodes": [
                TRIGGER,
                http("a"),
                {"id": "busy", "type": "condition", "value": "{{a.busy}}", "truthy": True},
                POLL,
            ],
            "edges": [
                {"from": "start", "to": "a"},
                {"from": "a", "to": "busy"},
                {"from": "busy", "port": "true", "to": "a"},
                {"from": "busy", "port": "false", "to": "wait"},
                {"from": "wait", "to": "a"},
            ],
        }
    )
    [problem] = problems(bypass)
    assert "a loop that never waits: a -> busy -> a;" in problem["message"]


def test_a_stored_version_with_such_a_loop_still_loads_with_a_warning() -> None:
    doc = a_b_loop()
    loaded = plugins.load_plugin(doc, version=4, strict=False)
    [warning] = loaded.warnings
    assert warning.message.startswith("a loop that never waits: a -> b -> a")


def test_a_custom_node_type_that_suspends_may_close_a_loop() -> None:
    registry = NodeRegistry()
    for name, suspends in (("trigger", False), ("step", False), ("pause", True)):

        async def run(params: NodeParams, run: NodeRun) -> NodeResult:
            return NodeResult()  # pragma: no cover - never run: only loaded

        node_type(name, params=NodeParams, suspends=suspends, registry=registry)(run)
    flow = {
        "nodes": [TRIGGER, {"id": "s", "type": "step"}, {"id": "p", "type": "pause"}],
        "edges": [
            {"from": "start", "to": "s"},
            {"from": "s", "to": "p"},
            {"from": "p", "to": "s"},
        ],
    }
    plugins.load_plugin(document(flow), version=1, registry=registry)
    flow["nodes"][2]["type"] = "step"
    with pytest.raises(errors.InvalidFlow, match="s -> p -> s"):
        plugins.load_plugin(document(flow), version=1, registry=registry)


def test_a_flow_has_at_most_500_nodes_and_1000_edges() -> None:
    chain = [TRIGGER, *({"id": f"n{i}", "type": "http", "path": "x"} for i in range(500))]
    edges = [{"from": a["id"], "to": b["id"]} for a, b in pairwise(chain)]
    found = problems(document({"nodes": chain, "edges": edges * 3}))
    assert {p["path"] for p in found} == {"flows.provision.nodes", "flows.provision.edges"}
    assert any("at most 500 items" in p["message"] for p in found)
    plugins.load_plugin(document({"nodes": chain[:500], "edges": edges[:499]}), version=1)


def test_every_problem_is_reported_even_next_to_an_unknown_top_level_key() -> None:
    doc = document(
        {
            "nodes": [
                TRIGGER,
                {"id": "find", "type": "lookup", "path": "servers", "field": "name"},
                {"id": "create", "type": "http", "path": "{{order.id", "methd": "POST"},
                {"id": "order", "type": "done"},
                {"id": "beam", "type": "teleport"},
            ],
            "edges": [
                {"from": "start", "to": "find"},
                {"from": "find", "port": "found", "to": "nowhere"},
                {"from": "find", "port": "missing", "to": "create"},
            ],
        },
        canProvision=True,
        canSuspend=True,
    )
    doc["colour"] = "blue"
    doc["plugin"]["serviceType"] = "toaster"
    doc["flows"]["stats"] = {
        "nodes": [TRIGGER, {"type": "done"}, {"id": "x", "type": "wait", "seconds": "{{a b}}"}],
        "edges": [{"from": "start", "to": "x", "colour": "red"}],
    }

    found = problems(doc)

    # On main the unknown key and the header's error were all there was to read.
    assert [(p["path"], p["message"].split(" (")[0]) for p in found] == [
        ("colour", "Extra inputs are not permitted"),
        ("plugin.serviceType", "Input should be 'vps', 'shared', 'game' or 'baremetal'"),
        ("flows.provision.nodes[2].path", "unclosed template in '{{order.id'"),
        ("flows.provision.nodes[2].methd", "Extra inputs are not permitted"),
        ("flows.provision.nodes[3].id", "'order' is reserved for the run context"),
        ("flows.provision.nodes[4].type", "unknown node type 'teleport'"),
        ("flows.provision.edges[1].to", "dangling edge: no node 'nowhere'"),
        ("flows.provision.nodes[3]", "unreachable from the trigger"),
        ("flows.provision.nodes[4]", "unreachable from the trigger"),
        ("flows.stats.nodes[1].id", "Field required"),
        ("flows.stats.edges[0].colour", "Extra inputs are not permitted"),
        ("flows.stats.nodes[2].seconds", "{{a b}} is not a path lookup"),
    ]


def test_a_template_problem_names_where_inside_the_parameter_it_is() -> None:
    create = {"id": "create", "type": "http", "path": "x", "body": {"tags": ["ok", "{{1 + 1}}"]}}

    [problem] = problems(document({"nodes": [TRIGGER, create]}))

    assert problem["path"] == "flows.provision.nodes[1].body.tags[1]"


def test_a_test_flow_needs_no_capability_and_tests_its_own_connection_only() -> None:
    doc = document({"nodes": [TRIGGER, {"id": "done", "type": "done"}]})
    doc["flows"]["test"] = {"nodes": [TRIGGER, {"id": "ping", "type": "http", "path": "ping"}]}

    assert plugins.load_plugin(doc, 1).warnings == ()

    doc["flows"]["test"]["nodes"][1]["connection"] = "other-panel"
    assert problems(doc) == [
        {"path": "flows.test.nodes[1].connection", "message": "a test flow tests one connection"}
    ]
