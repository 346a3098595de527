"""The shipped Virtualizor plugin through the whole pipeline and every lifecycle action.

Every test runs on SQLite and PostgreSQL against the in-process Virtualizor simulator.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling.handoff.mail import InMemoryMailer
from fluxbilling.orders import detail
from fluxbilling_simulators.virtualizor import VirtualizorState
from tests.integration.conftest import PANEL_URLS
from tests.integration.support import (
    active_service,
    activity,
    add_provider,
    drain,
    finish,
    make_due,
    place_and_pay,
    queue_action,
    rows,
    run_of,
    service_of,
    settle,
)

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

API_KEY, API_PASS = "sim-key", "sim-pass"  # the simulator's (and the seeded connection's)


async def virtualizor_product(inst: bootstrap.Installation, **options: Any) -> str:
    return await add_provider(inst, "virtualizor", PANEL_URLS["virtualizor"], **options)


async def active_vps(inst: bootstrap.Installation, hostname: str) -> Any:
    """A provisioned, active Virtualizor service."""
    return await active_service(inst, hostname, await virtualizor_product(inst))


async def perform(
    inst: bootstrap.Installation,
    api: httpx.AsyncClient,
    service_id: int,
    verb: str,
    **body: Any,
) -> dict[str, Any]:
    done = await settle(inst, api, await queue_action(api, service_id, verb, **body))
    assert done["state"] == "completed", done
    return done


def upstream_records(runs: list[Any]) -> list[dict[str, Any]]:
    return [r.last_upstream for r in runs if r.last_upstream is not None]


async def all_runs(inst: bootstrap.Installation, order_id: int) -> list[Any]:
    return await rows(inst, sa.select(schema.runs).where(schema.runs.c.order_id == order_id))


def assert_no_credentials_in(records: list[dict[str, Any]]) -> None:
    for record in records:
        url = record["request"]["url"]
        assert "adminapikey=***" in url and "adminapipass=***" in url, url
        dumped = json.dumps(record)
        assert API_KEY not in dumped and API_PASS not in dumped


async def test_a_paid_order_becomes_an_active_vps_installed_by_the_panel(
    installation: bootstrap.Installation,
    virtualizor_sim: VirtualizorState,
    mailer: InMemoryMailer,
) -> None:
    product = await virtualizor_product(installation)
    order_id = await place_and_pay(installation, "vz1.example.com", product)
    assert (await finish(installation, order_id)).state == "completed"

    order = await detail.describe_order(installation.db, order_id)
    assert order.state == "active"
    assert [p.status for p in order.phases] == ["done"] * 6
    service = await service_of(installation, order_id)
    password = installation.vault.open(service.root_password_sealed)

    [vps] = virtualizor_sim.vps.values()
    assert (vps["hostname"], vps["plid"], vps["osid"]) == ("vz1.example.com", 1, 111)
    assert vps["_rootpass"] == password
    assert vps["email"] == "ada@example.com"
    [ip] = vps["ips"].values()

    assert service.status == "active"
    assert service.plugin_slug == "virtualizor"
    assert service.external_id == str(vps["vpsid"])
    data = service.service_data
    assert (data["external_id"], data["ip"], data["plan_id"]) == (str(vps["vpsid"]), ip, "1")
    network = next(p for p in order.phases if p.phase == "network").output
    assert (network["address"], network["source"], network["ptr"]) == (ip, "provider", None)
    assert data["network"]["address"] == ip
    assert data["os"]["by"] == "provision"
    assert await rows(installation, sa.select(schema.ip_addresses)) == []  # none of ours

    events = {e.event: e.message for e in await activity(installation, order_id)}
    assert events["os_install_recorded"] == (
        "debian-12-virtualizor was installed by the panel when the service was created"
    )
    assert events["address_recorded"] == f"provider address {ip} recorded"
    (mail,) = mailer.sent
    assert f"Password: {password}" in mail.text
    assert ip in mail.text


async def test_every_lifecycle_action_through_the_api(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    virtualizor_sim: VirtualizorState,
) -> None:
    service = await active_vps(installation, "vz2.example.com")
    vpsid = int(service.external_id)
    vps = virtualizor_sim.vps[vpsid]
    password = installation.vault.open(service.root_password_sealed)

    async def status() -> str:
        return str((await service_of(installation, service.order_id)).status)

    await perform(installation, api, service.id, "suspend", reason="invoice overdue")
    assert (vps["suspended"], await status()) == (1, "suspended")

    await perform(installation, api, service.id, "unsuspend")
    assert (vps["suspended"], await status()) == (0, "active")

    await perform(installation, api, service.id, "reinstall")
    rebuilds = [t for t in virtualizor_sim.tasks.values() if t["action"] == "rebuildvs"]
    assert [t["status"] for t in rebuilds] == [2]
    assert (vps["osid"], vps["_rootpass"]) == (111, password)  # the service's own password
    assert await status() == "active"

    await perform(installation, api, service.id, "resize", params={"options": {"plan_id": 2}})
    assert (vps["plid"], vps["ram"], vps["space"]) == (2, 4096, 80)
    resized = await service_of(installation, service.order_id)
    assert resized.service_data["plan_id"] == "2"
    assert resized.service_data["plan_options"] == {"plan_id": 2}

    console = await perform(installation, api, service.id, "console")
    node = virtualizor_sim.servers[vps["serid"]]
    assert console["result"] == {
        "protocol": "vnc",
        "host": node["ip"],
        "port": str(vps["vncport"]),
        "password": vps["vnc_passwd"],
    }

    stats = await perform(installation, api, service.id, "stats")
    assert stats["result"]["vpsid"] == str(vpsid)
    assert (stats["result"]["ram_total_mb"], stats["result"]["disk_total_gb"]) == ("4096", "80")

    (host,) = await rows(
        installation, sa.select(schema.hosts).where(schema.hosts.c.id == service.host_id)
    )
    assert host.ram_mb_used == 1024
    await perform(installation, api, service.id, "terminate")
    assert virtualizor_sim.vps == {} and virtualizor_sim.ip_owner == {}
    assert await status() == "terminated"
    (after,) = await rows(installation, sa.select(schema.hosts).where(schema.hosts.c.id == host.id))
    assert (after.ram_mb_used, after.vcpus_used, after.disk_gb_used) == (0, 0, 0)
    events = [e.event for e in await activity(installation, service.order_id)]
    assert events.count("action_completed") == 7
    assert "capacity_released" in events
    order = (await api.get(f"/api/v1/orders/{service.order_id}")).json()
    assert order["service"]["status"] == "terminated"
    # Console and stats results stay on the action: never in the activity log.
    assert vps["vnc_passwd"] not in json.dumps(order["activity"])


async def test_reset_password_keeps_the_new_password_out_of_every_record(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    virtualizor_sim: VirtualizorState,
) -> None:
    service = await active_vps(installation, "vz3.example.com")
    vpsid = int(service.external_id)
    old_password = installation.vault.open(service.root_password_sealed)

    virtualizor_sim.faults.fail_next(1, 403)  # the changepassword POST: a failed run, recorded
    queued = await queue_action(api, service.id, "reset_password", reason="customer locked out")
    failed = await settle(installation, api, queued)
    assert failed["state"] == "failed"
    (failed_run,) = await rows(
        installation, sa.select(schema.runs).where(schema.runs.c.id == failed["run_id"])
    )
    sent = failed_run.last_upstream["request"]
    assert "act=changepassword" in sent["url"]
    assert sent["body"]["newpass"] == sent["body"]["conf"] == "***"

    retried = await api.post(f"/api/v1/runs/{failed['run_id']}/retry", json={})
    assert retried.status_code == 200, retried.text
    done = await settle(installation, api, queued)
    assert done["state"] == "completed", done
    assert done["result"] == {
        "vpsid": str(vpsid),
        "message": "The password will be changed when the VPS is booted again",
    }

    changed = await service_of(installation, service.order_id)
    new_password = installation.vault.open(changed.root_password_sealed)
    assert new_password != old_password
    assert virtualizor_sim.vps[vpsid]["_rootpass"] == new_password
    runs = await all_runs(installation, service.order_id)
    assert_no_credentials_in(upstream_records(runs))
    responses = [
        failed,
        done,
        retried.json(),
        (await api.get(f"/api/v1/orders/{service.order_id}")).json(),
        (await api.get(f"/api/v1/services/{service.id}/actions")).json(),
    ]
    dumped = json.dumps(
        [[e.message, e.data] for e in await activity(installation, service.order_id)]
        + [r.last_upstream for r in runs]
        + [r.last_error for r in runs]
        + responses,
        default=str,
    )
    assert new_password not in dumped and old_password not in dumped


async def test_a_crash_after_addvs_is_adopted_by_the_retry(
    installation: bootstrap.Installation, virtualizor_sim: VirtualizorState
) -> None:
    virtualizor_sim.faults.crash_next_create()
    product = await virtualizor_product(installation)
    order_id = await place_and_pay(installation, "vz4.example.com", product)
    run = await finish(installation, order_id)
    assert run.state == "completed", run.last_error

    [vps] = virtualizor_sim.vps.values()
    assert vps["hostname"] == "vz4.example.com"
    assert [t["action"] for t in virtualizor_sim.tasks.values()] == ["addvs"]
    retries = [e for e in await activity(installation, order_id) if e.event == "phase_retry"]
    assert [r.phase for r in retries] == ["provision"]
    assert retries[0].data["error"]["code"] == "TransientUpstreamError"
    assert (await service_of(installation, order_id)).external_id == str(vps["vpsid"])
    assert_no_credentials_in(upstream_records(await all_runs(installation, order_id)))


async def only_node(installation: bootstrap.Installation, name: str) -> None:
    """Drain every host but `name`: an order has no other candidate to move to."""
    async with installation.db.begin() as conn:
        await conn.execute(
            schema.hosts.update().where(schema.hosts.c.name != name).values(status="draining")
        )


async def test_an_exists_answer_without_a_visible_vps_fails_then_a_retry_creates_one(
    installation: bootstrap.Installation, virtualizor_sim: VirtualizorState
) -> None:
    virtualizor_sim.faults.exists_next()
    product = await virtualizor_product(installation)
    await only_node(installation, "virtualizor-localhost")
    order_id = await place_and_pay(installation, "vz5.example.com", product)
    await drain(installation)

    run = await run_of(installation, order_id)
    assert (run.state, run.phase) == ("failed", "provision")
    assert (
        "the hostname vz5.example.com is already in use, but no VPS" in (run.last_error["message"])
    )
    assert virtualizor_sim.vps == {}

    await installation.store.retry(run.id, actor="test")
    assert (await finish(installation, order_id)).state == "completed"
    assert [v["hostname"] for v in virtualizor_sim.vps.values()] == ["vz5.example.com"]


async def test_a_permanent_failure_on_one_node_moves_the_order_to_the_next(
    installation: bootstrap.Installation, virtualizor_sim: VirtualizorState
) -> None:
    virtualizor_sim.faults.exists_next()
    product = await virtualizor_product(installation)
    order_id = await place_and_pay(installation, "vz6.example.com", product)
    await drain(installation)

    assert (await run_of(installation, order_id)).state == "completed"
    (moved,) = [e for e in await activity(installation, order_id) if e.event == "order_reallocated"]
    assert "already in use, but no VPS" in moved.message
    order = await detail.describe_order(installation.db, order_id)
    assert order.placement is not None
    assert len(order.placement.failed_hosts) == 1
    assert order.placement.chosen is not None
    assert order.placement.chosen.host_id not in order.placement.failed_hosts
    assert [v["hostname"] for v in virtualizor_sim.vps.values()] == ["vz6.example.com"]


@pytest.mark.parametrize("shortage", ["nodes", "ips"])
async def test_no_room_at_the_panel_parks_the_run_until_there_is(
    installation: bootstrap.Installation, virtualizor_sim: VirtualizorState, shortage: str
) -> None:
    pool = list(virtualizor_sim.ip_pool)
    if shortage == "nodes":
        for node in virtualizor_sim.servers.values():
            node["total_ram"] = 512
    else:
        virtualizor_sim.ip_pool = []
    product = await virtualizor_product(installation)
    order_id = await place_and_pay(installation, "vz6.example.com", product)
    await drain(installation)

    run = await run_of(installation, order_id)
    assert (run.state, run.phase) == ("queued", "provision")
    expected = (
        "no Virtualizor node has room for plan 1"
        if shortage == "nodes"
        else "Virtualizor's IP pool is exhausted"
    )
    assert run.wait_reason.startswith("no capacity: ") and expected in run.wait_reason
    parked = [e for e in await activity(installation, order_id) if e.event == "phase_parked"]
    assert len(parked) == 1
    assert virtualizor_sim.vps == {}

    for node in virtualizor_sim.servers.values():
        node["total_ram"] = 8192
    virtualizor_sim.ip_pool = pool
    await make_due(installation, order_id)
    assert (await finish(installation, order_id)).state == "completed"
    assert len(virtualizor_sim.vps) == 1


async def test_an_unknown_plan_fails_with_virtualizors_message(
    installation: bootstrap.Installation, virtualizor_sim: VirtualizorState
) -> None:
    product = await virtualizor_product(installation, plan_id=99)
    order_id = await place_and_pay(installation, "vz7.example.com", product)
    await drain(installation)

    run = await run_of(installation, order_id)
    assert (run.state, run.phase) == ("failed", "provision")
    assert run.last_error["code"] == "PermanentUpstreamError"
    assert "Virtualizor refused to create vz7.example.com" in run.last_error["message"]
    assert "Invalid plan" in run.last_error["message"]
    sent = run.last_upstream["request"]
    assert "act=addvs" in sent["url"]
    assert sent["body"]["plid"] == 99  # recorded before form encoding
    assert sent["body"]["rootpass"] == sent["body"]["user_pass"] == "***"
    assert_no_credentials_in([run.last_upstream])
    password = installation.vault.open(
        (await service_of(installation, order_id)).root_password_sealed
    )
    assert password not in json.dumps([run.last_upstream, run.last_error])
    assert virtualizor_sim.vps == {}
    order = await detail.describe_order(installation.db, order_id)
    assert order.state == "failed"
