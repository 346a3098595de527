"""The runs list filtered by kind or action verb, phase and order (each action run naming its
verb and service), and the audit log filtered by actor; a bad filter value is a 422 naming it.
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fluxbilling import bootstrap
from fluxbilling.accounts import Role
from fluxbilling.api.runs import RunKind
from fluxbilling.drivers.driver import VERBS, Verb
from fluxbilling_simulators.solusvm2 import SolusVM2State
from tests.integration.accounts import CHEAP_HASHING, make_user
from tests.integration.support import active_service, drain, place_and_pay, queue_action

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return CHEAP_HASHING


async def _runs(api: httpx.AsyncClient, **query: str | int) -> list[dict[str, Any]]:
    answer = await api.get("/api/v1/runs", params=query)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _problem_paths(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 422, answer.text
    return [p["path"] for p in answer.json()["error"]["details"]["problems"]]


def test_every_action_verb_is_a_kind_to_filter_by() -> None:
    actions = {v for v in VERBS if v != Verb.PROVISION}
    jobs = {"switch_port", "dcim_sync"}  # runs of their own kinds, beside provisioning
    assert {str(k) for k in RunKind} == actions | {"provision", "action"} | jobs


async def test_runs_are_filtered_by_kind_verb_phase_and_order(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    service = await active_service(installation, "filters1.example.com")
    action = await queue_action(api, service.id, "suspend", reason="unpaid")
    await drain(installation)
    sim.fail_next_task("disk image corrupt on node")
    failing = await place_and_pay(installation, "filters2.example.com")
    await drain(installation)

    (suspend,) = await _runs(api, kind="action")
    assert (suspend["verb"], suspend["service_id"], suspend["phase"]) == (
        "suspend",
        service.id,
        "action",
    )
    assert suspend["order_id"] == service.order_id
    assert [r["id"] for r in await _runs(api, kind="suspend")] == [suspend["id"]]
    assert await _runs(api, kind="terminate") == []
    assert [r["id"] for r in await _runs(api, phase="action")] == [suspend["id"]]
    assert action["id"] > 0

    provisioning = await _runs(api, kind="provision")
    assert sorted(r["order_id"] for r in provisioning) == sorted([service.order_id, failing])
    assert {(r["verb"], r["service_id"]) for r in provisioning} == {(None, None)}

    (failed,) = await _runs(api, kind="provision", state="failed", phase="os_install")
    assert failed["order_id"] == failing
    assert await _runs(api, kind="provision", state="failed", phase="network") == []
    mine = await _runs(api, order_id=service.order_id)
    assert {r["kind"] for r in mine} == {"provision", "action"}
    assert [r["kind"] for r in await _runs(api, order_id=failing)] == ["provision"]
    assert await _runs(api, order_id=failing, kind="action") == []


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ({"kind": "explode"}, "query.kind"),
        ({"kind": "Provision"}, "query.kind"),
        ({"phase": "nowhere"}, "query.phase"),
        ({"order_id": "x"}, "query.order_id"),
        ({"order_id": "0"}, "query.order_id"),
        ({"state": "lost"}, "query.state"),
    ],
)
async def test_a_bad_runs_filter_is_a_422_naming_it(
    api: httpx.AsyncClient, query: dict[str, str], path: str
) -> None:
    assert _problem_paths(await api.get("/api/v1/runs", params=query)) == [path]


async def test_the_audit_log_is_filtered_by_actor(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    alice = await make_user(installation, "alice", Role.ADMIN)
    bob = await make_user(installation, "bob", Role.ADMIN)
    for who, code in ((alice, "a1"), (bob, "b1"), (alice, "a2")):
        made = await client.post(
            "/api/v1/locations", json={"code": code, "name": code.upper()}, headers=who.bearer
        )
        assert made.status_code == 201, made.text

    async def codes(**query: str) -> list[str]:
        answer = await client.get("/api/v1/audit", params=query, headers=bob.bearer)
        assert answer.status_code == 200, answer.text
        return [a["changes"]["code"] for a in answer.json()["items"] if a["entity"] == "location"]

    assert await codes(actor="alice") == ["a2", "a1"]
    assert await codes(actor="bob", entity="location") == ["b1"]
    assert await codes(actor="carol") == []
    assert await codes() == ["a2", "b1", "a1"]


@pytest.mark.parametrize("actor", ["a" * 201, "two\nlines"])
async def test_a_bad_actor_filter_is_a_422_naming_it(api: httpx.AsyncClient, actor: str) -> None:
    assert _problem_paths(await api.get("/api/v1/audit", params={"actor": actor})) == [
        "query.actor"
    ]
