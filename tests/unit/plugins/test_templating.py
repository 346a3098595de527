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
