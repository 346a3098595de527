"""The shipped Pterodactyl plugin through the whole pipeline and every lifecycle action.

A paid order for the seeded game product (`seed.PROVIDERS["pterodactyl"]`) runs against the
in-process Pterodactyl simulator on SQLite and PostgreSQL; actions go through the HTTP API.
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
from fluxbilling.orders.phases.operations import account_username
from fluxbilling_simulators.pterodactyl import PterodactylState
from tests.integration.conftest import PANEL_URLS
from tests.integration.support import (
    active_service,
    activity,
    add_provider,
    drain,
    finish,
    make_due,
    place_and_pay,
    rows,
    run_action,
    run_of,
    service_of,
)

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

APPLICATION_KEY, CLIENT_KEY = "ptla_sim", "ptlc_sim"


async def game_product(inst: bootstrap.Installation, **options: Any) -> str:
    return await add_provider(inst, "pterodactyl", PANEL_URLS["pterodactyl"], **options)


async def customer_of(inst: bootstrap.Installation, order_id: int) -> int:
    order = schema.orders
    (row,) = await rows(inst, sa.select(order.c.customer_id).where(order.c.id == order_id))
    return int(row.customer_id)


def customers(sim: PterodactylState) -> list[dict[str, Any]]:
    """The panel's users other than the seeded admin."""
    return [u for u in sim.users.values() if u["id"] != 1]


