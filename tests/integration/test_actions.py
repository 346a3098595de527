"""Lifecycle actions on a provisioned service run through the engine (SolusVM 2 simulator)."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap, errors
from fluxbilling.db import schema
from fluxbilling.network.rdns import InternalRdns
from fluxbilling_simulators.solusvm2 import SolusVM2State
from tests.integration.support import (
    active_service,
    activity,
    register_solusvm2_without_suspend,
    request_action,
    rows,
    service_of,
    settle,
    settle_retrying,
)

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_suspend_and_unsuspend_run_through_the_engine(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    service = await active_service(installation, "act-1.example.net")
    upstream_id = int(service.external_id)

    queued = await request_action(api, service.id, "suspend", reason="invoice overdue")
    assert queued.status_code == 202, queued.text
    assert queued.json()["state"] == "queued"
    assert queued.json()["plugin"].startswith("solusvm2@")
    done = await settle(installation, api, queued.json()["id"])
    assert done["state"] == "completed"
    assert (await service_of(installation, service.order_id)).status == "suspended"
    assert sim.servers[upstream_id]["is_suspended"] is True

    again = await request_action(api, service.id, "suspend")
    assert again.status_code == 409
    assert "it is suspended" in again.json()["error"]["message"]

    resumed = await settle(
        installation, api, (await request_action(api, service.id, "unsuspend")).json()["id"]
    )
    assert resumed["state"] == "completed"
    assert (await service_of(installation, service.order_id)).status == "active"
    assert sim.servers[upstream_id]["is_suspended"] is False

    events = [(e.event, e.phase) for e in await activity(installation, service.order_id)]
    assert events.count(("action_requested", "action")) == 2
    assert events.count(("action_completed", "action")) == 2
    order = (await api.get(f"/api/v1/orders/{service.order_id}")).json()
    assert order["state"] == "active"
    assert [p["status"] for p in order["phases"]] == ["done"] * 6
    listed = (await api.get(f"/api/v1/services/{service.id}/actions")).json()["items"]
    assert [a["verb"] for a in listed] == ["unsuspend", "suspend"]
    assert listed[1]["reason"] == "invoice overdue"


async def test_idempotency_key_and_one_action_at_a_time(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    service = await active_service(installation, "act-2.example.net")
    first = await request_action(api, service.id, "suspend", headers={"Idempotency-Key": "k-1"})
    replay = await request_action(api, service.id, "suspend", headers={"Idempotency-Key": "k-1"})
    assert first.status_code == replay.status_code == 202
    assert replay.json()["id"] == first.json()["id"]
    assert (first.json()["replayed"], replay.json()["replayed"]) == (False, True)

    busy = await request_action(api, service.id, "terminate")
    assert busy.status_code == 409
    assert (
        f"already has action {first.json()['id']} (suspend) queued"
        in busy.json()["error"]["message"]
    )
    runs = await rows(
        installation,
        sa.select(schema.runs).where(
            schema.runs.c.order_id == service.order_id, schema.runs.c.kind == "action"
        ),
    )
    assert len(runs) == 1


async def test_unknown_verbs_and_missing_capabilities_are_refused(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    service = await active_service(installation, "act-3.example.net")
    unknown = await request_action(api, service.id, "explode")
    assert unknown.status_code == 422
    assert "unknown lifecycle action 'explode'" in unknown.json()["error"]["message"]
    assert (
        await request_action(api, service.id, "resize")
    ).status_code == 422  # params.options missing
    assert (await api.post("/api/v1/services/999999/actions/suspend")).status_code == 404

    # A new version without canSuspend: actions pin the newest version, so suspend is refused.
    await register_solusvm2_without_suspend(installation)
    refused = await request_action(api, service.id, "suspend")
    assert refused.status_code == 422
    assert "does not declare canSuspend" in refused.json()["error"]["message"]
    assert (await rows(installation, sa.select(schema.service_actions))) == []


async def test_terminate_releases_capacity_and_the_address(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    service = await active_service(installation, "act-4.example.net")
    (host,) = await rows(
        installation, sa.select(schema.hosts).where(schema.hosts.c.id == service.host_id)
    )
    assert host.ram_mb_used > 0
    done = await settle(
        installation, api, (await request_action(api, service.id, "terminate")).json()["id"]
    )
    assert done["state"] == "completed"
    assert (await service_of(installation, service.order_id)).status == "terminated"
    assert int(service.external_id) not in sim.servers
    (after,) = await rows(installation, sa.select(schema.hosts).where(schema.hosts.c.id == host.id))
    assert after.ram_mb_used == 0
    assert (
        await rows(
            installation,
            sa.select(schema.ip_addresses).where(
                schema.ip_addresses.c.order_id == service.order_id
            ),
        )
        == []
    )
    events = {e.event: e.message for e in await activity(installation, service.order_id)}
    assert "released 2048 MB" in events["capacity_released"]
    assert (await request_action(api, service.id, "unsuspend")).status_code == 409


async def test_a_failed_action_keeps_the_order_active_and_can_be_retried(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    service = await active_service(installation, "act-5.example.net")
    sim.faults.fail_next(1, 403)
    failed = await settle(
        installation, api, (await request_action(api, service.id, "suspend")).json()["id"]
    )
    assert failed["state"] == "failed"
    assert failed["error"]["code"] == "PermanentUpstreamError"
    order = (await api.get(f"/api/v1/orders/{service.order_id}")).json()
    assert order["state"] == "active"
    assert (await service_of(installation, service.order_id)).status == "active"

    retried = await api.post(f"/api/v1/runs/{failed['run_id']}/retry", json={})
    assert retried.status_code == 200, retried.text
    done = await settle(installation, api, failed["id"])
    assert done["state"] == "completed"
    assert (await service_of(installation, service.order_id)).status == "suspended"


async def test_reinstall_hands_over_cloud_init_with_the_services_own_password(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    service = await active_service(installation, "act-6.example.net")
    before = [t for t in sim.tasks.values() if t["action"] == "vm-reinstall"]
    done = await settle(
        installation, api, (await request_action(api, service.id, "reinstall")).json()["id"]
    )
    assert done["state"] == "completed", done
    reinstalls = [t for t in sim.tasks.values() if t["action"] == "vm-reinstall"]
    assert len(reinstalls) == len(before) + 1
    user_data = reinstalls[-1]["_params"]["user_data"]
    assert "act-6.example.net" in user_data
    password = installation.vault.open(service.root_password_sealed)
    assert password not in user_data  # only its SHA-512 crypt hash is handed over
    (run,) = await rows(
        installation, sa.select(schema.runs).where(schema.runs.c.id == done["run_id"])
    )
    assert password not in str(run.last_upstream) + str(done)
    assert (await service_of(installation, service.order_id)).status == "active"


async def test_resize_console_and_stats_on_solusvm2(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    service = await active_service(installation, "act-7.example.net")
    upstream = sim.servers[int(service.external_id)]
    assert upstream["plan"]["id"] == 2

    resized = await request_action(api, service.id, "resize", params={"options": {"plan_id": 1}})
    done = await settle(installation, api, resized.json()["id"])
    assert done["state"] == "completed", done
    assert upstream["plan"]["id"] == 1
    assert upstream["specifications"]["ram"] == 1024
    after = await service_of(installation, service.order_id)
    assert after.service_data["plan_options"] == {"plan_id": 1}
    # Later flows see the service's plan, not the product's original one.
    again = await request_action(api, service.id, "resize", params={"options": {}})
    assert (await settle(installation, api, again.json()["id"]))["state"] == "completed"
    resizes = [t for t in sim.tasks.values() if t["action"] == "vm-resize"]
    assert [t["_params"]["plan_id"] for t in resizes] == [1, 1]
    assert upstream["plan"]["id"] == 1
    assert (await service_of(installation, service.order_id)).service_data["plan_options"] == {
        "plan_id": 1
    }

    console = await settle(
        installation, api, (await request_action(api, service.id, "console")).json()["id"]
    )
    assert console["state"] == "completed", console
    session = console["result"]
    assert session["type"] == "vnc"
    assert session["url"].startswith("wss://solusvm.test/vnc?url=vnc-" + upstream["uuid"])
    assert session["password"] == upstream["settings"]["vnc_password"]
    messages = [e.message for e in await activity(installation, service.order_id)]
    assert not any(session["password"] in m for m in messages)  # the session stays on the action
    stored = await rows(
        installation,
        sa.select(schema.service_actions.c.result).where(
            schema.service_actions.c.id == console["id"]
        ),
    )
    assert set(stored[0].result) == {"sealed"}  # at rest it is sealed with the installation key
    assert session["password"] not in str(stored) and session["url"] not in str(stored)
    checkpoints = await rows(installation, sa.select(schema.phase_checkpoints.c.output))
    assert session["password"] not in str(checkpoints)

    stats = await settle(
        installation, api, (await request_action(api, service.id, "stats")).json()["id"]
    )
    assert stats["state"] == "completed", stats
    assert len(stats["result"]["cpu_load_average"]) == 12
    assert stats["result"]["memory_mb"][0]["memory"] > 0

    bad = await settle(
        installation,
        api,
        (
            await request_action(api, service.id, "resize", params={"options": {"plan_id": 99}})
        ).json()["id"],
    )
    assert bad["state"] == "failed"
    assert "The selected plan id is invalid." in bad["error"]["message"]
    assert upstream["plan"]["id"] == 1


async def test_terminate_deletes_the_ptr_and_retries_a_transient_dns_failure(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    rdns = installation.rdns
    assert isinstance(rdns, InternalRdns)
    service = await active_service(installation, "act-ptr.example.net")
    address = service.service_data["network"]["address"]
    assert await rdns.lookup(address) == "act-ptr.example.net."
    real_delete = rdns.delete_ptr
    failures = [errors.TransientUpstreamError("DNS API unavailable", upstream="dns")]

    async def flaky_delete(address: str) -> None:
        if failures:
            raise failures.pop()
        await real_delete(address)

    rdns.delete_ptr = flaky_delete  # type: ignore[method-assign]
    queued = (await request_action(api, service.id, "terminate")).json()
    first = await settle(installation, api, queued["id"])
    assert first["state"] in ("queued", "running")  # waiting to retry, not failed or done
    assert await rdns.lookup(address) == "act-ptr.example.net."
    assert (await service_of(installation, service.order_id)).status == "active"

    done = await settle_retrying(installation, api, queued["id"])
    assert done["state"] == "completed", done
    assert failures == []
    assert await rdns.lookup(address) is None
    assert (await service_of(installation, service.order_id)).status == "terminated"
    events = {e.event: e.message for e in await activity(installation, service.order_id)}
    assert events["rdns_removed"] == f"PTR of {address} deleted"
    await rdns.delete_ptr(address)  # nothing left is not an error
