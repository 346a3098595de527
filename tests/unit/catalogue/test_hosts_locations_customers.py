"""Host, location and customer checks."""

from __future__ import annotations

from fluxbilling.catalogue.customers import CustomerSpec
from fluxbilling.catalogue.customers import check as check_customer
from fluxbilling.catalogue.hosts import HostSpec
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


def test_customers() -> None:
    assert check_customer(CustomerSpec("ann@example.com", "Ann")) == []
    assert [p["path"] for p in check_customer(CustomerSpec("ann", ""))] == ["email", "name"]
