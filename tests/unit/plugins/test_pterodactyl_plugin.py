"""The shipped Pterodactyl plugin: loads strictly, and its flows against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import jsonschema
import pytest

from fluxbilling import errors, plugins
from fluxbilling.drivers.connection_types import credentials_for
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.engine.outcome import Pending
from fluxbilling.plugins.document import CAPABILITY_VERBS, VERBS
from fluxbilling.seed import PROVIDERS
from fluxbilling_simulators.pterodactyl import PterodactylState, create_app
from tests.unit.plugins.flowsupport import Flows, shipped_document

pytestmark = pytest.mark.anyio

BASE_URL = "http://pterodactyl.test/api/"
PASSWORD = "s3cret-Panel-pass"
SECRETS = {"application_key": "ptla_sim", "client_key": "ptlc_sim"}


PLUGIN = plugins.load_plugin(shipped_document("pterodactyl"), version=1, strict=True)
FLOWS = Flows(PLUGIN, connection="pterodactyl", base_url=BASE_URL)


@pytest.fixture
def state() -> PterodactylState:
    return PterodactylState(seed=3, polls_until_installed=2)


def open_client(
    state: PterodactylState, secrets: dict[str, str]
) -> AbstractAsyncContextManager[UpstreamHttp]:
    return FLOWS.client(
        httpx.ASGITransport(app=create_app(state)),
        secrets=list(secrets.values()),
        credentials=credentials_for("pterodactyl", {}, secrets),
    )


@pytest.fixture
async def client(state: PterodactylState) -> AsyncIterator[UpstreamHttp]:
    async with open_client(state, SECRETS) as http:
        yield http


def context(verb: str, service: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    merged = {**PROVIDERS["pterodactyl"].options, "poll_interval": 5, **options}
    return {
        "order": {"id": 42, "hostname": "mc-42.example.test"},
        "customer": {"id": 7, "email": "ada@example.test", "name": "Ada Lovelace"},
        "product": {"ram_mb": 2048, "vcpus": 2, "disk_gb": 10},
        "options": merged,
        "settings": merged,
        "account": {"username": "fb000016"},
        "credentials": {"password": PASSWORD, "root_password": PASSWORD},
        "service": service or {},
        "connection": {"name": "pterodactyl", "type": "pterodactyl", "base_url": BASE_URL},
        "correlation_id": f"order-42-{verb}",
    }


async def provision(client: UpstreamHttp) -> dict[str, Any]:
    return await FLOWS.service_data(client, context("provision"))


def test_the_plugin_loads_strictly_and_implements_every_verb() -> None:
    assert PLUGIN.slug == "pterodactyl"
    assert PLUGIN.warnings == ()
    header = PLUGIN.document.plugin
    assert (header.service_type, header.connection_type) == ("game", "pterodactyl")
    assert PLUGIN.document.os_install_mode == "none"
    assert set(PLUGIN.document.flows) == VERBS
    assert header.capabilities == dict.fromkeys(CAPABILITY_VERBS, True)


def test_the_seeded_product_options_fit_the_settings_schema() -> None:
    schema = PLUGIN.document.plugin.settings
    assert schema is not None
    jsonschema.validate({**PROVIDERS["pterodactyl"].options, "poll_interval": 1.0}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"egg": 1}, schema)


def test_a_broken_edit_is_refused_when_loading_strictly() -> None:
    broken = shipped_document("pterodactyl")
    broken["flows"].pop("console")
    with pytest.raises(errors.InvalidFlow) as caught:
        plugins.load_plugin(broken, version=2, strict=True)
    problems = caught.value.details["problems"]
    wanted = {
        "path": "plugin.capabilities.canConsole",
        "message": "declared but there is no 'console' flow",
    }
    assert wanted in problems


async def test_provision_creates_the_user_then_the_server_and_waits_for_the_install(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    done, calls = await FLOWS.drive(client, "provision", context("provision"))

    assert calls == 3  # installing on the first two polls
    (server,) = state.servers.values()
    user = state.users[server["user"]]
    assert (user["external_id"], user["username"]) == ("fluxbilling-customer-7", "fb000016")
    assert (user["first_name"], user["last_name"]) == ("Ada Lovelace", "(customer 7)")
    assert server["external_id"] == "fluxbilling-order-42"
    assert server["name"] == "mc-42.example.test"
    assert server["status"] is None
    allocation = state.allocations[server["allocation"]]
    assert done.output["service_data"] == {
        "external_id": server["id"],
        "identifier": server["identifier"],
        "uuid": server["uuid"],
        "node": server["node"],
        "user_id": user["id"],
        "username": "fb000016",
        "allocation_id": allocation["id"],
        "ip": allocation["ip"],
        "port": allocation["port"],
        "address": f"{allocation['ip']}:{allocation['port']}",
        "panel_url": f"{BASE_URL}../server/{server['identifier']}",
    }
    assert client.recorder.last is not None
    headers = {k.lower(): v for k, v in client.recorder.last.request_headers.items()}
    assert headers["authorization"] == "***"


async def test_a_rerun_adopts_the_user_and_the_server(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    first = await provision(client)
    again, _ = await FLOWS.drive(client, "provision", context("provision"))

    assert len(state.servers) == 1 and len(state.users) == 2
    assert again.output["service_data"] == first
    outputs = again.output["outputs"]
    assert "create_user" not in outputs and "create_server" not in outputs
    assert outputs["sync_user"]["id"] == first["user_id"]  # the password is set again


async def test_the_panel_url_setting_wins(state: PterodactylState, client: UpstreamHttp) -> None:
    ctx = context("provision", panel_url="https://panel.example.net/")
    done, _ = await FLOWS.drive(client, "provision", ctx)
    identifier = done.output["service_data"]["identifier"]
    assert done.output["service_data"]["panel_url"] == (
        f"https://panel.example.net/server/{identifier}"
    )


async def test_no_viable_node_is_a_capacity_problem(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    with pytest.raises(errors.CapacityExhausted, match="No nodes satisfying"):
        await FLOWS.drive(client, "provision", context("provision", memory=1_000_000))
    assert state.servers == {}


async def test_no_free_allocation_is_a_capacity_problem(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    with pytest.raises(errors.CapacityExhausted, match="No allocations satisfying"):
        await FLOWS.drive(client, "provision", context("provision", port_range=["30000"]))


async def test_a_refusal_names_the_panels_reason(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    with pytest.raises(errors.PermanentUpstreamError) as caught:
        await FLOWS.drive(client, "provision", context("provision", environment={}))
    assert caught.value.status == 422
    assert "Pterodactyl refused the server: The Server Jar File variable field is required." in (
        caught.value.message
    )
    assert PASSWORD not in caught.value.message


async def test_a_failed_install_fails_with_a_clear_message(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    state.fail_next_install()
    with pytest.raises(errors.PermanentUpstreamError) as caught:
        await FLOWS.drive(client, "provision", context("provision"))
    assert "the egg's install script failed (status install_failed)" in caught.value.message

    # A rerun finds the same failed server and says so again: no second server.
    with pytest.raises(errors.PermanentUpstreamError, match="install_failed"):
        await FLOWS.drive(client, "provision", context("provision"))
    assert len(state.servers) == 1


async def test_wings_down_at_create_is_retried_by_the_node(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    await FLOWS.drive(client, "provision", context("provision"))  # the user exists now
    state.servers.clear()
    for allocation in state.allocations.values():
        allocation["_server"] = None
    state.daemon_offline = True
    first = await FLOWS.run(client, "provision", context("provision"))
    assert isinstance(first, Pending)
    assert first.cursor["node"] == "create_server"
    assert "Could not establish a connection" in first.cursor["node_state"]["last_error"]
    assert state.servers == {}  # the panel removed what Wings could not create

    state.daemon_offline = False
    done, _ = await FLOWS.drive(client, "provision", context("provision"))
    assert done.output["service_data"]["external_id"] in state.servers


async def test_reinstall_reruns_the_install_and_adopts_one_in_flight(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    server = state.servers[service["external_id"]]
    ctx = context("reinstall", service)
    first = await FLOWS.run(client, "reinstall", ctx)
    assert isinstance(first, Pending)  # the POST was made; pretend the cursor got lost
    assert server["status"] == "installing"

    done, _ = await FLOWS.drive(client, "reinstall", ctx)

    assert "reinstall" not in done.output["outputs"]  # no second POST
    assert server["status"] is None
    assert done.output["result"] == {"reinstalled": True, "identifier": server["identifier"]}


async def test_a_failed_reinstall_fails_with_a_clear_message(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    state.fail_next_install()
    with pytest.raises(errors.PermanentUpstreamError, match=r"status reinstall_failed"):
        await FLOWS.drive(client, "reinstall", context("reinstall", service))


async def test_suspend_unsuspend_and_terminate_are_safe_to_repeat(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    server = state.servers[service["external_id"]]
    for _ in range(2):
        done, _ = await FLOWS.drive(client, "suspend", context("suspend", service))
        assert server["status"] == "suspended"
        assert done.output["service_data"] == {"suspended": True}
    for _ in range(2):
        await FLOWS.drive(client, "unsuspend", context("unsuspend", service))
        assert server["status"] is None
    for _ in range(2):
        done, _ = await FLOWS.drive(client, "terminate", context("terminate", service))
        assert state.servers == {}
        assert done.output["service_data"] == {"terminated": True}


async def test_resize_sends_the_whole_build(state: PterodactylState, client: UpstreamHttp) -> None:
    service = await provision(client)
    done, _ = await FLOWS.drive(
        client, "resize", context("resize", service, memory=4096, backups=5)
    )
    server = state.servers[service["external_id"]]
    assert server["limits"]["memory"] == 4096
    assert server["allocation"] == service["allocation_id"]
    assert server["feature_limits"]["backups"] == 5
    assert done.output["service_data"]["limits"]["memory"] == 4096


async def test_reset_password_patches_every_field_of_the_panel_user(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    user = state.users[service["user_id"]]
    user["_password"] = False
    ctx = context("reset_password", service)
    ctx["credentials"] = {"password": "n3w-Pass", "root_password": "n3w-Pass"}

    done, _ = await FLOWS.drive(client, "reset_password", ctx)

    assert user["_password"] is True
    assert (user["email"], user["external_id"]) == ("ada@example.test", "fluxbilling-customer-7")
    assert done.output["service_data"] == {"username": "fb000016"}
    assert client.recorder.last is not None
    assert client.recorder.last.request_body["password"] == "***"


async def test_console_and_stats_use_the_client_key(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    server = state.servers[service["external_id"]]

    console, _ = await FLOWS.drive(client, "console", context("console", service))
    assert console.output["result"]["socket"].endswith(f"/api/servers/{server['uuid']}/ws")
    assert console.output["result"]["token"].count(".") == 2

    stats, _ = await FLOWS.drive(client, "stats", context("stats", service))
    assert stats.output["result"]["state"] == "running"
    assert stats.output["result"]["disk_bytes"] == 10240 * 1024 * 1024 // 10


async def test_console_needs_the_client_credential(state: PterodactylState) -> None:
    async with open_client(state, {"application_key": "ptla_sim"}) as client:
        service = await provision(client)
        with pytest.raises(errors.InvalidSettings, match="no credential 'client'"):
            await FLOWS.drive(client, "console", context("console", service))
