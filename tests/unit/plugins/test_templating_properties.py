"""Properties of `{{path}}` templating: any template, any scope, only taxonomy errors, no eval.

Rendering is a lookup or a JSON literal, never code: whatever the expression between the
braces, the result is something found in the scope, a fallback literal, or `InvalidFlow`.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import urllib.parse
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fluxbilling import errors
from fluxbilling.plugins import filters, templating
from tests.propertysupport import BOUNDED, json_values

FIRST = st.sampled_from(["a", "b", "order", "x_1", "_y", "A-b", "create"])
SEGMENT = st.sampled_from(["a", "b", "id", "x-y", "_z", "Q9"]) | st.integers(0, 3).map(str)
PATHS = st.builds(
    lambda first, rest: ".".join([first, *rest]), FIRST, st.lists(SEGMENT, max_size=4)
)
NOISE = st.sampled_from(
    [
        *["{{", "}}", "{", "}", "??", ".", " ", "\n", "'", '"', "(", ")", "|", ",", "\\"],
        *[" | lower", "|int", ' | default("x")', " | replace(", " | nope", "(1, 2)"],
    ]
)
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
    if templating.parse(expression).filters:
        return  # filters are pure functions of the found value: see the filter properties
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


# -- filters ------------------------------------------------------------------------------

ARG_TEXT = (
    st.lists(st.sampled_from([*'ab |?,()"\\{[]:-é\t', "??"]), max_size=8)
    .map("".join)
    .filter(lambda t: "}}" not in t and "{{" not in t)
)
"""Filter arguments full of the characters the parser splits on (`{{` and `}}` delimit templates)."""
SCALAR_ARGS = ARG_TEXT | st.integers(-(10**6), 10**6) | st.booleans() | st.none() | st.just(1.5)


def _call(name: str, args: tuple[Any, ...]) -> str:
    if not args:
        return name
    return f"{name}(" + ", ".join(json.dumps(a) for a in args) + ")"


FILTER_CALLS = st.one_of(
    st.sampled_from(
        [
            *["lower", "upper", "trim", "string", "int", "json", "urlencode", "b64encode"],
            *["prefixlen", "netmask", "network", "address"],
        ]
    ).map(lambda name: (name, ())),
    st.tuples(ARG_TEXT, ARG_TEXT).map(lambda args: ("replace", args)),
    SCALAR_ARGS.map(lambda arg: ("default", (arg,))),
)
FALLBACKS = PATHS | SCALAR_ARGS.map(json.dumps)
SPACE = st.sampled_from(["", " ", "  ", "\t"])


@settings(BOUNDED, max_examples=300)
@given(
    path=PATHS,
    fallbacks=st.lists(FALLBACKS, max_size=2),
    calls=st.lists(FILTER_CALLS, max_size=4),
    space=SPACE,
)
def test_what_is_written_is_what_is_parsed(
    path: str, fallbacks: list[str], calls: list[tuple[str, tuple[Any, ...]]], space: str
) -> None:
    text = f"{space}??{space}".join([path, *fallbacks])
    text += "".join(f"{space}|{space}{_call(name, args)}" for name, args in calls)

    parsed = templating.parse(text)

    assert parsed.alternatives == (path, *fallbacks)
    assert parsed.filters == tuple(calls)
    assert templating.check("{{" + text + "}}") == []


@settings(BOUNDED, max_examples=200)
@given(name=st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True), path=PATHS)
def test_a_filter_that_is_not_in_the_table_is_refused_by_name(name: str, path: str) -> None:
    assume(name not in filters.FILTERS)

    [problem] = templating.check("{{" + path + " | " + name + "}}")

    assert f"unknown filter {name!r}" in problem


@settings(BOUNDED, max_examples=300)
@given(
    value=json_values(SEGMENT),
    calls=st.lists(FILTER_CALLS, min_size=1, max_size=3),
)
def test_a_filter_chain_gives_a_value_or_a_user_error(
    value: Any, calls: list[tuple[str, tuple[Any, ...]]]
) -> None:
    template = "{{v | " + " | ".join(_call(name, args) for name, args in calls) + "}}"
    expected: Any = value
    failed = False
    for name, args in calls:
        try:
            expected = filters.apply(name, expected, args, node_id="n")
        except errors.InvalidFlow:
            failed = True
            break

    try:
        found = render(template, {"v": value})
    except errors.InvalidFlow as exc:
        assert failed, exc.message
        assert "filter" in exc.message
        return
    assert not failed
    # A lone template keeps the type the last filter gives.
    assert found == expected and type(found) is type(expected)
    text = render("<" + template + ">", {"v": value})
    assert text == "<" + filters.as_text(expected) + ">"


@settings(BOUNDED, max_examples=200)
@given(text=st.text(max_size=20))
def test_text_filters_are_the_plain_string_functions(text: str) -> None:
    scope = {"t": text}

    assert render("{{t | lower}}", scope) == text.lower()
    assert render("{{t | upper}}", scope) == text.upper()
    assert render("{{t | trim}}", scope) == text.strip()
    assert render('{{t | replace("a", "|")}}', scope) == text.replace("a", "|")
    assert render("{{t | json}}", scope) == json.dumps(text)
    assert render("{{t | urlencode}}", scope) == urllib.parse.quote(text, safe="")
    assert base64.b64decode(render("{{t | b64encode}}", scope)).decode() == text


@settings(BOUNDED, max_examples=200)
@given(value=json_values(SEGMENT), fallback=SCALAR_ARGS)
def test_default_replaces_missing_null_and_empty_text_only(value: Any, fallback: Any) -> None:
    template = "{{v | default(" + json.dumps(fallback) + ")}}"

    found = render(template, {"v": value})

    assert found == (fallback if value in (None, "") else value)
    assert render(template, {}) == fallback


@settings(BOUNDED, max_examples=200)
@given(
    network=st.ip_addresses(v=4).map(lambda a: f"{a}/{int(a) % 33}")
    | st.ip_addresses(v=6).map(lambda a: f"{a}/{int(a) % 129}")
)
def test_network_filters_agree_with_ipaddress(network: str) -> None:
    interface = ipaddress.ip_interface(network)
    scope = {"cidr": network}

    assert render("{{cidr | prefixlen}}", scope) == interface.network.prefixlen
    assert render("{{cidr | netmask}}", scope) == str(interface.netmask)
    assert render("{{cidr | network}}", scope) == str(interface.network.network_address)
    assert render("{{cidr | address}}", scope) == str(interface.ip)
