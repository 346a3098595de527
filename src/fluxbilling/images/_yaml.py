"""A tiny, safe YAML emitter for the documents we generate (cloud-config, meta-data, network).

Only plain data is accepted: `dict` with `str` keys, `list`/`tuple`, `str`, `bool`, `int`
and `None`. Block style throughout; every string *value* is double-quoted with explicit
escapes, so YAML 1.1 surprises (`yes`/`on` booleans, `0755` octals, MAC addresses read as
base-60 numbers) cannot happen and non-printable characters never reach the file. Keys are
written plain when they are simple identifiers, else double-quoted. The result loads with
any YAML 1.1/1.2 `safe_load` into exactly the input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from fluxbilling import errors

__all__ = ["Value", "dump", "quote"]

Value = Mapping[str, "Value"] | Sequence["Value"] | str | bool | int | None

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# Words YAML 1.1 resolves to booleans or null even as mapping keys.
_SPECIAL_WORDS = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null"})
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_INDENT = "  "


def quote(text: str) -> str:
    """`text` as a YAML double-quoted scalar (printable ASCII kept, the rest escaped)."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0x20 <= code <= 0x7E:
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise errors.InvariantViolation(f"YAML mapping keys must be str, got {type(key)!r}")
    plain = _PLAIN_KEY.match(key) and key.lower() not in _SPECIAL_WORDS
    return key if plain else quote(key)


def _scalar(value: object) -> str:
    # bool before int: bool is a subclass of int.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return quote(value)
    raise errors.InvariantViolation(f"cannot emit {type(value)!r} as YAML")


def _is_collection(value: object) -> bool:
    return isinstance(value, Mapping | list | tuple)


def _lines(value: object, depth: int) -> list[str]:
    """Block lines for a non-empty mapping or sequence at `depth`."""
    pad = _INDENT * depth
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _is_collection(item) and item:
                lines.append(f"{pad}{_key(key)}:")
                lines.extend(_lines(item, depth + 1))
            else:
                lines.append(f"{pad}{_key(key)}: {_inline(item)}")
        return lines
    for item in value if isinstance(value, list | tuple) else ():
        if _is_collection(item) and item:
            nested = _lines(item, depth + 1)
            # The first line of the nested block moves up behind the dash.
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines.extend(nested[1:])
        else:
            lines.append(f"{pad}- {_inline(item)}")
    return lines


def _inline(value: object) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list | tuple):
        return "[]"
    return _scalar(value)


def dump(document: Mapping[str, Value]) -> str:
    """Emit `document` (a mapping) as a YAML block document ending with a newline.

    Args:
        document: plain data as described in the module docstring.

    Returns:
        The YAML text; `"{}\\n"` for an empty mapping.

    Raises:
        errors.InvariantViolation: a value of an unsupported type was passed (our bug).
    """
    if not document:
        return "{}\n"
    return "\n".join(_lines(document, 0)) + "\n"
