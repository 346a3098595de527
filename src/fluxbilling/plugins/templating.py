"""`{{path}}` templating of node parameters: path lookups into the run scope, never `eval`.

Syntax:

```
template    = "{{" alternative ("??" alternative)* ("|" filter)* "}}"
alternative = path | JSON literal          (the first one is always a path)
filter      = name | name "(" [argument ("," argument)*] ")"
argument    = a JSON scalar: "text", 12, 1.5, true, false, null
```

- `{{order.hostname}}` looks up `scope["order"]["hostname"]`; a numeric segment indexes a
  list (`{{items.0.id}}`).
- `{{options.user_id ?? 0}}` falls back when the path is missing or its value is null (as
  JavaScript's `??` does): the fallback is a JSON literal (`0`, `"x"`, `null`, `true`) or,
  when it is not valid JSON, another path (`{{create.id ?? find.id}}`). Fallbacks chain left
  to right.
- `{{allocation.cidr | prefixlen}}` passes what was found through filters, left to right
  (`plugins.filters`: `lower`, `replace("-", "_")`, `default("x")`, ...). Fallbacks come
  before filters. `|`, `??` and `,` inside a quoted argument or fallback are text.
- A string that is exactly one `{{...}}` keeps the value's type (an int stays an int, a dict
  stays a dict; with filters, the type the last filter gives). A string with several
  templates, or with surrounding text, is interpolated: strings and numbers as text,
  everything else as compact JSON.
- Dicts and lists are rendered recursively; other values pass through unchanged.

An unknown path without fallback (or `default` filter) raises `errors.InvalidFlow` naming the
node and the path; so does a filter given a value it does not take. Syntax, filter names and
arguments are checked when a plugin is saved (`check`, `located`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fluxbilling import errors, limits
from fluxbilling.plugins import filters

__all__ = ["MISSING", "Expression", "check", "located", "parse", "render", "resolve_path"]

_PATH = r"[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*"
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_PATH_RE = re.compile(rf"^{_PATH}$")
_INDEX = re.compile(r"[0-9]{1,18}")
"""A list index: ASCII digits (`"²".isdigit()` holds), short enough for `int` to accept."""
_LITERALS = frozenset({"true", "false", "null"})
"""Fallbacks that look like paths but are JSON literals."""


class _Missing:
    """Sentinel for a path that does not resolve."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Returned by `resolve_path` when a path does not resolve."""


def resolve_path(value: Any, path: str) -> Any:
    """Follow a dotted path through mappings and lists.

    Args:
        value: the root (a mapping, a list or a scalar).
        path: dotted segments; numeric segments index lists.

    Returns:
        The value found, or `MISSING`.

    Examples:
        >>> resolve_path({"data": [{"id": 7}]}, "data.0.id")
        7
        >>> resolve_path({}, "a.b") is MISSING
        True
    """
    current = value
    for segment in path.split("."):
        if isinstance(current, Mapping) and segment in current:
            current = current[segment]
        elif (
            isinstance(current, Sequence)
            and not isinstance(current, str | bytes)
            and _INDEX.fullmatch(segment)
            and int(segment) < len(current)
        ):
            current = current[int(segment)]
        else:
            return MISSING
    return current


def _closed(text: str) -> tuple[str, str]:
    """`text` split after its last `}}`: no template ends in the second part.

    `_TEMPLATE` retries at every `{{` that has no `}}` after it, scanning to the end each
    time (quadratic: a 100 KB string of `{{` took minutes); scanning only the first part
    finds the same templates in linear time.
    """
    end = text.rfind("}}") + 2 if "}}" in text else 0
    return text[:end], text[end:]


@dataclass(frozen=True, slots=True)
class Expression:
    """What is between one template's braces, parsed."""

    alternatives: tuple[str, ...]
    """The path, then each fallback as written (a path or a JSON literal)."""
    filters: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    """Each filter's name and arguments, in the order they apply."""


class _Syntax(ValueError):
    """A template that is not a lookup (the message says why)."""


_OPEN, _CLOSE = "([{", ")]}"


