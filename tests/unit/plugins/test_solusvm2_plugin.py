"""The shipped SolusVM 2 plugin against the SolusVM 2 simulator, resuming Pending cursors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fluxbilling import errors, plugins
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.engine.outcome import Pending
from fluxbilling_simulators.solusvm2 import SolusVM2State, create_app
from tests.unit.plugins.flowsupport import Flows, shipped_document

pytestmark = pytest.mark.anyio

BASE_URL = "http://solusvm.test/api/v1/"
HOSTNAME = "vps-42.example.test"

PLUGIN = plugins.load_plugin(shipped_document("solusvm2"), version=1)
FLOWS = Flows(PLUGIN, connection="solusvm2", base_url=BASE_URL)


@pytest.fixture
def state() -> SolusVM2State:
    return SolusVM2State(token="t0ken-abc", seed=7)


@pytest.fixture
async def client(state: SolusVM2State) -> AsyncIterator[UpstreamHttp]:
    async with FLOWS.client(
        httpx.ASGITransport(app=create_app(state)),
        headers={"Authorization": f"Bearer {state.token}"},
        secrets=[state.token],
    ) as http:
        yield http


def context(verb: str, service: dict[str, Any] | None = None, image: int = 11) -> dict[str, Any]:
    return {
        "order": {"id": 42, "hostname": HOSTNAME},
        "product": {"id": 3},
        "options": {"plan_id": 2, "location_id": 1},
        "customer": {"id": 7},
        "settings": {},
        "service": service or {},
        "correlation_id": f"order-42-{verb}",
        "image": {"external_ref": image},
        "allocation": {"address": "192.0.2.10"},
        "cloud_init": {"user_data": "#cloud-config\nhostname: vps-42\n"},
    }


async def provision(client: UpstreamHttp) -> dict[str, Any]:
    return await FLOWS.service_data(client, context("provision"))


async def test_provision_creates_one_started_server(
    state: SolusVM2State, client: UpstreamHttp
) -> None:
    done, calls = await FLOWS.drive(client, "provision", context("provision"))

    assert calls > 1  # the server was still processing at least once
    [server] = state.servers.values()
    assert server["name"] == HOSTNAME
    assert server["plan"]["id"] == 2
    assert server["location"]["id"] == 1
    assert server["settings"]["os_image"] == {"version_id": 11}
    assert server["ips"]["ipv4"][0]["ip"] == "192.0.2.10"
    assert (server["status"], server["is_processing"]) == ("started", False)
    assert done.output["service_data"] == {
        "external_id": server["id"],
        "uuid": server["uuid"],
        "status": "started",
    }
    assert client.recorder.last is not None
    assert client.recorder.last.request_headers["X-Correlation-Id"] == "order-42-provision"
    assert client.recorder.last.request_headers["authorization"] == "***"


async def test_provision_rerun_adopts_the_existing_server(
    state: SolusVM2State, client: UpstreamHttp
) -> None:
    first = await provision(client)
    second, _ = await FLOWS.drive(client, "provision", context("provision"))

    assert len(state.servers) == 1
    assert second.output["service_data"] == first
    assert "create" not in second.output["outputs"]


async def test_crash_after_create_then_rerun_adopts(
    state: SolusVM2State, client: UpstreamHttp
) -> None:
    state.faults.crash_after_create = True
    with pytest.raises(errors.TransientUpstreamError) as caught:
        await FLOWS.drive(client, "provision", context("provision"))
    assert caught.value.status == 503
    assert len(state.servers) == 1  # the create happened before the 503

    done, _ = await FLOWS.drive(client, "provision", context("provision"))

    [server] = state.servers.values()
    assert done.output["service_data"]["external_id"] == server["id"]
    assert done.output["outputs"]["find"]["id"] == server["id"]


async def test_transient_failure_is_classified(state: SolusVM2State, client: UpstreamHttp) -> None:
    state.faults.fail_next(1, 503)
    with pytest.raises(errors.TransientUpstreamError):
        await FLOWS.drive(client, "provision", context("provision"))
    assert state.servers == {}


async def test_wrong_token_is_permanent(state: SolusVM2State, client: UpstreamHttp) -> None:
    state.token = "rotated-token"
    with pytest.raises(errors.PermanentUpstreamError) as caught:
        await FLOWS.drive(client, "provision", context("provision"))
    assert caught.value.status == 401


async def test_provision_gives_up_after_its_timeout(
    state: SolusVM2State, client: UpstreamHttp
) -> None:
    state.polls_until_started = 10_000
    with pytest.raises(errors.PermanentUpstreamError, match="gave up waiting"):
        await FLOWS.drive(client, "provision", context("provision"), max_calls=500)


async def test_reinstall_changes_the_os_and_passes_user_data(
    state: SolusVM2State, client: UpstreamHttp
) -> None:
    service = await provision(client)

    done, _ = await FLOWS.drive(client, "reinstall", context("reinstall", service, image=21))

    server = state.servers[service["external_id"]]
    assert server["settings"]["os_image"] == {"version_id": 21}
    assert server["user_data"] == "#cloud-config\nhostname: vps-42\n"
    assert done.output["outputs"]["wait"]["data"]["status"] == "done"


async def test_a_reinstall_whose_cursor_was_lost_adopts_the_task_in_flight(
    state: SolusVM2State, client: UpstreamHttp
) -> None:
    service = await provision(client)
    ctx = context("reinstall", service, image=21)
    first = await FLOWS.run(client, "reinstall", ctx)
    assert isinstance(first, Pending)  # the POST was made; pretend the cursor never got stored
    before = {t["id"] for t in state.tasks.values() if t["action"] == "vm-reinstall"}

    done, _ = await FLOWS.drive(client, "reinstall", ctx)

    reinstalls = [t for t in state.tasks.values() if t["action"] == "vm-reinstall"]
    assert {t["id"] for t in reinstalls} == before and len(before) == 1
    assert "reinstall" not in done.output["outputs"]  # no second POST
    assert done.output["outputs"]["wait"]["data"]["status"] == "done"


async def test_failed_reinstall_task_fails_with_its_output(
    state: SolusVM2State, client: UpstreamHttp
) -> None:
    service = await provision(client)
    state.fail_next_task("image checksum mismatch")

    with pytest.raises(errors.PermanentUpstreamError, match="image checksum mismatch"):
        await FLOWS.drive(client, "reinstall", context("reinstall", service, image=21))


async def test_suspend_then_unsuspend(state: SolusVM2State, client: UpstreamHttp) -> None:
    service = await provision(client)
    server_id = service["external_id"]

    await FLOWS.drive(client, "suspend", context("suspend", service))
    assert state.servers[server_id]["is_suspended"] is True

    await FLOWS.drive(client, "unsuspend", context("unsuspend", service))
    assert state.servers[server_id]["is_suspended"] is False


async def test_terminate_deletes_and_is_idempotent(
    state: SolusVM2State, client: UpstreamHttp
) -> None:
    service = await provision(client)

    done, _ = await FLOWS.drive(client, "terminate", context("terminate", service))
    assert state.servers == {}
    assert done.output["service_data"] == {"terminated": True}

    again, _ = await FLOWS.drive(client, "terminate", context("terminate", service))
    assert again.output["outputs"]["gone"] == 404
    assert "delete" not in again.output["outputs"]


def test_the_plugin_declares_exactly_its_flows() -> None:
    assert PLUGIN.warnings == ()
    assert set(PLUGIN.document.flows) == {
        "provision",
        "reinstall",
        "suspend",
        "unsuspend",
        "terminate",
        "resize",
        "console",
        "stats",
    }
    # The panel sets a new root password itself and mails it to the owner: not ours to seal.
    assert "canResetPassword" not in PLUGIN.document.plugin.capabilities
