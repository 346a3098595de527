"""Product checks that need no database: keys, resources, money, the refund policy's place."""

from __future__ import annotations

import pytest

from fluxbilling.catalogue.products import ProductSpec, ServiceType, check


def spec(**change: object) -> ProductSpec:
    values: dict[str, object] = {
        "slug": "vps-2g",
        "name": "VPS 2 GB",
        "service_type": ServiceType.VPS,
        "location": "ams1",
        "connection": "solusvm2",
        "plugin": "solusvm2",
        "ram_mb": 2048,
        "vcpus": 2,
        "disk_gb": 40,
        "price_minor": 1200,
        "currency": "EUR",
    }
    return ProductSpec(**{**values, **change})  # type: ignore[arg-type]


def test_a_plain_product_is_fine() -> None:
    assert check(spec()) == []
    assert check(spec(plugin_version=3, alarm_after_minutes=15, price_minor=0)) == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"currency": "eur"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"price_minor": -1}, "price_minor"),
        ({"price_minor": 2**63}, "price_minor"),
        ({"ram_mb": -1}, "ram_mb"),
        ({"vcpus": 2**31}, "vcpus"),
        ({"plugin_version": 0}, "plugin_version"),
        ({"alarm_after_minutes": 0}, "alarm_after_minutes"),
        ({"plugin": "no such/plugin"}, "plugin"),
        ({"options": {"refund_policy": "none"}}, "options.refund_policy"),
    ],
)
def test_each_problem_is_named(change: dict[str, object], path: str) -> None:
    assert [p["path"] for p in check(spec(**change))] == [path]


def test_placement_needs_are_checked() -> None:
    bad = spec(
        cpu_flags=("avx2", "avx2"),
        host_tags=("a b",),
        storage_type="nv me",
        region="",
        cpu_model="\n",
        nic_mbps=-5,
        max_per_host=0,
    )
    assert [p["path"] for p in check(bad)] == [
        "cpu_flags[1]",
        "host_tags[0]",
        "storage_type",
        "region",
        "cpu_model",
        "nic_mbps",
        "max_per_host",
    ]
    assert check(spec(cpu_flags=("avx512f",), storage_type="nvme", max_per_host=1)) == []
