"""One catalogue entry's life, for every kind alike: create, change, delete, each audited.

An entry is described by a *spec*: a frozen dataclass of what an operator states (the API's
body, one entry of `catalogue.yaml`), whose references name other entries by natural key
(a host names its location's `code`). A `Kind` tells how one kind of entry is checked
(pure), turned into a row and back, which changes running services forbid, and what uses
an entry. The functions here do the rest the same way for all of them:

```
create   check ─► normalise ─► resolve references ─► key free? ─► insert ─► audit <entity>.create
update   load (locked) ─► diff old/new spec ─► nothing? done ─► check ─► guard ─► update ─► audit
delete   load (locked) ─► anything uses it? 409 naming what ─► delete ─► audit <entity>.delete
```

Every write happens in the caller's transaction, with its audit row (`audit.record`), so a
change and its record commit together or not at all. Problems with the input are
`errors.InvalidSettings` (422) whose `details["problems"]` lists `{path, message}`; a taken
natural key, a forbidden change or a deletion of something in use is `errors.Conflict` (409)
whose message names the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import audit, errors

__all__ = [
    "Kind",
    "Names",
    "Problem",
    "Ref",
    "Users",
    "count_of",
    "counted",
    "create",
    "delete",
    "diff",
    "find",
    "get",
    "page",
    "problem",
    "reject",
    "resolve",
    "update",
]

Problem = dict[str, str]
"""One thing wrong with an input: `{"path": "gateway", "message": "is not inside 10.0.0.0/24"}`."""

S = TypeVar("S")


def problem(path: str, message: str) -> Problem:
    """A problem at `path` (a spec field, dotted into documents: `options.plan_id`)."""
    return {"path": path, "message": message}


def reject(entity: str, problems: Sequence[Problem]) -> None:
    """Raise the problems of an input, if there are any.

    Raises:
        errors.InvalidSettings: naming every problem (`details["problems"]`).
    """
    if problems:
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        raise errors.InvalidSettings(f"{entity} is invalid: {summary}", problems=list(problems))


def count_of(count: int, noun: str) -> str:
    """`3 services`, `1 product` (the plural by adding an `s`, as every noun here takes).

    Example:
        >>> count_of(1, "host"), count_of(2, "host")
        ('1 host', '2 hosts')
    """
    return f"{count} {noun}{'' if count == 1 else 's'}"


Users = Callable[[AsyncConnection, Any], Awaitable[list[str]]]
"""What uses a row, counted: `["2 hosts", "1 product"]` (see `Kind.users`)."""


def counted(*uses: tuple[sa.Column[Any], str]) -> Users:
    """`Kind.users` from the columns that refer to a row: `counted((hosts.c.location_id,
    "host"), ...)` counts the rows of each column's table that hold the row's id."""

    async def users(conn: AsyncConnection, row: Any) -> list[str]:
        found = []
        for column, noun in uses:
            query = sa.select(sa.func.count()).select_from(column.table).where(column == row.id)
            number = int((await conn.execute(query)).scalar_one())
            if number:
                found.append(count_of(number, noun))
        return found

    return users


class Names:
    """Natural keys of referenced rows and back, loaded once per table and transaction.

    Catalogue tables are small (locations, subnets, connections, images), so a whole
    table's keys are read at the first question and kept until a write to it.
    """

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._keys: dict[str, dict[int, str]] = {}

    async def _map(self, table: sa.Table, column: str) -> dict[int, str]:
        cached = self._keys.get(table.name)
        if cached is None:
            rows = await self.conn.execute(sa.select(table.c.id, table.c[column]))
            cached = self._keys[table.name] = {int(i): str(k) for i, k in rows.all()}
        return cached

    async def key_of(self, table: sa.Table, column: str, row_id: int | None) -> str | None:
        """The natural key of row `row_id` of `table` (None for None)."""
        if row_id is None:
            return None
        return (await self._map(table, column)).get(int(row_id))

    async def id_of(self, table: sa.Table, column: str, key: str) -> int | None:
        """The id of the row of `table` whose `column` is `key`, or None."""
        for row_id, value in (await self._map(table, column)).items():
            if value == key:
                return row_id
        return None

    def forget(self, table: sa.Table) -> None:
        """Drop what is known of `table` (it was written)."""
        self._keys.pop(table.name, None)


@dataclass(frozen=True, slots=True)
class Kind(Generic[S]):
    """How one kind of catalogue entry is checked, stored, guarded and found in use.

    Attributes:
        entity: its name in messages and audit rows (`host`; actions `host.create`, ...).
        table: where it is stored.
        key: the natural key: a unique column, and the spec field of the same name.
        check: the problems of a spec, pure (no database).
        normalise: the spec as stored (canonical addresses, derived defaults), pure; only
            called on a spec `check` passed.
        to_values: the row's values for a spec, references resolved; its problems (an
            unknown reference, options a plugin refuses) raise `errors.InvalidSettings`.
        to_spec: the spec a stored row states.
        guard: why changing `old` into `new` would break what runs (`{path, message}`
            each; empty: allowed).
        users: what uses a row, counted (`["2 hosts", "1 product"]`); deleting it is
            refused while anything does.
        uses: the verb of the refusal: "location fra1 *has* 2 hosts".
        children: writes the entry's rows of other tables after its own row (a host's
            storage pools), or removes them before a delete (given None); may raise
            `errors.Conflict`.
    """

    entity: str
    table: sa.Table
    key: str
    check: Callable[[S], list[Problem]]
    normalise: Callable[[S], S]
    to_values: Callable[[Names, S], Awaitable[dict[str, Any]]]
    to_spec: Callable[[Names, Any], Awaitable[S]]
    users: Users
    guard: Callable[[AsyncConnection, Any, S, S], Awaitable[list[Problem]]] | None = None
    uses: str = "has"
    children: Callable[[AsyncConnection, int, S | None], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference by natural key to resolve: `Ref("location", "location", locations, "code", "fra1")`."""

    path: str
    noun: str
    table: sa.Table
    column: str
    value: str | None