def saved_users(sim: PterodactylState, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """From now on, a copy of every user body the panel saves (created or updated), in order."""
    saved: list[dict[str, Any]] = []
    save_user = sim.save_user

    def spy(body: dict[str, Any], existing: dict[str, Any] | None = None) -> dict[str, Any]:
        saved.append(dict(body))
        return save_user(body, existing)

    monkeypatch.setattr(sim, "save_user", spy)
    return saved


async def recorded_text(inst: bootstrap.Installation, order_id: int) -> str:
    """Everything we store about an order's runs and activity, as one string."""
    runs = await rows(inst, sa.select(schema.runs).where(schema.runs.c.order_id == order_id))
    events = await activity(inst, order_id)
    return json.dumps(
        [[r.last_error, r.last_upstream, r.wait_reason] for r in runs]
        + [[e.message, e.data] for e in events],
        default=str,
    )


async def test_a_paid_game_order_becomes_an_active_pterodactyl_server(
    installation: bootstrap.Installation,
    pterodactyl_sim: PterodactylState,
    mailer: InMemoryMailer,
) -> None:
    product = await game_product(installation)
    order_id = await place_and_pay(installation, "mc1.example.com", product)
    assert (await finish(installation, order_id)).state == "completed"

    order = await detail.describe_order(installation.db, order_id)
    assert order.state == "active"
    assert [p.status for p in order.phases] == ["done"] * 6
    (server,) = pterodactyl_sim.servers.values()
    (user,) = customers(pterodactyl_sim)
    service = await service_of(installation, order_id)
    assert server["name"] == "mc1.example.com"
    assert server["external_id"] == f"fluxbilling-order-{order_id}"
    assert (server["egg"], server["nest"], server["node"]) == (1, 1, 1)
    assert server["status"] is None and server["_power"] == "running"
    assert {k: server["limits"][k] for k in ("memory", "swap", "disk", "io", "cpu")} == {
        "memory": 2048,
        "swap": 0,
        "disk": 10240,
        "io": 500,
        "cpu": 200,
    }
    assert server["feature_limits"] == {"databases": 1, "allocations": 1, "backups": 2}
    assert server["user"] == user["id"]
    customer = await customer_of(installation, order_id)
    assert user["external_id"] == f"fluxbilling-customer-{customer}"
    assert (user["email"], user["first_name"]) == ("ada@example.com", "Ada Lovelace")
    assert user["username"] == account_username(order_id)
    assert user["_password"] is True and user["root_admin"] is False

    allocation = pterodactyl_sim.allocations[server["allocation"]]
    address = f"{allocation['ip']}:{allocation['port']}"
    data = service.service_data
    assert service.status == "active"
    assert service.external_id == str(server["id"])
    assert {k: data[k] for k in ("external_id", "identifier", "uuid", "user_id", "username")} == {
        "external_id": server["id"],
        "identifier": server["identifier"],
        "uuid": server["uuid"],
        "user_id": user["id"],
        "username": user["username"],
    }
    assert (data["ip"], data["address"]) == ("192.0.2.10", address)
    assert data["panel_url"] == f"http://pterodactyl.test/api/../server/{server['identifier']}"
    assert str(httpx.URL(data["panel_url"])) == (
        f"http://pterodactyl.test/server/{server['identifier']}"
    )
    assert data["network"]["address"] == "192.0.2.10"
    assert data["network"]["source"] == "provider"

    events = {e.event: e for e in await activity(installation, order_id)}
    assert events["os_install_recorded"].message.startswith("no OS install")
    assert events["address_recorded"].data == {"address": "192.0.2.10"}
    assert "rdns_skipped" in events and "rdns_published" not in events
    assert "credentials_sealed" in events

    (mail,) = mailer.sent
    password = installation.vault.open(service.root_password_sealed)
    assert mail.subject.startswith("Your game server mc1.example.com is ready")
    assert f"Connect to:    {address}" in mail.text
    assert f"Panel user:    {user['username']}" in mail.text
    assert f"Password:      {password}" in mail.text
    assert data["panel_url"] in mail.text
    (outbox,) = await rows(installation, sa.select(schema.outgoing_mail))
    assert outbox.status == "sent" and password not in outbox.body_masked
    assert address in outbox.body_masked

    (host,) = await rows(
        installation, sa.select(schema.hosts).where(schema.hosts.c.name == "wings-ams1-01")
    )
    assert host.ram_mb_used == 2048
    recorded = await recorded_text(installation, order_id)
    for secret in (password, APPLICATION_KEY, CLIENT_KEY):
        assert secret not in recorded


async def test_every_lifecycle_action_through_the_api(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    pterodactyl_sim: PterodactylState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    product = await game_product(installation)
    service = await active_service(installation, "mc2.example.com", product)
    server = pterodactyl_sim.servers[int(service.external_id)]
    (user,) = customers(pterodactyl_sim)

    suspended = await run_action(installation, api, service.id, "suspend", reason="invoice overdue")
    assert suspended["state"] == "completed", suspended
    assert server["status"] == "suspended"
    assert (await service_of(installation, service.order_id)).status == "suspended"

    frozen = await run_action(installation, api, service.id, "stats")
    assert frozen["state"] == "completed", frozen
    assert frozen["result"]["state"] == "unavailable"
    assert "currently suspended" in frozen["result"]["reason"]

    resumed = await run_action(installation, api, service.id, "unsuspend")
    assert resumed["state"] == "completed", resumed
    assert server["status"] is None
    assert (await service_of(installation, service.order_id)).status == "active"

    reinstalled = await run_action(installation, api, service.id, "reinstall")
    assert reinstalled["state"] == "completed", reinstalled
    assert reinstalled["result"] == {"reinstalled": True, "identifier": server["identifier"]}
    assert server["status"] is None and server["_install"] is None

    resized = await run_action(
        installation, api, service.id, "resize", params={"options": {"memory": 4096}}
    )
    assert resized["state"] == "completed", resized
    assert server["limits"]["memory"] == 4096
    assert server["limits"]["disk"] == 10240  # the product's other options still apply
    assert server["feature_limits"] == {"databases": 1, "allocations": 1, "backups": 2}
    data = (await service_of(installation, service.order_id)).service_data
    assert data["plan_options"] == {"memory": 4096}
    assert data["limits"]["memory"] == 4096

    saved = saved_users(pterodactyl_sim, monkeypatch)
    old_password = installation.vault.open(service.root_password_sealed)
    reset = await run_action(installation, api, service.id, "reset_password")
    assert reset["state"] == "completed", reset
    after = await service_of(installation, service.order_id)
    new_password = installation.vault.open(after.root_password_sealed)
    assert new_password != old_password
    (patch,) = saved
    assert patch["password"] == new_password
    assert {k: patch[k] for k in ("email", "username", "first_name", "last_name")} == {
        k: user[k] for k in ("email", "username", "first_name", "last_name")
    }
    customer = await customer_of(installation, service.order_id)
    assert user["external_id"] == f"fluxbilling-customer-{customer}"

    console = await run_action(installation, api, service.id, "console")
    assert console["state"] == "completed", console
    result = console["result"]
    assert result["socket"] == (
        f"wss://ams1-wings-1.example.test:8080/api/servers/{server['uuid']}/ws"
    )
    assert result["token"].count(".") == 2  # the panel's JWT for Wings
    assert result["expires_in"] == 600

    stats = await run_action(installation, api, service.id, "stats")
    assert stats["state"] == "completed", stats
    assert stats["result"]["state"] == "running"
    assert stats["result"]["memory_bytes"] == 4096 * 1024 * 1024 // 4
    assert stats["result"]["suspended"] is False

    (host,) = await rows(
        installation, sa.select(schema.hosts).where(schema.hosts.c.id == service.host_id)
    )
    assert host.ram_mb_used == 2048
    gone = await run_action(installation, api, service.id, "terminate")
    assert gone["state"] == "completed", gone
    assert pterodactyl_sim.servers == {}
    assert all(a["_server"] is None for a in pterodactyl_sim.allocations.values())
    assert customers(pterodactyl_sim) == [user]  # the customer's panel user stays
    assert (await service_of(installation, service.order_id)).status == "terminated"
    (host,) = await rows(installation, sa.select(schema.hosts).where(schema.hosts.c.id == host.id))
    assert host.ram_mb_used == 0

    listed = (await api.get(f"/api/v1/services/{service.id}/actions")).json()["items"]
    assert [a["verb"] for a in reversed(listed)] == [
        "suspend",
        "stats",
        "unsuspend",
        "reinstall",
        "resize",
        "reset_password",
        "console",
        "stats",
        "terminate",
    ]
    assert all(a["state"] == "completed" for a in listed)
    order = (await api.get(f"/api/v1/orders/{service.order_id}")).json()
    answers = json.dumps([listed, order])
    recorded = await recorded_text(installation, service.order_id)
    for secret in (new_password, old_password, APPLICATION_KEY, CLIENT_KEY):
        assert secret not in recorded
        assert secret not in answers
    assert result["token"] not in recorded  # console tokens stay on the action only


async def test_terminate_succeeds_when_the_server_is_already_gone(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    pterodactyl_sim: PterodactylState,
) -> None:
    product = await game_product(installation)
    service = await active_service(installation, "mc3.example.com", product)
    pterodactyl_sim.delete_server(pterodactyl_sim.servers[int(service.external_id)], force=True)

    done = await run_action(installation, api, service.id, "terminate")

    assert done["state"] == "completed", done
    assert (await service_of(installation, service.order_id)).status == "terminated"


async def test_wings_down_is_retried_until_it_answers(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    pterodactyl_sim: PterodactylState,
) -> None:
    product = await game_product(installation)
    service = await active_service(installation, "mc4.example.com", product)
    pterodactyl_sim.daemon_offline = True
    queued = await api.post(f"/api/v1/services/{service.id}/actions/suspend", json={})
    action_id = queued.json()["id"]
    await drain(installation)
    waiting = (await api.get(f"/api/v1/actions/{action_id}")).json()
    assert waiting["state"] == "queued", waiting  # the node's own retry, not a failure
    assert pterodactyl_sim.servers[int(service.external_id)]["status"] is None

    pterodactyl_sim.daemon_offline = False
    await make_due(installation, service.order_id)
    await drain(installation)

    done = (await api.get(f"/api/v1/actions/{action_id}")).json()
    assert done["state"] == "completed", done
    assert pterodactyl_sim.servers[int(service.external_id)]["status"] == "suspended"


async def test_crashes_after_create_are_adopted(
    installation: bootstrap.Installation, pterodactyl_sim: PterodactylState
) -> None:
    product = await game_product(installation)
    pterodactyl_sim.faults.crash_next_create(2)  # the user's create, then the server's

    order_id = await place_and_pay(installation, "mc5.example.com", product)

    assert (await finish(installation, order_id)).state == "completed"
    assert [s["name"] for s in pterodactyl_sim.servers.values()] == ["mc5.example.com"]
    (user,) = customers(pterodactyl_sim)
    service = await service_of(installation, order_id)
    assert service.service_data["user_id"] == user["id"]
    assert service.service_data["username"] == user["username"]
    events = await activity(installation, order_id)
    (retry,) = [e for e in events if e.event == "phase_retry"]  # the user's create: a 503
    assert retry.data["error"]["code"] == "TransientUpstreamError"
    assert "provision.create_user failed with HTTP 503" in retry.data["error"]["message"]
    waits = [e.message for e in events if e.event == "phase_waiting"]
    assert "provision: waiting at node 'create_server'" in waits  # its own retry: then 422


async def test_already_exists_answers_are_handled_and_a_second_order_reuses_the_user(
    installation: bootstrap.Installation,
    pterodactyl_sim: PterodactylState,
    mailer: InMemoryMailer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    product = await game_product(installation)
    pterodactyl_sim.faults.exists_next()  # hits the user's create
    first = await place_and_pay(installation, "mc6.example.com", product)
    assert (await finish(installation, first)).state == "completed"
    (user,) = customers(pterodactyl_sim)
    assert user["username"] == account_username(first)
    (retry,) = [e for e in await activity(installation, first) if e.event == "phase_retry"]
    assert "no such user is visible" in retry.data["error"]["message"]

    saved = saved_users(pterodactyl_sim, monkeypatch)
    pterodactyl_sim.faults.exists_next()  # the user exists now: hits the server's create
    second = await place_and_pay(installation, "mc7.example.com", product)
    assert (await finish(installation, second)).state == "completed"

    assert customers(pterodactyl_sim) == [user]
    names = sorted(s["name"] for s in pterodactyl_sim.servers.values())
    assert names == ["mc6.example.com", "mc7.example.com"]
    assert {s["user"] for s in pterodactyl_sim.servers.values()} == {user["id"]}
    (retry,) = [e for e in await activity(installation, second) if e.event == "phase_retry"]
    assert "no such server is visible" in retry.data["error"]["message"]
    service = await service_of(installation, second)
    assert service.service_data["username"] == user["username"]  # the first order's name
    assert f"Panel user:    {user['username']}" in mailer.sent[-1].text
    # The existing user got the second service's password, which its welcome mail states.
    password = installation.vault.open(service.root_password_sealed)
    assert {body["password"] for body in saved} == {password}  # once per attempt
    assert f"Password:      {password}" in mailer.sent[-1].text


async def test_a_panel_user_with_our_email_is_not_taken_over(
    installation: bootstrap.Installation, pterodactyl_sim: PterodactylState
) -> None:
    product = await game_product(installation)
    stranger = pterodactyl_sim.save_user(
        {"email": "ada@example.com", "username": "ada", "first_name": "Ada", "last_name": "L"}
    )
    order_id = await place_and_pay(installation, "mc8.example.com", product)
    await drain(installation)

    run = await run_of(installation, order_id)
    assert (run.state, run.phase) == ("failed", "provision")
    message = run.last_error["message"]
    assert "already has a user with the email ada@example.com" in message
    assert "The email has already been taken." in message
    customer = await customer_of(installation, order_id)
    assert f"set its external id to fluxbilling-customer-{customer}" in message
    assert pterodactyl_sim.servers == {} and customers(pterodactyl_sim) == [stranger]
    assert run.last_upstream["response"]["status"] == 422
    assert run.last_upstream["request"]["body"]["password"] == "***"

    stranger["external_id"] = f"fluxbilling-customer-{customer}"  # the operator links it
    await installation.store.retry(run.id, actor="test")
    assert (await finish(installation, order_id)).state == "completed"
    (server,) = pterodactyl_sim.servers.values()
    assert server["user"] == stranger["id"]
    assert stranger["username"] == "ada"
    assert (await service_of(installation, order_id)).service_data["username"] == "ada"


async def test_no_viable_node_parks_the_run_for_capacity(
    installation: bootstrap.Installation, pterodactyl_sim: PterodactylState
) -> None:
    product = await game_product(installation, memory=1_000_000)
    order_id = await place_and_pay(installation, "mc9.example.com", product)
    await drain(installation)

    run = await run_of(installation, order_id)
    assert (run.state, run.phase) == ("queued", "provision")
    assert run.wait_reason.startswith("no capacity")
    assert "No nodes satisfying the requirements" in run.wait_reason
    assert pterodactyl_sim.servers == {}
    parked = [e for e in await activity(installation, order_id) if e.event == "phase_parked"]
    assert len(parked) == 1


async def test_a_failed_install_fails_the_run_with_a_clear_message(
    installation: bootstrap.Installation, pterodactyl_sim: PterodactylState
) -> None:
    product = await game_product(installation)
    pterodactyl_sim.fail_next_install()
    order_id = await place_and_pay(installation, "mc10.example.com", product)
    await drain(installation)

    run = await run_of(installation, order_id)
    assert (run.state, run.phase) == ("failed", "provision")
    assert run.last_error["code"] == "PermanentUpstreamError"
    message = run.last_error["message"]
    assert "could not install server mc10.example.com" in message
    assert "install script failed (status install_failed)" in message
    (server,) = pterodactyl_sim.servers.values()
    assert server["status"] == "install_failed"
    headers = {k.lower(): v for k, v in run.last_upstream["request"]["headers"].items()}
    assert headers["authorization"] == "***"
    recorded = await recorded_text(installation, order_id)
    assert APPLICATION_KEY not in recorded and CLIENT_KEY not in recorded
