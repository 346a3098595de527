"""Placement through the real pipeline on SQLite and PostgreSQL: reasons on the order, fill and
spread, CPU-flag and storage-type filters, anti-affinity, quarantine and re-allocation."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap, errors
from fluxbilling.allocation import reservation
from fluxbilling.db import schema
from fluxbilling.orders import detail
from fluxbilling_simulators.solusvm2 import SolusVM2State
from tests.integration import support

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

hosts = schema.hosts


async def host_ids(inst: bootstrap.Installation) -> list[int]:
    return [h.id for h in await support.rows(inst, sa.select(hosts).order_by(hosts.c.id))]


async def update_host(inst: bootstrap.Installation, host_id: int, **values: Any) -> None:
    async with inst.db.begin() as conn:
        await conn.execute(hosts.update().where(hosts.c.id == host_id).values(**values))


async def update_product(inst: bootstrap.Installation, **values: Any) -> None:
    async with inst.db.begin() as conn:
        await conn.execute(schema.products.update().values(**values))


async def service_host(inst: bootstrap.Installation, order_id: int) -> Any:
    (row,) = await support.rows(
        inst, sa.select(schema.services).where(schema.services.c.order_id == order_id)
    )
    return row


async def test_the_order_shows_why_its_host_won_and_the_others_lost(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    first, second, third = await host_ids(installation)
    await update_host(installation, first, cpu_flags=["sse4_2"])
    await update_host(installation, second, status="draining")
    await update_host(installation, third, cpu_flags=["avx2", "sse4_2"])
    await update_product(installation, cpu_flags=["avx2"])
    order_id = await support.place_and_pay(installation, "p1.example.com")
    await support.drain(installation)

    assert (await service_host(installation, order_id)).host_id == third
    placement = (await api.get(f"/api/v1/orders/{order_id}")).json()["placement"]
    assert placement["strategy"] == "spread"
    assert placement["chosen"]["host"] == "kvm-ams1-03"
    assert placement["rejected"] == {"cpu_flags": 1, "draining": 1}
    texts = {r["host"]: r["text"] for r in placement["rejections"]}
    assert texts == {"kvm-ams1-01": "needs avx2", "kvm-ams1-02": "draining"}
    reserved = [
        e for e in await support.activity(installation, order_id) if e.event == "capacity_reserved"
    ]
    assert reserved[0].data["placement"]["chosen"]["host_id"] == third
    assert "lost: 1 cpu_flags, 1 draining" in reserved[0].message


async def test_when_nothing_fits_the_reasons_are_counted_on_the_parked_order(
    installation: bootstrap.Installation,
) -> None:
    first, second, third = await host_ids(installation)
    await update_host(installation, first, ram_mb_total=1024)
    await update_host(installation, second, ram_mb_total=1024)
    await update_host(installation, third, status="quarantined")
    order_id = await support.place_and_pay(installation, "p2.example.com")
    await support.drain(installation)

    run = await support.run_of(installation, order_id)
    assert (run.state, run.phase) == ("queued", "allocation")
    assert run.last_error["code"] == "CapacityExhausted"
    assert run.last_error["message"].endswith(": 1 is quarantined, 2 lack RAM")
    assert run.last_error["details"]["rejected"] == {"quarantined": 1, "ram": 2}
    order = await detail.describe_order(installation.db, order_id)
    assert order.placement is not None
    assert order.placement.chosen is None
    assert {r.text for r in order.placement.rejections} == {
        "RAM: 1024 MB free of 2048 needed",
        "quarantined",
    }


async def test_fill_packs_the_fullest_host_that_fits_and_spread_the_emptiest(
    installation: bootstrap.Installation,
) -> None:
    first, second, third = await host_ids(installation)
    await update_host(installation, first, ram_mb_used=1024, vcpus_used=1)
    await update_host(installation, second, ram_mb_used=4096, vcpus_used=1)
    await update_host(installation, third, ram_mb_used=7168, vcpus_used=1)  # 1 GB left: no fit
    await update_product(installation, placement_strategy="fill")
    packed = await support.place_and_pay(installation, "fill.example.com")
    await support.drain(installation)
    assert (await service_host(installation, packed)).host_id == second

    await update_product(installation, placement_strategy="spread")
    spread = await support.place_and_pay(installation, "spread.example.com")
    await support.drain(installation)
    assert (await service_host(installation, spread)).host_id == first
    placement = (await detail.describe_order(installation.db, spread)).placement
    assert placement is not None
    assert placement.strategy == "spread"
    assert [h.host_id for h in placement.runners_up] == [second]


async def test_the_disk_goes_on_a_pool_of_the_storage_type_asked_for(
    installation: bootstrap.Installation,
) -> None:
    first, second, _ = await host_ids(installation)
    pools = schema.host_storage_pools
    async with installation.db.begin() as conn:
        await conn.execute(
            pools.insert().values(overcommit_percent=sa.bindparam("oc")),
            [
                {"host_id": first, "name": "slow", "type": "hdd", "total_gb": 2000, "oc": 100},
                {"host_id": second, "name": "fast", "type": "nvme", "total_gb": 30, "oc": 100},
                {"host_id": second, "name": "thin", "type": "nvme", "total_gb": 40, "oc": 200},
            ],
        )
    await update_product(installation, storage_type="nvme", disk_gb=50)
    order_id = await support.place_and_pay(installation, "nvme.example.com")
    await support.drain(installation)
    run = await support.run_of(installation, order_id)
    assert run.last_error is None, run.last_error

    service = await service_host(installation, order_id)
    assert service.host_id == second
    by_name = {p.name: p for p in await support.rows(installation, sa.select(pools))}
    assert service.storage_pool_id == by_name["thin"].id
    assert (by_name["thin"].used_gb, by_name["fast"].used_gb, by_name["slow"].used_gb) == (50, 0, 0)
    placement = (await detail.describe_order(installation.db, order_id)).placement
    assert placement is not None
    assert placement.chosen is not None
    assert placement.chosen.pool == "thin"
    assert placement.rejected == {"storage": 2}  # a pool of another type; no pool (its own disk)

    # Giving the capacity back gives it back to the pool.
    async with installation.db.begin() as conn:
        freed = await reservation.release(conn, order_id=order_id)
    assert freed.disk_gb == 50
    (thin,) = await support.rows(installation, sa.select(pools).where(pools.c.name == "thin"))
    assert thin.used_gb == 0


async def test_anti_affinity_keeps_a_customer_off_a_host_it_already_has_enough_on(
    installation: bootstrap.Installation,
) -> None:
    await update_product(installation, placement_strategy="fill", max_per_host=1)
    first_order = await support.place_and_pay(installation, "aa1.example.com")
    await support.drain(installation)
    second_order = await support.place_and_pay(installation, "aa2.example.com")
    await support.drain(installation)
    a = (await service_host(installation, first_order)).host_id
    b = (await service_host(installation, second_order)).host_id
    assert a != b  # fill alone would have packed both on one host
    placement = (await detail.describe_order(installation.db, second_order)).placement
    assert placement is not None
    assert placement.rejected == {"anti_affinity": 1}


async def test_a_permanent_failure_on_one_host_moves_the_order_to_the_next(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    first, second, third = await host_ids(installation)
    await update_host(installation, second, ram_mb_used=1024, vcpus_used=1)  # ranks after first
    await update_host(installation, third, ram_mb_used=2048, vcpus_used=1)  # ranks last
    sim.faults.fail_next(1, 422)
    order_id = await support.place_and_pay(installation, "move.example.com")
    run = await support.finish(installation, order_id)

    assert run.state == "completed"
    assert (await service_host(installation, order_id)).host_id == second
    moved = [
        e for e in await support.activity(installation, order_id) if e.event == "order_reallocated"
    ]
    assert len(moved) == 1
    assert moved[0].message.startswith("host kvm-ams1-01 failed permanently: ")
    assert moved[0].message.endswith("; re-allocated to kvm-ams1-02")
    by_id = {h.id: h for h in await support.rows(installation, sa.select(hosts))}
    assert (by_id[first].ram_mb_used, by_id[first].consecutive_failures) == (0, 1)
    assert by_id[second].ram_mb_used == 1024 + 2048
    assert by_id[second].consecutive_failures == 0
    placement = (await detail.describe_order(installation.db, order_id)).placement
    assert placement is not None
    assert placement.failed_hosts == (first,)
    assert placement.rejected["failed_here"] == 1
    assert len(sim.servers) == 1


async def test_a_permanent_failure_fails_the_run_when_no_other_host_fits(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    first, second, third = await host_ids(installation)
    for other in (second, third):
        await update_host(installation, other, status="draining")
    sim.faults.fail_next(1, 422)
    order_id = await support.place_and_pay(installation, "stuck.example.com")
    await support.drain(installation)

    run = await support.run_of(installation, order_id)
    assert (run.state, run.phase) == ("failed", "provision")
    assert run.last_error["code"] == "PermanentUpstreamError"
    assert (await service_host(installation, order_id)).host_id == first
    events = [e.event for e in await support.activity(installation, order_id)]
    assert "reallocation_impossible" in events
    assert "order_reallocated" not in events
    (host,) = await support.rows(installation, sa.select(hosts).where(hosts.c.id == first))
    assert host.ram_mb_used == 2048  # still held: the operator decides (retry or re-allocate)


@pytest.mark.parametrize("settings_overrides", [{"host_quarantine_failures": 2}])
async def test_permanent_failures_in_a_row_quarantine_the_host_transient_ones_do_not(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    first, *_ = await host_ids(installation)
    sim.faults.fail_next(2, 503)  # the panel's outage, retried: no fault of the host's
    order_id = await support.place_and_pay(installation, "q0.example.com")
    assert (await support.finish(installation, order_id)).state == "completed"
    (host,) = await support.rows(installation, sa.select(hosts).where(hosts.c.id == first))
    assert (host.status, host.consecutive_failures) == ("active", 0)

    failed_on = []
    for name in ("q1.example.com", "q2.example.com"):
        sim.faults.fail_next(1, 422)  # permanent: counted, and the order moves on
        order_id = await support.place_and_pay(installation, name)
        assert (await support.finish(installation, order_id)).state == "completed"
        order = await detail.describe_order(installation.db, order_id)
        assert order.placement is not None
        failed_on += list(order.placement.failed_hosts)
    assert len(failed_on) == 2
    assert failed_on[0] == failed_on[1], "both orders first chose the emptiest host"
    (host,) = await support.rows(installation, sa.select(hosts).where(hosts.c.id == failed_on[0]))
    assert host.status == "quarantined"
    assert host.quarantine_reason.startswith("2 provision failures in a row, the last: ")
    assert host.quarantined_at is not None
    quarantined = [
        e for e in await support.activity(installation, order_id) if e.event == "host_quarantined"
    ]
    assert quarantined[0].message.startswith(f"host {host.name} quarantined: 2 provision")
    audit = await support.rows(
        installation,
        sa.select(schema.audit_log).where(schema.audit_log.c.action == "host.quarantine"),
    )
    assert [(a.entity, a.entity_id, a.actor) for a in audit] == [("host", str(host.id), "system")]


async def test_64_concurrent_reservations_never_over_commit_a_host(
    installation: bootstrap.Installation,
) -> None:
    # 3 hosts of 8192 MB / 8 vCPU / 128 GB; 1024 MB, 1 vCPU, 10 GB each: 8 fit per host.
    async with installation.db.connect() as conn:
        (product,) = (await conn.execute(sa.select(schema.products))).mappings().all()
    small = {**product, "ram_mb": 1024, "vcpus": 1, "disk_gb": 10}

    async def one(n: int) -> int | None:
        try:
            async with installation.db.begin() as conn:
                got = await reservation.reserve(
                    conn,
                    order_id=10_000 + n,
                    product=small,
                    lock=not installation.db.is_sqlite,
                    with_address=False,
                )
        except errors.CapacityExhausted:
            return None
        return got.host_id

    placed = await asyncio.gather(*(one(n) for n in range(64)))
    won = [h for h in placed if h is not None]
    assert len(won) == 24
    for h in await support.rows(installation, sa.select(hosts)):
        assert h.ram_mb_used == 1024 * won.count(h.id) <= h.ram_mb_total
        assert h.vcpus_used == won.count(h.id) <= h.vcpus_total
        assert h.disk_gb_used == 10 * won.count(h.id) <= h.disk_gb_total


async def test_no_move_once_the_provider_may_hold_the_service(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    await support.poll_every(installation, 3600)  # the provision waits after the create
    order_id = await support.place_and_pay(installation, "held.example.com")
    await support.drain(installation)
    run = await support.run_of(installation, order_id)
    assert (run.state, run.phase) == ("queued", "provision")
    first = (await service_host(installation, order_id)).host_id

    sim.faults.fail_next(1, 422)  # the status check after the create fails permanently
    await support.make_due(installation, order_id)
    await support.drain(installation)
    run = await support.run_of(installation, order_id)
    assert (run.state, run.phase) == ("failed", "provision")
    assert (await service_host(installation, order_id)).host_id == first
    events = {e.event: e.message for e in await support.activity(installation, order_id)}
    assert "order_reallocated" not in events
    assert (
        "not re-allocated: the provider may already hold the service"
        in (events["reallocation_refused"])
    )
