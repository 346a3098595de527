"""The pieces of every answer model: a typed row and a timestamp.

An answer is a pydantic model named `...Out`, declared as the route's return type so that the
OpenAPI document names each field and its type. It is built from what the domain returns (a
frozen dataclass) or from a database row, by attribute (`RunOut.model_validate(row)`); open
JSON (a vendor's answer, an event's `data`) is a `jsontypes.JsonObject`:

```
Row         the base of every answer model: read by attribute, frozen
Timestamp   an aware datetime, written as `datetime.isoformat()` writes it (`+00:00`, not `Z`)
```
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

__all__ = ["Row", "Timestamp"]


class Row(BaseModel):
    """The base of every answer model: built from a dataclass or a database row by attribute."""

    model_config = ConfigDict(from_attributes=True, frozen=True)


def _iso(value: datetime) -> str:
    return value.isoformat()


Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A moment, as the API has always written it: `2026-01-31T12:00:00.123456+00:00`."""
