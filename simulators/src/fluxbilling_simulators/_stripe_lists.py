"""Stripe's list endpoints: filters and cursor pagination over the simulated objects.

Pure functions over a decoded query (`simulators._stripe_params.decode_form` of the query
string) and the objects of one list, newest first, as Stripe sorts them. `page` answers
Stripe's list object ``{"object": "list", "data": [...], "has_more": ..., "url": ...}``:

- ``limit`` 1-100 (default 10); ``starting_after=<id>`` pages towards older objects,
  ``ending_before=<id>`` towards newer ones (the page nearest the cursor, still newest
  first); both at once is a 400; a cursor naming no object of the list is a 404
  ``resource_missing`` on that parameter;
- each list names the filters it takes (`Filter`: a field equal to the value, ``created``
  with ``gt``/``gte``/``lt``/``lte`` or an exact time, an event's ``type`` with a ``*``
  wildcard, ``types[]``, ``delivery_success``); any other parameter is a 400
  ``Received unknown parameter``, so a client filter the simulator would ignore cannot
  pass unnoticed.

Unverified: the wording of the cursor and ``limit`` range errors.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fluxbilling_simulators._stripe_params import Problem

__all__ = ["Filter", "created", "delivery_success", "equal", "event_type", "event_types", "page"]

Test = Callable[[Mapping[str, Any]], bool]
_PAGING = frozenset({"limit", "starting_after", "ending_before"})
_RANGES: dict[str, Callable[[int, int], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter parameter: turns the query value into a test of an object, or a problem."""

    param: str
    build: Callable[[str, object], Test | Problem]


def _text(param: str, value: object) -> str | Problem:
    return value if isinstance(value, str) else Problem(param, "Invalid string")


def equal(param: str, field: str | None = None) -> Filter:
    """Objects whose `field` (default: `param`) equals the value, e.g. ``payment_intent``."""
    key = field or param

    def build(name: str, value: object) -> Test | Problem:
        text = _text(name, value)
        return text if isinstance(text, Problem) else lambda obj: obj.get(key) == text

    return Filter(param, build)


def _integer(param: str, value: object) -> int | Problem:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return Problem(param, f"Invalid integer: {value}", "parameter_invalid_integer")


def _bound(compare: Callable[[int, int], bool], limit: int) -> Test:
    return lambda obj: compare(obj["created"], limit)


def _created(param: str, value: object) -> Test | Problem:
    if not isinstance(value, dict):
        moment = _integer(param, value)
        return moment if isinstance(moment, Problem) else lambda obj: obj["created"] == moment
    tests: list[Test] = []
    for op, bound in value.items():
        compare = _RANGES.get(op)
        if compare is None:
            return Problem(f"{param}[{op}]", f"Received unknown parameter: {param}[{op}]", None)
        limit = _integer(f"{param}[{op}]", bound)
        if isinstance(limit, Problem):
            return limit
        tests.append(_bound(compare, limit))
    return lambda obj: all(test(obj) for test in tests)


created = Filter("created", _created)


def _type(param: str, value: object) -> Test | Problem:
    text = _text(param, value)
    if isinstance(text, Problem):
        return text
    return lambda obj: fnmatch.fnmatchcase(str(obj["type"]), text)


event_type = Filter("type", _type)


def _types(param: str, value: object) -> Test | Problem:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return Problem(param, "Invalid array")
    if len(value) > 20:
        return Problem(param, "You may pass at most 20 types.")
    return lambda obj: obj["type"] in value


event_types = Filter("types", _types)


def _delivered(param: str, value: object) -> Test | Problem:
    if value not in ("true", "false"):
        return Problem(param, f"Invalid boolean: {value}")
    return lambda obj: obj["_delivered"] == (value == "true")


delivery_success = Filter("delivery_success", _delivered)


def _limit(query: Mapping[str, Any]) -> int | Problem:
    limit = _integer("limit", query.get("limit", "10"))
    if isinstance(limit, Problem) or 1 <= limit <= 100:
        return limit
    bound = "greater than or equal to 1" if limit < 1 else "less than or equal to 100"
    return Problem("limit", f"This value must be {bound}.", "parameter_invalid_integer")


def _tests(query: Mapping[str, Any], filters: Sequence[Filter]) -> list[Test] | Problem:
    known = {f.param: f for f in filters}
    unknown = sorted(set(query) - _PAGING - set(known))
    if unknown:
        return Problem(unknown[0], f"Received unknown parameter: {unknown[0]}", None)
    tests: list[Test] = []
    for name, value in query.items():
        if name in known:
            test = known[name].build(name, value)
            if isinstance(test, Problem):
                return test
            tests.append(test)
    return tests


def page(
    objects: Sequence[Mapping[str, Any]],
    query: Mapping[str, Any],
    *,
    url: str,
    kind: str,
    filters: Sequence[Filter] = (),
    render: Callable[[Mapping[str, Any]], dict[str, Any]] = dict,
) -> dict[str, Any] | Problem:
    """One page of a Stripe list, or why the query is wrong.

    Args:
        objects: Every object of the list (of the caller's mode), newest first.
        query: The decoded query string.
        url: The list's path, echoed as ``url``.
        kind: The objects' name in "No such ..." messages (``refund``).
        filters: The filter parameters this list takes.
        render: How an object appears in ``data``.
    """
    limit = _limit(query)
    if isinstance(limit, Problem):
        return limit
    tests = _tests(query, filters)
    if isinstance(tests, Problem):
        return tests
    if "starting_after" in query and "ending_before" in query:
        message = "You may only specify one of these parameters: ending_before, starting_after."
        return Problem("ending_before", message, None)
    found = [obj for obj in objects if all(test(obj) for test in tests)]
    start, end = 0, limit
    for param in ("starting_after", "ending_before"):
        if param not in query:
            continue
        ids = [obj["id"] for obj in found]
        if query[param] not in ids:
            return Problem(
                param, f"No such {kind}: '{query[param]}'", "resource_missing", status=404
            )
        at = ids.index(query[param])
        start, end = (at + 1, at + 1 + limit) if param == "starting_after" else (at - limit, at)
    start = max(start, 0)
    more = end < len(found) if "ending_before" not in query else start > 0
    return {
        "object": "list",
        "data": [render(obj) for obj in found[start:end]],
        "has_more": more,
        "url": url,
    }