def _split(text: str, separator: str) -> list[str]:
    """`text` split at each `separator` outside double-quoted strings and brackets.

    One pass, so a long expression costs linear time; an unbalanced bracket or quote keeps
    the rest of the text together (that part is then refused for what it is).
    """
    parts: list[str] = []
    start = depth = 0
    quoted = escaped = False
    index = 0
    while index < len(text):
        char = text[index]
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(depth - 1, 0)
        elif depth == 0 and text.startswith(separator, index):
            parts.append(text[start:index])
            index += len(separator)
            start = index
            continue
        index += 1
    parts.append(text[start:])
    return parts


_FILTER = re.compile(r"([a-z][a-z0-9_]*)[ \t]*(?:\((.*)\))?", re.DOTALL)


def _argument(raw: str, name: str, expression: str) -> Any:
    try:
        value = limits.loads_json(raw)
    except ValueError:
        value = _Syntax
    if value is _Syntax or isinstance(value, dict | list):
        raise _Syntax(
            f"{{{{{expression[:80]}}}}}: filter {name!r}: argument {_excerpt(raw)} is not a "
            "JSON string, number, true, false or null"
        )
    return value


def _filter(text: str, expression: str) -> tuple[str, tuple[Any, ...]]:
    stripped = text.strip()
    if len(_split(stripped, "??")) > 1:
        raise _Syntax(f"{{{{{expression[:80]}}}}}: a fallback (??) must come before the filters")
    match = _FILTER.fullmatch(stripped)
    if match is None:
        raise _Syntax(f"{{{{{expression[:80]}}}}}: {_excerpt(stripped)} is not a filter")
    name, raw_args = match.group(1), match.group(2)
    args = (
        tuple(_argument(raw.strip(), name, expression) for raw in _split(raw_args, ","))
        if raw_args is not None and raw_args.strip()
        else ()
    )
    problem = filters.arguments_problem(name, args)
    if problem is not None:
        raise _Syntax(f"{{{{{expression[:80]}}}}}: {problem}")
    return name, args


def _parse(expression: str) -> Expression:
    head, *tail = _split(expression, "|")
    alternatives = tuple(part.strip() for part in _split(head, "??"))
    if not _PATH_RE.match(alternatives[0]):
        raise _Syntax(f"{{{{{expression}}}}} is not a path lookup")
    for part in alternatives[1:]:
        if not _PATH_RE.match(part):
            try:
                limits.loads_json(part)
            except ValueError as exc:
                why = f" ({exc.message})" if isinstance(exc, errors.InvalidBody) else ""
                raise _Syntax(
                    f"{{{{{expression[:80]}}}}}: fallback {_excerpt(part)} is neither a path "
                    f"nor JSON{why}"
                ) from None
    return Expression(alternatives, tuple(_filter(text, expression) for text in tail))


def parse(expression: str) -> Expression:
    """Parse what is between a template's braces.

    Args:
        expression: e.g. `allocation.cidr | prefixlen` or `a.b ?? "x" | upper`.

    Returns:
        The alternatives and the filters.

    Raises:
        errors.InvalidFlow: it is not a lookup: not a path, a fallback that is neither a
            path nor JSON, an unknown filter or wrong filter arguments.

    Examples:
        >>> parse('a.b ?? "x" | replace("-", "_")')
        Expression(alternatives=('a.b', '"x"'), filters=(('replace', ('-', '_')),))
    """
    try:
        return _parse(expression)
    except _Syntax as exc:
        raise errors.InvalidFlow(str(exc), path=expression[:80]) from None


def _syntax_error(expression: str) -> str | None:
    try:
        _parse(expression)
    except _Syntax as exc:
        return str(exc)
    return None


