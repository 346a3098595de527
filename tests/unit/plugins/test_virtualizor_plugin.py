"""The shipped Virtualizor plugin against the Virtualizor simulator, resuming Pending cursors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jsonschema
import pytest

from fluxbilling import errors, plugins
from fluxbilling.drivers.upstream import Credential, Exchange, ExchangeRecorder, UpstreamHttp
from fluxbilling.engine.outcome import Done, Pending
from fluxbilling.plugins.document import VERBS
from fluxbilling.seed import PROVIDERS
from fluxbilling_simulators.virtualizor import VirtualizorState, create_app
from tests.unit.plugins.flowsupport import START, Flows, shipped_document

pytestmark = pytest.mark.anyio

BASE_URL = "http://virtualizor.test/"
HOSTNAME = "vps-42.example.test"
ROOT_PASSWORD = "Root-Pa55word-xyz"
NEW_PASSWORD = "New-Pa55word-abc"


PLUGIN = plugins.load_plugin(shipped_document("virtualizor"), version=1, strict=True)
FLOWS = Flows(PLUGIN, connection="virtualizor", base_url=BASE_URL)


class HookedTransport(httpx.AsyncBaseTransport):
    """Serves the simulator, calling `hook(form)` once, just before the first request with
    `act=<act>` (and `<key>` in its query) reaches it: something else happens at the panel."""

    def __init__(
        self,
        state: VirtualizorState,
        act: str,
        hook: Callable[[dict[str, str]], object],
        key: str | None = None,
    ) -> None:
        self.inner = httpx.ASGITransport(app=create_app(state))
        self.act, self.key, self.hook = act, key, hook
        self.fired = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        wanted = params.get("act") == self.act and (self.key is None or self.key in params)
        if wanted and not self.fired:
            self.fired = True
            self.hook(dict(parse_qsl((await request.aread()).decode())))
        return await self.inner.handle_async_request(request)


class AllExchanges(ExchangeRecorder):
    """Keeps every exchange, not only the last one."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Exchange] = []

    def record(self, exchange: Exchange) -> None:
        self.seen.append(exchange)
        super().record(exchange)


@pytest.fixture
def state() -> VirtualizorState:
    # Three reads per task: each poll of a task sees it running at least once.
    return VirtualizorState(api_key="vz-key-123", api_pass="vz-pass-456", polls_until_ready=3)


def make_client(
    state: VirtualizorState,
    transport: httpx.AsyncBaseTransport,
    recorder: ExchangeRecorder | None = None,
) -> AbstractAsyncContextManager[UpstreamHttp]:
    return FLOWS.client(
        transport,
        secrets=[state.api_key, state.api_pass],
        recorder=recorder,
        credentials={
            None: Credential(params={"adminapikey": state.api_key, "adminapipass": state.api_pass})
        },
    )


@pytest.fixture
async def client(state: VirtualizorState) -> AsyncIterator[UpstreamHttp]:
    async with make_client(state, httpx.ASGITransport(app=create_app(state))) as http:
        yield http


def context(
    verb: str,
    service: dict[str, Any] | None = None,
    *,
    plan_id: int = 1,
    osid: str = "111",
    password: str = ROOT_PASSWORD,
) -> dict[str, Any]:
    options = {"plan_id": plan_id, "addressing": "provider", "poll_interval": 5}
    return {
        "order": {"id": 42, "hostname": HOSTNAME},
        "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
        "product": {"id": 3},
        "options": options,
        "settings": options,
        "image": {"external_ref": osid},
        "service": service or {},
        "credentials": {"root_password": password, "password": password},
        "correlation_id": f"order-42-{verb}",
    }


async def provision(client: UpstreamHttp) -> dict[str, Any]:
    return await FLOWS.service_data(client, context("provision"))


