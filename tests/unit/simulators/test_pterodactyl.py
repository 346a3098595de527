"""The Pterodactyl simulator speaks the panel's API shapes, rules and faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fluxbilling_simulators import pterodactyl
from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators.pterodactyl import PterodactylState, create_app
from tests.httpsupport import asgi_client

pytestmark = pytest.mark.anyio

USER = {"email": "ada@example.test", "username": "Ada", "first_name": "Ada", "last_name": "L"}
ENV = {"SERVER_JARFILE": "server.jar", "BUILD_NUMBER": "42"}
LIMITS = {"memory": 1024, "swap": 0, "disk": 10240, "io": 500, "cpu": 100}
DEPLOY = {"locations": [1], "dedicated_ip": False, "port_range": []}


def server_body(user: int, **changes: Any) -> dict[str, Any]:
    body = {
        "name": "mc-1",
        "user": user,
        "egg": 1,
        "docker_image": "ghcr.io/pterodactyl/yolks:java_17",
        "startup": "java -jar {{SERVER_JARFILE}}",
        "environment": ENV,
        "limits": LIMITS,
        "feature_limits": {"databases": 0, "backups": 1},
        "deploy": DEPLOY,
        "external_id": "order-1",
    }
    return {k: v for k, v in {**body, **changes}.items() if v is not None}  # None drops a key


def envelope(status: int, code: str, detail: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "status": str(status), "detail": detail}]}


def failures(response: httpx.Response) -> list[tuple[str, str, str]]:
    assert response.status_code == 422
    return [
        (e["meta"]["source_field"], e["meta"]["rule"], e["detail"])
        for e in response.json()["errors"]
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> PterodactylState:
    return PterodactylState(seed=1, clock=clock, faults=Faults(timeout_delay=0.01, seed=1))


@pytest.fixture
async def api(state: PterodactylState) -> AsyncIterator[httpx.AsyncClient]:
    url = "http://panel.test/api/application/"
    headers = {"Authorization": "Bearer ptla_sim", "Accept": "application/json"}
    async with asgi_client(create_app(state), url, headers=headers) as client:
        yield client


@pytest.fixture
async def client(state: PterodactylState) -> AsyncIterator[httpx.AsyncClient]:
    url = "http://panel.test/api/client/servers/"
    headers = {"Authorization": "Bearer ptlc_sim"}
    async with asgi_client(create_app(state), url, headers=headers) as http:
        yield http


async def new_user(api: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await api.post("users", json={**USER, "external_id": "cust-1", **changes})
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()["attributes"]
    return user


async def new_server(api: httpx.AsyncClient, user: int = 1, **changes: Any) -> dict[str, Any]:
    response = await api.post("servers", json=server_body(user, **changes))
    assert response.status_code == 201, response.text
    server: dict[str, Any] = response.json()["attributes"]
    return server


async def installed(api: httpx.AsyncClient, server_id: int) -> dict[str, Any]:
    """GET the server until the default `polls_until_installed` (2) has passed."""
    shown = [(await api.get(f"servers/{server_id}")).json()["attributes"] for _ in range(3)]
    server: dict[str, Any] = shown[-1]
    return server


async def test_unknown_or_missing_keys_are_401(api: httpx.AsyncClient) -> None:
    for headers in ({"Authorization": "Bearer ptla_wrong"}, {"Authorization": ""}):
        response = await api.get("users", headers=headers)
        assert response.status_code == 401
        assert response.json() == envelope(401, "AuthenticationException", "Unauthenticated.")


async def test_each_key_kind_is_refused_where_the_panel_refuses_it(
    state: PterodactylState, api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    server = await new_server(api)
    await installed(api, server["id"])
    wrong = await client.get(f"{server['identifier']}/resources", headers=api.headers)
    detail = (
        "You are attempting to use an application API key on an endpoint that requires a "
        "client API key."
    )
    assert wrong.json() == envelope(403, "AccessDeniedHttpException", detail)
    assert (await api.get("users", headers=client.headers)).status_code == 200  # admin's key
    state.client_key_user = (await new_user(api))["id"]
    refused = await api.get("users", headers=client.headers)
    detail = "This account does not have permission to access the API."
    assert refused.json() == envelope(403, "AccessDeniedHttpException", detail)


async def test_application_key_acl_is_enforced(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    await new_server(api)
    state.key_permissions |= {"servers": 1, "users": 0}
    denied = await api.post("servers", json=server_body(1, external_id="order-2"))
    assert denied.json() == envelope(
        403, "AccessDeniedHttpException", "This action is unauthorized."
    )
    shown = (await api.get("servers/1", params={"include": "user,node"})).json()["attributes"]
    assert shown["relationships"]["user"] == {"object": "null_resource", "attributes": None}
    assert shown["relationships"]["node"]["attributes"]["name"] == "ams1-wings-1"
    assert (await api.get("users")).status_code == 403


async def test_users_are_created_and_found_by_external_id(api: httpx.AsyncClient) -> None:
    response = await api.post("users", json={**USER, "external_id": "cust-1", "password": "x"})
    assert response.status_code == 201
    body = response.json()
    assert body["meta"] == {"resource": "http://panel.test/api/application/users/2"}
    user = body["attributes"]
    assert list(user) == [
        "id", "external_id", "uuid", "username", "email", "first_name", "last_name",
        "language", "root_admin", "2fa", "created_at", "updated_at",
    ]  # fmt: skip
    assert (user["id"], user["username"], user["root_admin"]) == (2, "ada", False)
    assert user["created_at"] == "2023-11-14T22:13:20+00:00"
    found = (await api.get("users/external/CUST-1")).json()
    assert (found["object"], found["attributes"]["id"]) == ("user", 2)
    missing = await api.get("users/external/nobody")
    detail = "The requested resource could not be found on the server."
    assert missing.json() == envelope(404, "NotFoundHttpException", detail)


async def test_user_rules_unique_and_required(api: httpx.AsyncClient) -> None:
    await new_user(api)
    again = await api.post(
        "users", json={**USER, "external_id": "cust-1", "email": "ADA@example.test"}
    )
    assert failures(again) == [
        ("external_id", "unique", "The Third Party Identifier has already been taken."),
        ("email", "unique", "The email has already been taken."),
        ("username", "unique", "The username has already been taken."),
    ]
    bad = await api.post("users", json={"email": "nope", "username": "-ab", "first_name": " "})
    assert [(field, rule) for field, rule, _ in failures(bad)] == [
        ("email", "email"),
        ("username", "p_username"),
        ("first_name", "required"),
        ("last_name", "required"),
    ]


async def test_user_update_needs_every_field_and_ignores_itself(api: httpx.AsyncClient) -> None:
    user = await new_user(api)
    only_password = await api.patch(f"users/{user['id']}", json={"password": "n3w"})
    assert [rule for _, rule, _ in failures(only_password)] == ["required"] * 4
    updated = await api.patch(f"users/{user['id']}", json={**USER, "last_name": "Lovelace"})
    assert updated.status_code == 200
    assert (
        updated.json()["attributes"]["last_name"],
        updated.json()["attributes"]["external_id"],
    ) == (
        "Lovelace",
        "cust-1",
    )


async def test_deployed_server_installs_after_polls(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    server = await new_server(api, start_on_completion=True)
    assert (server["status"], server["container"]["installed"], server["node"]) == (
        "installing",
        0,
        1,
    )
    assert server["identifier"] == server["uuid"][:8]
    assert server["container"]["environment"] == {
        "MINECRAFT_VERSION": "",
        "SERVER_JARFILE": "server.jar",
        "BUILD_NUMBER": "42",
        "STARTUP": "java -jar {{SERVER_JARFILE}}",
        "P_SERVER_LOCATION": "ams1",
        "P_SERVER_UUID": server["uuid"],
        "P_SERVER_ALLOCATION_LIMIT": 0,
    }
    statuses = [(await api.get(f"servers/{server['id']}")).json()["attributes"] for _ in range(3)]
    assert [(s["status"], s["container"]["installed"]) for s in statuses] == [
        ("installing", 0),
        ("installing", 0),
        (None, 1),
    ]
    assert state.allocations[server["allocation"]]["_server"] == server["id"]
    assert state.servers[server["id"]]["_power"] == "running"


async def test_server_external_id_is_unique_and_looked_up(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    server = await new_server(api)
    duplicate = await api.post("servers", json=server_body(1, name="other"))
    assert failures(duplicate) == [
        ("external_id", "unique", "The external id has already been taken.")
    ]
    assert len(state.servers) == 1
    found = (await api.get("servers/external/order-1", params={"include": "allocations"})).json()
    assert found["attributes"]["id"] == server["id"]
    allocations = found["attributes"]["relationships"]["allocations"]
    assert [a["attributes"]["assigned"] for a in allocations["data"]] == [True]
    assert (await api.get("servers/external/order-9")).status_code == 404


async def test_allocation_default_must_be_unassigned(api: httpx.AsyncClient) -> None:
    first = await new_server(api)
    body = server_body(
        1, external_id="order-2", deploy=None, allocation={"default": first["allocation"]}
    )
    taken = await api.post("servers", json=body)
    assert failures(taken) == [
        ("allocation.default", "exists", "The selected allocation.default is invalid.")
    ]
    free = await api.post(
        "servers", json={**body, "allocation": {"default": 10, "additional": [9]}}
    )
    assert (free.json()["attributes"]["node"], free.json()["attributes"]["allocation"]) == (2, 10)


async def test_environment_must_satisfy_every_egg_variable(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "servers", json=server_body(1, environment={"SERVER_JARFILE": "x.zip"})
    )
    assert failures(response) == [
        ("environment.SERVER_JARFILE", "regex", "The Server Jar File variable format is invalid."),
        ("environment.BUILD_NUMBER", "required", "The Build Number variable field is required."),
    ]
    sizes = await api.post(
        "servers", json=server_body(1, name="n" * 192, limits={**LIMITS, "io": 5})
    )
    assert failures(sizes) == [
        ("name", "max", "The name may not be greater than 191 characters."),
        ("limits.io", "between", "The limits.io must be between 10 and 1000."),
    ]
    missing = await api.post("servers", json={"name": "x", "limits": {"memory": "lots"}})
    assert ("limits.memory", "numeric", "The limits.memory must be a number.") in failures(missing)
    assert (
        "allocation.default",
        "required",
        "The allocation.default field is required.",
    ) in failures(missing)


async def test_deploy_picks_a_node_with_room_or_answers_no_viable(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    huge = await api.post("servers", json=server_body(1, limits={**LIMITS, "memory": 16385}))
    detail = (
        "No nodes satisfying the requirements specified for automatic deployment could be found."
    )
    assert huge.json() == envelope(400, "NoViableNodeException", detail)
    ports = await api.post(
        "servers", json=server_body(1, deploy={**DEPLOY, "port_range": ["30000-30010"]})
    )
    detail = "No allocations satisfying the requirements for automatic deployment were found."
    assert ports.json() == envelope(400, "NoViableAllocationException", detail)
    await new_server(api, limits={**LIMITS, "memory": 8192})
    dedicated = {"locations": [1, 2], "dedicated_ip": True, "port_range": ["25565", "25566-25569"]}
    second = await new_server(api, external_id="order-2", deploy=dedicated)
    assert second["node"] == 2  # node 1's only IP already hosts a server
    full = await api.post("servers", json=server_body(1, external_id="order-3", deploy=dedicated))
    assert full.json()["errors"][0]["code"] == "NoViableAllocationException"
    wide = await api.post(
        "servers",
        json=server_body(
            1, external_id="order-9", deploy={**DEPLOY, "port_range": ["25565-27000"]}
        ),
    )
    detail = "Adding more than 1000 ports in a single range at once is not supported."
    assert wide.json() == envelope(400, "DisplayException", detail)
    state.nodes[2]["public"] = False  # automatic deployment skips non-public nodes
    hidden = {**DEPLOY, "locations": [2]}
    private = await api.post("servers", json=server_body(1, external_id="order-3", deploy=hidden))
    assert private.json()["errors"][0]["code"] == "NoViableNodeException"
    assert len(state.servers) == 2


async def test_failed_install_and_reinstall(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    state.fail_next_install()
    server = await new_server(api)
    failed = await installed(api, server["id"])
    assert (failed["status"], failed["container"]["installed"]) == ("install_failed", 0)
    assert (await api.post(f"servers/{server['id']}/reinstall")).status_code == 204
    assert state.servers[server["id"]]["status"] == "installing"
    assert (await installed(api, server["id"]))["status"] is None
    state.fail_next_install()
    await api.post(f"servers/{server['id']}/reinstall")
    assert (await installed(api, server["id"]))["status"] == "reinstall_failed"


async def test_suspend_and_unsuspend_are_idempotent(api: httpx.AsyncClient) -> None:
    server = await new_server(api)
    assert (await api.post(f"servers/{server['id']}/suspend")).status_code == 204
    shown = await installed(api, server["id"])  # an install ending while suspended keeps it
    assert (shown["status"], shown["suspended"]) == ("suspended", True)
    codes = [
        (await api.post(f"servers/{server['id']}/{a}")).status_code
        for a in ("suspend", "unsuspend", "unsuspend")
    ]
    assert codes == [204, 204, 204]
    assert (await api.get(f"servers/{server['id']}")).json()["attributes"]["status"] is None
    assert (await api.post(f"servers/{server['id']}/explode")).status_code == 404


async def test_build_resizes_and_moves_allocations(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    server = await new_server(api)
    primary = server["allocation"]
    partial = await api.patch(f"servers/{server['id']}/build", json={"limits": {"memory": 2048}})
    assert {(f, r) for f, r, _ in failures(partial)} >= {
        ("allocation", "required"),
        ("feature_limits", "required"),
    }
    body = {
        "allocation": primary,
        "limits": {**LIMITS, "memory": 4096},
        "feature_limits": {"databases": 2, "backups": None},
    }
    resized = await api.patch(f"servers/{server['id']}/build", json=body)
    attributes = resized.json()["attributes"]
    assert (attributes["limits"]["memory"], attributes["feature_limits"]) == (
        4096,
        {"databases": 2, "allocations": None, "backups": 0},
    )
    no_fallback = await api.patch(
        f"servers/{server['id']}/build", json={**body, "remove_allocations": [primary]}
    )
    detail = (
        "You are attempting to delete the default allocation for this server but there is no "
        "fallback allocation to use."
    )
    assert no_fallback.json() == envelope(400, "DisplayException", detail)
    other = next(a for a in state.allocations.values() if a["_node"] == 1 and a["_server"] is None)
    foreign = await api.patch(
        f"servers/{server['id']}/build", json={**body, "allocation": other["id"]}
    )
    detail = "The requested default allocation is not currently assigned to this server."
    assert foreign.json() == envelope(400, "DisplayException", detail)
    spare = next(a for a in state.allocations.values() if a["_node"] == 1 and a["_server"] is None)
    moved = await api.patch(
        f"servers/{server['id']}/build",
        json={**body, "add_allocations": [spare["id"]], "remove_allocations": [primary]},
    )
    assert moved.json()["attributes"]["allocation"] == spare["id"]
    assert (state.allocations[primary]["_server"], spare["_server"]) == (None, server["id"])


async def test_details_and_startup_updates(api: httpx.AsyncClient) -> None:
    server = await new_server(api)
    url = f"servers/{server['id']}"
    details = await api.patch(f"{url}/details", json={"name": "renamed", "user": 1})
    assert (details.json()["attributes"]["name"], details.json()["attributes"]["external_id"]) == (
        "renamed",
        None,
    )
    bad = await api.patch(f"{url}/details", json={"name": "x", "user": 99})
    assert failures(bad) == [("user", "exists", "The selected User ID is invalid.")]
    startup = {
        "startup": "./ts3server",
        "environment": {"TS_VERSION": "3.13"},
        "egg": 3,
        "image": "ghcr.io/parkervcp/yolks:debian",
        "skip_scripts": False,
    }
    refused = await api.patch(f"{url}/startup", json=startup)
    assert failures(refused) == [
        (
            "environment.FILE_TRANSFER",
            "required",
            "The File Transfer Port variable field is required.",
        ),
        ("environment.QUERY_PORT", "required", "The Query Port variable field is required."),
    ]
    changed = (
        await api.patch(
            f"{url}/startup",
            json={
                **startup,
                "environment": {
                    "TS_VERSION": "3.13",
                    "FILE_TRANSFER": 30033,
                    "QUERY_PORT": "10011",
                },
            },
        )
    ).json()
    assert (changed["attributes"]["egg"], changed["attributes"]["nest"]) == (3, 2)
    assert changed["attributes"]["container"]["environment"]["FILE_TRANSFER"] == "30033"


async def test_delete_needs_wings_unless_forced(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    server = await new_server(api)
    state.daemon_offline = True
    refused = await api.delete(f"servers/{server['id']}")
    detail = (
        "Could not establish a connection to the machine running this server. Please try again."
    )
    assert refused.json() == envelope(504, "DaemonConnectionException", detail)
    assert (await api.post(f"servers/{server['id']}/suspend")).status_code == 504
    assert state.servers[server["id"]]["status"] == "installing"
    assert (await api.delete(f"servers/{server['id']}/force")).status_code == 204
    assert server["id"] not in state.servers
    assert state.allocations[server["allocation"]]["_server"] is None
    state.daemon_offline = False
    other = await new_server(api, external_id="order-2")
    assert (await api.delete(f"servers/{other['id']}")).status_code == 204
    assert (await api.get(f"servers/{other['id']}")).status_code == 404


async def test_create_while_wings_is_down_leaves_nothing(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    state.daemon_offline = True
    response = await api.post("servers", json=server_body(1))
    assert response.status_code == 504
    assert state.servers == {}
    assert all(a["_server"] is None for a in state.allocations.values())


async def test_user_delete_is_refused_while_owning_servers(api: httpx.AsyncClient) -> None:
    user = await new_user(api)
    server = await new_server(api, user=user["id"])
    refused = await api.delete(f"users/{user['id']}")
    detail = (
        "Cannot delete a user with active servers attached to their account. "
        "Please delete their servers before continuing."
    )
    assert refused.json() == envelope(400, "DisplayException", detail)
    await api.delete(f"servers/{server['id']}")
    assert (await api.delete(f"users/{user['id']}")).status_code == 204
    assert (await api.get(f"users/{user['id']}")).status_code == 404


def jwt_claims(token: str, key: str) -> dict[str, Any]:
    header, claims, signature = token.split(".")
    expected = hmac.new(key.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "==") == expected
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(claims + "=="))
    return decoded


async def test_client_websocket_resources_and_power(
    state: PterodactylState, api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    server = await new_server(api)
    identifier = server["identifier"]
    busy = await client.get(f"{identifier}/resources")
    detail = "This server has not yet completed its installation process, please try again later."
    assert busy.json() == envelope(409, "ServerStateConflictException", detail)
    socket = (await client.get(f"{server['uuid']}/websocket")).json()[
        "data"
    ]  # admins may, while installing
    assert (
        socket["socket"] == f"wss://ams1-wings-1.example.test:8080/api/servers/{server['uuid']}/ws"
    )
    claims = jwt_claims(socket["token"], state.nodes[1]["_token"])
    assert (claims["server_uuid"], claims["user_id"], claims["exp"] - claims["iat"]) == (
        server["uuid"],
        1,
        600,
    )
    assert claims["permissions"][0] == "*"
    await installed(api, server["id"])
    stats = (await client.get(f"{identifier}/resources")).json()
    assert stats["object"] == "stats"
    assert (
        stats["attributes"]["current_state"],
        stats["attributes"]["resources"]["memory_bytes"],
    ) == ("offline", 0)
    bad = await client.post(f"{identifier}/power", json={"signal": "explode"})
    assert failures(bad) == [("signal", "in", "The selected signal is invalid.")]
    assert (await client.post(f"{identifier}/power", json={"signal": "start"})).status_code == 204
    states = [(await client.get(f"{identifier}/resources")).json()["attributes"] for _ in range(2)]
    assert [s["current_state"] for s in states] == ["starting", "running"]
    assert states[1]["resources"]["memory_bytes"] == 1024 * 1024 * 1024 // 4
    await client.post(f"{identifier}/power", json={"signal": "kill"})
    assert (await client.get(f"{identifier}/resources")).json()["attributes"][
        "current_state"
    ] == "offline"
    await api.post(f"servers/{server['id']}/suspend")
    suspended = await client.get(f"{identifier}/websocket")
    assert (suspended.status_code, suspended.json()["errors"][0]["code"]) == (
        409,
        "ServerStateConflictException",
    )
    assert (await client.get("nosuchid/resources")).status_code == 404


async def test_client_key_only_sees_servers_its_user_may(
    state: PterodactylState, api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    owner = await new_user(api)
    stranger = await new_user(api, email="bob@example.test", username="bob", external_id="cust-2")
    server = await new_server(api, user=owner["id"])
    await installed(api, server["id"])
    state.client_key_user = stranger["id"]
    hidden = await client.get(f"{server['identifier']}/resources")
    assert hidden.json() == envelope(
        404, "NotFoundHttpException", "The requested resource does not exist on this server."
    )
    state.client_key_user = owner["id"]
    assert (await client.get(f"{server['identifier']}/resources")).status_code == 200
    state.daemon_offline = True
    assert (
        await client.post(f"{server['identifier']}/power", json={"signal": "start"})
    ).status_code == 504


async def test_forced_failures_answer_in_the_panel_envelope(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    state.faults.fail_next(2, 503)
    answers = [await api.get("nests") for _ in range(3)]
    assert [r.status_code for r in answers] == [503, 503, 200]
    assert answers[0].json() == envelope(503, "HttpException", "Service Unavailable")
    state.faults.fail_next(1, 404)
    state.faults.fail_next(1, 429)
    state.faults.fail_next(1, 500)
    state.faults.fail_next(1, 504)
    assert (await api.get("nests")).json()["errors"][0]["code"] == "NotFoundHttpException"
    throttled = await api.get("nests")
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "60")
    unexpected = await api.get("nests")
    assert unexpected.json()["errors"][0]["detail"].startswith("An unexpected error")
    wings = await api.get("nests")
    assert (wings.status_code, wings.json()["errors"][0]["code"]) == (
        504,
        "DaemonConnectionException",
    )
    assert state.requests == 7


async def test_timeout_fault_still_processes_the_request(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    state.faults.fail_next(1, "timeout")
    started = time.monotonic()
    response = await api.post("servers", json=server_body(1))
    assert time.monotonic() - started >= 0.01
    assert response.status_code == 201
    assert [s["external_id"] for s in state.servers.values()] == ["order-1"]


async def test_latency_delays_every_request(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    state.faults.latency = 0.05
    started = time.monotonic()
    assert (await api.get("locations")).status_code == 200
    assert time.monotonic() - started >= 0.05


async def test_exists_next_answers_duplicate_without_creating(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    state.faults.exists_next(2)
    user = await api.post("users", json={**USER, "external_id": "cust-1"})
    assert failures(user) == [
        ("external_id", "unique", "The Third Party Identifier has already been taken.")
    ]
    server = await api.post("servers", json=server_body(1))
    assert failures(server) == [
        ("external_id", "unique", "The external id has already been taken.")
    ]
    assert (list(state.users), state.servers) == ([1], {})
    assert (await api.post("users", json={**USER, "external_id": "cust-1"})).status_code == 201


async def test_crash_after_create_creates_then_answers_503(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    state.faults.crash_next_create(1)
    crashed = await api.post("servers", json=server_body(1))
    assert crashed.json() == envelope(503, "HttpException", "Service Unavailable")
    assert (await api.get("servers/external/order-1")).json()["attributes"][
        "status"
    ] == "installing"
    state.faults.crash_after_create = True
    assert (await api.post("users", json=USER)).status_code == 503
    assert (
        await api.post("users", json={**USER, "email": "x@example.test", "username": "xena"})
    ).status_code == 503
    assert [u["username"] for u in state.users.values()] == ["admin", "ada", "xena"]


async def test_lists_paginate_and_filter_like_spatie(api: httpx.AsyncClient) -> None:
    for n in range(3):
        await new_user(
            api, email=f"u{n}@example.test", username=f"user{n}", external_id=f"cust-{n}0"
        )
    page = (await api.get("users", params={"per_page": 2, "page": 2, "sort": "-id"})).json()
    assert [u["attributes"]["username"] for u in page["data"]] == ["user0", "admin"]
    assert page["meta"]["pagination"] == {
        "total": 4,
        "count": 2,
        "per_page": 2,
        "current_page": 2,
        "total_pages": 2,
        "links": {"previous": "http://panel.test/api/application/users?page=1"},
    }
    first = (await api.get("users", params={"per_page": 3})).json()["meta"]["pagination"]
    assert first["links"] == {"next": "http://panel.test/api/application/users?page=2"}
    partial = (await api.get("users", params={"filter[external_id]": "cust-1"})).json()["data"]
    assert [u["attributes"]["external_id"] for u in partial] == ["cust-10"]  # substring match
    either = (await api.get("users", params={"filter[email]": "U0@,u2@"})).json()["data"]
    assert [u["attributes"]["username"] for u in either] == ["user0", "user2"]
    unknown = await api.get("users", params={"filter[name]": "x"})
    detail = "Requested filter(s) `name` are not allowed. Allowed filter(s) are `email, uuid, username, external_id`."
    assert unknown.json() == envelope(400, "InvalidFilterQuery", detail)


async def test_allocations_are_listed_created_and_deleted(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    server = await new_server(api)
    free = (await api.get("nodes/1/allocations", params={"filter[server_id]": "0"})).json()
    assert free["meta"]["pagination"]["total"] == 4
    assert all(not a["attributes"]["assigned"] for a in free["data"])
    created = await api.post(
        "nodes/1/allocations", json={"ip": "192.0.2.11", "ports": ["25600-25602", "25565"]}
    )
    assert created.status_code == 204
    listed = (await api.get("nodes/1/allocations", params={"filter[ip]": "192.0.2.11"})).json()[
        "data"
    ]
    assert [a["attributes"]["port"] for a in listed] == [25600, 25601, 25602, 25565]
    low = await api.post("nodes/1/allocations", json={"ip": "192.0.2.11", "ports": ["80"]})
    detail = "Ports in an allocation must be greater than 1024 and less than or equal to 65535."
    assert low.json() == envelope(400, "PortOutOfRangeException", detail)
    numbers = await api.post("nodes/1/allocations", json={"ip": "192.0.2.11", "ports": [25610]})
    assert failures(numbers) == [("ports.0", "string", "The ports.0 must be a string.")]
    wide = await api.post("nodes/2/allocations", json={"ip": "198.51.100.0/24", "ports": ["25565"]})
    detail = "CIDR notation only allows masks between /25 and /32."
    assert wide.json() == envelope(400, "CidrOutOfRangeException", detail)
    block = await api.post(
        "nodes/2/allocations", json={"ip": "198.51.100.32/31", "ports": ["26000"]}
    )
    assert block.status_code == 204
    assert [(a["ip"], a["port"]) for a in list(state.allocations.values())[-2:]] == [
        ("198.51.100.32", 26000),
        ("198.51.100.33", 26000),
    ]
    used = await api.delete(f"nodes/1/allocations/{server['allocation']}")
    assert used.json()["errors"][0]["code"] == "ServerUsingAllocationException"
    assert (await api.delete(f"nodes/2/allocations/{server['allocation']}")).status_code == 404
    assert (
        await api.delete(f"nodes/1/allocations/{listed[0]['attributes']['id']}")
    ).status_code == 204


async def test_nodes_locations_nests_and_eggs(
    state: PterodactylState, api: httpx.AsyncClient
) -> None:
    await new_server(api)
    node = (await api.get("nodes/1", params={"include": "location"})).json()["attributes"]
    assert (
        node["allocated_resources"],
        node["relationships"]["location"]["attributes"]["short"],
    ) == (
        {"memory": 1024, "disk": 10240},
        "ams1",
    )
    deployable = (await api.get("nodes/deployable", params={"memory": 8000, "disk": 100})).json()[
        "data"
    ]
    assert [n["attributes"]["id"] for n in deployable] == [1, 2]
    roomy = await api.get(
        "nodes/deployable", params={"memory": 9000, "disk": 100, "location_ids[]": "2"}
    )
    assert roomy.json()["errors"][0]["code"] == "NoViableNodeException"
    eggs = (await api.get("nests/1/eggs", params={"include": "variables"})).json()
    assert "meta" not in eggs
    variables = eggs["data"][0]["attributes"]["relationships"]["variables"]["data"]
    assert [
        (v["attributes"]["env_variable"], v["attributes"]["rules"].split("|")[0]) for v in variables
    ] == [
        ("MINECRAFT_VERSION", "nullable"),
        ("SERVER_JARFILE", "required"),
        ("BUILD_NUMBER", "required"),
    ]
    assert (await api.get("nests/2/eggs/1")).status_code == 404
    location = await api.post("locations", json={"short": "lon1", "long": "London"})
    assert (location.status_code, location.json()["attributes"]["id"]) == (201, 3)
    assert (await api.delete("locations/1")).json()["errors"][0][
        "code"
    ] == "HasActiveNodesException"
    assert (await api.delete("locations/3")).status_code == 204
    config = (await api.get("nodes/2/configuration")).json()
    assert (config["api"]["port"], config["system"]["sftp"]["bind_port"]) == (8080, 2022)


async def test_rate_limit_answers_429_until_the_window_passes(
    state: PterodactylState, api: httpx.AsyncClient, clock: Clock
) -> None:
    state.rate_limit_application = 2
    first = await api.get("locations")
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == (
        "2",
        "1",
    )
    await api.get("locations")
    clock.now += 15
    limited = await api.get("locations")
    assert limited.json() == envelope(429, "ThrottleRequestsException", "Too Many Attempts.")
    assert limited.headers["Retry-After"] == "45"
    clock.now += 45
    assert (await api.get("locations")).status_code == 200


async def test_malformed_json_and_unknown_routes(api: httpx.AsyncClient) -> None:
    malformed = await api.post(
        "users", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert (malformed.status_code, malformed.json()["errors"][0]["code"]) == (
        400,
        "BadRequestHttpException",
    )
    wrong_verb = await api.post("users/1")
    assert wrong_verb.json()["errors"][0]["code"] == "MethodNotAllowedHttpException"
    nowhere = await api.get("nowhere")
    assert nowhere.json() == envelope(
        404, "NotFoundHttpException", "The route api/application/nowhere could not be found."
    )


async def test_sim_state_needs_no_auth(state: PterodactylState, api: httpx.AsyncClient) -> None:
    await new_server(api)
    dump = (await api.get("http://panel.test/_sim/state", headers={"Authorization": ""})).json()
    assert [s["external_id"] for s in dump["servers"]] == ["order-1"]
    assert (dump["requests"], len(dump["allocations"]), dump["users"][0]["username"]) == (
        1,
        10,
        "admin",
    )


def test_main_serves_the_configured_state(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    pterodactyl.main(["--port", "9999", "--application-key", "ptla_x", "--rate-limit", "5"])
    assert (served["port"], served["host"]) == (9999, "127.0.0.1")


async def test_client_server_list_by_type(
    state: PterodactylState, api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    own = await new_server(api, external_id="mine")
    other = await new_server(api, (await new_user(api))["id"], external_id="theirs")
    listed = {}
    for kind in ("", "owner", "admin", "admin-all"):
        page = (await client.get("http://panel.test/api/client/", params={"type": kind})).json()
        listed[kind] = [s["attributes"]["identifier"] for s in page["data"]]
    assert listed == {
        "": [own["identifier"]],
        "owner": [own["identifier"]],
        "admin": [other["identifier"]],
        "admin-all": [own["identifier"], other["identifier"]],
    }
    state.users[1]["root_admin"] = False  # the key's user is no longer an admin
    page = (await client.get("http://panel.test/api/client/", params={"type": "admin"})).json()
    assert [s["attributes"]["identifier"] for s in page["data"]] == [own["identifier"]]
    denied = await api.get("http://panel.test/api/client/")
    assert (denied.status_code, denied.json()["errors"][0]["code"]) == (
        403,
        "AccessDeniedHttpException",
    )


async def test_client_server_view_masks_hidden_variables(
    state: PterodactylState, api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    server = await new_server(api)
    for variable in state.eggs[server["egg"]]["_variables"]:
        variable["user_viewable"] = False
    shown = (await client.get(server["identifier"])).json()
    assert "[hidden]" in shown["attributes"]["invocation"]
    assert shown["attributes"]["relationships"]["variables"]["data"] == []
    assert shown["meta"]["user_permissions"][0] == "*"
