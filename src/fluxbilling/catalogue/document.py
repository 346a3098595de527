"""The whole catalogue as one document: plan the changes a file asks for, apply them, export.

A document has a section per kind, in the order references allow creating them:

```yaml
locations: [{code: ams1, name: Amsterdam 1}]
racks:     [{name: ams1-r01, location: ams1, units: 42}]
subnets:   [{cidr: 192.0.2.0/24, location: ams1, gateway: 192.0.2.1, dns_servers: [...]}]
hosts:     [{name: kvm-ams1-01, location: ams1, subnet: 192.0.2.0/24, rack: ams1-r01, ...}]
ports:     [{port: kvm-ams1-01/eth0, host: kvm-ams1-01, kind: 1000base-t}, {port: sw1/ge-0/0/1, device: sw1, ...}]
cables:    [{label: ams1-c0001, a: kvm-ams1-01/eth0, b: sw1/ge-0/0/1}]
images:    [...]
products:  [...]
customers: [...]
```

Entries are matched to stored ones by natural key. `plan` compares them (every entry checked
and normalised first, so a second apply of the same file finds nothing to change); `apply`
makes the planned changes through `records`, so each is audited and guarded exactly as
through the API. Stored entries the file does not list are reported and kept, unless pruning
is asked for (a section left out of the file is left alone either way). Everything happens
in the caller's transaction: the caller commits all of it, or, on any error or a dry run,
nothing. Errors name the entry's place in the file: `hosts[2].ram_mb: ...`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.catalogue import (
    cables,
    customers,
    hosts,
    images,
    locations,
    ports,
    products,
    racks,
    records,
    subnets,
)
from fluxbilling.drivers.registry import DriverSource

__all__ = ["SECTIONS", "Entry", "Plan", "Step", "Verb", "apply", "export", "kinds", "plan"]

SECTIONS = (
    "locations",
    "racks",
    "subnets",
    "hosts",
    "ports",
    "cables",
    "images",
    "products",
    "customers",
)
"""The sections of a document, in the order their entries are created (deleted: reversed)."""


def kinds(plugins: DriverSource) -> dict[str, records.Kind[Any]]:
    """The `Kind` of each section; products are checked against `plugins` (the drivers)."""
    return {
        "locations": locations.KIND,
        "racks": racks.KIND,
        "subnets": subnets.KIND,
        "hosts": hosts.KIND,
        "ports": ports.KIND,
        "cables": cables.KIND,
        "images": images.KIND,
        "products": products.kind(plugins),
        "customers": customers.KIND,
    }


class Verb(StrEnum):
    """What applying a document does to one entry."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    MISSING = "missing"
    """Stored, not in the file: kept."""
    DELETE = "delete"
    """Stored, not in the file, and pruning was asked for."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a document: its section, its place in the file and its spec."""

    section: str
    index: int
    spec: Any

    @property
    def where(self) -> str:
        """Its place in the file: `hosts[2]`."""
        return f"{self.section}[{self.index}]"


@dataclass(frozen=True, slots=True)
class Step:
    """What happens to one entry; `changes` as `records.diff` gives them (updates)."""

    verb: Verb
    section: str
    key: str
    entry: Entry | None = None
    row_id: int | None = None
    changes: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """The steps of a document, section by section."""

    steps: tuple[Step, ...]

    def count(self, verb: Verb) -> int:
        """How many steps do `verb`."""
        return sum(1 for step in self.steps if step.verb == verb)

    @property
    def changes_anything(self) -> bool:
        """Whether applying writes anything."""
        return any(s.verb in (Verb.CREATE, Verb.UPDATE, Verb.DELETE) for s in self.steps)

    def render(self) -> str:
        """The plan as an operator reads it: one line per entry, then a summary."""
        marks = {
            Verb.CREATE: "+",
            Verb.UPDATE: "~",
            Verb.UNCHANGED: "=",
            Verb.MISSING: "?",
            Verb.DELETE: "-",
        }
        lines: list[str] = []
        for section in SECTIONS:
            steps = [s for s in self.steps if s.section == section]
            if steps:
                lines.append(f"{section}:")
            for step in steps:
                lines.append(f"  {marks[step.verb]} {step.key}: {_describe(step)}")
        lines.append(_summary(self))
        return "\n".join(lines)


def _describe(step: Step) -> str:
    if step.verb == Verb.UPDATE:
        return "update " + ", ".join(
            f"{name} {change['from']!r} -> {change['to']!r}"
            for name, change in step.changes.items()
        )
    if step.verb == Verb.MISSING:
        return "not in the file (kept; --prune deletes it)"
    return str(step.verb)


def _summary(plan: Plan) -> str:
    if not plan.changes_anything:
        unchanged = plan.count(Verb.UNCHANGED)
        return f"nothing to change ({unchanged} unchanged)"
    parts = [
        f"{plan.count(verb)} to {verb}"
        for verb in (Verb.CREATE, Verb.UPDATE, Verb.DELETE)
        if plan.count(verb)
    ]
    parts.append(f"{plan.count(Verb.UNCHANGED)} unchanged")
    if plan.count(Verb.MISSING):
        parts.append(f"{plan.count(Verb.MISSING)} not in the file")
    return ", ".join(parts)


