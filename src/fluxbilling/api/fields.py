"""The values a request may carry: shared types for ids, versions, strings and JSON documents.

Both databases must answer the same, and neither may answer 500. An integer beyond a column's
range fails in the driver (`OverflowError` on SQLite, a `DataError` on PostgreSQL) and a NUL
character fails on PostgreSQL only (text and jsonb refuse `\\u0000`, SQLite stores it). So such
values are refused here, at the edge, with 422 naming the parameter:

```
RowId      1 .. 2^63-1   ids and cursors (BIGINT columns)
Version    1 .. 2^31-1   plugin versions and diff bounds (INTEGER columns)
Line       no NUL, CR or LF: names, slugs, hostnames, URLs, header values, path and query strings
           (ONE_LINE is its check, for parameters with constraints of their own)
Secret     a secret value, one line like a header value (checked, never echoed)
Text       no NUL: free text that may span lines
JsonObject a JSON object whose strings hold no NUL, whose numbers are finite and whose
           integers fit in 64 bits (plugin documents, settings, action parameters)
RequestBody  the base of every request body model: unknown fields are refused, and no string
           anywhere in it (nested documents and secrets included) may hold a NUL
```
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fluxbilling import jsontypes

__all__ = [
    "INT32_MAX",
    "INT64_MAX",
    "ONE_LINE",
    "UNSTORABLE",
    "JsonObject",
    "Line",
    "RequestBody",
    "RowId",
    "Secret",
    "Text",
    "Version",
    "json_problem",
]

UNSTORABLE = "unstorable_value"
"""The error type of a value found by `json_problem`; its context holds `path` and `message`."""

INT64_MAX = 2**63 - 1
"""The largest value of a BIGINT (PostgreSQL) or INTEGER (SQLite) column."""
INT32_MAX = 2**31 - 1
"""The largest value of a PostgreSQL INTEGER column."""

RowId = Annotated[int, Field(ge=1, le=INT64_MAX)]
"""A row id or a cursor (the id of the last row of the previous page)."""

Version = Annotated[int, Field(ge=1, le=INT32_MAX)]
"""A version number of a plugin."""

_LINE_BREAKS = ("\r", "\n")


def _refuse(forbidden: tuple[str, ...], what: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if isinstance(value, str) and any(char in value for char in forbidden):
            raise PydanticCustomError("forbidden_character", f"must not contain {what}")
        return value

    return BeforeValidator(check)


ONE_LINE = _refuse(("\x00", *_LINE_BREAKS), "a NUL character or a line break")
"""The check of `Line`, to put after the constraints of an optional field or of a path, query or
header parameter: `Annotated[str, StringConstraints(max_length=...), ONE_LINE]` (constraints
given after it, as `Path(max_length=...)` does, lose their place in the JSON schema or their
usual message)."""

Line = Annotated[str, ONE_LINE]
"""A single-line string: no NUL, CR or LF (they would split a header or a log line)."""

Secret = Annotated[SecretStr, ONE_LINE]
"""A secret value (a token, a password): one line, as it is sent in a header; never echoed."""

Text = Annotated[str, _refuse(("\x00",), "a NUL character")]
"""A string that may span lines, without NUL characters."""


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every (path, leaf or key) of a JSON-like value; keys are yielded as strings too."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            yield here, key
            yield from _walk(item, here)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name), f"{path}.{name}" if path else name)
    else:
        yield path, value


def json_problem(value: Any) -> tuple[str, str] | None:
    """The first value in `value` that no database can store alike, as (path, problem).

    Example:
        >>> json_problem({"a": [1, "b\\x00"]})
        ('a[1]', 'must not contain a NUL character')
        >>> json_problem({"n": 2**64})
        ('n', 'must be an integer between -2^63 and 2^63-1')
        >>> json_problem({"ok": [1.5, "text"]}) is None
        True
    """
    for path, leaf in _walk(value, ""):
        if isinstance(leaf, SecretStr):
            leaf = leaf.get_secret_value()  # checked, never shown
        if isinstance(leaf, str) and "\x00" in leaf:
            return path, "must not contain a NUL character"
        if isinstance(leaf, float) and not math.isfinite(leaf):
            return path, "must be a finite number"
        if (
            isinstance(leaf, int)
            and not isinstance(leaf, bool)
            and not -INT64_MAX - 1 <= leaf <= INT64_MAX
        ):
            return path, "must be an integer between -2^63 and 2^63-1"
    return None


def _refuse_unstorable(value: Any) -> None:
    problem = json_problem(value)
    if problem is not None:
        path, message = problem
        raise PydanticCustomError(
            UNSTORABLE, "{path}: {message}", {"path": path, "message": message}
        )


def _storable(value: jsontypes.JsonObject) -> jsontypes.JsonObject:
    _refuse_unstorable(value)
    return value


JsonObject = Annotated[jsontypes.JsonObject, AfterValidator(_storable)]
"""A JSON object both databases store alike (see `json_problem`)."""


class RequestBody(BaseModel):
    """The base of every request body model.

    Unknown fields are refused (a typo must not be ignored silently), and the whole body is
    checked by `json_problem` after its fields: whatever a field's own type allows, no NUL,
    no infinite number and no integer beyond 64 bits reaches the database from a body.
    """

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _storable_everywhere(self) -> RequestBody:
        _refuse_unstorable(self)
        return self
