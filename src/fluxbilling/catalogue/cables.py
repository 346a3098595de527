"""Cables: one joins two ports (`a`, `b`), each port in at most one cable.

Its natural key is its label (`ams1-c0001`, as printed on it). The database refuses a port
in two cables on the same side; `check` and `_values` refuse the rest (a cable from a port
to itself, or a port already at the other end of another cable) with a 422 naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fluxbilling.catalogue import rules
from fluxbilling.catalogue.records import (
    Kind,
    Names,
    Problem,
    Ref,
    problem,
    reject,
    resolve,
)
from fluxbilling.db import schema

__all__ = ["KIND", "CableSpec", "check"]


@dataclass(frozen=True, slots=True)
class CableSpec:
    """A cable as an operator states it.

    Attributes:
        label: the natural key.
        a: one end: a port's key (`kvm-ams1-01/eth0`).
        b: the other end.
    """

    label: str
    a: str
    b: str


def check(spec: CableSpec) -> list[Problem]:
    """The problems of `spec` (pure).

    Example:
        >>> check(CableSpec("c1", "hv1/eth0", "hv1/eth0"))
        [{'path': 'b', 'message': 'must be another port than a'}]
    """
    problems = rules.key("label", spec.label)
    if spec.a == spec.b:
        problems.append(problem("b", "must be another port than a"))
    return problems


def _same(spec: CableSpec) -> CableSpec:
    return spec


async def _values(names: Names, spec: CableSpec) -> dict[str, Any]:
    ids = await resolve(
        names,
        "cable",
        [
            Ref("a", "port", schema.ports, "port", spec.a),
            Ref("b", "port", schema.ports, "port", spec.b),
        ],
    )
    cables = schema.cables
    taken = []
    for path in ("a", "b"):
        port_id = ids[path]
        query = sa.select(cables.c.label).where(
            ((cables.c.port_a_id == port_id) | (cables.c.port_b_id == port_id))
            & (cables.c.label != spec.label)
        )
        other = (await names.conn.execute(query)).scalar()
        if other is not None:
            taken.append(problem(path, f"{getattr(spec, path)} is in cable {other} already"))
    reject("cable", taken)
    return {"label": spec.label, "port_a_id": ids["a"], "port_b_id": ids["b"]}


async def _spec(names: Names, row: Any) -> CableSpec:
    return CableSpec(
        label=row.label,
        a=await names.key_of(schema.ports, "port", row.port_a_id) or "",
        b=await names.key_of(schema.ports, "port", row.port_b_id) or "",
    )


async def _nothing(*_: Any) -> list[str]:
    return []


KIND: Kind[CableSpec] = Kind(
    entity="cable",
    table=schema.cables,
    key="label",
    check=check,
    normalise=_same,
    to_values=_values,
    to_spec=_spec,
    users=_nothing,
)
"""Cables, for `records`."""
