"""Locations: where hosts stand and products are sold (`ams1`, "Amsterdam 1").

A location is used by its hosts, subnets and products; it cannot be deleted while any
exists. Its code may change (references are by id), and every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.catalogue import rules
from fluxbilling.catalogue.records import Kind, Names, Problem, count_of
from fluxbilling.db import schema

__all__ = ["KIND", "LocationSpec", "check"]


@dataclass(frozen=True, slots=True)
class LocationSpec:
    """A location as an operator states it.

    Attributes:
        code: the natural key (`ams1`).
        name: shown to operators and customers.
    """

    code: str
    name: str


def check(spec: LocationSpec) -> list[Problem]:
    """The problems of `spec` (pure).

    Example:
        >>> check(LocationSpec("ams1", "Amsterdam 1"))
        []
    """
    return rules.key("code", spec.code) + rules.name("name", spec.name)


def _same(spec: LocationSpec) -> LocationSpec:
    return spec


async def _values(_names: Names, spec: LocationSpec) -> dict[str, Any]:
    return {"code": spec.code, "name": spec.name}


async def _spec(_names: Names, row: Any) -> LocationSpec:
    return LocationSpec(code=row.code, name=row.name)


async def _users(conn: AsyncConnection, row: Any) -> list[str]:
    found = []
    for table, noun in (
        (schema.hosts, "host"),
        (schema.subnets, "subnet"),
        (schema.products, "product"),
    ):
        query = sa.select(sa.func.count()).where(table.c.location_id == row.id)
        number = int((await conn.execute(query)).scalar_one())
        if number:
            found.append(count_of(number, noun))
    return found


KIND: Kind[LocationSpec] = Kind(
    entity="location",
    table=schema.locations,
    key="code",
    check=check,
    normalise=_same,
    to_values=_values,
    to_spec=_spec,
    users=_users,
)
"""Locations, for `records`."""
