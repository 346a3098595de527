"""Template filters: `{{allocation.cidr | prefixlen}}`, a small fixed table of pure functions.

A filter turns the value a template found into another value; filters chain left to right
(`{{order.hostname | trim | lower}}`). Each is a plain function of the value and its
arguments, which are JSON scalars written in the document (`replace("-", "_")`): nothing is
evaluated, and a filter cannot reach the scope, the network or the clock.

| filter                | takes                           | gives                                       |
|-----------------------|---------------------------------|---------------------------------------------|
| `lower`, `upper`      | text                            | text in lower / upper case                  |
| `trim`                | text                            | text without leading and trailing space     |
| `replace(old, new)`   | text                            | text with every `old` replaced by `new`     |
| `string`              | any value                       | text, as interpolation writes it            |
| `int`                 | integer, whole float, digits    | integer                                     |
| `json`                | any value                       | compact JSON text                           |
| `urlencode`           | text or number                  | percent-encoded text (RFC 3986)             |
| `b64encode`           | text or number                  | Base64 of its UTF-8 bytes                   |
| `default(value)`      | anything, even a missing path   | `value` when missing, null or `""`          |
| `prefixlen`           | CIDR or address (`/len`)        | prefix length, an integer (`24`)            |
| `netmask`             | CIDR or address (`/len`)        | netmask (`255.255.255.0`)                   |
| `network`             | CIDR or address (`/len`)        | network address (`192.0.2.0`)               |
| `address`             | CIDR or address (`/len`)        | the address without its length              |

A value of the wrong kind is a user error (`errors.InvalidFlow`) naming the node and the
filter, never a guess.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fluxbilling import errors

__all__ = ["FILTERS", "FilterSpec", "apply", "arguments_problem", "as_text"]


class _Misfit(ValueError):
    """A filter got a value it does not take (the message says what it needed)."""


def as_text(value: Any) -> str:
    """A value as interpolation writes it: text as is, numbers as digits, the rest as JSON.

    Examples:
        >>> as_text(24), as_text("a"), as_text({"b": [1, None]})
        ('24', 'a', '{"b":[1,null]}')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Misfit(f"needs text, got {_kind(value)} (use `string` first)")
    return value


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Misfit(f"needs text or a number, got {_kind(value)}")
    return as_text(value)


_DIGITS = re.compile(r"[+-]?[0-9]{1,18}")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Misfit("needs a number or digits, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    raise _Misfit(f"needs an integer, a whole number or up to 18 digits, got {_shown(value)}")


def _interface(value: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    if isinstance(value, str) and len(value) <= 100:
        try:
            return ipaddress.ip_interface(value.strip())
        except ValueError:
            pass
    raise _Misfit(f"needs an address or a CIDR such as 192.0.2.0/24, got {_shown(value)}")


def _default(value: Any, fallback: Any) -> Any:
    # `templating` hands a path that is not there over as None.
    return fallback if value is None or value == "" else value


def _kind(value: Any) -> str:
    names = {bool: "a boolean", str: "text", int: "a number", float: "a number"}
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = as_text(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """One filter: its name, the arguments it takes (by kind) and its function."""

    name: str
    params: tuple[str, ...]
    """One entry per argument: `"text"` (a JSON string) or `"any"` (any JSON scalar)."""
    run: Callable[..., Any]
    summary: str
    takes_missing: bool = False
    """Whether it may receive a path that is not there, as `None` (`default`)."""


FILTERS: dict[str, FilterSpec] = {
    spec.name: spec
    for spec in (
        FilterSpec("lower", (), lambda v: _text(v).lower(), "text in lower case"),
        FilterSpec("upper", (), lambda v: _text(v).upper(), "text in upper case"),
        FilterSpec("trim", (), lambda v: _text(v).strip(), "text without surrounding space"),
        FilterSpec(
            "replace",
            ("text", "text"),
            lambda v, old, new: _text(v).replace(old, new),
            "text with every `old` replaced by `new`",
        ),
        FilterSpec("string", (), as_text, "the value as text, as interpolation writes it"),
        FilterSpec("int", (), _int, "an integer from a number or a string of digits"),
        FilterSpec(
            "json",
            (),
            lambda v: json.dumps(v, separators=(",", ":"), sort_keys=True),
            "the value as compact JSON text",
        ),
        FilterSpec(
            "urlencode",
            (),
            lambda v: quote(_scalar_text(v), safe=""),
            "percent-encoded text, for a path segment or a query value",
        ),
        FilterSpec(
            "b64encode",
            (),
            lambda v: base64.b64encode(_scalar_text(v).encode()).decode("ascii"),
            "Base64 of the text's UTF-8 bytes",
        ),
        FilterSpec(
            "default",
            ("any",),
            _default,
            "the argument when the value is missing, null or empty text",
            takes_missing=True,
        ),
        FilterSpec(
            "prefixlen",
            (),
            lambda v: _interface(v).network.prefixlen,
            "the prefix length of a CIDR, an integer",
        ),
        FilterSpec("netmask", (), lambda v: str(_interface(v).netmask), "the netmask of a CIDR"),
        FilterSpec(
            "network",
            (),
            lambda v: str(_interface(v).network.network_address),
            "the network address of a CIDR",
        ),
        FilterSpec(
            "address", (), lambda v: str(_interface(v).ip), "the address of a CIDR, without /len"
        ),
    )
}
"""Every filter by name; a template naming another is refused when the plugin is saved."""


def arguments_problem(name: str, args: Sequence[Any]) -> str | None:
    """What is wrong with filter `name` called with `args`, or `None` (a save-time check)."""
    spec = FILTERS.get(name)
    if spec is None:
        return f"unknown filter {name!r} (known: {', '.join(sorted(FILTERS))})"
    if len(args) != len(spec.params):
        wanted = len(spec.params)
        return (
            f"filter {name!r} takes {wanted} argument{'' if wanted == 1 else 's'}, got {len(args)}"
        )
    for index, (kind, arg) in enumerate(zip(spec.params, args, strict=True)):
        if kind == "text" and not isinstance(arg, str):
            return f"filter {name!r}: argument {index + 1} must be a string, got {_kind(arg)}"
    return None


def apply(name: str, value: Any, args: Sequence[Any], *, node_id: str) -> Any:
    """Run filter `name` on `value`.

    Args:
        name: a key of `FILTERS` (checked when the plugin was saved).
        value: what the template found so far (`None` for a path that is not there, which
            only a filter with `takes_missing` is given).
        args: the filter's arguments.
        node_id: named in errors.

    Returns:
        The filtered value.

    Raises:
        errors.InvalidFlow: the value is not of a kind the filter takes.

    Examples:
        >>> apply("prefixlen", "192.0.2.0/24", (), node_id="n")
        24
        >>> apply("replace", "vps-42", ("-", "_"), node_id="n")
        'vps_42'
    """
    spec = FILTERS[name]
    try:
        return spec.run(value, *args)
    except _Misfit as exc:
        raise errors.InvalidFlow(
            f"node {node_id!r}: filter {name!r} {exc}", node=node_id, filter=name
        ) from None
