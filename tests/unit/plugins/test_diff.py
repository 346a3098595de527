"""The structural and text diff of plugin documents."""

from __future__ import annotations

import copy
import json
from typing import Any

from fluxbilling.plugins.diff import (
    MAX_TEXT_LINES,
    TRUNCATED,
    Change,
    TextDiff,
    changes,
    path_text,
    text_diff,
)
from tests.largedocs import maximal_plugin
from tests.unifiedpatch import apply_unified


def node(node_id: str, **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "http", **params}


def document(*nodes: dict[str, Any], edges: list[dict[str, str]] | None = None) -> dict[str, Any]:
    flow: dict[str, Any] = {"nodes": [{"id": "start", "type": "trigger"}, *nodes]}
    if edges is not None:
        flow["edges"] = edges
    return {
        "format": "fluxbilling-visual-plugin",
        "plugin": {"slug": "acme", "capabilities": {"canProvision": True}},
        "flows": {"provision": flow},
    }


BASE = document(node("create", path="servers"), node("wait", path="tasks/1"), node("persist"))


def test_identical_documents_have_no_changes() -> None:
    assert changes(BASE, copy.deepcopy(BASE)) == []
    assert text_diff(BASE, copy.deepcopy(BASE)) == TextDiff("", truncated=False)


def test_a_changed_node_parameter_is_one_replace_at_its_path() -> None:
    new = copy.deepcopy(BASE)
    new["flows"]["provision"]["nodes"][2]["path"] = "tasks/2"
    assert changes(BASE, new) == [
        Change("replace", "flows.provision.nodes[2].path", "tasks/1", "tasks/2")
    ]
    assert changes(BASE, new)[0].to_dict() == {
        "op": "replace",
        "path": "flows.provision.nodes[2].path",
        "from": "tasks/1",
        "to": "tasks/2",
    }


def test_keys_added_and_removed() -> None:
    new = copy.deepcopy(BASE)
    new["plugin"]["name"] = "Acme"
    del new["plugin"]["capabilities"]
    assert changes(BASE, new) == [
        Change("remove", "plugin.capabilities", {"canProvision": True}, None),
        Change("add", "plugin.name", None, "Acme"),
    ]


def test_a_node_inserted_in_the_middle_is_one_add() -> None:
    inserted = node("check", path="servers/1")
    new = document(
        node("create", path="servers"), inserted, node("wait", path="tasks/1"), node("persist")
    )
    assert changes(BASE, new) == [Change("add", "flows.provision.nodes[2]", None, inserted)]


def test_a_removed_node_is_one_remove_at_its_old_index() -> None:
    new = document(node("create", path="servers"), node("persist"))
    assert changes(BASE, new) == [
        Change("remove", "flows.provision.nodes[2]", node("wait", path="tasks/1"), None)
    ]


def test_a_moved_node_is_an_order_change_not_a_remove_and_add() -> None:
    new = document(node("wait", path="tasks/9"), node("create", path="servers"), node("persist"))
    assert changes(BASE, new) == [
        Change("replace", "flows.provision.nodes[1].path", "tasks/1", "tasks/9"),
        Change(
            "replace",
            "flows.provision.nodes",
            ["start", "create", "wait", "persist"],
            ["start", "wait", "create", "persist"],
        ),
    ]


def test_adding_and_removing_nodes_is_not_an_order_change() -> None:
    new = document(node("create", path="servers"), node("persist"), node("notify"))
    found = changes(BASE, new)
    assert [(c.op, c.path) for c in found] == [
        ("remove", "flows.provision.nodes[2]"),
        ("add", "flows.provision.nodes[3]"),
    ]


def test_other_lists_are_compared_by_index() -> None:
    edges = [{"from": "start", "port": "ok", "to": "create"}]
    old = document(node("create"), edges=edges)
    new = document(node("create"), edges=[{"from": "start", "port": "ok", "to": "x"}, *edges])
    assert changes(old, new) == [
        Change("replace", "flows.provision.edges[0].to", "create", "x"),
        Change("add", "flows.provision.edges[1]", None, edges[0]),
    ]
    assert changes(new, old)[-1] == Change("remove", "flows.provision.edges[1]", edges[0], None)


def test_lists_named_nodes_outside_a_flow_are_compared_by_index() -> None:
    old = {"plugin": {"nodes": [{"id": "a"}, {"id": "b"}]}}
    new = {"plugin": {"nodes": [{"id": "b"}]}}
    assert changes(old, new) == [
        Change("replace", "plugin.nodes[0].id", "a", "b"),
        Change("remove", "plugin.nodes[1]", {"id": "b"}, None),
    ]


