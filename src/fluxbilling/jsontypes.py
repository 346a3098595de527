"""Names for open JSON: values whose fields someone else decides.

A typed row names each of its fields. These aliases mark the places where no field list
exists on purpose, so that a bare `dict[str, Any]` stays the exception a reader questions:

```
JsonObject  a JSON object of someone else's shape: a plugin document and a flow's state, a
            vendor's request or answer, an error's details, an activity row's `data`, a
            JSON Schema or OpenAPI document, a product's options
JsonValue   any JSON value (a flow output, a checkpoint's output, an action's result)
```
"""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = ["JsonObject", "JsonValue"]

JsonObject: TypeAlias = dict[str, Any]
"""A JSON object whose keys and values are not ours to name."""

JsonValue: TypeAlias = Any
"""Any JSON value: an object, an array, a string, a number, a boolean or null."""