def _lookup(expression: str, scope: Mapping[str, Any], node_id: str) -> Any:
    try:
        parsed = _parse(expression)
    except _Syntax as exc:
        raise errors.InvalidFlow(
            f"node {node_id!r}: {exc}", node=node_id, path=expression
        ) from None
    first, *fallbacks = parsed.alternatives
    found = resolve_path(scope, first)
    for part in fallbacks:
        if found is not MISSING and found is not None:
            break
        found = (
            resolve_path(scope, part)
            if _PATH_RE.match(part) and part not in _LITERALS
            else limits.loads_json(part)
        )
    for name, args in parsed.filters:
        if found is MISSING and not filters.FILTERS[name].takes_missing:
            continue  # a path that is not there waits for a `default`, or fails below
        found = filters.apply(name, None if found is MISSING else found, args, node_id=node_id)
    if found is MISSING:
        raise errors.InvalidFlow(
            f"node {node_id!r}: template path {first!r} not found", node=node_id, path=first
        )
    return found


def _render_string(text: str, scope: Mapping[str, Any], node_id: str) -> Any:
    # Exactly one template when the first one (as `check` and `sub` find them) is the whole
    # text: `{{a}}}` and `{{a}} }}` would fullmatch with `a}` inside, but they are `{{a}}`
    # followed by text.
    first = _TEMPLATE.match(text)
    if first and first.end() == len(text) and "{{" not in first.group(1):
        return _lookup(first.group(1), scope, node_id)
    head, tail = _closed(text)
    return (
        _TEMPLATE.sub(lambda m: filters.as_text(_lookup(m.group(1), scope, node_id)), head) + tail
    )


def _excerpt(text: str) -> str:
    return repr(text) if len(text) <= 80 else f"{text[:60]!r}... ({len(text)} characters)"


def render(value: Any, scope: Mapping[str, Any], *, node_id: str) -> Any:
    """Render every template inside `value`.

    Args:
        value: a node parameter (string, dict, list or scalar).
        scope: the run scope (context keys plus node outputs by node id).
        node_id: named in errors.

    Returns:
        The rendered value; a lone `{{...}}` keeps the type of what it found.

    Raises:
        errors.InvalidFlow: a path is unknown or a template is not a path lookup.

    Examples:
        >>> render("{{a.b}}", {"a": {"b": 3}}, node_id="n")
        3
        >>> render("x-{{a.b}}-{{c ?? 0}}", {"a": {"b": 3}}, node_id="n")
        'x-3-0'
    """
    if isinstance(value, str):
        return _render_string(value, scope, node_id) if "{{" in value else value
    if isinstance(value, Mapping):
        return {key: render(item, scope, node_id=node_id) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render(item, scope, node_id=node_id) for item in value]
    return value


def located(value: Any) -> list[tuple[str, str]]:
    """`check`, each problem with where it is inside `value` (`.body.name`, `.where[0].path`).

    Args:
        value: a node parameter, or a whole node.

    Returns:
        `(path, problem)` pairs; the path is relative (empty for `value` itself).

    Examples:
        >>> located({"body": {"name": "{{1 + 1}}"}})
        [('.body.name', '{{1 + 1}} is not a path lookup')]
    """
    if isinstance(value, Mapping):
        return [
            (f".{key}{where}", problem)
            for key, item in value.items()
            for where, problem in located(item)
        ]
    if isinstance(value, list | tuple):
        return [
            (f"[{index}]{where}", problem)
            for index, item in enumerate(value)
            for where, problem in located(item)
        ]
    return [("", problem) for problem in check(value)]


def check(value: Any) -> list[str]:
    """Syntax problems of every template inside `value` (no lookups), for load-time validation.

    Args:
        value: a node parameter.

    Returns:
        Human-readable problems; empty when every template is a valid path lookup.
    """
    if isinstance(value, str):
        head, tail = _closed(value)
        problems = [
            problem
            for match in _TEMPLATE.finditer(head)
            if (problem := _syntax_error(match.group(1)))
        ]
        if "{{" in _TEMPLATE.sub("", head) + tail:
            problems.append(f"unclosed template in {_excerpt(value)}")
        return problems
    if isinstance(value, Mapping):
        return [problem for item in value.values() for problem in check(item)]
    if isinstance(value, list | tuple):
        return [problem for item in value for problem in check(item)]
    return []