def test_nodes_with_repeated_ids_fall_back_to_index() -> None:
    old = {"flows": {"p": {"nodes": [{"id": "a", "n": 1}, {"id": "a", "n": 2}]}}}
    new = {"flows": {"p": {"nodes": [{"id": "a", "n": 2}]}}}
    assert changes(old, new) == [
        Change("replace", "flows.p.nodes[0].n", 1, 2),
        Change("remove", "flows.p.nodes[1]", {"id": "a", "n": 2}, None),
    ]


def test_a_change_of_json_type_is_a_replace() -> None:
    assert changes({"a": 1}, {"a": True}) == [Change("replace", "a", 1, True)]
    assert changes({"a": 1}, {"a": 1.0}) == [Change("replace", "a", 1, 1.0)]
    assert changes({"a": {"b": 1}}, {"a": [1]}) == [Change("replace", "a", {"b": 1}, [1])]
    assert changes({"a": None}, {"a": 0}) == [Change("replace", "a", None, 0)]
    assert changes([1], {"a": 1}) == [Change("replace", "", [1], {"a": 1})]


def test_keys_that_are_not_identifiers_are_quoted() -> None:
    old = {"query": {"filter[search]": "a", "api.version": "1"}}
    new = {"query": {"filter[search]": "b", "api.version": "1"}}
    assert changes(old, new) == [Change("replace", 'query["filter[search]"]', "a", "b")]
    assert path_text(("flows", "provision", "nodes", 2, "path")) == "flows.provision.nodes[2].path"
    assert path_text((0, "a")) == "[0].a"
    assert path_text(()) == ""


def test_key_order_does_not_matter() -> None:
    old = {"b": 1, "a": 2}
    new = {"a": 2, "b": 1}
    assert changes(old, new) == []
    assert text_diff(old, new) == TextDiff("", truncated=False)


def test_text_diff_is_a_unified_diff_with_labels() -> None:
    new = copy.deepcopy(BASE)
    new["flows"]["provision"]["nodes"][2]["path"] = "tasks/2"
    found = text_diff(BASE, new, old_label="acme@1", new_label="acme@2")
    assert not found.truncated
    text = found.text
    lines = text.splitlines()
    assert lines[:2] == ["--- acme@1", "+++ acme@2"]
    assert '-          "path": "tasks/1",' in lines
    assert '+          "path": "tasks/2",' in lines
    assert sum(1 for line in lines if line.startswith(("-", "+"))) == 4


def pretty(document: Any) -> list[str]:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def test_two_maximal_documents_diff_in_bounded_time_and_say_when_cut() -> None:
    # difflib alone held the event loop 19 s on these (two 1.8 MB documents, 206,000 lines,
    # 4,491 changed), and over 14 minutes on two 9.4 MB ones.
    old, new = maximal_plugin(0), maximal_plugin(1)
    found_changes = changes(old, new)
    assert len(found_changes) == 9 * 499  # the path of every node
    assert {(c.op, c.path.rsplit(".", 1)[1]) for c in found_changes} == {("replace", "path")}
    whole = text_diff(old, new, max_lines=10**6)
    assert not whole.truncated
    assert apply_unified(pretty(old), whole.text) == pretty(new)
    cut = text_diff(old, new)
    assert cut.truncated
    assert cut.text.splitlines() == [*whole.text.splitlines()[:MAX_TEXT_LINES], TRUNCATED]


def test_a_region_too_large_to_align_is_shown_removed_and_readded() -> None:
    old = {"items": ["x"] * 30 + ["y"] * 30}  # no line occurs once: nothing anchors it
    new = {"items": ["y"] * 30 + ["x"] * 30}
    aligned = text_diff(old, new)
    assert not aligned.truncated
    coarse = text_diff(old, new, align_budget=100)
    assert coarse.truncated
    assert apply_unified(pretty(old), coarse.text) == pretty(new)
    assert len(coarse.text.splitlines()) > len(aligned.text.splitlines())


def test_a_long_text_diff_is_cut_and_says_so() -> None:
    old = {"items": list(range(100))}
    new = {"items": [i + 1000 for i in range(100)]}
    found = text_diff(old, new, max_lines=50)
    lines = found.text.splitlines()
    assert found.truncated
    assert len(lines) == 51
    assert lines[-1] == TRUNCATED
    assert lines[:-1] == text_diff(old, new).text.splitlines()[:50]
