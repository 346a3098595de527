"""Host choice for today's host rows: active, right location, fits, least loaded first.

A thin use of the placement engine (`allocation.choice`): the `hosts` table's capacity
columns become an engine `Host` with one storage pool, the product's needs a `Need`, and the
strategy is spread (most free RAM after placement keeps noisy neighbours apart and leaves
room for resizes; ties go to the lowest host id so the choice is deterministic).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fluxbilling.allocation.choice import Host, HostStatus, Need, StoragePool, Strategy, choose

__all__ = ["HostCapacity", "HostStatus", "Requirement", "choose_host", "fits"]


@dataclass(frozen=True, slots=True)
class HostCapacity:
    """A host's capacity as seen under its row lock."""

    id: int
    location_id: int
    status: str
    ram_mb_total: int
    ram_mb_used: int
    vcpus_total: int
    vcpus_used: int
    disk_gb_total: int
    disk_gb_used: int

    @property
    def ram_mb_free(self) -> int:
        """RAM not yet reserved."""
        return self.ram_mb_total - self.ram_mb_used


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a product needs from a host."""

    location_id: int
    ram_mb: int
    vcpus: int
    disk_gb: int


def fits(host: HostCapacity, need: Requirement) -> bool:
    """Whether `need` fits on `host` (active, same location, every resource free).

    Example:
        >>> h = HostCapacity(1, 1, HostStatus.ACTIVE, 4096, 0, 4, 0, 100, 0)
        >>> fits(h, Requirement(1, 4096, 4, 100)), fits(h, Requirement(1, 4097, 1, 1))
        (True, False)
    """
    return choose([_host(host)], _need(need)).chosen is not None


def choose_host(hosts: Iterable[HostCapacity], need: Requirement) -> HostCapacity | None:
    """The host to place `need` on, or None when nothing fits."""
    by_id = {h.id: h for h in hosts}
    chosen = choose([_host(h) for h in by_id.values()], _need(need), Strategy.SPREAD).chosen
    return None if chosen is None else by_id[chosen.host.id]


def _host(h: HostCapacity) -> Host:
    return Host(
        h.id,
        h.location_id,
        ram_mb_total=h.ram_mb_total,
        ram_mb_used=h.ram_mb_used,
        vcpus_total=h.vcpus_total,
        vcpus_used=h.vcpus_used,
        pools=(StoragePool("disk", "disk", h.disk_gb_total, h.disk_gb_used),),
        state=h.status,
    )


def _need(need: Requirement) -> Need:
    return Need(
        ram_mb=need.ram_mb,
        vcpus=need.vcpus,
        disk_gb=need.disk_gb,
        storage_type="disk",
        location_id=need.location_id,
    )
