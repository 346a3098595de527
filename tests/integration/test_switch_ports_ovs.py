"""Switch-port jobs against the real Open vSwitch (`scripts/peers/ovs`: ovsdb-server and
ovs-vswitchd on the dummy datapath), on both databases, through OVSDB over TCP: an order
going active puts its pool's VLAN on its host's trunk port, terminate takes it off again
(leaving the quarantine VLAN, never an empty all-VLAN trunk); what is checked is what Open
vSwitch's own `ovs-vsctl` reads back, not our adapter."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fluxbilling import bootstrap
from tests.integration import ovspeer
from tests.integration.support import active_service, run_action
from tests.integration.switchsupport import jobs_of, one_host, wire_switch, work_jobs

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def switch() -> ovspeer.OpenVSwitch:
    return ovspeer.running()


@pytest.fixture
def settings_overrides(switch: ovspeer.OpenVSwitch) -> dict[str, Any]:
    return {"switch_backend": "ovs", "switch_ovsdb": switch.tcp}


@pytest.fixture
async def ports(
    installation: bootstrap.Installation, switch: ovspeer.OpenVSwitch
) -> AsyncIterator[list[str]]:
    """Every host on a dummy port of the peer's bridge of this test's own; removed afterwards."""
    names = await wire_switch(installation, f"sp{secrets.token_hex(3)}", VLAN)
    for name in names:
        switch.add_port(name)
    yield names
    for name in names:
        switch.vsctl("--if-exists", "del-port", switch.bridge, name)


VLAN = 230


async def test_the_real_switch_trunks_the_vlan_while_the_service_lives(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    switch: ovspeer.OpenVSwitch,
    ports: list[str],
) -> None:
    await one_host(installation)
    service = await active_service(installation, "ovs1.example.net")
    await work_jobs(installation)
    (job,) = await jobs_of(installation, service.order_id)
    assert job.state == "completed", job.last_error
    assert switch.vsctl("get", "Port", job.port, "trunks") == f"[{VLAN}]"
    assert job.result["read_back"]["trunks"] == [VLAN]

    again = await active_service(installation, "ovs2.example.net")
    await work_jobs(installation)
    (second,) = await jobs_of(installation, again.order_id)
    assert second.port == job.port and second.result["changed"] is False

    for done in (service, again):
        finished = await run_action(installation, api, done.id, "terminate")
        assert finished["state"] == "completed", finished
        await work_jobs(installation)
    assert switch.vsctl("get", "Port", job.port, "trunks") == "[4094]"
    listed = (await api.get("/api/v1/switch-port-jobs", params={"state": "completed"})).json()
    assert {j["operation"] for j in listed["items"]} == {"trunk_add", "trunk_remove"}


async def test_a_port_missing_on_the_real_switch_fails_the_job_naming_it(
    installation: bootstrap.Installation, switch: ovspeer.OpenVSwitch, ports: list[str]
) -> None:
    for name in ports:
        switch.vsctl("del-port", switch.bridge, name)
    service = await active_service(installation, "ovs3.example.net")
    await work_jobs(installation)
    (job,) = await jobs_of(installation, service.order_id)
    assert job.state == "failed", "a missing port is permanent: no retries"
    assert f"no port named {job.port!r}" in job.last_error["message"]