async def resolve(names: Names, entity: str, refs: Sequence[Ref]) -> dict[str, int | None]:
    """The ids of the referenced rows by path (None where the value is None).

    Raises:
        errors.InvalidSettings: naming every reference to nothing.
    """
    ids: dict[str, int | None] = {}
    problems = []
    for ref in refs:
        found = None if ref.value is None else await names.id_of(ref.table, ref.column, ref.value)
        if ref.value is not None and found is None:
            problems.append(problem(ref.path, f"no {ref.noun} {ref.column} {ref.value!r}"))
        ids[ref.path] = found
    reject(entity, problems)
    return ids


def _fields(spec: Any) -> dict[str, Any]:
    return {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}


def _plain(value: Any) -> Any:
    """A spec value as JSON (tuples become lists, enums their value, dataclasses objects)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(_fields(value))
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, str):
        return str(value)
    return value


def diff(old: S, new: S) -> dict[str, dict[str, Any]]:
    """The fields that differ, as `{field: {"from": old, "to": new}}` in JSON terms.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class Spec:
        ...     code: str
        ...     name: str
        >>> diff(Spec("ams1", "Amsterdam"), Spec("ams1", "Amsterdam 1"))
        {'name': {'from': 'Amsterdam', 'to': 'Amsterdam 1'}}
    """
    before, after = _fields(old), _fields(new)
    return {
        name: {"from": _plain(before[name]), "to": _plain(value)}
        for name, value in after.items()
        if _plain(before[name]) != _plain(value)
    }


async def get(conn: AsyncConnection, kind: Kind[Any], row_id: int, *, lock: bool = False) -> Any:
    """The row `row_id` of `kind`.

    Raises:
        errors.NotFound: there is none.
    """
    query = sa.select(kind.table).where(kind.table.c.id == row_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise errors.NotFound(f"no {kind.entity} with id {row_id}", id=row_id)
    return row


async def find(conn: AsyncConnection, kind: Kind[Any], key: str) -> Any:
    """The row of `kind` whose natural key is `key`, or None."""
    table = kind.table
    return (await conn.execute(sa.select(table).where(table.c[kind.key] == key))).first()


async def page(
    conn: AsyncConnection,
    kind: Kind[Any],
    *,
    where: Sequence[sa.ColumnElement[bool]] = (),
    limit: int,
    cursor: int | None = None,
) -> tuple[list[Any], int | None]:
    """Rows of `kind` in id order after `cursor`, and the cursor of the next page (or None)."""
    table = kind.table
    query = sa.select(table).where(*where).order_by(table.c.id).limit(limit + 1)
    if cursor is not None:
        query = query.where(table.c.id > cursor)
    rows = list((await conn.execute(query)).all())
    more = len(rows) > limit
    return rows[:limit], (int(rows[limit - 1].id) if more else None)


async def _written(
    conn: AsyncConnection,
    names: Names,
    kind: Kind[Any],
    verb: str,
    row_id: int,
    changes: Mapping[str, Any],
    actor: str,
) -> None:
    """After a write: forget the table's keys, and record the change."""
    names.forget(kind.table)
    await audit.record(
        conn,
        actor=actor,
        action=f"{kind.entity}.{verb}",
        entity=kind.entity,
        entity_id=row_id,
        changes=changes,
    )


