"""A paid order through all six phases on SQLite and PostgreSQL, with the simulator and a fake mailer."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling.handoff.mail import InMemoryMailer
from fluxbilling.network.rdns import InternalRdns
from fluxbilling.orders import detail
from fluxbilling.orders.pipeline import PHASES, Phase
from fluxbilling_simulators.solusvm2 import SolusVM2State
from tests.integration.support import activity, drain, finish, make_due, place_and_pay, rows, run_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def options(*, plan_id: int) -> dict[str, float]:
    return {"plan_id": plan_id, "location_id": 1, "poll_interval": 0.01}


async def test_paid_order_becomes_an_active_vps(
    installation: bootstrap.Installation, sim: SolusVM2State, mailer: InMemoryMailer
) -> None:
    order_id = await place_and_pay(installation, "web1.example.com")
    await drain(installation)

    order = await detail.describe_order(installation.db, order_id)
    assert order.state == "active"
    assert [p.status for p in order.phases] == ["done"] * 6
    completed = [
        e.phase for e in await activity(installation, order_id) if e.event == "phase_completed"
    ]
    assert sorted(completed) == sorted(p.value for p in PHASES)

    (server,) = sim.servers.values()
    address = order.phases[1].output["address"]
    assert server["name"] == "web1.example.com"
    assert server["ips"]["ipv4"][0]["ip"] == address
    assert server["user_data"].startswith("#cloud-config\n")
    assert "web1.example.com" in server["user_data"]
    assert "$6$" in server["user_data"]  # the root password only as a SHA-512 crypt hash
    assert order.service is not None
    assert str(order.service.external_id) == str(server["id"])
    assert order.service.status == "active"

    (mail,) = mailer.sent
    sealed = (await rows(installation, sa.select(schema.services.c.root_password_sealed)))[0][0]
    password = installation.vault.open(sealed)
    assert f"Password: {password}" in mail.text
    assert address in mail.text
    (outbox,) = await rows(installation, sa.select(schema.outgoing_mail))
    assert outbox.status == "sent" and password not in outbox.body_masked

    assert await InternalRdns(installation.db).lookup(address) == "web1.example.com."
    (ip,) = await rows(installation, sa.select(schema.ip_addresses))
    assert (ip.state, ip.address) == ("leased", address)
    assert ip.assigned_at is not None
    hosts = await rows(
        installation, sa.select(schema.hosts.c.ram_mb_used).order_by(schema.hosts.c.id)
    )
    assert sorted(h.ram_mb_used for h in hosts) == [0, 0, 2048]


async def test_each_state_change_is_on_the_one_row_of_its_event(
    installation: bootstrap.Installation, sim: SolusVM2State, mailer: InMemoryMailer
) -> None:
    order_id = await place_and_pay(installation, "web2.example.com")
    await drain(installation)
    log = await activity(installation, order_id)
    moves = [
        (e.event, {m: {"event": e.data[m]["event"], "to": e.data[m]["to"]} for m in moved})
        for e in log
        for moved in [[m for m in ("service", "order") if m in e.data]]
        if moved
    ]
    assert moves == [
        ("invoice_paid", {"order": {"event": "paid", "to": "provisioning_pending"}}),
        ("run_started", {"order": {"event": "started", "to": "provisioning"}}),
        ("service_provisioned", {"service": {"event": "provisioned", "to": "provisioned"}}),
        ("os_install_recorded", {"service": {"event": "installed", "to": "installed"}}),
        (
            "service_active",
            {
                "service": {"event": "handed_off", "to": "active"},
                "order": {"event": "handed_off", "to": "active"},
            },
        ),
    ]
    events = [e.event for e in log]
    assert all(events.count(event) == 1 for event, _ in moves)


async def test_secrets_never_reach_activity_api_or_upstream_records(
    installation: bootstrap.Installation, sim: SolusVM2State, mailer: InMemoryMailer
) -> None:
    sim.faults.fail_next(1, 503)  # so that a last_upstream record exists
    order_id = await place_and_pay(installation, "web2.example.com")
    assert (await finish(installation, order_id)).state == "completed"
    sealed = (await rows(installation, sa.select(schema.services.c.root_password_sealed)))[0][0]
    password = installation.vault.open(sealed)
    dumped = json.dumps(
        [[e.message, e.data] for e in await activity(installation, order_id)]
        + [dataclasses.asdict(await detail.describe_order(installation.db, order_id))],
        default=str,
    )
    for secret in (password, "it-token", sealed):
        assert secret not in dumped
    (conn_row,) = await rows(installation, sa.select(schema.connections.c.secrets_sealed))
    assert "it-token" not in conn_row.secrets_sealed


async def test_transient_upstream_failures_are_retried(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    sim.faults.fail_next(3, 503)
    order_id = await place_and_pay(installation, "web3.example.com")
    assert (await finish(installation, order_id)).state == "completed"
    retries = [e for e in await activity(installation, order_id) if e.event == "phase_retry"]
    assert len(retries) >= 1
    assert retries[0].data["error"]["code"] == "TransientUpstreamError"
    assert len(sim.servers) == 1


async def test_a_crash_after_the_vendor_created_the_server_adopts_it(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    sim.faults.crash_after_create = True
    order_id = await place_and_pay(installation, "web4.example.com")
    assert (await finish(installation, order_id)).state == "completed"
    assert [s["name"] for s in sim.servers.values()] == ["web4.example.com"]


async def test_permanent_failure_keeps_the_upstream_exchange_and_operator_retry_finishes(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    async with installation.db.begin() as conn:
        await conn.execute(
            schema.products.update().values(
                options={"plan_id": 99, "location_id": 1, "poll_interval": 0.01}
            )
        )
    order_id = await place_and_pay(installation, "web5.example.com")
    await drain(installation)
    run = await run_of(installation, order_id)
    assert (run.state, run.phase) == ("failed", "provision")
    assert run.last_error["code"] == "PermanentUpstreamError"
    assert run.last_upstream["response"]["status"] == 422
    sent_headers = {k.lower(): v for k, v in run.last_upstream["request"]["headers"].items()}
    assert sent_headers["authorization"] == "***"
    assert "plan" in json.dumps(run.last_upstream["response"]["body"])
    order = await detail.describe_order(installation.db, order_id)
    assert order.state == "failed"

    async with installation.db.begin() as conn:
        await conn.execute(
            schema.products.update().values(
                options={"plan_id": 2, "location_id": 1, "poll_interval": 0.01}
            )
        )
    await installation.store.retry(run.id, actor="test")
    await drain(installation)
    assert (await run_of(installation, order_id)).state == "completed"
    assert len(sim.servers) == 1


async def test_no_capacity_waits_with_a_reason_then_proceeds(
    installation: bootstrap.Installation,
) -> None:
    async with installation.db.begin() as conn:
        await conn.execute(schema.hosts.update().values(ram_mb_total=1024))
    order_id = await place_and_pay(installation, "web6.example.com")
    await drain(installation)
    run = await run_of(installation, order_id)
    assert (run.state, run.phase) == ("queued", "allocation")
    assert run.wait_reason.startswith("no capacity: no host in location 1 fits: ")
    assert "lack RAM" in run.wait_reason
    parked = [e for e in await activity(installation, order_id) if e.event == "phase_parked"]
    assert len(parked) == 1

    async with installation.db.begin() as conn:
        await conn.execute(schema.hosts.update().values(ram_mb_total=8192))
    await make_due(installation, order_id)
    await drain(installation)
    assert (await run_of(installation, order_id)).state == "completed"


async def test_addresses_and_capacity_are_never_handed_out_twice(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    # Each host has 8 vCPU, 8192 MB and 128 GB: disk limits it to 3 orders of 40 GB, so
    # 3 hosts take 9 orders; the /28 would have had 13 addresses.
    order_ids = [await place_and_pay(installation, f"n{i}.example.com") for i in range(11)]
    await drain(installation)
    runs = [await run_of(installation, o) for o in order_ids]
    assert sorted(r.state for r in runs).count("completed") == 9
    assert all(
        r.phase == "allocation" and r.state == "queued" for r in runs if r.state != "completed"
    )
    addresses = [a.address for a in await rows(installation, sa.select(schema.ip_addresses))]
    assert len(addresses) == len(set(addresses)) == 9
    assert "192.0.2.1" not in addresses  # the gateway
    hosts = await rows(installation, sa.select(schema.hosts))
    assert [(h.disk_gb_used, h.ram_mb_used, h.vcpus_used) for h in hosts] == [(120, 6144, 6)] * 3
    assert len(sim.servers) == 9


async def test_an_image_with_a_wrong_checksum_is_never_used(
    installation: bootstrap.Installation, tmp_path: Path
) -> None:
    (image,) = await rows(installation, sa.select(schema.images))
    Path(image.source_url.removeprefix("file://")).write_bytes(b"tampered")
    order_id = await place_and_pay(installation, "web7.example.com")
    await drain(installation)
    run = await run_of(installation, order_id)
    assert (run.state, run.phase) == ("failed", Phase.OS_INSTALL.value)
    assert "sha256 mismatch" in run.last_error["message"]
    assert (await rows(installation, sa.select(schema.images.c.status)))[0].status == "quarantined"
    await installation.store.retry(run.id, actor="test")
    await drain(installation)
    run = await run_of(installation, order_id)
    assert run.state == "failed" and "quarantined" in run.last_error["message"]


async def test_product_options_are_checked_against_the_plugin_settings_schema(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    async with installation.db.begin() as conn:
        await conn.execute(
            schema.products.update().values(options={"location_id": "ams", "poll_interval": 0.01})
        )
    order_id = await place_and_pay(installation, "badopts.example.net")
    run = await finish(installation, order_id)
    assert (run.state, run.phase) == ("failed", "provision")
    assert run.last_error["code"] == "InvalidSettings"
    found = {(p["path"], p["message"]) for p in run.last_error["details"]["problems"]}
    assert ("options", "'plan_id' is a required property") in found
    assert ("options.location_id", "'ams' is not of type 'integer'") in found
    assert sim.servers == {}  # nothing was created upstream
