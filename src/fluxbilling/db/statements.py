"""Prepared statements: Core statements built once per database, values bound per call.

Building a SQLAlchemy Core statement and its cache key costs more than executing it
(bench/README.md), so the statements of a hot path are built once and run with bound
values. A *builder* is a function (or class) that takes the `Database` (its dialect and
clock) and any fixed arguments, and returns the statements; `Prepared` keeps what each
builder returned, per database and per arguments:

```python
def _build(db: Database, lease_seconds: float) -> _Sql: ...

sql = db.prepared(_build, 30.0)  # built on first use, the same object afterwards
await conn.execute(sql.fence, {"p_run_id": 7, "p_lease_token": 3})
```

Values are named `p_<name>` and typed like the column they stand for (`param`), so a
statement's parameters read apart from its columns and bind with the column's type.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar, TypeVarTuple

import sqlalchemy as sa

if TYPE_CHECKING:
    from fluxbilling.db.database import Database

__all__ = ["Prepared", "param"]

_T = TypeVar("_T")
_Args = TypeVarTuple("_Args")


def param(name: str, column: sa.Column[Any], *, expanding: bool = False) -> sa.BindParameter[Any]:
    """A value bound per call, typed like `column`.

    Args:
        name: the parameter's name (`p_<name>` by convention).
        column: the column the value is compared with or stored in.
        expanding: a list, for `IN` (`column.in_(param(..., expanding=True))`).

    Examples:
        >>> from fluxbilling.db import schema
        >>> param("p_order_id", schema.orders.c.id).key
        'p_order_id'
    """
    return sa.bindparam(name, type_=column.type, expanding=expanding)


class Prepared:
    """The statements built for one database: each builder runs once per set of arguments.

    Args:
        db: the database the statements are built for (its dialect and clock).
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._built: dict[tuple[Hashable, ...], Any] = {}

    def __call__(self, build: Callable[[Database, *_Args], _T], *args: *_Args) -> _T:
        """What `build(db, *args)` returns, built on the first call and kept.

        Args:
            build: the builder; it must return the same statements for the same arguments.
            *args: fixed, hashable arguments of the builder (a lease length, an event).

        Returns:
            The builder's statements.
        """
        key = (build, *args)
        try:
            built: _T = self._built[key]
        except KeyError:
            built = self._built[key] = build(self._db, *args)
        return built

    def __len__(self) -> int:
        """How many builds are kept."""
        return len(self._built)
