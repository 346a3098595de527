"""Drift between our DCIM model and the inventory system's copy: what to write, what to report.

For every object the sync manages (site, rack, device, interface, IP address) we know three
versions of its tracked fields: *ours* (our model now), *theirs* (what the inventory system
holds now) and *pushed* (what we last wrote there; None: we never wrote this object). Per
field:

| theirs == ours | theirs == pushed | decision                                            |
|----------------|------------------|-----------------------------------------------------|
| yes            | -                | nothing to do                                       |
| no             | yes              | write ours (our model changed since the last push)  |
| no             | no / never pushed| **drift**: someone edited it there; report, do not write |

An object that does not exist there is created with ours. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Drift", "Kind", "Plan", "Value", "plan"]

Value = str | int | None
"""A tracked field's value (normalised by the adapter: NetBox's `"12.0"` position is `12`)."""


class Kind(StrEnum):
    """The kinds of inventory objects the sync manages, in the order they are written."""

    SITE = "site"
    RACK = "rack"
    DEVICE = "device"
    INTERFACE = "interface"
    IP_ADDRESS = "ip_address"


@dataclass(frozen=True, slots=True)
class Drift:
    """One field edited in the inventory system since our last push.

    Attributes:
        kind: the object's kind.
        key: our key of the object (`site:FRA1`, `service:12`, ...).
        field: the field.
        ours: our value.
        theirs: the inventory system's value.
        pushed: what we last wrote (None also when we never wrote the object).
    """

    kind: Kind
    key: str
    field: str
    ours: Value
    theirs: Value
    pushed: Value


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do with one object.

    Attributes:
        create: the object does not exist there: create it with `writes` (all of ours).
        writes: the fields to write (create: all; update: those safe to overwrite).
        drift: the fields edited there, left alone and reported.
        pushed: what we will have pushed once `writes` succeeded (the last push of a drifted
            field is kept: the drift stays reported until someone resolves it).
    """

    create: bool
    writes: Mapping[str, Value] = field(default_factory=dict)
    drift: tuple[Drift, ...] = ()
    pushed: Mapping[str, Value] = field(default_factory=dict)


def plan(
    kind: Kind,
    key: str,
    ours: Mapping[str, Value],
    theirs: Mapping[str, Value] | None,
    pushed: Mapping[str, Value] | None,
) -> Plan:
    """Decide what to write to one object and which of its fields drifted.

    Args:
        kind: the object's kind.
        key: our key of it (named in drift reports).
        ours: our values of its tracked fields.
        theirs: the inventory system's values (None: the object is not there).
        pushed: what we last wrote (None: never).

    Returns:
        The plan.

    Examples:
        >>> plan(Kind.SITE, "site:FRA1", {"name": "Frankfurt"}, None, None).create
        True
        >>> p = plan(Kind.IP_ADDRESS, "service:1", {"dns_name": "a.example"},
        ...          {"dns_name": "edited.example"}, {"dns_name": "a.example"})
        >>> p.writes, [d.theirs for d in p.drift]
        ({}, ['edited.example'])
        >>> plan(Kind.IP_ADDRESS, "service:1", {"dns_name": "b.example"},
        ...      {"dns_name": "a.example"}, {"dns_name": "a.example"}).writes
        {'dns_name': 'b.example'}
    """
    if theirs is None:
        return Plan(create=True, writes=dict(ours), pushed=dict(ours))
    writes: dict[str, Value] = {}
    drift: list[Drift] = []
    after: dict[str, Value] = dict(pushed or {})
    for name, value in ours.items():
        current = theirs.get(name)
        if current == value:
            after[name] = value
            continue
        if pushed is not None and name in pushed and pushed[name] == current:
            writes[name] = value
            after[name] = value
            continue
        last = None if pushed is None else pushed.get(name)
        drift.append(Drift(kind, key, name, value, current, last))
    return Plan(create=False, writes=writes, drift=tuple(drift), pushed=after)
