"""The services screen's API: the list (filters, cursor paging) and one service with the
verbs its plugin offers and its state allows, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fluxbilling import bootstrap
from fluxbilling_simulators.solusvm2 import SolusVM2State
from tests.integration.support import (
    active_service,
    assert_refused_filter,
    every_page,
    finish,
    get_json,
    place_and_pay,
    place_order,
    queue_action,
    register_solusvm2_without_suspend,
    run_action,
    service_of,
    settle_retrying,
)

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def _allowed(service: dict[str, Any]) -> list[str]:
    return [v["verb"] for v in service["verbs"] if v["allowed"]]


async def test_services_are_listed_newest_first_and_filtered(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    await place_order(installation, "unpaid.example.com")  # no service: not listed
    first = await active_service(installation, "alpha.example.com")
    second = await active_service(installation, "beta.example.com")
    await run_action(installation, api, second.id, "suspend")
    sim.fail_next_task("disk image corrupt on node")
    broken_order = await place_and_pay(installation, "broken.example.com")
    assert (await finish(installation, broken_order)).state == "failed"
    broken = await service_of(installation, broken_order)

    listed = await get_json(api, "/api/v1/services")
    assert [s["id"] for s in listed["items"]] == [broken.id, second.id, first.id]
    assert listed["next_cursor"] is None
    row = listed["items"][1]
    assert (row["order_id"], row["hostname"], row["state"]) == (
        second.order_id,
        "beta.example.com",
        "suspended",
    )
    assert row["product"] == "vps-2g"
    assert row["plugin"] == f"solusvm2@{second.plugin_version}"
    assert row["host"].startswith("kvm-ams1-")
    assert listed["items"][0]["state"] != "active"

    async def ids(**params: Any) -> list[int]:
        return [s["id"] for s in (await get_json(api, "/api/v1/services", **params))["items"]]

    assert await ids(state="suspended") == [second.id]
    assert await ids(state="active") == [first.id]
    assert await ids(state="terminated") == []
    assert await ids(product="vps-2g") == [broken.id, second.id, first.id]
    assert await ids(product="nope") == []
    assert await ids(plugin="solusvm2", state="active") == [first.id]
    assert await ids(plugin="virtualizor") == []
    assert await ids(host=row["host"], q="BETA") == [second.id]
    assert await ids(host="no-such-host") == []
    assert await ids(q="Alpha") == [first.id]
    assert await ids(q=str(first.id)) == [first.id]
    assert await ids(q="%") == []  # taken literally
    assert listed["items"][0]["hostname"] == "broken.example.com"


async def test_q_matches_the_order_id_too(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    # Unpaid orders take order ids without services, so the two ids part ways.
    for n in range(3):
        await place_order(installation, f"skip{n}.example.com")
    service = await active_service(installation, "gamma.example.com")
    assert service.id != service.order_id
    listed = await get_json(api, "/api/v1/services", q=str(service.order_id))
    assert [s["id"] for s in listed["items"]] == [service.id]


async def test_services_are_paginated_by_cursor(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    made = [(await active_service(installation, f"page{i}.example.com")).id for i in range(3)]
    assert await every_page(api, "/api/v1/services", limit=2) == sorted(made, reverse=True)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"state": "bogus"}, "state"),
        ({"q": "a\nb"}, "q"),
        ({"q": ""}, "q"),
        ({"q": "x" * 254}, "q"),
        ({"host": "x" * 201}, "host"),
        ({"plugin": "a\rb"}, "plugin"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"cursor": 0}, "cursor"),
        ({"cursor": 2**63}, "cursor"),
    ],
)
async def test_bad_list_filters_are_named(
    api: httpx.AsyncClient, params: dict[str, Any], needle: str
) -> None:
    await assert_refused_filter(api, "/api/v1/services", params, needle)


async def test_a_service_shows_its_details_and_allowed_verbs_without_secrets(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    service = await active_service(installation, "detail.example.com")
    found = await get_json(api, f"/api/v1/services/{service.id}")
    assert (found["id"], found["order_id"], found["hostname"]) == (
        service.id,
        service.order_id,
        "detail.example.com",
    )
    assert (found["state"], found["order_state"], found["product"]) == (
        "active",
        "active",
        "vps-2g",
    )
    assert found["plugin"] == f"solusvm2@{service.plugin_version}"
    assert found["host"].startswith("kvm-ams1-") and found["host_id"] == service.host_id
    assert found["external_id"] == service.external_id
    assert found["has_credentials"] is True
    [address] = found["addresses"]
    assert address["address"] and "/" in address["subnet"]
    assert "canSuspend" in found["capabilities"]
    assert found["running_action_id"] is None and found["actions"] == []
    # solusvm2 declares every capability but canResetPassword.
    assert [v["verb"] for v in found["verbs"] if not v["offered"]] == ["reset_password"]
    assert _allowed(found) == ["suspend", "terminate", "reinstall", "resize", "console", "stats"]
    reset = next(v for v in found["verbs"] if v["verb"] == "reset_password")
    assert reset["refusal"] == f"plugin {found['plugin']} does not offer reset_password"
    unsuspend = next(v for v in found["verbs"] if v["verb"] == "unsuspend")
    assert "it is active" in unsuspend["refusal"]
    text = str(found)
    assert "root_password" not in text and "sealed" not in text.replace("has_credentials", "")

    # While an action is queued nothing else may start, and the action is listed.
    queued = await queue_action(api, service.id, "suspend", reason="overdue")
    busy = await get_json(api, f"/api/v1/services/{service.id}")
    assert busy["running_action_id"] == queued["id"]
    assert _allowed(busy) == []
    assert [a["verb"] for a in busy["actions"]] == ["suspend"]
    assert busy["actions"][0]["reason"] == "overdue"
    by_verb = {v["verb"]: v["refusal"] for v in busy["verbs"]}
    assert all("already has action" in by_verb[verb] for verb in _allowed(found))
    assert "it is active" in by_verb["unsuspend"]  # the state is checked first, as on a request
    assert (await api.post(f"/api/v1/services/{service.id}/actions/stats")).status_code == 409

    assert (await settle_retrying(installation, api, queued))["state"] == "completed"
    suspended = await get_json(api, f"/api/v1/services/{service.id}")
    assert suspended["state"] == "suspended" and suspended["running_action_id"] is None
    assert _allowed(suspended) == ["unsuspend", "terminate", "stats"]
    # What the detail allows is what the API accepts.
    refused = next(v for v in suspended["verbs"] if v["verb"] == "console")
    answer = await api.post(f"/api/v1/services/{service.id}/actions/console")
    assert answer.status_code == 409
    assert answer.json()["error"]["message"] == refused["refusal"]


async def test_verbs_follow_the_plugins_capabilities(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    service = await active_service(installation, "caps.example.com")
    await register_solusvm2_without_suspend(installation)
    found = await get_json(api, f"/api/v1/services/{service.id}")
    suspend = next(v for v in found["verbs"] if v["verb"] == "suspend")
    assert (suspend["offered"], suspend["allowed"]) == (False, False)
    assert "does not offer suspend" in suspend["refusal"]
    assert "canSuspend" not in found["capabilities"]
    assert "stats" in _allowed(found)


async def test_a_service_not_provisioned_yet_allows_nothing(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    sim.fail_next_task("disk image corrupt on node")
    order_id = await place_and_pay(installation, "halfway.example.com")
    assert (await finish(installation, order_id)).state == "failed"
    service = await service_of(installation, order_id)
    found = await get_json(api, f"/api/v1/services/{service.id}")
    assert found["order_state"] == "failed"
    assert _allowed(found) == []


async def test_unknown_and_bad_service_ids(api: httpx.AsyncClient) -> None:
    missing = await api.get("/api/v1/services/999999")
    assert missing.status_code == 404
    assert "service 999999 does not exist" in missing.json()["error"]["message"]
    for bad in ("0", "abc", str(2**63)):
        response = await api.get(f"/api/v1/services/{bad}")
        assert response.status_code == 422, bad
        assert "service_id" in response.json()["error"]["message"]
