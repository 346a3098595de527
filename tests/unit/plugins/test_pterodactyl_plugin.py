"""The shipped Pterodactyl plugin: loads strictly, and its flows against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import jsonschema
import pytest

from fluxbilling import errors, plugins
from fluxbilling.drivers.connection_types import credentials_for
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.engine.outcome import Done, Pending
from fluxbilling.plugins.document import CAPABILITY_VERBS, VERBS
from fluxbilling.plugins_builtin import builtin_plugin_paths
from fluxbilling.seed import PROVIDERS
from fluxbilling.simulators.pterodactyl import PterodactylState, create_app

pytestmark = pytest.mark.anyio

BASE_URL = "http://pterodactyl.test/api/"
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
PASSWORD = "s3cret-Panel-pass"
SECRETS = {"application_key": "ptla_sim", "client_key": "ptlc_sim"}


def document() -> dict[str, Any]:
    path = next(p for p in builtin_plugin_paths() if p.name == "pterodactyl.json")
    return plugins.load_plugin_file(path)


PLUGIN = plugins.load_plugin(document(), version=1, strict=True)


@pytest.fixture
def state() -> PterodactylState:
    return PterodactylState(seed=3, polls_until_installed=2)


async def open_client(state: PterodactylState, secrets: dict[str, str]) -> UpstreamHttp:
    return UpstreamHttp(
        "pterodactyl",
        BASE_URL,
        secrets=list(secrets.values()),
        transport=httpx.ASGITransport(app=create_app(state)),
        credentials=credentials_for("pterodactyl", {}, secrets),
    )


@pytest.fixture
async def client(state: PterodactylState) -> AsyncIterator[UpstreamHttp]:
    http = await open_client(state, SECRETS)
    yield http
    await http.aclose()


def connections(client: UpstreamHttp) -> Callable[[str], UpstreamHttp]:
    def get(name: str) -> UpstreamHttp:
        assert name == "pterodactyl"
        return client

    return get


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


async def drive(
    client: UpstreamHttp, verb: str, ctx: dict[str, Any], *, max_calls: int = 50
) -> tuple[Done, int]:
    """Run a flow to completion the way the engine would: resume each Pending cursor."""
    cursor = None
    now = START
    for calls in range(1, max_calls + 1):
        outcome = await plugins.run_flow(PLUGIN, verb, ctx, connections(client), cursor, now=now)
        if isinstance(outcome, Done):
            return outcome, calls
        assert isinstance(outcome, Pending)
        cursor = outcome.cursor
        now += outcome.check_after
    raise AssertionError(f"{verb} did not finish in {max_calls} calls")


async def provision(client: UpstreamHttp) -> dict[str, Any]:
    done, _ = await drive(client, "provision", context("provision"))
    service_data: dict[str, Any] = done.output["service_data"]
    return service_data


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
    broken = document()
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
    done, calls = await drive(client, "provision", context("provision"))

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
    again, _ = await drive(client, "provision", context("provision"))

    assert len(state.servers) == 1 and len(state.users) == 2
    assert again.output["service_data"] == first
    outputs = again.output["outputs"]
    assert "create_user" not in outputs and "create_server" not in outputs
    assert outputs["sync_user"]["id"] == first["user_id"]  # the password is set again


async def test_the_panel_url_setting_wins(state: PterodactylState, client: UpstreamHttp) -> None:
    ctx = context("provision", panel_url="https://panel.example.net/")
    done, _ = await drive(client, "provision", ctx)
    identifier = done.output["service_data"]["identifier"]
    assert done.output["service_data"]["panel_url"] == (
        f"https://panel.example.net/server/{identifier}"
    )


async def test_no_viable_node_is_a_capacity_problem(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    with pytest.raises(errors.CapacityExhausted, match="No nodes satisfying"):
        await drive(client, "provision", context("provision", memory=1_000_000))
    assert state.servers == {}


async def test_no_free_allocation_is_a_capacity_problem(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    with pytest.raises(errors.CapacityExhausted, match="No allocations satisfying"):
        await drive(client, "provision", context("provision", port_range=["30000"]))


async def test_a_refusal_names_the_panels_reason(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    with pytest.raises(errors.PermanentUpstreamError) as caught:
        await drive(client, "provision", context("provision", environment={}))
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
        await drive(client, "provision", context("provision"))
    assert "the egg's install script failed (status install_failed)" in caught.value.message

    # A rerun finds the same failed server and says so again: no second server.
    with pytest.raises(errors.PermanentUpstreamError, match="install_failed"):
        await drive(client, "provision", context("provision"))
    assert len(state.servers) == 1


async def test_wings_down_at_create_is_retried_by_the_node(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    await drive(client, "provision", context("provision"))  # the user exists now
    state.servers.clear()
    for allocation in state.allocations.values():
        allocation["_server"] = None
    state.daemon_offline = True
    first = await plugins.run_flow(
        PLUGIN, "provision", context("provision"), connections(client), None, now=START
    )
    assert isinstance(first, Pending)
    assert first.cursor["node"] == "create_server"
    assert "Could not establish a connection" in first.cursor["node_state"]["last_error"]
    assert state.servers == {}  # the panel removed what Wings could not create

    state.daemon_offline = False
    done, _ = await drive(client, "provision", context("provision"))
    assert done.output["service_data"]["external_id"] in state.servers


async def test_reinstall_reruns_the_install_and_adopts_one_in_flight(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    server = state.servers[service["external_id"]]
    ctx = context("reinstall", service)
    first = await plugins.run_flow(PLUGIN, "reinstall", ctx, connections(client), None, now=START)
    assert isinstance(first, Pending)  # the POST was made; pretend the cursor got lost
    assert server["status"] == "installing"

    done, _ = await drive(client, "reinstall", ctx)

    assert "reinstall" not in done.output["outputs"]  # no second POST
    assert server["status"] is None
    assert done.output["result"] == {"reinstalled": True, "identifier": server["identifier"]}


async def test_a_failed_reinstall_fails_with_a_clear_message(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    state.fail_next_install()
    with pytest.raises(errors.PermanentUpstreamError, match=r"status reinstall_failed"):
        await drive(client, "reinstall", context("reinstall", service))


async def test_suspend_unsuspend_and_terminate_are_safe_to_repeat(
    state: PterodactylState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    server = state.servers[service["external_id"]]
    for _ in range(2):
        done, _ = await drive(client, "suspend", context("suspend", service))
        assert server["status"] == "suspended"
        assert done.output["service_data"] == {"suspended": True}
    for _ in range(2):
        await drive(client, "unsuspend", context("unsuspend", service))
        assert server["status"] is None
    for _ in range(2):
        done, _ = await drive(client, "terminate", context("terminate", service))
        assert state.servers == {}
        assert done.output["service_data"] == {"terminated": True}


async def test_resize_sends_the_whole_build(state: PterodactylState, client: UpstreamHttp) -> None:
    service = await provision(client)
    done, _ = await drive(client, "resize", context("resize", service, memory=4096, backups=5))
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

    done, _ = await drive(client, "reset_password", ctx)

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

    console, _ = await drive(client, "console", context("console", service))
    assert console.output["result"]["socket"].endswith(f"/api/servers/{server['uuid']}/ws")
    assert console.output["result"]["token"].count(".") == 2

    stats, _ = await drive(client, "stats", context("stats", service))
    assert stats.output["result"]["state"] == "running"
    assert stats.output["result"]["disk_bytes"] == 10240 * 1024 * 1024 // 10


async def test_console_needs_the_client_credential(state: PterodactylState) -> None:
    client = await open_client(state, {"application_key": "ptla_sim"})
    try:
        service = await provision(client)
        with pytest.raises(errors.InvalidSettings, match="no credential 'client'"):
            await drive(client, "console", context("console", service))
    finally:
        await client.aclose()
