"""Properties of `{{path}}` templating: any template, any scope, only taxonomy errors, no eval.

Rendering is a lookup or a JSON literal, never code: whatever the expression between the
braces, the result is something found in the scope, a fallback literal, or `InvalidFlow`.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fluxbilling import errors
from fluxbilling.plugins import templating
from tests.propertysupport import BOUNDED, json_values

FIRST = st.sampled_from(["a", "b", "order", "x_1", "_y", "A-b", "create"])
SEGMENT = st.sampled_from(["a", "b", "id", "x-y", "_z", "Q9"]) | st.integers(0, 3).map(str)
PATHS = st.builds(
    lambda first, rest: ".".join([first, *rest]), FIRST, st.lists(SEGMENT, max_size=4)
)
NOISE = st.sampled_from(["{{", "}}", "{", "}", "??", ".", " ", "\n", "'", '"', "(", ")"])
TEMPLATES = st.lists(
    st.one_of(
        st.text(max_size=4),
        NOISE,
        NOISE,
        PATHS.map(lambda p: "{{" + p + "}}"),
        st.tuples(PATHS, st.text(max_size=6)).map(lambda t: "{{" + t[0] + " ?? " + t[1] + "}}"),
    ),
    max_size=6,
).map("".join)
LEADING = st.tuples(PATHS, st.lists(NOISE | st.text(max_size=2), max_size=3)).map(
    lambda t: "{{" + t[0] + "}}" + "".join(t[1])
)
"""A template first, then text: where the lone-template rule must not misfire."""
DEEP = st.integers(1, 100_000).map(lambda n: "{{a ?? " + "[" * n + "]" * n + "}}")
"""A fallback literal nested past the JSON parser's depth."""
SCOPES = st.dictionaries(FIRST, json_values(SEGMENT), max_size=5)


def render(value: Any, scope: dict[str, Any]) -> Any:
    return templating.render(value, scope, node_id="n")


@settings(BOUNDED, max_examples=300)
@given(template=TEMPLATES | LEADING | DEEP | st.text(max_size=40), scope=SCOPES)
def test_any_template_renders_or_raises_invalid_flow(template: str, scope: dict[str, Any]) -> None:
    problems = templating.check(template)
    try:
        render(template, scope)
    except errors.InvalidFlow as exc:
        # What load-time validation accepted only fails on a path the scope lacks.
        assert problems or "not found" in exc.message, (template, exc.message)


@settings(BOUNDED, max_examples=200)
@given(value=json_values(), scope=SCOPES)
def test_values_without_templates_pass_through_unchanged(value: Any, scope: dict[str, Any]) -> None:
    assume("{{" not in json.dumps(value, ensure_ascii=False))
    assert render(value, scope) == value
    assert templating.check(value) == []


@settings(BOUNDED, max_examples=200)
@given(path=PATHS, value=json_values(SEGMENT), wrap=st.sampled_from([list, dict]))
def test_a_value_that_is_exactly_one_template_keeps_its_type(
    path: str, value: Any, wrap: type
) -> None:
    scope: dict[str, Any] = {}
    node: Any = scope
    *parents, last = path.split(".")
    for segment in parents:
        node = node.setdefault(segment, {})
        assume(isinstance(node, dict))
    node[last] = value
    found = render("{{" + path + "}}", scope)
    assert found == value and type(found) is type(value)
    wrapped = [f"{{{{{path}}}}}"] if wrap is list else {"k": f"{{{{ {path} }}}}"}
    rendered = render(wrapped, scope)
    inner = rendered[0] if wrap is list else rendered["k"]
    assert inner == value and type(inner) is type(value)


@settings(BOUNDED, max_examples=300)
@given(expression=st.text(max_size=30).filter(lambda e: "{{" not in e and "}}" not in e))
def test_an_expression_is_looked_up_never_evaluated(expression: str) -> None:
    canary = object()
    scope = {"a": {"b": 1}, "x": canary}
    try:
        found = render("{{" + expression + "}}", scope)
    except errors.InvalidFlow:
        return
    alternatives = [part.strip() for part in expression.split("??")]
    allowed: list[Any] = [templating.resolve_path(scope, alt) for alt in alternatives]
    for alt in alternatives:
        with contextlib.suppress(ValueError):
            allowed.append(json.loads(alt))
    assert any(found is a or (found == a and type(found) is type(a)) for a in allowed)


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('true')", "a.b + 1", "x.__class__", "a['b']", "lambda: 1"],
)
def test_python_is_not_a_template(expression: str) -> None:
    with pytest.raises(errors.InvalidFlow):
        render("{{" + expression + "}}", {"a": {"b": 1}, "x": 2})


@settings(BOUNDED, max_examples=300)
@given(
    root=json_values(SEGMENT),
    path=st.text(max_size=30) | PATHS | st.integers(1, 6000).map(lambda n: "a." + "9" * n),
)
def test_resolve_path_answers_a_value_or_missing(root: Any, path: str) -> None:
    templating.resolve_path(root, path)
    templating.resolve_path({"a": [root]}, path)


def test_resolve_path_indexes_lists_with_ascii_digits_only() -> None:
    assert templating.resolve_path({"a": [1, 2]}, "a.1") == 2
    assert templating.resolve_path({"a": [1, 2]}, "a.²") is templating.MISSING
    assert templating.resolve_path({"a": [1]}, "a." + "9" * 5000) is templating.MISSING


def test_what_check_accepts_renders() -> None:
    for text, rendered in (("{{a}} }}", "1 }}"), ("{{a}}}", "1}"), ("{{a}}{{a}}", "11")):
        assert templating.check(text) == []
        assert render(text, {"a": 1}) == rendered
