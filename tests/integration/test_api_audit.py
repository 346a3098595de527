"""Changes made through the existing routes are audited with the acting user's name, in the
change's transaction, without secrets: connections (create, change, allowance, test,
delete), plugin versions, run retry and cancel, service actions. SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fluxbilling import bootstrap
from fluxbilling.accounts import Role
from fluxbilling.api import create_app
from fluxbilling.plugins_builtin import builtin_plugin_paths
from fluxbilling_simulators.solusvm2 import SolusVM2State
from tests.httpsupport import asgi_client
from tests.integration.accounts import CHEAP_HASHING, Account, audit_rows, make_user
from tests.integration.support import (
    active_service,
    activity,
    drain,
    place_and_pay,
    queue_action,
    run_of,
)

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SECRET = "sv2-secret-value-0123456789"
SIM_URL = "http://solusvm.test/api/v1"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return CHEAP_HASHING


@pytest.fixture
async def alice(installation: bootstrap.Installation) -> Account:
    return await make_user(installation, "alice", Role.ADMIN)


@pytest.fixture
async def olga(installation: bootstrap.Installation) -> Account:
    return await make_user(installation, "olga", Role.OPERATOR)


@pytest.fixture
async def http(installation: bootstrap.Installation) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(installation), "http://api.test") as client:
        yield client


def _text(rows: list[Any]) -> str:
    return json.dumps([dict(row._mapping) for row in rows], default=str)


async def test_connection_changes_are_audited_with_secret_names_only(
    installation: bootstrap.Installation, http: httpx.AsyncClient, alice: Account
) -> None:
    body = {
        "name": "sv2-audit",
        "type": "solusvm2",
        "base_url": SIM_URL,
        "secrets": {"api_token": SECRET},
        "allowed_networks": ["127.0.0.1/32"],
    }
    created = await http.post("/api/v1/connections", json=body, headers=alice.bearer)
    assert created.status_code == 201, created.text
    assert created.json()["networks_allowed_by"] == "alice"
    changed = await http.patch(
        "/api/v1/connections/sv2-audit",
        json={"secrets": {"api_token": SECRET + "-2"}, "allowed_networks": []},
        headers=alice.bearer,
    )
    assert changed.status_code == 200, changed.text
    tested = await http.post("/api/v1/connections/sv2-audit/test", headers=alice.bearer)
    assert tested.status_code == 200
    deleted = await http.delete("/api/v1/connections/sv2-audit", headers=alice.bearer)
    assert deleted.status_code == 204
    rows = [r for r in await audit_rows(installation) if r.entity == "connection"]
    assert [(r.action, r.actor, r.entity_id) for r in rows] == [
        ("connection.create", "alice", "sv2-audit"),
        ("connection.update", "alice", "sv2-audit"),
        ("connection.test", "alice", "sv2-audit"),
        ("connection.delete", "alice", "sv2-audit"),
    ]
    create, update, test, _delete = (r.changes for r in rows)
    assert create["credentials_set"] == ["api_token"]
    assert create["allowed_networks"] == ["127.0.0.1/32"]
    assert update["credentials_set"] == ["api_token"]
    assert update["allowed_networks"] == {"from": ["127.0.0.1/32"], "to": []}
    assert test["ok"] is False  # no allowance left: the address policy refuses loopback
    assert SECRET not in _text(rows)


async def test_a_refused_change_leaves_no_audit_row(
    installation: bootstrap.Installation, http: httpx.AsyncClient, alice: Account
) -> None:
    refused = await http.patch(
        "/api/v1/connections/solusvm2",
        json={"base_url": "http://other.test/api/v1"},
        headers=alice.bearer,
    )
    assert refused.status_code == 422  # a new origin needs the secrets again
    assert await audit_rows(installation, "connection.update") == []


async def test_a_saved_plugin_version_is_audited(
    installation: bootstrap.Installation, http: httpx.AsyncClient, alice: Account
) -> None:
    (path,) = [p for p in builtin_plugin_paths() if p.name == "solusvm2.json"]
    document = copy.deepcopy(json.loads(path.read_text()))
    document["plugin"]["name"] = "SolusVM 2 (audited)"
    saved = await http.post("/api/v1/plugins", json=document, headers=alice.bearer)
    assert saved.status_code == 201, saved.text
    again = await http.post("/api/v1/plugins", json=document, headers=alice.bearer)
    assert again.status_code == 200  # unchanged: nothing stored, nothing audited
    (row,) = await audit_rows(installation, "plugin.register")
    assert (row.actor, row.entity_id) == ("alice", f"solusvm2@{saved.json()['version']}")


async def test_run_retry_and_cancel_name_the_operator(
    installation: bootstrap.Installation,
    http: httpx.AsyncClient,
    olga: Account,
    sim: SolusVM2State,
) -> None:
    sim.fail_next_task("disk image corrupt on node")
    order_id = await place_and_pay(installation, "audit1.example.com")
    await drain(installation)
    run_id = (await run_of(installation, order_id)).id
    retried = await http.post(f"/api/v1/runs/{run_id}/retry", headers=olga.bearer)
    assert retried.status_code == 200, retried.text
    cancelled = await http.post(f"/api/v1/runs/{run_id}/cancel", headers=olga.bearer)
    assert cancelled.status_code == 200
    rows = [r for r in await audit_rows(installation) if r.entity == "run"]
    assert [(r.action, r.actor, r.entity_id) for r in rows] == [
        ("run.retry", "olga", str(run_id)),
        ("run.cancel", "olga", str(run_id)),
    ]
    messages = [entry.message for entry in await activity(installation, order_id)]
    assert any(m.startswith("olga retried the run") for m in messages)
    assert any(m.startswith("olga cancelled the run") for m in messages)


async def test_a_service_action_names_who_requested_it(
    installation: bootstrap.Installation, http: httpx.AsyncClient, olga: Account
) -> None:
    service = await active_service(installation, "audit2.example.com")
    http.headers.update(olga.bearer)
    action = await queue_action(http, service.id, "suspend", reason="unpaid")
    assert action["requested_by"] == "olga"
    (row,) = await audit_rows(installation, "service.action")
    assert (row.actor, row.entity, row.entity_id) == ("olga", "service", str(service.id))
    assert row.changes == {"verb": "suspend", "action_id": action["id"], "reason": "unpaid"}
