"""Switch-port jobs with the in-memory switch, on both databases: the network phase enqueues
one job (once, whatever re-runs), it runs as a run of its own, is retried after a transient
failure, shows on the order and in the API, and terminate takes the VLAN off the trunk only
when no other service on the host still uses it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from fluxbilling import bootstrap, cli, errors
from fluxbilling.network.switchport import PortVlans
from fluxbilling.orders.pipeline import Phase
from fluxbilling.orders.switch_jobs import SwitchJobs
from fluxbilling.testing import InMemorySwitchPorts, phase_context
from fluxbilling.vault import generate_key
from tests.integration.support import active_service, activity, run_action, run_of
from tests.integration.switchsupport import jobs_of, one_host, wire_switch, work_jobs

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

VLAN = 120


@pytest.fixture
def switch_ports() -> InMemorySwitchPorts:
    return InMemorySwitchPorts()


@pytest.fixture
async def ports(
    installation: bootstrap.Installation, switch_ports: InMemorySwitchPorts
) -> list[str]:
    names = await wire_switch(installation, "ge-0-0", VLAN)
    for name in names:
        switch_ports.ports[name] = PortVlans(name)
    return names


async def test_an_active_vps_puts_its_vlan_on_the_host_trunk_in_a_job_of_its_own(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    switch_ports: InMemorySwitchPorts,
    ports: list[str],
) -> None:
    service = await active_service(installation, "sw1.example.net")
    provisioning = await run_of(installation, service.order_id)
    (job,) = await jobs_of(installation, service.order_id)
    assert (job.operation, job.vlan) == ("trunk_add", VLAN)
    assert job.run_id != provisioning.id, "a run of its own, not a step of provisioning"

    await work_jobs(installation)
    (job,) = await jobs_of(installation, service.order_id)
    assert job.state == "completed", job.last_error
    port = switch_ports.ports[job.port]
    assert port.trunks == {VLAN}
    assert job.result["read_back"]["trunks"] == [VLAN]
    events = [a.event for a in await activity(installation, service.order_id)]
    assert "switch_port_job_enqueued" in events and "switch_port_set" in events

    detail = (await api.get(f"/api/v1/orders/{service.order_id}")).json()
    (shown,) = detail["switch_port_jobs"]
    assert (shown["port"], shown["vlan"], shown["state"]) == (job.port, VLAN, "completed")
    listed = (await api.get("/api/v1/switch-port-jobs")).json()["items"]
    assert [j["id"] for j in listed] == [job.id]


async def test_a_transient_switch_failure_is_retried_and_a_missing_port_fails_naming_it(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    switch_ports: InMemorySwitchPorts,
    ports: list[str],
) -> None:
    switch_ports.failures.append(errors.TransientUpstreamError("switch: connection reset"))
    service = await active_service(installation, "sw2.example.net")
    await work_jobs(installation)
    (job,) = await jobs_of(installation, service.order_id)
    assert (job.state, job.attempt) == ("completed", 1), job.last_error
    assert switch_ports.writes == 1

    for name in ports:
        del switch_ports.ports[name]
    other = await active_service(installation, "sw3.example.net")
    await work_jobs(installation)
    (failed,) = await jobs_of(installation, other.order_id)
    assert failed.state == "failed"
    assert repr(failed.port) in failed.last_error["message"]

    switch_ports.ports[failed.port] = PortVlans(failed.port)

    retried = await api.post(f"/api/v1/runs/{failed.run_id}/retry")
    assert retried.status_code == 200, retried.text
    await work_jobs(installation)
    (done,) = await jobs_of(installation, other.order_id)
    assert done.state == "completed", done.last_error


async def test_a_re_run_network_commit_enqueues_no_second_job(
    installation: bootstrap.Installation, ports: list[str]
) -> None:
    service = await active_service(installation, "sw4.example.net")
    run = await run_of(installation, service.order_id)
    jobs = SwitchJobs(installation.db, installation.store, quarantine_vlan=4094)
    ctx = phase_context(service.order_id, Phase.NETWORK, run_id=run.id)
    for _ in range(2):  # an operator re-running the network phase commits it again
        async with installation.db.begin() as conn:
            await jobs.provisioned(conn, ctx, service.id)
    assert len(await jobs_of(installation, service.order_id)) == 1


async def test_terminate_removes_the_vlan_only_when_no_other_service_on_the_host_uses_it(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    switch_ports: InMemorySwitchPorts,
    ports: list[str],
) -> None:
    await one_host(installation)
    first = await active_service(installation, "sw5.example.net")
    second = await active_service(installation, "sw6.example.net")
    await work_jobs(installation)
    assert first.host_id == second.host_id
    port = (await jobs_of(installation, first.order_id))[0].port
    assert switch_ports.ports[port].trunks == {VLAN}

    done = await run_action(installation, api, first.id, "terminate")
    assert done["state"] == "completed", done
    await work_jobs(installation)
    removal = (await jobs_of(installation, first.order_id))[-1]
    assert (removal.operation, removal.state) == ("trunk_remove", "completed")
    assert removal.result["kept_for"] == [second.id]
    assert switch_ports.ports[port].trunks == {VLAN}

    done = await run_action(installation, api, second.id, "terminate")
    assert done["state"] == "completed", done
    await work_jobs(installation)
    removal = (await jobs_of(installation, second.order_id))[-1]
    assert removal.state == "completed", removal.last_error
    assert switch_ports.ports[port].trunks == {4094}, "never an empty (all-VLAN) trunk"


async def test_the_cli_lists_the_jobs_and_the_api_refuses_a_vlan_out_of_range(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    ports: list[str],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = await active_service(installation, "sw7.example.net")
    await work_jobs(installation)
    (job,) = await jobs_of(installation, service.order_id)
    for key, value in {
        "FLUXBILLING_DATABASE_URL": database_url,
        "FLUXBILLING_SECRET_KEY": generate_key(),
        "FLUXBILLING_API_TOKEN": "cli-token",
        "FLUXBILLING_STRIPE_WEBHOOK_SECRET": "whsec_cli",
        "FLUXBILLING_STATE_DIR": str(installation.settings.state_dir),
    }.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    code = await asyncio.to_thread(_cli, "switchports", "list", "--order", str(service.order_id))
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"trunk_add VLAN {VLAN} on {job.port}  completed" in printed

    subnet = (await api.get("/api/v1/subnets")).json()["items"][0]
    refused = await api.patch(f"/api/v1/subnets/{subnet['id']}", json={"vlan_id": 4095})
    assert refused.status_code == 422, refused.text
    assert "vlan_id" in refused.text
    host = (await api.get("/api/v1/hosts")).json()["items"][0]
    assert host["switch_port"] in ports


def _cli(*args: str) -> int:
    try:
        cli.main(list(args))
    except SystemExit as done:
        return int(done.code or 0)
    return 0
