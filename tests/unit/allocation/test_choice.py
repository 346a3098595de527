from __future__ import annotations

import dataclasses
import doctest
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxbilling.allocation import choice
from fluxbilling.allocation.choice import (
    Host,
    HostStatus,
    Need,
    Reason,
    StoragePool,
    Strategy,
    choose,
)
from tests.propertysupport import BOUNDED

SSD = StoragePool("ssd-a", "ssd", total_gb=1000, used_gb=0)


def host(id: int = 1, **changes: object) -> Host:
    """A roomy active host in location 1, region eu, with AVX2, an SSD pool and a 10G NIC."""
    base = Host(
        id,
        location_id=1,
        ram_mb_total=65536,
        vcpus_total=32,
        pools=(SSD,),
        nic_mbps_total=10000,
        region="eu",
        cpu_model="EPYC 7543",
        cpu_flags=frozenset({"avx2", "aes"}),
        tags=frozenset({"nvme"}),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


NEED = Need(ram_mb=4096, vcpus=4, disk_gb=80)


# Each row: the case, a host, a need, the reason it loses and the words for it.
REJECTED = [
    ("draining", host(state=HostStatus.DRAINING), NEED, Reason.DRAINING, "draining"),
    ("quarantined", host(state="quarantined"), NEED, Reason.QUARANTINED, "quarantined"),
    (
        "odd state",
        host(state="retired"),
        NEED,
        Reason.STATE,
        "state retired, takes no new services",
    ),
    (
        "location",
        host(location_id=2),
        dataclasses.replace(NEED, location_id=1),
        Reason.LOCATION,
        "in location 2, needs location 1",
    ),
    (
        "region",
        host(region="us"),
        dataclasses.replace(NEED, region="eu"),
        Reason.REGION,
        "in region us, needs region eu",
    ),
    (
        "tags",
        host(),
        dataclasses.replace(NEED, tags=frozenset({"nvme", "gpu", "10g"})),
        Reason.TAGS,
        "lacks tag 10g, gpu",
    ),
    (
        "cpu model",
        host(),
        dataclasses.replace(NEED, cpu_model="Xeon 6338"),
        Reason.CPU_MODEL,
        "CPU EPYC 7543, needs Xeon 6338",
    ),
    (
        "cpu flags",
        host(),
        dataclasses.replace(NEED, cpu_flags=frozenset({"avx2", "avx512f"})),
        Reason.CPU_FLAGS,
        "needs avx512f",
    ),
    (
        "anti-affinity",
        host(id=5),
        dataclasses.replace(NEED, max_per_host=2, customer_services={5: 2}),
        Reason.ANTI_AFFINITY,
        "customer already has 2 service(s) here, at most 2",
    ),
    (
        "ram",
        host(ram_mb_total=4096, ram_mb_used=2048),
        NEED,
        Reason.RAM,
        "RAM: 2048 MB free of 4096 needed",
    ),
    ("vcpus", host(vcpus_used=30), NEED, Reason.VCPUS, "vCPUs: 2 free of 4 needed"),
    (
        "nic",
        host(nic_mbps_used=9950),
        dataclasses.replace(NEED, nic_mbps=100),
        Reason.NIC,
        "NIC: 50 Mbit/s free of 100 needed",
    ),
    (
        "no pool of the type",
        host(),
        dataclasses.replace(NEED, storage_type="hdd"),
        Reason.STORAGE,
        "storage: 0 GB free of 80 hdd needed",
    ),
    (
        "pool full",
        host(pools=(StoragePool("a", "ssd", 100, 50), StoragePool("b", "ssd", 100, 30))),
        NEED,
        Reason.STORAGE,
        "storage: 70 GB free of 80 needed",
    ),
    (
        "overcommit not enough",
        host(pools=(StoragePool("a", "ssd", 100, 100, overcommit_percent=150),)),
        dataclasses.replace(NEED, disk_gb=51),
        Reason.STORAGE,
        "storage: 50 GB free of 51 needed",
    ),
    (
        "disk with no pools at all",
        host(pools=()),
        NEED,
        Reason.STORAGE,
        "storage: 0 GB free of 80 needed",
    ),
]


@pytest.mark.parametrize(
    ("h", "need", "reason", "text"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED]
)
def test_a_host_that_does_not_fit_says_why(h: Host, need: Need, reason: Reason, text: str) -> None:
    placement = choose([h], need)
    assert placement.chosen is None
    assert placement.ranked == ()
    [rejection] = placement.rejections
    assert (rejection.host_id, rejection.reason, rejection.text) == (h.id, reason, text)
    assert placement.reason_for(h.id) == text


# Each row: the case, a host and a need it fits, often exactly at the limit.
FITS = [
    ("ram to the last MB", host(ram_mb_total=4096), NEED),
    ("vcpus to the last one", host(vcpus_total=4), NEED),
    ("disk to the last GB", host(pools=(StoragePool("a", "ssd", 80),)), NEED),
    (
        "overcommit makes room",
        host(pools=(StoragePool("a", "ssd", 100, 100, overcommit_percent=150),)),
        dataclasses.replace(NEED, disk_gb=50),
    ),
    ("nic to the last Mbit/s", host(nic_mbps_used=9900), dataclasses.replace(NEED, nic_mbps=100)),
    (
        "every filter named and met",
        host(id=5),
        Need(
            ram_mb=1024,
            vcpus=1,
            disk_gb=10,
            storage_type="ssd",
            nic_mbps=10,
            location_id=1,
            region="eu",
            tags=frozenset({"nvme"}),
            cpu_model="EPYC 7543",
            cpu_flags=frozenset({"aes"}),
            max_per_host=2,
            customer_services={5: 1, 6: 9},
        ),
    ),
    ("no disk needs no pool", host(pools=()), dataclasses.replace(NEED, disk_gb=0)),
]


@pytest.mark.parametrize(("h", "need"), [c[1:] for c in FITS], ids=[c[0] for c in FITS])
def test_a_host_that_fits_is_chosen(h: Host, need: Need) -> None:
    placement = choose([h], need)
    assert placement.chosen is not None
    assert placement.chosen.host == h
    assert placement.rejections == ()


def test_the_first_failed_filter_is_the_reason() -> None:
    h = host(state=HostStatus.DRAINING, ram_mb_used=65536, location_id=9)
    assert choose([h], dataclasses.replace(NEED, location_id=1)).rejections[0].reason == (
        Reason.DRAINING
    )
    h = host(ram_mb_used=65536, vcpus_used=32)
    assert choose([h], NEED).rejections[0].reason == Reason.RAM


LOADS = [host(1, ram_mb_used=40000), host(2, ram_mb_used=10000), host(3, ram_mb_used=60000)]


@pytest.mark.parametrize(
    ("strategy", "order"), [(Strategy.SPREAD, [2, 1, 3]), (Strategy.FILL, [3, 1, 2])]
)
def test_strategy_ranks_by_ram_left(strategy: Strategy, order: list[int]) -> None:
    placement = choose(LOADS, NEED, strategy)
    assert [c.host.id for c in placement.ranked] == order
    assert placement.chosen == placement.ranked[0]
    assert placement.chosen.ram_mb_left == 65536 - {2: 10000, 3: 60000}[order[0]] - 4096
    assert placement.reason_for(order[1]) == "fits, ranked 2 of 3"
    assert placement.reason_for(order[0]) == ""


@pytest.mark.parametrize("strategy", list(Strategy))
def test_ties_go_to_the_lowest_id_whatever_the_input_order(strategy: Strategy) -> None:
    hosts = [host(7), host(3), host(5)]
    assert [c.host.id for c in choose(hosts, NEED, strategy).ranked] == [3, 5, 7]


@pytest.mark.parametrize(("strategy", "pool"), [(Strategy.SPREAD, "b"), (Strategy.FILL, "c")])
def test_the_pool_follows_the_strategy(strategy: Strategy, pool: str) -> None:
    pools = (
        StoragePool("a", "hdd", 5000),
        StoragePool("b", "ssd", 1000, 100),
        StoragePool("c", "ssd", 1000, 900),
        StoragePool("d", "ssd", 1000, 950),
    )
    need = dataclasses.replace(NEED, storage_type="ssd")
    chosen = choose([host(pools=pools)], need, strategy).chosen
    assert chosen is not None
    assert chosen.pool == pool


def test_pools_with_equal_room_go_by_name() -> None:
    pools = (StoragePool("z", "ssd", 1000), StoragePool("m", "ssd", 1000))
    chosen = choose([host(pools=pools)], NEED).chosen
    assert chosen is not None
    assert chosen.pool == "m"


def test_anti_affinity_prefers_hosts_with_fewer_of_the_customers_services() -> None:
    need = dataclasses.replace(NEED, max_per_host=3, customer_services={2: 2, 1: 1})
    placement = choose([host(1, ram_mb_used=50000), host(2), host(3, ram_mb_used=60000)], need)
    # Host 3 holds none of the customer's services, so it wins despite the least RAM left.
    assert [(c.host.id, c.customer_services) for c in placement.ranked] == [(3, 0), (1, 1), (2, 2)]


def test_without_anti_affinity_the_customers_services_do_not_matter() -> None:
    need = dataclasses.replace(NEED, customer_services={2: 50})
    assert choose([host(1, ram_mb_used=50000), host(2)], need).chosen.host.id == 2  # type: ignore[union-attr]


def test_rejections_are_listed_by_host_id() -> None:
    hosts = [host(9, state="draining"), host(4, vcpus_used=32), host(6), host(1, location_id=3)]
    placement = choose(hosts, dataclasses.replace(NEED, location_id=1))
    assert [(r.host_id, r.reason) for r in placement.rejections] == [
        (1, Reason.LOCATION),
        (4, Reason.VCPUS),
        (9, Reason.DRAINING),
    ]
    assert placement.reason_for(42) == ""


def test_nothing_to_choose_from() -> None:
    placement = choose([], NEED)
    assert (placement.chosen, placement.ranked, placement.rejections) == (None, (), ())


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(choice).failed == 0


# Properties


@st.composite
def hosts_and_need(draw: st.DrawFn) -> tuple[list[Host], Need]:
    count = draw(st.integers(0, 12))
    ids = draw(st.lists(st.integers(1, 50), min_size=count, max_size=count, unique=True))
    hosts = [
        Host(
            i,
            location_id=draw(st.integers(1, 2)),
            ram_mb_total=draw(st.integers(0, 8)) * 1024,
            ram_mb_used=draw(st.integers(0, 8)) * 512,
            vcpus_total=draw(st.integers(0, 8)),
            vcpus_used=draw(st.integers(0, 4)),
            pools=tuple(
                StoragePool(
                    f"p{n}",
                    draw(st.sampled_from(["ssd", "hdd"])),
                    draw(st.integers(0, 200)),
                    draw(st.integers(0, 200)),
                    draw(st.sampled_from([100, 150, 200])),
                )
                for n in range(draw(st.integers(0, 2)))
            ),
            state=draw(st.sampled_from(list(HostStatus))),
            cpu_flags=draw(st.frozensets(st.sampled_from(["avx2", "avx512f"]))),
        )
        for i in ids
    ]
    need = Need(
        ram_mb=draw(st.integers(0, 4)) * 1024,
        vcpus=draw(st.integers(0, 4)),
        disk_gb=draw(st.integers(0, 150)),
        storage_type=draw(st.sampled_from([None, "ssd", "hdd"])),
        location_id=draw(st.sampled_from([None, 1, 2])),
        cpu_flags=draw(st.frozensets(st.sampled_from(["avx2", "avx512f"]))),
        max_per_host=draw(st.sampled_from([None, 1, 2])),
        customer_services={i: draw(st.integers(0, 2)) for i in ids},
    )
    return hosts, need


@BOUNDED
@given(hosts_and_need(), st.sampled_from(list(Strategy)), st.randoms(use_true_random=False))
def test_every_host_is_accounted_for_once_and_order_does_not_matter(
    case: tuple[list[Host], Need], strategy: Strategy, rnd: random.Random
) -> None:
    hosts, need = case
    placement = choose(hosts, need, strategy)
    fitting = [c.host.id for c in placement.ranked]
    rejected = [r.host_id for r in placement.rejections]
    assert sorted(fitting + rejected) == sorted(h.id for h in hosts)
    assert placement.chosen == (placement.ranked[0] if placement.ranked else None)
    for c in placement.ranked:
        assert c.host.state == HostStatus.ACTIVE
        assert c.ram_mb_left >= 0
        assert c.host.vcpus_total - c.host.vcpus_used >= need.vcpus
        if need.disk_gb > 0 or need.storage_type is not None:
            [pool] = [p for p in c.host.pools if p.name == c.pool]
            assert pool.free_gb >= need.disk_gb
            assert need.storage_type in (None, pool.type)
        if need.max_per_host is not None:
            assert need.customer_services.get(c.host.id, 0) < need.max_per_host
    shuffled = list(hosts)
    rnd.shuffle(shuffled)
    again = choose(shuffled, need, strategy)
    assert (again.chosen, again.ranked, again.rejections) == (
        placement.chosen,
        placement.ranked,
        placement.rejections,
    )
