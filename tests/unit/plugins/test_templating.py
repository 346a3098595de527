"""`{{path}}` templating: typed single lookups, interpolation, fallbacks, errors."""

from __future__ import annotations

from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.plugins import templating

SCOPE: dict[str, Any] = {
    "order": {"id": 42, "hostname": "vps-42"},
    "options": {"plan_id": 4, "extra": {"a": [1, 2]}},
    "create": {"id": 9},
    "flag": None,
}


def test_a_lone_template_keeps_its_type() -> None:
    assert templating.render("{{options.plan_id}}", SCOPE, node_id="n") == 4
    assert templating.render("{{ options.extra }}", SCOPE, node_id="n") == {"a": [1, 2]}
    assert templating.render("{{flag}}", SCOPE, node_id="n") is None


def test_several_templates_interpolate_as_text() -> None:
    rendered = templating.render(
        "{{order.hostname}}#{{order.id}} {{options.extra}}", SCOPE, node_id="n"
    )
    assert rendered == 'vps-42#42 {"a":[1,2]}'


def test_lists_are_indexed_and_containers_rendered_recursively() -> None:
    value = {"x": ["{{options.extra.a.1}}", 5], "y": "plain"}
    assert templating.render(value, SCOPE, node_id="n") == {"x": [2, 5], "y": "plain"}


def test_fallbacks_are_json_literals_or_paths() -> None:
    assert templating.render("{{options.user_id ?? 0}}", SCOPE, node_id="n") == 0
    assert templating.render("{{find.id ?? create.id}}", SCOPE, node_id="n") == 9
    assert templating.render('{{nope ?? "x"}}', SCOPE, node_id="n") == "x"


def test_unknown_path_names_node_and_path() -> None:
    with pytest.raises(errors.InvalidFlow, match=r"'create_vm'.*'order\.missing'") as caught:
        templating.render("a {{order.missing}}", SCOPE, node_id="create_vm")
    assert caught.value.details == {"node": "create_vm", "path": "order.missing"}


@pytest.mark.parametrize("text", ["{{__import__('os')}}", "{{1 + 1}}", "{{a ?? b c}}"])
def test_expressions_are_rejected_not_evaluated(text: str) -> None:
    with pytest.raises(errors.InvalidFlow, match=r"not a path|neither a path"):
        templating.render(text, SCOPE, node_id="n")
    assert templating.check(text)


def test_check_finds_unclosed_templates_and_accepts_good_ones() -> None:
    assert templating.check({"a": ["{{order.id"]}) == ["unclosed template in '{{order.id'"]
    assert templating.check({"a": ["{{order.id}}", 3, None]}) == []


def test_resolve_path_misses() -> None:
    assert templating.resolve_path({"a": [1]}, "a.5") is templating.MISSING
    assert templating.resolve_path({"a": "str"}, "a.0") is templating.MISSING
    assert repr(templating.MISSING) == "MISSING"


def test_true_false_and_null_fallbacks_are_literals() -> None:
    from fluxbilling.plugins import templating as t

    assert t.render("{{missing ?? null}}", {}, node_id="n") is None
    assert t.render("{{missing ?? true}}", {}, node_id="n") is True
    assert t.render("{{missing ?? false}}", {"false": 1}, node_id="n") is False


def test_fallbacks_also_replace_null_values() -> None:
    from fluxbilling.plugins import templating as t

    scope = {"action": {"reason": None}, "a": {"b": None}}
    assert t.render('{{action.reason ?? "by billing"}}', scope, node_id="n") == "by billing"
    assert t.render("{{a.b ?? missing ?? 3}}", scope, node_id="n") == 3
    assert t.render("{{a.b}}", scope, node_id="n") is None  # no fallback: null stays null


def test_check_stays_linear_on_unclosed_templates() -> None:
    # The template pattern rescanned the rest of the string at every unclosed `{{`: 20,000 of
    # them took half a minute, a 2 MiB plugin string would take days.
    for text in ("{{" * 500_000, "{{a}}" + "{{" * 500_000, "}}" + "{{ x" * 300_000):
        [problem] = templating.check(text)
        assert problem.startswith("unclosed template in '")
        assert problem.endswith(f"... ({len(text)} characters)")


def test_a_fallback_nested_too_deep_is_a_problem_not_a_crash() -> None:
    deep = "[" * 10_000 + "]" * 10_000
    [problem] = templating.check("{{options.x ?? " + deep + "}}")
    assert problem.endswith("is neither a path nor JSON (JSON nested deeper than 64 levels)")
    assert templating.check("{{options.x ?? [[1]]}}") == []


