from __future__ import annotations

import pytest

from fluxbilling.allocation.placement import (
    HostCapacity,
    HostStatus,
    Requirement,
    choose_host,
    fits,
)


def host(
    id: int, *, ram_used: int = 0, status: str = HostStatus.ACTIVE, location: int = 1
) -> HostCapacity:
    return HostCapacity(id, location, status, 8192, ram_used, 8, 0, 200, 0)


NEED = Requirement(location_id=1, ram_mb=2048, vcpus=2, disk_gb=40)


def test_picks_the_least_loaded_host_that_fits() -> None:
    hosts = [host(1, ram_used=4096), host(2, ram_used=1024), host(3, ram_used=6144)]
    assert choose_host(hosts, NEED) == hosts[1]


def test_ties_go_to_the_lowest_id() -> None:
    assert choose_host([host(7), host(3), host(5)], NEED) == host(3)


@pytest.mark.parametrize("status", [HostStatus.DRAINING, HostStatus.QUARANTINED])
def test_skips_inactive_hosts_and_other_locations(status: HostStatus) -> None:
    assert choose_host([host(1, status=status), host(2, location=9)], NEED) is None


def test_none_when_nothing_has_room() -> None:
    assert choose_host([host(1, ram_used=7000)], NEED) is None


def test_every_resource_must_fit_exactly_or_under() -> None:
    h = HostCapacity(1, 1, "active", 2048, 0, 2, 0, 40, 0)
    assert fits(h, NEED)
    assert not fits(HostCapacity(1, 1, "active", 2048, 0, 1, 0, 40, 0), NEED)
    assert not fits(HostCapacity(1, 1, "active", 2048, 0, 2, 0, 39, 0), NEED)
