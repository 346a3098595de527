"""Locations: where hosts stand and products are sold (`ams1`, "Amsterdam 1").

A location is used by its hosts, subnets and products; it cannot be deleted while any
exists. Its code may change (references are by id), and every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fluxbilling.catalogue import rules
from fluxbilling.catalogue.records import Kind, Names, Problem, counted
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


KIND: Kind[LocationSpec] = Kind(
    entity="location",
    table=schema.locations,
    key="code",
    check=check,
    normalise=_same,
    to_values=_values,
    to_spec=_spec,
    users=counted(
        (schema.hosts.c.location_id, "host"),
        (schema.subnets.c.location_id, "subnet"),
        (schema.products.c.location_id, "product"),
        (schema.racks.c.location_id, "rack"),
    ),
)
"""Locations, for `records`."""
