"""Racks: where hosts stand inside a location (a location is a DCIM *site*).

A rack has a natural key (`ams1-r01`), its location and its height in units. Hosts name
their rack and lowest unit (`hosts.rack`, `hosts.rack_position`). A rack cannot be deleted
while hosts stand in it, its location cannot change under them, and it cannot shrink below
the highest unit one of them occupies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.catalogue import rules
from fluxbilling.catalogue.records import Kind, Names, Problem, Ref, counted, problem, resolve
from fluxbilling.db import schema

__all__ = ["KIND", "MAX_UNITS", "RackSpec", "check"]

MAX_UNITS = 100
"""The tallest rack we model."""


@dataclass(frozen=True, slots=True)
class RackSpec:
    """A rack as an operator states it.

    Attributes:
        name: the natural key (`ams1-r01`).
        location: the code of its location (the site).
        units: its height in rack units (1-100).
    """

    name: str
    location: str
    units: int = 42


def check(spec: RackSpec) -> list[Problem]:
    """The problems of `spec` (pure).

    Example:
        >>> check(RackSpec("ams1-r01", "ams1", units=0))
        [{'path': 'units', 'message': 'must be an integer from 1 to 100'}]
    """
    problems = rules.key("name", spec.name)
    if isinstance(spec.units, bool) or not 1 <= spec.units <= MAX_UNITS:
        problems.append(problem("units", f"must be an integer from 1 to {MAX_UNITS}"))
    return problems


def _same(spec: RackSpec) -> RackSpec:
    return spec


async def _values(names: Names, spec: RackSpec) -> dict[str, Any]:
    ids = await resolve(
        names, "rack", [Ref("location", "location", schema.locations, "code", spec.location)]
    )
    return {"name": spec.name, "location_id": ids["location"], "units": spec.units}


async def _spec(names: Names, row: Any) -> RackSpec:
    return RackSpec(
        name=row.name,
        location=await names.key_of(schema.locations, "code", row.location_id) or "",
        units=row.units,
    )


async def _guard(conn: AsyncConnection, row: Any, old: RackSpec, new: RackSpec) -> list[Problem]:
    hosts = schema.hosts
    count, top = (
        await conn.execute(
            sa.select(sa.func.count(), sa.func.max(hosts.c.rack_position)).where(
                hosts.c.rack_id == row.id
            )
        )
    ).one()
    refusals = []
    if count and old.location != new.location:
        refusals.append(problem("location", f"{count} host(s) stand in it: move them first"))
    if top is not None and new.units < int(top):
        refusals.append(problem("units", f"a host stands at unit {top}; it cannot be lower"))
    return refusals


KIND: Kind[RackSpec] = Kind(
    entity="rack",
    table=schema.racks,
    key="name",
    check=check,
    normalise=_same,
    to_values=_values,
    to_spec=_spec,
    users=counted((schema.hosts.c.rack_id, "host")),
    guard=_guard,
)
"""Racks, for `records`."""
