"""The SolusVM 2 simulator speaks the vendor's API shapes and injects faults on demand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators.solusvm2 import SolusVM2State, create_app
from tests.httpsupport import asgi_client

pytestmark = pytest.mark.anyio

BODY = {"name": "vps-1.test", "plan": 1, "location": 1, "os": 11, "user": 5}


@pytest.fixture
def state() -> SolusVM2State:
    return SolusVM2State(token="tok", seed=1, faults=Faults(timeout_delay=0.01))


@pytest.fixture
async def api(state: SolusVM2State) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": "Bearer tok"}
    async with asgi_client(create_app(state), "http://sim/api/v1/", headers=headers) as client:
        yield client


async def create(api: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await api.post("servers", json={**BODY, **changes})
    assert response.status_code == 201
    server: dict[str, Any] = response.json()["data"]
    return server


async def test_bad_token_is_unauthenticated(api: httpx.AsyncClient) -> None:
    response = await api.get("plans", headers={"Authorization": "Bearer nope"})
    assert (response.status_code, response.json()) == (401, {"message": "Unauthenticated."})


async def test_create_is_processing_then_started(api: httpx.AsyncClient) -> None:
    server = await create(api)
    assert (server["status"], server["is_processing"]) == ("processing", True)
    assert server["user"] == {"id": 5}
    statuses = [
        (await api.get(f"servers/{server['id']}")).json()["data"]["status"] for _ in range(3)
    ]
    assert statuses == ["processing", "processing", "started"]


async def test_names_are_unique_and_validation_is_laravel_style(api: httpx.AsyncClient) -> None:
    await create(api)
    taken = await api.post("servers", json=BODY)
    assert taken.status_code == 422
    assert taken.json() == {
        "message": "The name has already been taken.",
        "errors": {"name": ["The name has already been taken."]},
    }
    invalid = await api.post("servers", json={"name": "x", "plan": 99})
    assert invalid.status_code == 422
    assert set(invalid.json()["errors"]) == {"plan", "location", "os"}


async def test_lists_paginate_and_filter(state: SolusVM2State, api: httpx.AsyncClient) -> None:
    for n in range(3):
        await create(api, name=f"vps-{n}.test")
    page = (await api.get("servers", params={"per_page": 2, "page": 2})).json()
    assert [s["name"] for s in page["data"]] == ["vps-2.test"]
    assert page["meta"] | {"path": None} == {
        "current_page": 2,
        "from": 3,
        "last_page": 2,
        "path": None,
        "per_page": 2,
        "to": 3,
        "total": 3,
    }
    assert page["links"]["next"] is None
    assert page["links"]["prev"].startswith("http://sim/api/v1/servers?")
    found = (await api.get("servers", params={"filter[search]": "VPS-1"})).json()["data"]
    assert [s["name"] for s in found] == ["vps-1.test"]
    mine = (await api.get("servers", params={"filter[user_id]": "5"})).json()["meta"]["total"]
    assert mine == 3
    os_images = (await api.get("os_images")).json()["data"]
    assert os_images[0]["versions"][0]["id"] == 11


async def test_tasks_walk_to_done_and_delete_removes(
    state: SolusVM2State, api: httpx.AsyncClient
) -> None:
    server = await create(api)
    suspend = (await api.post(f"servers/{server['id']}/suspend")).json()["data"]
    assert (suspend["action"], suspend["status"]) == ("vm-suspend", "pending")
    walk = [(await api.get(f"tasks/{suspend['id']}")).json()["data"]["status"] for _ in range(4)]
    assert walk == ["queued", "running", "done", "done"]
    assert state.servers[server["id"]]["is_suspended"] is True

    delete = (await api.delete(f"servers/{server['id']}")).json()["data"]
    for _ in range(3):
        await api.get(f"tasks/{delete['id']}")
    assert (await api.get(f"servers/{server['id']}")).status_code == 404
    assert (await api.post(f"servers/{server['id']}/start")).status_code == 404
    assert (await api.get("tasks/999")).status_code == 404
    listed = (await api.get("tasks", params={"filter[action]": "vm-delete"})).json()["data"]
    assert [t["id"] for t in listed] == [delete["id"]]


async def test_task_failure_injection(state: SolusVM2State, api: httpx.AsyncClient) -> None:
    server = await create(api)
    state.fail_next_task("no space left")
    task = (await api.post(f"servers/{server['id']}/reinstall", json={"os": 21})).json()["data"]
    final: dict[str, Any] = {}
    for _ in range(3):
        final = (await api.get(f"tasks/{task['id']}")).json()["data"]
    assert (final["status"], final["output"]) == ("failed", "no space left")
    assert state.servers[server["id"]]["settings"]["os_image"] == {"version_id": 11}
    bad = await api.post(f"servers/{server['id']}/reinstall", json={"os": 5})
    assert bad.status_code == 422


async def test_crash_next_action_starts_the_task_then_answers_503(
    state: SolusVM2State, api: httpx.AsyncClient
) -> None:
    server = await create(api)
    state.faults.crash_next_action()
    lost = await api.post(f"servers/{server['id']}/reinstall", json={"os": 21, "user_data": "x"})
    assert lost.status_code == 503
    (task,) = state.tasks.values()
    assert (task["action"], task["status"], task["_params"]["user_data"]) == (
        "vm-reinstall",
        "pending",
        "x",
    )
    again = await api.post(f"servers/{server['id']}/restart")
    assert again.status_code == 200  # one crash only


async def test_forced_faults_crash_after_create_and_counts(
    state: SolusVM2State, api: httpx.AsyncClient
) -> None:
    state.faults.fail_next(2, 500)
    assert [(await api.get("plans")).status_code for _ in range(3)] == [500, 500, 200]
    state.faults.fail_next(1, "timeout")
    assert (await api.get("plans")).status_code == 200
    state.faults.crash_after_create = True
    assert (await api.post("servers", json=BODY)).status_code == 503
    assert len(state.servers) == 1
    assert state.requests == 5
    assert (await api.get("/nowhere")).json() == {"message": "Not Found"}


def test_random_faults_are_seeded() -> None:
    def faults(seed: int) -> list[int | str | None]:
        state = SolusVM2State(faults=Faults(seed=seed, fail_rate=0.5))
        return [state.faults.next_fault() for _ in range(60)]

    assert faults(3) == faults(3)
    assert {500, 503, "timeout", None} <= set(faults(3))


async def test_sim_state_needs_no_auth(state: SolusVM2State, api: httpx.AsyncClient) -> None:
    await create(api)
    dump = (await api.get("http://sim/_sim/state", headers={"Authorization": ""})).json()
    assert [s["name"] for s in dump["servers"]] == ["vps-1.test"]
    assert dump["requests"] == 1


async def test_exists_next_and_permanent_4xx_use_the_laravel_shape(
    state: SolusVM2State, api: httpx.AsyncClient
) -> None:
    state.faults.exists_next()
    taken = await api.post("servers", json=BODY)
    assert taken.status_code == 422
    assert taken.json() == {
        "message": "The name has already been taken.",
        "errors": {"name": ["The name has already been taken."]},
    }
    assert state.servers == {}  # nothing was created
    state.faults.fail_next(1, 403)
    refused = await api.get("plans")
    assert (refused.status_code, refused.json()) == (
        403,
        {"message": "This action is unauthorized."},
    )
    state.faults.crash_next_create()
    assert (await api.post("servers", json=BODY)).status_code == 503
    assert (await api.post("servers", json={**BODY, "name": "vps-2.test"})).status_code == 201
    assert len(state.servers) == 2