def _stated(spec: Any) -> dict[str, Any]:
    """Every field of a spec, in JSON terms (the audit of a create or a delete)."""
    return {name: _plain(value) for name, value in _fields(spec).items()}


def _taken(kind: Kind[Any], key: str) -> errors.Conflict:
    return errors.Conflict(f"a {kind.entity} {kind.key} {key!r} exists already", **{kind.key: key})


def _checked(kind: Kind[S], spec: S) -> S:
    reject(kind.entity, kind.check(spec))
    return kind.normalise(spec)


async def create(conn: AsyncConnection, names: Names, kind: Kind[S], spec: S, *, actor: str) -> int:
    """Check and insert one entry, with its audit row; its id.

    Raises:
        errors.InvalidSettings: the spec is invalid (every problem named).
        errors.Conflict: its natural key is taken.
    """
    spec = _checked(kind, spec)
    key = str(getattr(spec, kind.key))
    values = await kind.to_values(names, spec)
    if await find(conn, kind, key) is not None:
        raise _taken(kind, key)
    try:
        async with conn.begin_nested():
            result = await conn.execute(
                kind.table.insert().values(**values).returning(kind.table.c.id)
            )
    except sa.exc.IntegrityError as exc:  # the same key, inserted concurrently
        raise _taken(kind, key) from exc
    row_id = int(result.scalar_one())
    if kind.children is not None:
        await kind.children(conn, row_id, spec)
    await _written(conn, names, kind, "create", row_id, _stated(spec), actor)
    return row_id


async def update(
    conn: AsyncConnection, names: Names, kind: Kind[S], row_id: int, spec: S, *, actor: str
) -> dict[str, dict[str, Any]]:
    """Change one entry into `spec`, with its audit row; what changed (empty: nothing did).

    Raises:
        errors.NotFound: no such entry.
        errors.InvalidSettings: the new spec is invalid.
        errors.Conflict: the new natural key is taken, or running services forbid the change.
    """
    row = await get(conn, kind, row_id, lock=True)
    spec = _checked(kind, spec)
    old = await kind.to_spec(names, row)
    changes = diff(old, spec)
    if not changes:
        return {}
    refusals = await kind.guard(conn, row, old, spec) if kind.guard is not None else []
    if refusals:
        key = getattr(old, kind.key)
        raise errors.Conflict(
            f"{kind.entity} {key} cannot change so: "
            + "; ".join(f"{p['path']}: {p['message']}" for p in refusals),
            problems=refusals,
        )
    values = await kind.to_values(names, spec)
    new_key = str(getattr(spec, kind.key))
    if kind.key in changes and await find(conn, kind, new_key) is not None:
        raise _taken(kind, new_key)
    try:
        async with conn.begin_nested():
            await conn.execute(
                kind.table.update().where(kind.table.c.id == row.id).values(**values)
            )
    except sa.exc.IntegrityError as exc:
        raise _taken(kind, new_key) from exc
    if kind.children is not None:
        await kind.children(conn, row.id, spec)
    await _written(conn, names, kind, "update", row.id, changes, actor)
    return changes


async def delete(
    conn: AsyncConnection, names: Names, kind: Kind[Any], row_id: int, *, actor: str
) -> None:
    """Delete one entry nothing uses, with its audit row.

    Raises:
        errors.NotFound: no such entry.
        errors.Conflict: something uses it; the message says what ("location fra1 has
            2 hosts and 1 product").
    """
    row = await get(conn, kind, row_id, lock=True)
    spec = await kind.to_spec(names, row)
    key = getattr(spec, kind.key)
    users = await kind.users(conn, row)
    if users:
        listed = users[0] if len(users) == 1 else ", ".join(users[:-1]) + " and " + users[-1]
        raise errors.Conflict(
            f"{kind.entity} {key} {kind.uses} {listed}: it cannot be deleted while in use",
            used_by=users,
        )
    try:
        async with conn.begin_nested():
            if kind.children is not None:
                await kind.children(conn, row.id, None)
            await conn.execute(kind.table.delete().where(kind.table.c.id == row.id))
    except sa.exc.IntegrityError as exc:  # something came to use it meanwhile
        raise errors.Conflict(
            f"{kind.entity} {key} is in use: it cannot be deleted", **{kind.key: key}
        ) from exc
    await _written(conn, names, kind, "delete", row.id, _stated(spec), actor)
