"""Safe YAML text for the documents we generate (cloud-config, meta-data, network-config).

PyYAML's `SafeDumper`, configured so that what we write cannot be misread:

- only plain data is accepted: mappings with `str` keys, `list`/`tuple`, `str`, `bool`,
  `int` and `None` (anything else, floats and bytes included, is our bug);
- every string *value* is double-quoted, so YAML 1.1 surprises (`yes`/`on` booleans,
  `0755` octals, MAC addresses read as base-60 numbers, `~` as null) cannot happen;
  non-ASCII and non-printable characters are written as escapes;
- keys are plain when they are simple identifiers (`set-name`), else double-quoted;
- block style, insertion order kept, no anchors or aliases, no line folding.

The result loads with any YAML 1.1/1.2 `safe_load` into exactly the input.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence

import yaml

from fluxbilling import errors

__all__ = ["Value", "dump"]

Value = Mapping[str, "Value"] | Sequence["Value"] | str | bool | int | None

_STR = "tag:yaml.org,2002:str"
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# Words YAML 1.1 resolves to booleans or null even as mapping keys.
_SPECIAL_WORDS = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null"})


class _Dumper(yaml.SafeDumper):
    """`SafeDumper` that represents only our plain data and quotes every string value."""

    # Start from empty tables: SafeDumper would also write floats, bytes, sets and dates.
    yaml_representers = {}  # noqa: RUF012 - PyYAML's own class-level registry
    yaml_multi_representers = {}  # noqa: RUF012 - PyYAML's own class-level registry

    def ignore_aliases(self, data: object) -> bool:
        """Never write `&anchor`/`*alias`: a shared sub-document is written out again."""
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        """Indent a sequence under its mapping key, as cloud-init's examples do."""
        super().increase_indent(flow, False)


def _represent_mapping(dumper: _Dumper, data: Mapping[object, object]) -> yaml.MappingNode:
    pairs: list[tuple[yaml.Node, yaml.Node]] = []
    for key, item in data.items():
        if not isinstance(key, str):
            raise errors.InvariantViolation(f"YAML mapping keys must be str, got {type(key)!r}")
        plain = _PLAIN_KEY.match(key) is not None and key.lower() not in _SPECIAL_WORDS
        # `None` lets the emitter choose (plain for a simple identifier).
        key_node = dumper.represent_scalar(_STR, str(key), style=None if plain else '"')
        pairs.append((key_node, dumper.represent_data(item)))
    return yaml.MappingNode("tag:yaml.org,2002:map", pairs, flow_style=False)


def _represent(dumper: _Dumper, data: object) -> yaml.Node:
    """Represent one value by `isinstance`, so `str`/`int` subclasses (StrEnum) work too."""
    # bool before int: bool is a subclass of int.
    if data is None:
        return dumper.represent_none(None)
    if isinstance(data, bool):
        return dumper.represent_bool(data)
    if isinstance(data, int):
        return dumper.represent_int(int(data))
    if isinstance(data, str):
        return dumper.represent_scalar(_STR, str(data), style='"')
    if isinstance(data, Mapping):
        return _represent_mapping(dumper, data)
    if isinstance(data, list | tuple):
        return dumper.represent_list(list(data))
    raise errors.InvariantViolation(f"cannot emit {type(data)!r} as YAML")


# Every type's MRO ends in `object`, so this one representer sees every value.
_Dumper.add_multi_representer(object, _represent)


def dump(document: Mapping[str, Value]) -> str:
    """Emit `document` (a mapping) as a YAML block document ending with a newline.

    Args:
        document: plain data as described in the module docstring.

    Returns:
        The YAML text; `"{}\\n"` for an empty mapping.

    Raises:
        errors.InvariantViolation: a value of an unsupported type was passed (our bug).

    Examples:
        >>> dump({"package_upgrade": True, "hostname": "yes"})
        'package_upgrade: true\\nhostname: "yes"\\n'
    """
    return yaml.dump(
        document,
        Dumper=_Dumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=False,
        width=sys.maxsize,
    )
