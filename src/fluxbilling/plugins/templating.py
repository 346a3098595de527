"""`{{path}}` templating of node parameters: path lookups into the run scope, never `eval`.

Syntax:

- `{{order.hostname}}` looks up `scope["order"]["hostname"]`; a numeric segment indexes a
  list (`{{items.0.id}}`).
- `{{options.user_id ?? 0}}` falls back when the path is missing or its value is null (as
  JavaScript's `??` does): the fallback is a JSON literal (`0`, `"x"`, `null`, `true`) or,
  when it is not valid JSON, another path (`{{create.id ?? find.id}}`). Fallbacks chain left
  to right.
- A string that is exactly one `{{...}}` keeps the looked-up value's type (an int stays an int,
  a dict stays a dict). A string with several templates, or with surrounding text, is
  interpolated: strings and numbers as text, everything else as compact JSON.
- Dicts and lists are rendered recursively; other values pass through unchanged.

An unknown path without fallback raises `errors.InvalidFlow` naming the node and the path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fluxbilling import errors, limits

__all__ = ["MISSING", "check", "located", "render", "resolve_path"]

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


def _alternatives(expression: str) -> list[str]:
    return [part.strip() for part in expression.split("??")]


def _closed(text: str) -> tuple[str, str]:
    """`text` split after its last `}}`: no template ends in the second part.

    `_TEMPLATE` retries at every `{{` that has no `}}` after it, scanning to the end each
    time (quadratic: a 100 KB string of `{{` took minutes); scanning only the first part
    finds the same templates in linear time.
    """
    end = text.rfind("}}") + 2 if "}}" in text else 0
    return text[:end], text[end:]


def _syntax_error(expression: str) -> str | None:
    parts = _alternatives(expression)
    if not _PATH_RE.match(parts[0]):
        return f"{{{{{expression}}}}} is not a path lookup"
    for part in parts[1:]:
        if not _PATH_RE.match(part):
            try:
                limits.loads_json(part)
            except ValueError as exc:
                why = f" ({exc.message})" if isinstance(exc, errors.InvalidBody) else ""
                return f"{{{{{expression[:80]}}}}}: fallback {_excerpt(part)} is neither a path nor JSON{why}"
    return None


def _lookup(expression: str, scope: Mapping[str, Any], node_id: str) -> Any:
    problem = _syntax_error(expression)
    if problem:
        raise errors.InvalidFlow(f"node {node_id!r}: {problem}", node=node_id, path=expression)
    first, *fallbacks = _alternatives(expression)
    found = resolve_path(scope, first)
    for part in fallbacks:
        if found is not MISSING and found is not None:
            break
        found = (
            resolve_path(scope, part)
            if _PATH_RE.match(part) and part not in _LITERALS
            else limits.loads_json(part)
        )
    if found is MISSING:
        raise errors.InvalidFlow(
            f"node {node_id!r}: template path {first!r} not found", node=node_id, path=first
        )
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _render_string(text: str, scope: Mapping[str, Any], node_id: str) -> Any:
    # Exactly one template when the first one (as `check` and `sub` find them) is the whole
    # text: `{{a}}}` and `{{a}} }}` would fullmatch with `a}` inside, but they are `{{a}}`
    # followed by text.
    first = _TEMPLATE.match(text)
    if first and first.end() == len(text) and "{{" not in first.group(1):
        return _lookup(first.group(1), scope, node_id)
    head, tail = _closed(text)
    return _TEMPLATE.sub(lambda m: _as_text(_lookup(m.group(1), scope, node_id)), head) + tail


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