NET = {
    "allocation": {"cidr": "192.0.2.0/24", "address": "192.0.2.7", "gateway": None},
    "v6": "2001:db8:1::5/64",
    "order": {"hostname": "  VPS-42.Example.NET ", "id": 42, "note": ""},
    "options": {"plan_id": "0042", "ratio": 2.0, "tags": ["a", "b"]},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{allocation.cidr | prefixlen}}", 24),
        ("{{allocation.cidr | netmask}}", "255.255.255.0"),
        ("{{allocation.cidr | network}}", "192.0.2.0"),
        ("{{v6 | prefixlen}}", 64),
        ("{{v6 | network}}", "2001:db8:1::"),
        ("{{v6 | address}}", "2001:db8:1::5"),
        ("{{allocation.address}}/{{allocation.cidr | prefixlen}}", "192.0.2.7/24"),
        ("{{order.hostname | trim | lower}}", "vps-42.example.net"),
        ("{{order.hostname|trim|upper}}", "VPS-42.EXAMPLE.NET"),
        ('{{order.hostname | trim | replace(".", "-")}}', "VPS-42-Example-NET"),
        ('{{order.hostname | trim | replace("|", "?") }}', "VPS-42.Example.NET"),
        ("{{options.plan_id | int}}", 42),
        ("{{options.ratio | int}}", 2),
        ("{{order.id | string}}", "42"),
        ("{{options.tags | json}}", '["a","b"]'),
        ("{{options.tags | string}}", '["a","b"]'),
        ('{{order.note | default("none")}}', "none"),
        ('{{allocation.gateway | default("192.0.2.1")}}', "192.0.2.1"),
        ('{{order.missing | default("x")}}', "x"),
        ('{{order.missing | upper | default("x")}}', "x"),
        ("{{order.id | default(0)}}", 42),
        ('{{order.missing ?? "a b/c" | urlencode}}', "a%20b%2Fc"),
        ("{{order.id | b64encode}}", "NDI="),
        ('{{order.missing ?? "x|y" | upper}}', "X|Y"),
    ],
)
def test_filters(template: str, expected: Any) -> None:
    assert templating.check(template) == []

    found = templating.render(template, NET, node_id="n")

    assert found == expected and type(found) is type(expected)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{order.id | upper}}", "filter 'upper' needs text, got a number"),
        ("{{order.hostname | prefixlen}}", "filter 'prefixlen' needs an address or a CIDR"),
        ("{{order.hostname | int}}", "filter 'int' needs an integer"),
        ("{{options.tags | urlencode}}", "needs text or a number, got a list"),
        ("{{order.missing | lower}}", "template path 'order.missing' not found"),
    ],
)
def test_a_filter_given_the_wrong_kind_of_value_is_a_user_error(
    template: str, message: str
) -> None:
    with pytest.raises(errors.InvalidFlow, match=message) as caught:
        templating.render(template, NET, node_id="create")
    assert caught.value.details["node"] == "create"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{a | shout}}", "unknown filter 'shout' (known: address, b64encode,"),
        ("{{a | replace}}", "filter 'replace' takes 2 arguments, got 0"),
        ('{{a | replace("x")}}', "filter 'replace' takes 2 arguments, got 1"),
        ("{{a | replace(1, 2)}}", "filter 'replace': argument 1 must be a string, got a number"),
        ("{{a | default}}", "filter 'default' takes 1 argument, got 0"),
        ("{{a | lower(1)}}", "filter 'lower' takes 0 arguments, got 1"),
        ("{{a | default(x)}}", "argument 'x' is not a JSON string, number"),
        ("{{a | default([1])}}", "argument '[1]' is not a JSON string, number"),
        ("{{a | lower ?? b}}", "a fallback (??) must come before the filters"),
        ("{{a | }}", "'' is not a filter"),
        ("{{a || lower}}", "'' is not a filter"),
        ("{{a | Lower}}", "'Lower' is not a filter"),
        ("{{a | lower()x}}", "is not a filter"),
        ("{{a | __class__}}", "is not a filter"),
    ],
)
def test_filter_syntax_is_strict(template: str, message: str) -> None:
    [problem] = templating.check(template)
    assert message in problem
    with pytest.raises(errors.InvalidFlow):
        templating.render(template, {"a": "x", "b": "y"}, node_id="n")


def test_an_unknown_filter_is_refused_at_save_time_with_its_json_path() -> None:
    from fluxbilling import plugins

    doc = {
        "format": "fluxbilling-visual-plugin",
        "plugin": {
            "slug": "p",
            "type": "infrastructure-provider",
            "serviceType": "vps",
            "connectionType": "http",
            "capabilities": {"canProvision": True},
        },
        "flows": {
            "provision": {
                "nodes": [
                    {"id": "start", "type": "trigger"},
                    {
                        "id": "create",
                        "type": "http",
                        "method": "POST",
                        "path": "servers",
                        "body": {"net": {"mask": "{{allocation.cidr | netmsk}}"}},
                    },
                ]
            }
        },
    }
    with pytest.raises(errors.InvalidFlow) as caught:
        plugins.load_plugin(doc, 1)

    [problem] = caught.value.details["problems"]
    assert problem["path"] == "flows.provision.nodes[1].body.net.mask"
    assert "unknown filter 'netmsk'" in problem["message"]


def test_parse_gives_the_alternatives_and_the_filters() -> None:
    parsed = templating.parse('a.b ?? c ?? "x??y" | replace("a", "|") | default(null)')

    assert parsed.alternatives == ("a.b", "c", '"x??y"')
    assert parsed.filters == (("replace", ("a", "|")), ("default", (None,)))
    with pytest.raises(errors.InvalidFlow, match="unknown filter"):
        templating.parse("a | eval")
