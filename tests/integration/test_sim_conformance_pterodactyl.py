# mypy: allow-untyped-calls
"""The Pterodactyl simulator, driven by the most used Python client (``py-dactyl``).

Every panel call the built-in Pterodactyl plugin's flows make (find or create the customer's
user, sync its password, find or create the order's server, poll it with its allocations,
suspend, unsuspend, reinstall, resize, delete, console token, usage) and the operator's
calls (list servers, users, nodes, allocations, locations, eggs) go through py-dactyl
against the simulator on a real socket. py-dactyl raises `PterodactylApiError` for 400/422
and `requests.HTTPError` for other failures; their bodies must be the panel's
``{"errors": [...]}``. (py-dactyl is untyped, hence the mypy line above.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pydactyl import PterodactylClient
from pydactyl.exceptions import PterodactylApiError

from fluxbilling_simulators.pterodactyl import PterodactylState, create_app
from tests.integration.conformance import serving

APPLICATION_KEY, CLIENT_KEY = "ptla_conformance", "ptlc_conformance"
CUSTOMER = "fluxbilling-customer-7"
ORDER = "fluxbilling-order-42"


@pytest.fixture
def state() -> PterodactylState:
    return PterodactylState(
        application_key=APPLICATION_KEY, client_key=CLIENT_KEY, polls_until_installed=1, seed=4
    )


@pytest.fixture
def url(state: PterodactylState) -> Iterator[str]:
    with serving(create_app(state)) as base:
        yield base


def panel(url: str, key: str = APPLICATION_KEY) -> PterodactylClient:
    return PterodactylClient(url, key, retries=0)


def errors_of(failure: requests.HTTPError) -> list[dict[str, Any]]:
    """The panel's error list of a failed call (py-dactyl keeps the response)."""
    assert failure.response is not None
    body: dict[str, Any] = failure.response.json()
    return list(body["errors"])


def customer(api: PterodactylClient) -> dict[str, Any]:
    created = api.user.create_user(
        "ada", "ada@example.test", "Ada", "(customer 7)", external_id=CUSTOMER, password="s3cret!"
    )
    attributes: dict[str, Any] = created["attributes"]
    return attributes


def server(api: PterodactylClient, user_id: int) -> dict[str, Any]:
    created = api.servers.create_server(
        "mc.example.test",
        user_id,
        nest_id=1,
        egg_id=1,
        memory_limit=1024,
        swap_limit=0,
        disk_limit=10240,
        location_ids=[1],
        external_id=ORDER,
        description="FluxBilling order 42",
    )
    assert created.status_code == 201
    attributes: dict[str, Any] = created.json()["attributes"]
    return attributes


def test_the_plugins_provisioning_calls(url: str, state: PterodactylState) -> None:
    api = panel(url)
    with pytest.raises(requests.HTTPError) as unknown:
        api.user.get_user_info(external_id=CUSTOMER)
    assert unknown.value.response is not None
    assert unknown.value.response.status_code == 404
    assert errors_of(unknown.value)[0]["code"] == "NotFoundHttpException"

    user = customer(api)
    assert api.user.get_user_info(external_id=CUSTOMER)["attributes"]["id"] == user["id"]
    with pytest.raises(PterodactylApiError) as taken:
        customer(api)
    assert "'rule': 'unique'" in str(taken.value)
    synced = api.user.edit_user(
        user["id"], "ada", "ada@example.test", "Ada", "(customer 7)", CUSTOMER, "n3w-secret!"
    )
    assert synced["attributes"]["updated_at"] >= user["updated_at"]
    assert api.user.get_user_info(user["id"])["attributes"]["email"] == "ada@example.test"

    with pytest.raises(requests.HTTPError):
        api.servers.get_server_info(external_id=ORDER)
    created = server(api, user["id"])
    assert created["status"] == "installing"
    assert api.servers.get_server_info(external_id=ORDER)["id"] == created["id"]
    polled = api.servers.get_server_info(created["id"], includes=["allocations"])
    assert polled["status"] is None  # installed
    allocation = polled["relationships"]["allocations"]["data"][0]["attributes"]
    assert (allocation["ip"], allocation["assigned"]) == ("192.0.2.10", True)
    assert allocation["id"] == polled["allocation"]
    assert state.servers[created["id"]]["user"] == user["id"]


def test_the_plugins_life_cycle_calls(url: str, state: PterodactylState) -> None:
    api = panel(url)
    created = server(api, customer(api)["id"])
    sid = created["id"]
    api.servers.get_server_info(sid)  # the install finishes

    assert api.servers.suspend_server(sid).status_code == 204
    assert api.servers.get_server_info(sid)["suspended"] is True
    assert api.servers.unsuspend_server(sid).status_code == 204
    assert api.servers.get_server_info(sid)["suspended"] is False

    resized = api.servers.update_server_build(
        sid, created["allocation"], memory_limit=2048, swap_limit=0, disk_limit=20480,
        cpu_limit=200, io_limit=500, database_limit=1, allocation_limit=1, backup_limit=2,
    )  # fmt: skip
    assert resized.status_code == 200
    assert api.servers.get_server_info(sid)["limits"]["memory"] == 2048

    assert api.servers.reinstall_server(sid).status_code == 204
    assert api.servers.get_server_info(sid)["status"] == "installing"
    assert api.servers.get_server_info(sid)["status"] is None

    assert api.servers.delete_server(sid).status_code == 204
    with pytest.raises(requests.HTTPError) as gone:
        api.servers.get_server_info(sid)
    assert errors_of(gone.value)[0]["status"] == "404"
    assert sid not in state.servers


