"""Sync one service's DCIM facts to an inventory system (NetBox) through the `DcimSync` port.

The objects, in order, each found before it is created (idempotent: a repeat, or a retry
after a lost answer, finds what the first attempt made):

```
site (our location; slug = code)        key site:<CODE>
 └─ rack (when the host has one)        key rack:<CODE>/<rack name>
     └─ device (the host; position)     key host:<host name>
         └─ interface (the service's)   key service:<id>:interface
             └─ IP address (dns_name)   key service:<id>:address
```

`objects(facts)` lists them (pure); `sync(port, facts, pushed)` finds each, decides with
`dcim_drift.plan` against what we last pushed, creates or writes only the fields safe to
overwrite, and answers what to remember (`Pushed`) and the drift to report. It does no
database I/O: the caller loads `pushed` and stores the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from fluxbilling.network.dcim_drift import Drift, Kind, Value, plan

__all__ = [
    "DcimSync",
    "Facts",
    "Pushed",
    "RemoteObject",
    "SyncResult",
    "Wanted",
    "objects",
    "sync",
]


@dataclass(frozen=True, slots=True)
class RemoteObject:
    """An object in the inventory system: its id and its tracked fields' values."""

    id: int
    values: Mapping[str, Value]


class DcimSync(Protocol):
    """The inventory system (NetBox): find, create and update objects of the five kinds.

    Implementations: `network.netbox.NetBoxDcim`; `testing.InMemoryDcim`.
    """

    async def find(
        self, kind: Kind, lookup: Mapping[str, Value], refs: Mapping[str, int]
    ) -> RemoteObject | None:
        """The object identified by `lookup` (under the parents in `refs`), or None.

        Raises:
            errors.UpstreamError: the inventory system failed (transient ones are retried).
        """
        ...

    async def create(self, wanted: Wanted, refs: Mapping[str, int]) -> RemoteObject:
        """Create the object: its identifying `lookup` fields, its `values`, under `refs`.

        Raises:
            errors.UpstreamError: the inventory system failed or refused the object.
        """
        ...

    async def update(self, kind: Kind, remote_id: int, values: Mapping[str, Value]) -> RemoteObject:
        """Write `values` (only those) to the object `remote_id`.

        Raises:
            errors.UpstreamError: the inventory system failed or refused the change.
        """
        ...


@dataclass(frozen=True, slots=True)
class Facts:
    """What our model knows about one service's placement (`network.dcim_store.facts`)."""

    service_id: int
    site_code: str
    site_name: str
    host_name: str
    interface: str
    address: str
    dns_name: str
    rack_name: str | None = None
    rack_units: int | None = None
    rack_position: int | None = None


@dataclass(frozen=True, slots=True)
class Wanted:
    """One object as our model wants it.

    Attributes:
        kind: its kind.
        key: our key of it.
        lookup: the fields that identify it there (written on create, never compared).
        values: its tracked fields (compared, written, drift-checked).
        parents: the keys of the objects it hangs under, by reference name (`site`, `rack`,
            `device`, `interface`): their remote ids are passed as `refs`.
    """

    kind: Kind
    key: str
    lookup: Mapping[str, Value]
    values: Mapping[str, Value]
    parents: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Pushed:
    """What we last wrote to one object (a `dcim_pushed` row)."""

    kind: Kind
    key: str
    remote_id: int
    fields: Mapping[str, Value]


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What one sync did: the objects' pushed state, what it created/wrote, the drift."""

    pushed: tuple[Pushed, ...]
    created: tuple[str, ...]
    updated: tuple[str, ...]
    drift: tuple[Drift, ...]
    in_sync: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for the activity log."""
        parts = [
            f"{len(self.created)} created",
            f"{len(self.updated)} updated",
            f"{len(self.in_sync)} unchanged",
        ]
        if self.drift:
            parts.append(f"{len(self.drift)} drifted field(s) left alone")
        return ", ".join(parts)


def _description(service_id: int) -> str:
    return f"fluxbilling service {service_id}"


def objects(facts: Facts) -> tuple[Wanted, ...]:
    """The objects one service's facts make, parents first.

    Example:
        >>> f = Facts(7, "FRA1", "Frankfurt", "hv01", "svc-7", "192.0.2.7", "vps7.example")
        >>> [w.key for w in objects(f)]
        ['site:FRA1', 'host:hv01', 'service:7:interface', 'service:7:address']
    """
    site = f"site:{facts.site_code}"
    wanted = [
        Wanted(
            Kind.SITE,
            site,
            {"slug": facts.site_code.lower()},
            {"name": facts.site_name},
        )
    ]
    device_parents = {"site": site}
    if facts.rack_name is not None:
        rack = f"rack:{facts.site_code}/{facts.rack_name}"
        wanted.append(
            Wanted(
                Kind.RACK,
                rack,
                {"name": facts.rack_name},
                {"u_height": facts.rack_units},
                {"site": site},
            )
        )
        device_parents["rack"] = rack
    device = f"host:{facts.host_name}"
    position = facts.rack_position if facts.rack_name is not None else None
    wanted.append(
        Wanted(
            Kind.DEVICE,
            device,
            {"name": facts.host_name},
            {"status": "active", "position": position},
            device_parents,
        )
    )
    interface = f"service:{facts.service_id}:interface"
    wanted.append(
        Wanted(
            Kind.INTERFACE,
            interface,
            {"name": facts.interface},
            {"type": "virtual", "description": _description(facts.service_id)},
            {"device": device},
        )
    )
    wanted.append(
        Wanted(
            Kind.IP_ADDRESS,
            f"service:{facts.service_id}:address",
            {"address": facts.address},
            {
                "dns_name": facts.dns_name,
                "status": "active",
                "description": _description(facts.service_id),
            },
            {"interface": interface},
        )
    )
    return tuple(wanted)


async def sync(
    port: DcimSync, facts: Facts, pushed: Mapping[tuple[str, str], Pushed]
) -> SyncResult:
    """Bring the inventory system's objects of one service in line with our model.

    Args:
        port: the inventory system.
        facts: our model's facts about the service.
        pushed: what we last wrote, by `(kind, key)`.

    Returns:
        What happened; the caller stores `pushed` and the drift.

    Raises:
        errors.UpstreamError: the inventory system failed; nothing is half-remembered, and a
            retry finds what this attempt created.
    """
    remote_ids: dict[str, int] = {}
    done: list[Pushed] = []
    created: list[str] = []
    updated: list[str] = []
    in_sync: list[str] = []
    drift: list[Drift] = []
    for wanted in objects(facts):
        refs = {name: remote_ids[key] for name, key in wanted.parents.items()}
        found = await port.find(wanted.kind, wanted.lookup, refs)
        last = pushed.get((wanted.kind, wanted.key))
        decision = plan(
            wanted.kind,
            wanted.key,
            wanted.values,
            None if found is None else found.values,
            None
            if last is None or (found is not None and last.remote_id != found.id)
            else last.fields,
        )
        if found is None:
            found = await port.create(wanted, refs)
            created.append(wanted.key)
        elif decision.writes:
            found = await port.update(wanted.kind, found.id, decision.writes)
            updated.append(wanted.key)
        else:
            in_sync.append(wanted.key)
        remote_ids[wanted.key] = found.id
        drift.extend(decision.drift)
        done.append(Pushed(wanted.kind, wanted.key, found.id, decision.pushed))
    return SyncResult(tuple(done), tuple(created), tuple(updated), tuple(drift), tuple(in_sync))