def test_the_plugin_loads_strictly_and_implements_every_verb() -> None:
    assert PLUGIN.warnings == ()
    header = PLUGIN.document.plugin
    assert (PLUGIN.slug, header.service_type, header.connection_type) == (
        "virtualizor",
        "vps",
        "virtualizor",
    )
    assert PLUGIN.document.os_install_mode == "provision"
    assert set(PLUGIN.document.flows) == VERBS
    assert all(header.capabilities.values()) and len(header.capabilities) == 8


def test_the_settings_schema_fits_the_seeded_product() -> None:
    schema = PLUGIN.document.plugin.settings
    assert schema is not None
    validator = jsonschema.Draft202012Validator(schema)
    seeded = {**PROVIDERS["virtualizor"].options, "poll_interval": 1.0}
    assert list(validator.iter_errors(seeded)) == []
    # Our own IPAM address would never reach the VPS: the panel assigns it from its pool.
    assert not validator.is_valid({"plan_id": 1, "addressing": "ipam"})
    assert not validator.is_valid({"plan_id": 1})
    assert not validator.is_valid({"addressing": "provider"})


async def test_provision_creates_one_vps_with_our_root_password(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    done, calls = await FLOWS.drive(client, "provision", context("provision"))

    assert calls > 1  # the build task was still running at least once
    [vps] = state.vps.values()
    assert (vps["hostname"], vps["plid"], vps["osid"]) == (HOSTNAME, 1, 111)
    assert vps["_rootpass"] == ROOT_PASSWORD
    assert vps["email"] == "ada@example.com"
    assert vps["locked"] == 0
    [build] = state.tasks.values()
    assert (build["action"], build["status"]) == ("addvs", 2)
    [ip] = vps["ips"].values()
    assert done.output["service_data"] == {
        "external_id": str(vps["vpsid"]),
        "uuid": vps["uuid"],
        "vps_name": vps["vps_name"],
        "ip": ip,
        "ips": [ip],
        "plan_id": "1",
        "osid": "111",
        "server_id": str(vps["serid"]),
        "panel_url": None,
    }
    last = client.recorder.last
    assert last is not None
    assert "adminapikey=***&adminapipass=***" in last.url
    assert state.api_key not in last.url and state.api_pass not in last.url
    assert last.request_headers["X-Correlation-Id"] == "order-42-provision"


async def test_no_exchange_record_holds_a_credential_or_the_root_password(
    state: VirtualizorState,
) -> None:
    recorder = AllExchanges()
    async with make_client(state, httpx.ASGITransport(app=create_app(state)), recorder) as http:
        # Like the pipeline's client, it knows the root password as a secret of this run.
        http.redactor = http.redactor.with_secrets([ROOT_PASSWORD])
        await FLOWS.drive(http, "provision", context("provision"))

    [addvs] = [e for e in recorder.seen if "act=addvs" in e.url]
    assert addvs.request_body["rootpass"] == addvs.request_body["user_pass"] == "***"
    assert addvs.request_body["hostname"] == HOSTNAME
    dumped = repr([e.to_dict() for e in recorder.seen])
    for secret in (ROOT_PASSWORD, state.api_key, state.api_pass):
        assert secret not in dumped
    assert all("adminapikey=***&adminapipass=***" in e.url for e in recorder.seen)


async def test_a_rerun_adopts_the_vps_without_a_second_addvs(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    first = await provision(client)
    second, _ = await FLOWS.drive(client, "provision", context("provision"))

    assert len(state.vps) == 1
    assert second.output["service_data"] == first
    assert "create" not in second.output["outputs"]


async def test_a_crash_after_addvs_is_adopted_on_the_rerun(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    state.faults.crash_next_create()
    with pytest.raises(errors.TransientUpstreamError) as caught:
        await FLOWS.drive(client, "provision", context("provision"))
    assert caught.value.status == 503
    assert len(state.vps) == 1  # the VPS was created before the 503

    done, _ = await FLOWS.drive(client, "provision", context("provision"))

    [vps] = state.vps.values()
    assert done.output["outputs"]["find"]["vpsid"] == str(vps["vpsid"])
    assert done.output["service_data"]["external_id"] == str(vps["vpsid"])


async def test_a_hostname_taken_between_lookup_and_addvs_is_adopted(
    state: VirtualizorState,
) -> None:
    def another_attempt_creates_it(form: dict[str, str]) -> None:
        state.create_vps(state.prepare_vps(form))

    hooked = HookedTransport(state, "addvs", another_attempt_creates_it)
    async with make_client(state, hooked) as http:
        done, _ = await FLOWS.drive(http, "provision", context("provision"))

    [vps] = state.vps.values()
    outputs = done.output["outputs"]
    assert outputs["find"] is None
    assert outputs["create"]["error"] == {"hostname": "The hostname is already in use"}
    assert outputs["refind"]["vpsid"] == str(vps["vpsid"])
    assert done.output["service_data"]["external_id"] == str(vps["vpsid"])


async def test_an_exists_answer_without_a_visible_vps_fails_permanently(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    state.faults.exists_next()
    with pytest.raises(errors.PermanentUpstreamError, match="already in use, but no VPS"):
        await FLOWS.drive(client, "provision", context("provision"))
    assert state.vps == {}


async def test_a_vps_whose_hostname_only_contains_ours_is_not_adopted(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    spec = state.prepare_vps(
        {"plid": "1", "osid": "111", "hostname": f"old-{HOSTNAME}", "rootpass": "x" * 12}
        | {"uid": "1", "node_select": "1"}
    )
    other = state.create_vps(spec)

    service = await provision(client)

    assert len(state.vps) == 2
    assert service["external_id"] != str(other["vpsid"])
    assert state.vps[int(service["external_id"])]["hostname"] == HOSTNAME


async def test_no_node_with_room_is_a_capacity_problem(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    for node in state.servers.values():
        node["total_ram"] = 512
    with pytest.raises(errors.CapacityExhausted, match="no Virtualizor node has room for plan 1"):
        await FLOWS.drive(client, "provision", context("provision"))
    assert state.vps == {}


async def test_an_exhausted_ip_pool_is_a_capacity_problem(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    state.ip_pool = []
    with pytest.raises(errors.CapacityExhausted, match="IP pool is exhausted"):
        await FLOWS.drive(client, "provision", context("provision"))


async def test_an_unknown_plan_fails_with_the_vendors_message(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    with pytest.raises(errors.PermanentUpstreamError) as caught:
        await FLOWS.drive(client, "provision", context("provision", plan_id=99))
    assert "Virtualizor refused to create vps-42.example.test" in caught.value.message
    assert "Invalid plan" in caught.value.message
    assert state.vps == {}


async def test_wrong_api_keys_fail_permanently_without_showing_them(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    state.api_pass = "rotated-pass"
    with pytest.raises(errors.PermanentUpstreamError) as caught:
        await FLOWS.drive(client, "provision", context("provision"))
    assert "Invalid API key or API password" in caught.value.message
    assert "vz-pass-456" not in caught.value.message


async def test_a_failed_build_task_fails_with_its_status_text(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    state.fail_next_task("Could not create the disk")
    with pytest.raises(errors.PermanentUpstreamError, match="Could not create the disk"):
        await FLOWS.drive(client, "provision", context("provision"))


async def test_suspend_then_unsuspend(state: VirtualizorState, client: UpstreamHttp) -> None:
    service = await provision(client)
    vpsid = int(service["external_id"])

    done, _ = await FLOWS.drive(client, "suspend", context("suspend", service))
    assert state.vps[vpsid]["suspended"] == 1
    assert done.output["service_data"] == {"suspended": True}

    done, _ = await FLOWS.drive(client, "unsuspend", context("unsuspend", service))
    assert state.vps[vpsid]["suspended"] == 0
    assert done.output["service_data"] == {"suspended": False}


async def test_a_locked_vps_is_retried_by_the_node_until_its_task_ends(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    vpsid = int(service["external_id"])
    state.vps[vpsid]["locked"] = 1  # a task started in the panel holds the VPS

    first = await FLOWS.run(client, "suspend", context("suspend", service))
    assert isinstance(first, Pending)  # the node's own retry, not a failure
    assert first.cursor["node"] == "suspend"
    assert first.check_after.total_seconds() == 5
    assert state.vps[vpsid]["suspended"] == 0

    state.vps[vpsid]["locked"] = 0
    done = await FLOWS.run(
        client, "suspend", context("suspend", service), first.cursor, now=START + first.check_after
    )
    assert isinstance(done, Done)
    assert state.vps[vpsid]["suspended"] == 1


async def test_suspending_a_vps_that_is_gone_fails_permanently(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    with pytest.raises(errors.PermanentUpstreamError, match="VPS specified does not exist"):
        await FLOWS.drive(client, "suspend", context("suspend", {"external_id": "77"}))


async def test_reinstall_rebuilds_the_template_with_the_given_password(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    vpsid = int(service["external_id"])

    done, calls = await FLOWS.drive(
        client, "reinstall", context("reinstall", service, osid="101", password=NEW_PASSWORD)
    )

    assert calls > 1
    vps = state.vps[vpsid]
    assert (vps["osid"], vps["os_name"], vps["_rootpass"]) == (101, "Ubuntu 22.04", NEW_PASSWORD)
    assert [t["action"] for t in state.tasks.values()] == ["addvs", "rebuildvs"]
    assert done.output["service_data"] == {"osid": "101"}


async def test_a_failed_rebuild_fails_with_its_status_text(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    state.fail_next_task("Template download failed")
    with pytest.raises(errors.PermanentUpstreamError, match="Template download failed"):
        await FLOWS.drive(client, "reinstall", context("reinstall", service, osid="101"))
    assert state.vps[int(service["external_id"])]["osid"] == 111


async def test_resize_applies_the_new_plan_when_its_task_is_done(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    vpsid = int(service["external_id"])

    done, _ = await FLOWS.drive(client, "resize", context("resize", service, plan_id=2))

    vps = state.vps[vpsid]
    assert (vps["plid"], vps["ram"], vps["space"], vps["cores"]) == (2, 4096, 80, 2)
    assert done.output["service_data"] == {"plan_id": "2"}


async def test_resize_to_an_unknown_plan_fails_with_the_vendors_message(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    with pytest.raises(errors.PermanentUpstreamError, match="Invalid plan"):
        await FLOWS.drive(client, "resize", context("resize", service, plan_id=99))


async def test_reset_password_changes_the_root_password_when_its_task_ends(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    vpsid = int(service["external_id"])

    done, _ = await FLOWS.drive(
        client, "reset_password", context("reset_password", service, password=NEW_PASSWORD)
    )

    assert state.vps[vpsid]["_rootpass"] == NEW_PASSWORD
    assert done.output["result"] == {
        "vpsid": str(vpsid),
        "message": "The password will be changed when the VPS is booted again",
    }
    assert NEW_PASSWORD not in repr(done.output)


async def test_console_answers_the_vnc_endpoint(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    vps = state.vps[int(service["external_id"])]

    done, _ = await FLOWS.drive(client, "console", context("console", service))

    node = state.servers[vps["serid"]]
    assert done.output["result"] == {
        "protocol": "vnc",
        "host": node["ip"],
        "port": str(vps["vncport"]),
        "password": vps["vnc_passwd"],
    }
    last = client.recorder.last
    assert last is not None and last.response_body["info"]["password"] == "***"


async def test_stats_answers_current_usage(state: VirtualizorState, client: UpstreamHttp) -> None:
    service = await provision(client)

    done, _ = await FLOWS.drive(client, "stats", context("stats", service))

    assert done.output["result"] == {
        "vpsid": service["external_id"],
        "running": 1,
        "cpu_percent": "3",
        "ram_used_mb": "256",
        "ram_total_mb": "1024",
        "disk_used_gb": "2",
        "disk_total_gb": "20",
        "bandwidth_used": "0",
        "bandwidth_limit": "1000",
    }


async def test_terminate_deletes_and_is_safe_to_rerun(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    service = await provision(client)

    done, _ = await FLOWS.drive(client, "terminate", context("terminate", service))
    assert state.vps == {} and state.ip_owner == {}
    assert done.output["service_data"] == {"terminated": True}
    assert done.output["outputs"]["deleted"]

    again, _ = await FLOWS.drive(client, "terminate", context("terminate", service))
    assert again.output["outputs"]["probe"]["vs"] == {}
    assert not {"in_flight", "delete", "deleted"} & set(again.output["outputs"])
    assert again.output["service_data"] == {"terminated": True}


async def test_terminate_adopts_a_delete_already_in_flight(
    state: VirtualizorState, client: UpstreamHttp
) -> None:
    service = await provision(client)
    vpsid = int(service["external_id"])
    state.start_task(state.vps[vpsid], "deletevs")  # an earlier attempt's delete, cursor lost

    done, _ = await FLOWS.drive(client, "terminate", context("terminate", service))

    assert state.vps == {}
    assert "delete" not in done.output["outputs"]
    assert [t["action"] for t in state.tasks.values()].count("deletevs") == 1


async def test_a_vps_gone_between_probe_and_delete_counts_as_deleted(
    state: VirtualizorState,
) -> None:
    async with make_client(state, httpx.ASGITransport(app=create_app(state))) as http:
        service = await provision(http)
    vpsid = int(service["external_id"])

    def deleted_in_the_panel(form: dict[str, str]) -> None:
        state.vps.pop(vpsid)
        state.ip_owner.clear()

    hooked = HookedTransport(state, "vs", deleted_in_the_panel, key="delete")
    async with make_client(state, hooked) as http:
        done, _ = await FLOWS.drive(http, "terminate", context("terminate", service))

    outputs = done.output["outputs"]
    assert outputs["delete"]["error"] == ["The VPS specified does not exist"]
    assert "delete_task" not in outputs or outputs["delete_task"] is None
    assert done.output["service_data"] == {"terminated": True}


async def test_poll_checks_may_name_ids_learnt_earlier_in_the_flow() -> None:
    """A poll's check paths and values are templates (answers keyed by a task id)."""
    answers = iter(["1", "2", "-1"])

    def vendor(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"tasks": {"17": {"status": next(answers)}}})

    document = {
        "format": "fluxbilling-visual-plugin",
        "plugin": {
            "slug": "keyed",
            "type": "infrastructure-provider",
            "serviceType": "vps",
            "connectionType": "http",
            "capabilities": {"canProvision": True},
        },
        "flows": {
            "provision": {
                "nodes": [
                    {"id": "start", "type": "trigger"},
                    {"id": "task", "type": "map", "value": {"actid": "{{options.actid}}"}},
                    {
                        "id": "wait",
                        "type": "poll",
                        "path": "tasks",
                        "until": [{"path": "tasks.{{task.actid}}.status", "equals": "2"}],
                        "fail_when": [
                            {"path": "tasks.{{task.actid}}.status", "in": ["{{options.failed}}"]}
                        ],
                        "interval": 1,
                    },
                ]
            }
        },
    }
    plugin = plugins.load_plugin(document, version=1)
    ctx = {"options": {"actid": 17, "failed": "-1"}, "correlation_id": "c-1"}
    http = UpstreamHttp("panel", "https://panel.test/", transport=httpx.MockTransport(vendor))
    try:
        first = await plugins.run_flow(plugin, "provision", ctx, lambda _: http, None, now=START)
        assert isinstance(first, Pending)
        done = await plugins.run_flow(
            plugin, "provision", ctx, lambda _: http, first.cursor, now=START
        )
        assert isinstance(done, Done)
        assert done.output["result"] == {"tasks": {"17": {"status": "2"}}}
        with pytest.raises(errors.PermanentUpstreamError, match="failed"):
            await plugins.run_flow(plugin, "provision", ctx, lambda _: http, None, now=START)
    finally:
        await http.aclose()