def test_the_plugins_client_api_calls(url: str, state: PterodactylState) -> None:
    api = panel(url)
    user = customer(api)
    created = server(api, user["id"])
    identifier = created["identifier"]
    state.client_key_user = user["id"]
    own = panel(url, CLIENT_KEY).client.servers
    with pytest.raises(requests.HTTPError) as installing:
        own.get_websocket(identifier)
    assert errors_of(installing.value)[0]["code"] == "ServerStateConflictException"
    shown = own.get_server(identifier, detail=True)
    assert shown["attributes"]["is_installing"] is True
    assert shown["meta"] == {"is_server_owner": True, "user_permissions": ["*"]}
    assert own.get_server(identifier)["is_installing"] is False  # the next poll: installed

    socket = own.get_websocket(identifier)["data"]
    assert socket["socket"].endswith(f"/api/servers/{created['uuid']}/ws")
    assert socket["token"].count(".") == 2
    assert own.get_server_utilization(identifier)["current_state"] == "running"
    assert own.send_power_action(identifier, "stop").status_code == 204
    assert own.get_server_utilization(identifier)["current_state"] == "stopping"

    listed = own.list_servers().collect()
    assert [s["attributes"]["identifier"] for s in listed] == [identifier]
    attributes = listed[0]["attributes"]
    assert attributes["server_owner"] is True
    assert attributes["invocation"].startswith("java -Xms128M -Xmx1024M")
    allocations = attributes["relationships"]["allocations"]["data"]
    assert [a["attributes"]["is_default"] for a in allocations] == [True]

    with pytest.raises(requests.HTTPError) as wrong_key:
        api.client.servers.get_server_utilization(identifier)
    assert wrong_key.value.response is not None
    assert wrong_key.value.response.status_code == 403


def test_the_operators_lists(url: str, state: PterodactylState) -> None:
    api = panel(url)
    user = customer(api)
    server(api, user["id"])
    servers = api.servers.list_servers()
    assert [s["attributes"]["external_id"] for s in servers.collect()] == [ORDER]
    assert len(servers) == 1
    users = api.user.list_users(email="ada@")
    assert [u["attributes"]["id"] for u in users.collect()] == [user["id"]]
    assert [u["attributes"]["username"] for u in api.user.list_users().collect()] == [
        "admin",
        "ada",
    ]
    nodes = api.nodes.list_nodes().collect()
    assert [n["attributes"]["name"] for n in nodes] == ["ams1-wings-1", "fra1-wings-1"]
    page = api.nodes.list_node_allocations(1, params={"per_page": 2})
    assert (len(page), len(page.data)) == (5, 2)
    assert page.get_next_page_link().endswith("/api/application/nodes/1/allocations?page=2")
    last = api.nodes.list_node_allocations(1, params={"per_page": 2, "page": 3})
    assert [a["attributes"]["port"] for a in last.data] == [25569]
    everything = api.nodes.list_node_allocations(1).collect()
    assert len(everything) == 5
    assert sum(a["attributes"]["assigned"] for a in everything) == 1
    assert api.nodes.get_node_details(1)["attributes"]["fqdn"] == "ams1-wings-1.example.test"
    assert [loc["attributes"]["short"] for loc in api.locations.list_locations()["data"]][:1] == [
        "ams1"
    ]
    eggs = api.nests.get_eggs_in_nest(1)["data"]
    assert [e["attributes"]["id"] for e in eggs] == [1, 2]


def test_unmodelled_routes_answer_the_panels_404_not_plain_text(url: str) -> None:
    api = panel(url)
    created = server(api, customer(api)["id"])
    for call in (
        lambda: api.servers.rebuild_server(created["id"]),
        lambda: api.client.account.get_account(),
        lambda: api.client.servers.backups.list_backups(created["identifier"]),
    ):
        with pytest.raises(requests.HTTPError) as unmodelled:
            call()
        (error,) = errors_of(unmodelled.value)
        assert (error["status"], error["code"]) == ("404", "NotFoundHttpException")
    # A path the simulator serves with other verbs only: Laravel's router says 405.
    with pytest.raises(requests.HTTPError) as other_verbs:
        api.servers.list_server_databases(created["id"])
    (error,) = errors_of(other_verbs.value)
    assert (error["status"], error["code"]) == ("405", "MethodNotAllowedHttpException")
