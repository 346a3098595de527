"""Host, location and customer checks."""

from __future__ import annotations

from fluxbilling.catalogue.customers import CustomerSpec
from fluxbilling.catalogue.customers import check as check_customer
from fluxbilling.catalogue.hosts import HostSpec, PoolSpec
from fluxbilling.catalogue.hosts import check as check_host
from fluxbilling.catalogue.locations import LocationSpec
from fluxbilling.catalogue.locations import check as check_location


def test_locations() -> None:
    assert check_location(LocationSpec("ams1", "Amsterdam 1")) == []
    assert [p["path"] for p in check_location(LocationSpec("-ams", "x\ty"))] == ["code", "name"]


def test_hosts() -> None:
    assert check_host(HostSpec("kvm-1", "ams1", ram_mb=0, vcpus=0, disk_gb=500)) == []
    bad = HostSpec("kvm 1", "ams1", ram_mb=-1, vcpus=True, disk_gb=2**31, external_ref="a\nb")
    assert [p["path"] for p in check_host(bad)] == [
        "name",
        "ram_mb",
        "vcpus",
        "disk_gb",
        "external_ref",
    ]


def test_host_placement_fields() -> None:
    pools = (PoolSpec("nvme0", "nvme", 100, 150), PoolSpec("nvme0", "bad type", -1, 99))
    bad = HostSpec(
        "kvm-1",
        "ams1",
        ram_mb=1,
        vcpus=1,
        disk_gb=1,
        region="eu west",
        cpu_flags=("avx2", "avx2"),
        tags=("x" * 65,),
        nic_mbps=-1,
        storage_pools=pools,
    )
    assert [p["path"] for p in check_host(bad)] == [
        "region",
        "cpu_flags[1]",
        "tags[0]",
        "nic_mbps",
        "storage_pools[1].type",
        "storage_pools[1].total_gb",
        "storage_pools[1].overcommit_percent",
        "storage_pools[1].name",
    ]
    good = HostSpec("kvm-1", "ams1", 1, 1, 1, cpu_flags=("sse4_2",), storage_pools=pools[:1])
    assert check_host(good) == []


def test_customers() -> None:
    assert check_customer(CustomerSpec("ann@example.com", "Ann")) == []
    assert [p["path"] for p in check_customer(CustomerSpec("ann", ""))] == ["email", "name"]