def _at(entry: Entry | str, exc: errors.FluxError) -> errors.FluxError:
    """`exc` with its message and problems placed in the file."""
    where = entry.where if isinstance(entry, Entry) else entry
    found = exc.details.get("problems")
    if isinstance(exc, errors.InvalidSettings) and isinstance(found, list):
        problems = [records.problem(f"{where}.{p['path']}", p["message"]) for p in found]
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        return errors.InvalidSettings(summary, problems=problems)
    return type(exc)(f"{where}: {exc.message}", **exc.details)


def _checked(kind: records.Kind[Any], entry: Entry) -> Any:
    try:
        records.reject(kind.entity, kind.check(entry.spec))
    except errors.InvalidSettings as exc:
        raise _at(entry, exc) from None
    return kind.normalise(entry.spec)


async def plan(
    conn: AsyncConnection,
    kinds: Mapping[str, records.Kind[Any]],
    document: Mapping[str, Sequence[Entry]],
    *,
    prune: bool = False,
) -> Plan:
    """The steps that bring the stored catalogue to `entries` (nothing is written).

    Args:
        conn: the transaction the plan will be applied in.
        kinds: the `Kind` of each section.
        document: the document's entries by section (a section it lacks is left alone).
        prune: stored entries of a listed section that the file lacks are deleted.

    Raises:
        errors.InvalidSettings: an entry is invalid, or a key is listed twice (named by
            its place in the file).
    """
    names = records.Names(conn)
    steps: list[Step] = []
    for section in SECTIONS:
        if section not in document:
            continue
        kind = kinds[section]
        seen: dict[str, Entry] = {}
        for entry in document[section]:
            spec = _checked(kind, entry)
            entry = dataclasses.replace(entry, spec=spec)
            key = str(getattr(spec, kind.key))
            if key in seen:
                raise _at(
                    entry,
                    errors.InvalidSettings(
                        problems=[
                            records.problem(kind.key, f"{key} is listed at {seen[key].where} too")
                        ]
                    ),
                )
            seen[key] = entry
            row = await records.find(conn, kind, key)
            if row is None:
                steps.append(Step(Verb.CREATE, section, key, entry))
                continue
            changes = records.diff(await kind.to_spec(names, row), spec)
            verb = Verb.UPDATE if changes else Verb.UNCHANGED
            steps.append(Step(verb, section, key, entry, int(row.id), changes))
        steps += await _missing(conn, kind, section, set(seen), prune=prune)
    return Plan(tuple(steps))


async def _missing(
    conn: AsyncConnection, kind: records.Kind[Any], section: str, listed: set[str], *, prune: bool
) -> list[Step]:
    table = kind.table
    rows = (await conn.execute(sa.select(table.c.id, table.c[kind.key]).order_by(table.c.id))).all()
    verb = Verb.DELETE if prune else Verb.MISSING
    return [
        Step(verb, section, str(key), row_id=int(i)) for i, key in rows if str(key) not in listed
    ]


async def apply(
    conn: AsyncConnection, kinds: Mapping[str, records.Kind[Any]], planned: Plan, *, actor: str
) -> None:
    """Make the planned changes in the caller's transaction (deletions last, in reverse order).

    Raises:
        errors.InvalidSettings: a reference names nothing, a plugin refuses the options, ...
        errors.Conflict: a change or deletion is refused (what uses it, what runs on it).
    """
    names = records.Names(conn)
    for step in planned.steps:
        kind, entry = kinds[step.section], step.entry
        try:
            if step.verb == Verb.CREATE and entry is not None:
                await records.create(conn, names, kind, entry.spec, actor=actor)
            elif step.verb == Verb.UPDATE and entry is not None and step.row_id is not None:
                await records.update(conn, names, kind, step.row_id, entry.spec, actor=actor)
        except (errors.InvalidSettings, errors.Conflict) as exc:
            raise _at(entry or step.key, exc) from None
    for section in reversed(SECTIONS):
        for step in planned.steps:
            if step.section == section and step.verb == Verb.DELETE and step.row_id is not None:
                try:
                    await records.delete(conn, names, kinds[section], step.row_id, actor=actor)
                except errors.Conflict as exc:
                    raise _at(f"{section} {step.key} (not in the file)", exc) from None


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


async def export(
    conn: AsyncConnection, kinds: Mapping[str, records.Kind[Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Every stored entry as a document (fields left at None are left out)."""
    names = records.Names(conn)
    document: dict[str, list[dict[str, Any]]] = {}
    for section in SECTIONS:
        kind = kinds[section]
        rows = (await conn.execute(sa.select(kind.table).order_by(kind.table.c.id))).all()
        entries = []
        for row in rows:
            spec = await kind.to_spec(names, row)
            entries.append(
                {
                    f.name: _plain(getattr(spec, f.name))
                    for f in dataclasses.fields(spec)
                    if getattr(spec, f.name) is not None
                }
            )
        document[section] = entries
    return document
