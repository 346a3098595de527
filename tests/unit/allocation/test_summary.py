"""The placement summary and the no-capacity message (pure)."""

from __future__ import annotations

import doctest

from fluxbilling.allocation import choice, summary
from fluxbilling.allocation.summary import exhausted_message, summarise


def test_the_doctests_hold() -> None:
    assert doctest.testmod(summary).failed == 0


def hosts() -> list[choice.Host]:
    ssd = (choice.StoragePool("ssd0", "ssd", 100),)
    return [
        choice.Host(1, 1, 8192, 8, pools=ssd, cpu_flags=frozenset({"avx2"})),
        choice.Host(2, 1, 8192, 8, ram_mb_used=4096, pools=ssd, cpu_flags=frozenset({"avx2"})),
        choice.Host(3, 1, 8192, 8, pools=ssd),
        choice.Host(
            4,
            1,
            8192,
            8,
            pools=(choice.StoragePool("hdd0", "hdd", 1000),),
            cpu_flags=frozenset({"avx2"}),
        ),
    ]


def test_it_names_the_winner_the_runners_up_and_counts_every_loser() -> None:
    need = choice.Need(
        ram_mb=1024, vcpus=1, disk_gb=20, storage_type="ssd", cpu_flags=frozenset({"avx2"})
    )
    placement = choice.choose(hosts(), need, choice.Strategy.FILL)
    sample = [choice.Rejection(9, choice.Reason.RAM, 512, 1024)]
    names = {1: "kvm-01", 2: "kvm-02", 3: "kvm-03", 4: "kvm-04", 9: "kvm-09"}
    s = summarise(
        placement,
        strategy="fill",
        names=names,
        prefiltered={"ram": 1, "location": 40, "nic": 0},
        prefilter_sample=sample,
        not_examined=5,
        failed_hosts=[7, 7],
    )
    assert s["chosen"] == {"host_id": 2, "host": "kvm-02", "pool": "ssd0", "ram_mb_left": 3072}
    assert [h["host"] for h in s["runners_up"]] == ["kvm-01"]
    assert s["fitting"] == 2 + 5
    assert s["rejected"] == {"cpu_flags": 1, "location": 40, "ram": 1, "storage": 1}
    assert s["rejections"] == [
        {"host_id": 3, "host": "kvm-03", "reason": "cpu_flags", "text": "needs avx2"},
        {
            "host_id": 4,
            "host": "kvm-04",
            "reason": "storage",
            "text": "storage: 0 GB free of 20 ssd needed",
        },
        {
            "host_id": 9,
            "host": "kvm-09",
            "reason": "ram",
            "text": "RAM: 512 MB free of 1024 needed",
        },
    ]
    assert s["failed_hosts"] == [7]


def test_it_lists_at_most_twenty_rejections_by_host_id() -> None:
    fleet = [choice.Host(i, 1, 1024, 1) for i in range(50, 0, -1)]
    s = summarise(
        choice.choose(fleet, choice.Need(ram_mb=2048, vcpus=1)),
        strategy="spread",
        names={},
        prefiltered={},
        prefilter_sample=[],
        not_examined=0,
    )
    assert s["chosen"] is None
    assert s["rejected"] == {"ram": 50}
    assert [r["host_id"] for r in s["rejections"]] == list(range(1, 21))
    assert s["rejections"][0]["host"] == "1"  # no name known: the id


def test_the_database_s_own_reasons_read_as_words() -> None:
    assert choice.Rejection(1, choice.Reason.PANEL, 3, 2).text == (
        "run by connection 3, the product uses connection 2"
    )
    assert (
        choice.Rejection(1, choice.Reason.FAILED_HERE).text
        == "a provision attempt of this order failed here"
    )
    assert choice.Rejection(1, choice.Reason.NO_SUBNET).text == "no subnet to draw the address from"


def test_the_no_capacity_message_counts_by_reason_in_words() -> None:
    message = exhausted_message(
        {"rejected": {"anti_affinity": 2, "failed_here": 1, "panel": 1, "storage": 0}}, "fra1"
    )
    assert message == (
        "no host in fra1 fits: 2 already have the customer's maximum, "
        "1 already failed this order, 1 is run by another panel"
    )
    assert exhausted_message({}, "fra1") == "no host in fra1 fits: there are no hosts"
