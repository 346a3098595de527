"""Reading a required field of a gateway's JSON, shared by the gateways' event parsers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fluxbilling import errors

__all__ = ["required"]


def required(data: Mapping[str, Any], name: str, kind: type, path: str) -> Any:
    """`data[name]`: present, not null, not empty and a `kind` (a bool is no int).

    Raises:
        InvalidWebhook: the field is missing or has the wrong type (named by `path`).
    """
    value = data.get(name)
    if value is None or value == "":
        raise errors.InvalidWebhook(f"missing field '{path}'", field=path)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise errors.InvalidWebhook(f"field '{path}' has the wrong type", field=path)
    return value
