"""`choose_indexed` gives `choose`'s answers, and the fast loop agrees with `_why` on every host."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxbilling.allocation import choice
from fluxbilling.allocation.choice import (
    Host,
    HostIndex,
    Need,
    Strategy,
    choose,
    choose_indexed,
)
from tests.propertysupport import BOUNDED
from tests.unit.allocation.test_choice import hosts_and_need


def answer(p: choice.Placement) -> tuple[object, ...]:
    texts = [r.text for r in p.rejections]
    return (p.chosen, p.ranked, p.rejections, texts)


def random_fleet(rng: random.Random, count: int) -> list[Host]:
    """Hosts in 3 locations and 2 regions, in any state (one unknown), with loads on round numbers.

    Round numbers, so that a need often lands exactly on what a host has free.
    """
    hosts = []
    for i in rng.sample(range(1, 10 * count), count):
        location = rng.randrange(1, 4)
        ram, vcpus = rng.choice([8, 16, 32]) * 1024, rng.choice([4, 8, 16])
        hosts.append(
            Host(
                i,
                location_id=location,
                region="eu" if location < 3 else "us",
                ram_mb_total=ram,
                ram_mb_used=rng.randrange(0, ram // 1024 + 1) * 1024,
                vcpus_total=vcpus,
                vcpus_used=rng.randrange(0, vcpus + 1),
                pools=(choice.StoragePool("ssd", "ssd", 400, rng.randrange(0, 13) * 50, 150),),
                nic_mbps_total=1000,
                nic_mbps_used=rng.choice([0, 500, 900, 1000]),
                state=rng.choice(["active"] * 6 + ["draining", "quarantined", "retired"]),
                cpu_model=rng.choice(["EPYC", "Xeon"]),
                cpu_flags=frozenset(rng.sample(["avx2", "avx512f", "aes"], rng.randrange(0, 4))),
                tags=frozenset(rng.sample(["nvme", "gpu"], rng.randrange(0, 3))),
            )
        )
    return hosts


def random_need(rng: random.Random, hosts: list[Host]) -> Need:
    cap = rng.choice([None, 1, 2])
    return Need(
        ram_mb=rng.randrange(0, 9) * 1024,
        vcpus=rng.randrange(0, 5),
        disk_gb=rng.choice([0, 50, 300]),
        storage_type=rng.choice([None, "ssd", "hdd"]),
        nic_mbps=rng.choice([0, 100, 500]),
        location_id=rng.choice([None, 1, 2, 3, 4]),
        region=rng.choice([None, None, "eu", "us"]),
        tags=frozenset(rng.sample(["nvme", "gpu"], rng.randrange(0, 2))),
        cpu_model=rng.choice([None, None, "EPYC"]),
        cpu_flags=frozenset(rng.sample(["avx2", "avx512f"], rng.randrange(0, 2))),
        max_per_host=cap,
        customer_services={h.id: rng.randrange(0, 3) for h in rng.sample(hosts, len(hosts) // 3)},
    )


@pytest.mark.parametrize("seed", range(40))
def test_the_index_gives_the_same_answer_as_choose_on_random_fleets(seed: int) -> None:
    rng = random.Random(seed)
    hosts = random_fleet(rng, 200)
    index = HostIndex.of(hosts)
    for _ in range(5):
        need = random_need(rng, hosts)
        for strategy in Strategy:
            expected = choose(hosts, need, strategy)
            got = choose_indexed(index, need, strategy)
            assert answer(got) == answer(expected)
            loser = rng.choice(hosts).id
            assert got.reason_for(loser) == expected.reason_for(loser)


@BOUNDED
@given(hosts_and_need(), st.sampled_from(list(Strategy)))
def test_the_index_agrees_with_choose_on_small_fleets(
    case: tuple[list[Host], Need], strategy: Strategy
) -> None:
    hosts, need = case
    assert answer(choose_indexed(HostIndex.of(hosts), need, strategy)) == answer(
        choose(hosts, need, strategy)
    )


@pytest.mark.parametrize("seed", range(20))
def test_the_fast_loop_keeps_exactly_the_hosts_the_filters_pass(seed: int) -> None:
    rng = random.Random(seed)
    hosts = random_fleet(rng, 200)
    need = random_need(rng, hosts)
    placement = choose(hosts, need)
    passing = {h.id for h in hosts if choice._why(h, need) is None}
    assert {c.host.id for c in placement.ranked} == passing
    assert {r.host_id for r in placement.rejections} == {h.id for h in hosts} - passing


def test_an_index_keeps_the_hosts_grouped_as_they_came() -> None:
    hosts = [Host(i, location_id=i % 2, ram_mb_total=1, vcpus_total=1) for i in range(1, 5)]
    hosts.append(Host(5, 1, 1, 1, state="draining"))
    index = HostIndex.of(hosts)
    assert [h.id for h in index.active] == [1, 2, 3, 4]
    assert {k: [h.id for h in v] for k, v in index.by_location.items()} == {1: [1, 3], 0: [2, 4]}
    assert [h.id for h in index.inactive] == [5]
