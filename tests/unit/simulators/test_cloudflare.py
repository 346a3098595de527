"""The Cloudflare simulator's HTTP surface beyond what the SDK conformance test drives:
PATCH/PUT rules, the envelope of failures, unknown routes and methods, the control routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fluxbilling_simulators.cloudflare import CloudflareState, create_app
from tests.httpsupport import asgi_client

pytestmark = pytest.mark.anyio


@pytest.fixture
def state() -> CloudflareState:
    sim = CloudflareState(token="tok", seed=2)
    sim.add_zone("example.com")
    return sim


@pytest.fixture
async def api(state: CloudflareState) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": "Bearer tok"}
    async with asgi_client(
        create_app(state), "http://cf.test/client/v4/", headers=headers
    ) as client:
        yield client


def zone(state: CloudflareState) -> str:
    return next(iter(state.zones))


def failure(response: httpx.Response) -> tuple[int, list[int]]:
    body: dict[str, Any] = response.json()
    assert body["success"] is False and body["result"] is None and body["messages"] == []
    return response.status_code, [e["code"] for e in body["errors"]]


async def create(api: httpx.AsyncClient, zid: str, **record: Any) -> dict[str, Any]:
    response = await api.post(f"zones/{zid}/dns_records", json=record)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


async def test_patch_merges_and_put_replaces(
    api: httpx.AsyncClient, state: CloudflareState
) -> None:
    zid = zone(state)
    record = await create(
        api, zid, type="A", name="@", content="192.0.2.1", ttl=300, proxied=True, comment="c"
    )
    assert record["name"] == "example.com" and record["proxiable"] is True
    patched = await api.patch(f"zones/{zid}/dns_records/{record['id']}", json={"ttl": 600})
    assert patched.json()["result"]["proxied"] is True
    assert patched.json()["result"]["comment"] == "c"
    put = await api.put(
        f"zones/{zid}/dns_records/{record['id']}",
        json={"type": "A", "name": "www", "content": "192.0.2.2"},
    )
    result = put.json()["result"]
    assert (result["name"], result["ttl"], result["proxied"], result["comment"]) == (
        "www.example.com",
        1,
        False,
        None,
    )
    incomplete = await api.put(f"zones/{zid}/dns_records/{record['id']}", json={"type": "A"})
    assert failure(incomplete) == (400, [9007])


async def test_an_update_may_not_make_a_duplicate(
    api: httpx.AsyncClient, state: CloudflareState
) -> None:
    zid = zone(state)
    await create(api, zid, type="TXT", name="t", content="one", ttl=1)
    second = await create(api, zid, type="TXT", name="t", content="two", ttl=1)
    clash = await api.patch(f"zones/{zid}/dns_records/{second['id']}", json={"content": "one"})
    assert failure(clash) == (400, [81058])
    same = await api.patch(f"zones/{zid}/dns_records/{second['id']}", json={"content": "two"})
    assert same.status_code == 200  # a record is no duplicate of itself


async def test_bodies_routes_and_methods(api: httpx.AsyncClient, state: CloudflareState) -> None:
    zid = zone(state)
    bad_json = await api.post(f"zones/{zid}/dns_records", content=b"{nope")
    assert failure(bad_json) == (400, [9207])
    assert failure(await api.get("nowhere")) == (404, [7003])
    assert failure(await api.post(f"zones/{zid}")) == (405, [7001])
    assert failure(await api.get(f"zones/{zid}/dns_records/{'a' * 32}")) == (404, [81044])
    assert failure(await api.get("zones", params={"per_page": 2})) == (400, [1004])
    listed = (await api.get(f"zones/{zid}/dns_records")).json()
    assert listed["result"] == [] and listed["result_info"]["total_pages"] == 0


async def test_control_routes_steer_faults_and_show_state(
    api: httpx.AsyncClient, state: CloudflareState
) -> None:
    steer = await api.post("http://cf.test/_sim/faults", json={"fail_next": 1, "status": 429})
    assert steer.json()["forced"] == [429]
    limited = await api.get("zones")
    assert failure(limited) == (429, [971]) and limited.headers["retry-after"] == "1"
    dump = (await api.get("http://cf.test/_sim/state")).json()
    assert [z["name"] for z in dump["zones"]] == ["example.com"]
    assert dump["requests"] == 1


async def test_the_rate_limit_answers_429_with_retry_after_until_the_window_moves(
    state: CloudflareState, api: httpx.AsyncClient
) -> None:
    now = [100.0]
    state.clock = lambda: now[0]
    state.rate_limit, state.rate_window = 2, 60.0
    first = await api.get("zones")
    assert first.headers["ratelimit"] == '"default";r=1;t=60'
    assert first.headers["ratelimit-policy"] == '"burst";q=2;w=60'
    now[0] = 130.0
    assert (await api.get("zones")).status_code == 200
    limited = await api.get("zones")
    assert failure(limited) == (429, [971])
    assert limited.headers["retry-after"] == "30"
    now[0] = 160.0  # the first request has left the window
    assert (await api.get("zones")).status_code == 200
