"""Host choice, a pure function: the active host in the right location that fits, least loaded first.

Spreading (most free RAM after placement) keeps noisy neighbours apart and leaves room for
resizes; ties go to the lowest host id so the choice is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["HostCapacity", "HostStatus", "Requirement", "choose_host", "fits"]


class HostStatus(StrEnum):
    """Whether a host takes new services (the `hosts.status` column).

    Only an active host is chosen; the other two keep the services they run. They differ in
    what they tell the operator: draining is planned (the host is being emptied, for
    maintenance or retirement), quarantined is a problem (something is wrong with it, and
    the dashboard says so).
    """

    ACTIVE = "active"
    """Takes new services."""
    DRAINING = "draining"
    """Keeps the services it runs, takes no new ones: being emptied on purpose."""
    QUARANTINED = "quarantined"
    """Keeps the services it runs, takes no new ones: something is wrong with it."""


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
    return (
        host.status == HostStatus.ACTIVE
        and host.location_id == need.location_id
        and host.ram_mb_used + need.ram_mb <= host.ram_mb_total
        and host.vcpus_used + need.vcpus <= host.vcpus_total
        and host.disk_gb_used + need.disk_gb <= host.disk_gb_total
    )


def choose_host(hosts: Iterable[HostCapacity], need: Requirement) -> HostCapacity | None:
    """The host to place `need` on, or None when nothing fits."""
    candidates = [h for h in hosts if fits(h, need)]
    if not candidates:
        return None
    return min(candidates, key=lambda h: (-(h.ram_mb_free - need.ram_mb), h.id))
