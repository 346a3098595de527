"""Testing a flow from the builder: a verb runs against a test connection, traced, writing nothing.

Every test runs on SQLite and PostgreSQL against the in-process SolusVM 2 simulator.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.accounts.roles import Principal, Role
from fluxbilling.api import create_app
from fluxbilling.api.auth import authenticate
from fluxbilling.db import schema
from fluxbilling.drivers.address_guard import StaticResolver
from fluxbilling.plugins import resume
from fluxbilling.vault import Vault, generate_key
from fluxbilling_simulators import solusvm2
from tests.httpsupport import asgi_client
from tests.integration.conftest import API_TOKEN
from tests.integration.support import finish, place_and_pay, rows, run_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SIM_URL = "http://solusvm.test/api/v1"
TEST_CONNECTION = {
    "name": "sv2-test",
    "type": "solusvm2",
    "base_url": SIM_URL,
    "secrets": {"api_token": "it-token"},
    "allowed_networks": ["127.0.0.1/32"],
    "purpose": "test",
}
INPUTS = {
    "order": {"id": 900, "hostname": "trial1.example.com"},
    "options": {"plan_id": 1, "location_id": 1, "poll_interval": 0.01},
    "image": {"external_ref": 21},
    "allocation": {"address": "192.0.2.9"},
}
PASSWORD = "Zq8-flow-test-Secret-77"


@pytest.fixture
async def test_connection(api: httpx.AsyncClient) -> str:
    created = await api.post("/api/v1/connections", json=TEST_CONNECTION)
    assert created.status_code == 201, created.text
    assert created.json()["purpose"] == "test"
    return str(TEST_CONNECTION["name"])


async def counts(inst: bootstrap.Installation) -> dict[str, int]:
    """Rows in every table (the audit log too)."""
    found = {}
    async with inst.db.connect() as conn:
        for table in schema.metadata.sorted_tables:
            count = sa.select(sa.func.count()).select_from(table)
            found[table.name] = int((await conn.execute(count)).scalar_one())
    return found


async def start(api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    payload = {"slug": "solusvm2", "verb": "provision", "connection": "sv2-test", **body}
    return await api.post("/api/v1/plugins/test-runs", json=payload)


async def test_a_provision_creates_on_the_simulator_waits_resumes_and_stores_nothing(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    sim: solusvm2.SolusVM2State,
    test_connection: str,
) -> None:
    before = await counts(installation)

    first = await start(api, inputs=INPUTS)
    assert first.status_code == 200, first.text
    paused = first.json()
    assert paused["status"] == "pending"
    assert paused["plugin"] == "solusvm2@1"
    assert [s["node"] for s in paused["steps"]] == ["start", "find", "create", "wait"]
    assert [s["port"] for s in paused["steps"]] == ["ok", "missing", "ok", None]
    find, create, wait = paused["steps"][1:]
    assert find["exchanges"][0]["request"]["method"] == "GET"
    assert create["input"] is None  # the lookup found nothing
    [sent] = create["exchanges"]
    assert sent["request"]["body"]["name"] == "trial1.example.com"
    assert sent["request"]["headers"]["Authorization"] == "***"
    assert sent["response"]["status"] == 201
    [server] = sim.servers.values()
    assert create["output"] == {"id": server["id"], "uuid": server["uuid"]}
    assert wait["wait_seconds"] == pytest.approx(0.01)
    assert wait["exchanges"][0]["response"]["body"]["data"]["status"] != "started"
    assert paused["check_after"] == pytest.approx(0.01)
    assert paused["resume_token"] and paused["expires_at"]
    assert all(s["elapsed_ms"] >= 0 for s in paused["steps"])

    resumed = await api.post(
        "/api/v1/plugins/test-runs/resume", json={"token": paused["resume_token"]}
    )
    assert resumed.status_code == 200, resumed.text
    done = resumed.json()
    assert done["status"] == "done"
    assert [(s["node"], s["resumed"]) for s in done["steps"]] == [
        ("wait", True),
        ("persist", False),
    ]
    assert done["service_data"] == {
        "external_id": server["id"],
        "uuid": server["uuid"],
        "status": "started",
    }
    assert done["resume_token"] is None and done["error"] is None
    assert [s["name"] for s in sim.servers.values()] == ["trial1.example.com"]
    assert await counts(installation) == before  # not one row written, audit log included


async def test_another_api_process_resumes_a_paused_unsaved_document(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    sim: solusvm2.SolusVM2State,
    test_connection: str,
) -> None:
    document = (await api.get("/api/v1/plugins/solusvm2/versions/1")).json()["document"]
    document["plugin"]["slug"] = "solusvm2-draft"
    paused = await api.post(
        "/api/v1/plugins/test-runs",
        json={
            "document": document,
            "verb": "provision",
            "connection": "sv2-test",
            "inputs": INPUTS,
        },
    )
    assert paused.json()["status"] == "pending", paused.text
    assert paused.json()["plugin"] == "solusvm2-draft (unsaved)"

    other = bootstrap.build(
        installation.settings,
        transport_for=lambda url: httpx.ASGITransport(app=solusvm2.create_app(sim)),
        resolver=StaticResolver({"solusvm.test": "127.0.0.1"}),
    )
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    try:
        async with asgi_client(create_app(other), "http://api.test", headers=headers) as client:
            resumed = await client.post(
                "/api/v1/plugins/test-runs/resume",
                json={"token": paused.json()["resume_token"]},
            )
    finally:
        await other.close()
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "done"
    assert resumed.json()["service_data"]["status"] == "started"
    versions = await api.get("/api/v1/plugins/solusvm2-draft/versions")
    assert versions.status_code == 404  # the draft was never stored


async def test_a_failing_node_shows_the_upstreams_answer(
    installation: bootstrap.Installation, api: httpx.AsyncClient, test_connection: str
) -> None:
    inputs = {**INPUTS, "options": {"plan_id": 99, "location_id": 1}}
    answer = await start(api, inputs=inputs)
    assert answer.status_code == 200, answer.text
    failed = answer.json()
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "PermanentUpstreamError"
    assert failed["error"]["status"] == 422
    create = failed["steps"][-1]
    assert (create["node"], create["port"], create["output"]) == ("create", None, None)
    assert create["error"]["code"] == "PermanentUpstreamError"
    [exchange] = create["exchanges"]
    assert exchange["response"]["status"] == 422
    assert "plan" in json.dumps(exchange["response"]["body"]["errors"])


async def test_a_production_connection_is_refused_unless_an_admin_allows_it(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: solusvm2.SolusVM2State
) -> None:
    refused = await start(api, connection="solusvm2", inputs=INPUTS)
    assert refused.status_code == 409, refused.text
    assert "marked production" in refused.json()["error"]["message"]
    assert sim.servers == {}

    allowed = await start(api, connection="solusvm2", inputs=INPUTS, allow_production=True)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["status"] == "pending"

    audit = await rows(installation, sa.select(schema.audit_log).order_by(schema.audit_log.c.id))
    assert [(a.actor, a.action, a.entity_id) for a in audit] == [
        ("installation-token", "connection.test_run_refused", "solusvm2"),
        ("installation-token", "connection.test_run_allowed", "solusvm2"),
    ]
    assert audit[1].changes == {
        "plugin": "solusvm2@1",
        "verb": "provision",
        "allow_production": True,
    }


@pytest.fixture
async def operator_api(installation: bootstrap.Installation) -> AsyncIterator[httpx.AsyncClient]:
    """The API as seen by an operator named olga (authentication replaced by a fixed principal)."""
    app = create_app(installation)
    app.dependency_overrides[authenticate] = lambda: Principal("olga", Role.OPERATOR)
    async with asgi_client(app, "http://api.test") as client:
        yield client


async def test_an_operator_cannot_allow_a_production_connection(
    installation: bootstrap.Installation,
    operator_api: httpx.AsyncClient,
    sim: solusvm2.SolusVM2State,
) -> None:
    refused = await start(operator_api, connection="solusvm2", inputs=INPUTS, allow_production=True)
    assert refused.status_code == 409, refused.text
    assert "admin role" in refused.json()["error"]["message"]
    assert sim.servers == {}
    (audit,) = await rows(installation, sa.select(schema.audit_log))
    assert (audit.actor, audit.action) == ("olga", "connection.test_run_refused")


async def test_a_paused_test_is_resumed_only_by_whoever_started_it(
    installation: bootstrap.Installation,
    operator_api: httpx.AsyncClient,
    sim: solusvm2.SolusVM2State,
    test_connection: str,
) -> None:
    paused = await start(operator_api, inputs=INPUTS)  # olga starts it
    assert paused.json()["status"] == "pending", paused.text
    token = paused.json()["resume_token"]

    app = create_app(installation)
    app.dependency_overrides[authenticate] = lambda: Principal("oscar", Role.OPERATOR)
    async with asgi_client(app, "http://api.test") as oscar:
        refused = await oscar.post("/api/v1/plugins/test-runs/resume", json={"token": token})
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert "started by 'olga'" in error["message"]
    assert error["details"]["started_by"] == "olga"
    assert len(sim.servers) == 1  # nothing ran on oscar's behalf

    resumed = await operator_api.post("/api/v1/plugins/test-runs/resume", json={"token": token})
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "done"


async def test_an_unsaved_invalid_document_is_answered_422_with_every_path(
    installation: bootstrap.Installation, api: httpx.AsyncClient, test_connection: str
) -> None:
    document = _document(
        [{"id": "start", "type": "trigger"}, {"id": "boom", "type": "no_such_type"}],
        edges=[
            {"from": "start", "to": "boom"},
            {"from": "boom", "to": "nowhere"},
        ],
    )
    answer = await api.post(
        "/api/v1/plugins/test-runs",
        json={"document": document, "verb": "provision", "connection": "sv2-test"},
    )
    assert answer.status_code == 422, answer.text
    paths = [p["path"] for p in answer.json()["error"]["details"]["problems"]]
    assert "flows.provision.nodes[1].type" in paths
    assert any(p.startswith("flows.provision.edges[1]") for p in paths), paths
    saved = await api.post("/api/v1/plugins", json=document)  # the same answer as a save
    assert saved.json()["error"]["details"] == answer.json()["error"]["details"]


async def test_secrets_sent_in_a_request_never_appear_in_the_answer(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    sim: solusvm2.SolusVM2State,
    test_connection: str,
) -> None:
    document = _document(
        [
            {"id": "start", "type": "trigger"},
            {
                "id": "send",
                "type": "http",
                "method": "POST",
                "path": "servers",
                "query": {"hint": "pw-{{credentials.password}}"},
                "body": {"name": "{{order.hostname}}", "note": "pw={{credentials.password}}"},
                "expect": [201, 422],
            },
        ]
    )
    answer = await api.post(
        "/api/v1/plugins/test-runs",
        json={
            "document": document,
            "verb": "provision",
            "connection": "sv2-test",
            "inputs": {**INPUTS, "credentials": {"password": PASSWORD}},
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["plugin"] == "echo-test (unsaved)"
    [_, send] = body["steps"]
    [exchange] = send["exchanges"]
    assert exchange["request"]["body"]["note"] == "pw=***"
    assert "hint=pw-***" in exchange["request"]["url"]
    assert PASSWORD not in answer.text
    assert sim.token not in answer.text


async def test_a_resume_token_that_was_altered_or_expired_is_refused(
    installation: bootstrap.Installation, api: httpx.AsyncClient, test_connection: str
) -> None:
    paused = (await start(api, inputs=INPUTS)).json()
    token = paused["resume_token"]
    middle = len(token) // 2
    altered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    tampered = await api.post("/api/v1/plugins/test-runs/resume", json={"token": altered})
    assert tampered.status_code == 400, tampered.text
    assert "not valid" in tampered.json()["error"]["message"]

    state = resume.open_token(installation.vault, token, datetime.now(UTC))
    stale = dataclasses.replace(state, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    expired = await api.post(
        "/api/v1/plugins/test-runs/resume",
        json={"token": resume.seal(installation.vault, stale)},
    )
    assert expired.status_code == 410, expired.text
    assert "expired" in expired.json()["error"]["message"]

    foreign = resume.seal(Vault(generate_key()), state)
    other_key = await api.post("/api/v1/plugins/test-runs/resume", json={"token": foreign})
    assert other_key.status_code == 400


async def test_a_past_runs_context_prefills_a_test_and_hides_the_password(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    sim: solusvm2.SolusVM2State,
    test_connection: str,
) -> None:
    order_id = await place_and_pay(installation, "past1.example.com")
    assert (await finish(installation, order_id)).state == "completed"
    run = await run_of(installation, order_id)
    (service,) = await rows(
        installation, sa.select(schema.services).where(schema.services.c.order_id == order_id)
    )
    password = installation.vault.open(service.root_password_sealed)

    shown = await api.get(f"/api/v1/runs/{run.id}/flow-context")
    assert shown.status_code == 200, shown.text
    context = shown.json()
    assert (context["verb"], context["plugin"], context["connection"]) == (
        "provision",
        "solusvm2@1",
        "solusvm2",
    )
    assert context["inputs"]["order"]["hostname"] == "past1.example.com"
    assert str(context["inputs"]["service"]["external_id"]) == service.external_id
    assert "credentials" not in context["inputs"]
    assert password not in shown.text
    assert (await api.get("/api/v1/runs/999999/flow-context")).status_code == 404

    before = await counts(installation)
    answer = await start(api, from_run=run.id)
    assert answer.status_code == 200, answer.text
    steps = answer.json()["steps"]
    assert [s["port"] for s in steps[:2]] == ["ok", "found"]  # adopts the server it made
    assert len(sim.servers) == 1
    assert password not in answer.text
    assert await counts(installation) == before


async def test_the_purpose_of_a_connection_is_set_by_an_admin_and_audited(
    installation: bootstrap.Installation, api: httpx.AsyncClient, test_connection: str
) -> None:
    changed = await api.patch("/api/v1/connections/sv2-test", json={"purpose": "production"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["purpose"] == "production"
    refused = await start(api, inputs=INPUTS)
    assert refused.status_code == 409
    bad = await api.patch("/api/v1/connections/sv2-test", json={"purpose": "staging"})
    assert bad.status_code == 422
    audit = await rows(installation, sa.select(schema.audit_log).order_by(schema.audit_log.c.id))
    assert [(a.action, a.entity_id) for a in audit][:2] == [
        ("connection.create", "sv2-test"),
        ("connection.update", "sv2-test"),
    ]
    assert audit[0].changes["purpose"] == "test"
    assert audit[0].changes["credentials_set"] == ["api_token"]
    assert "it-token" not in json.dumps([a.changes for a in audit])
    assert audit[1].changes == {"purpose": {"from": "test", "to": "production"}}


async def test_the_test_verb_runs_the_connection_probe_flow_as_the_connection_test_does(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    sim: solusvm2.SolusVM2State,
    test_connection: str,
) -> None:
    probe = {
        "id": "plans",
        "type": "http",
        "method": "GET",
        "path": "plans",
        "query": {"from": "{{connection.name}}"},
        "expect": [200],
    }
    document = _document([{"id": "start", "type": "trigger"}, probe])
    document["flows"]["test"] = {"nodes": [{"id": "start", "type": "trigger"}, probe]}
    before = await counts(installation)

    answer = await api.post(
        "/api/v1/plugins/test-runs",
        json={"document": document, "verb": "test", "connection": "sv2-test"},
    )
    assert answer.status_code == 200, answer.text
    tested = answer.json()
    assert (tested["status"], tested["verb"]) == ("done", "test")
    assert [s["node"] for s in tested["steps"]] == ["start", "plans"]
    [exchange] = tested["steps"][1]["exchanges"]
    assert exchange["request"]["url"] == f"{SIM_URL}/plans?from=sv2-test"
    assert exchange["request"]["headers"]["X-Correlation-Id"] == "connection-test:sv2-test"
    assert exchange["request"]["headers"]["Authorization"] == "***"
    assert sim.token not in answer.text
    assert await counts(installation) == before

    with_inputs = await api.post(
        "/api/v1/plugins/test-runs",
        json={"document": document, "verb": "test", "connection": "sv2-test", "inputs": INPUTS},
    )
    assert with_inputs.status_code == 422
    assert "sees only the connection" in with_inputs.json()["error"]["message"]

    waits = {"id": "pause", "type": "wait", "seconds": 5}
    document["flows"]["test"]["nodes"].append(waits)
    waiting = await api.post(
        "/api/v1/plugins/test-runs",
        json={"document": document, "verb": "test", "connection": "sv2-test"},
    )
    assert waiting.status_code == 200, waiting.text
    assert waiting.json()["status"] == "failed"
    assert waiting.json()["resume_token"] is None
    assert "must answer at once" in waiting.json()["error"]["message"]

    none = await start(api, verb="test")  # the built-in solusvm2 plugin has no test flow
    assert none.status_code == 422
    assert "no 'test' flow" in none.json()["error"]["message"]


async def test_bad_requests_name_what_is_wrong(
    installation: bootstrap.Installation, api: httpx.AsyncClient, test_connection: str
) -> None:
    both = await start(api, document={"format": "x"})
    assert both.status_code == 422
    missing = await start(api, slug="solusvm2", version=42)
    assert missing.status_code == 404
    no_connection = await start(api, connection="nope", inputs=INPUTS)
    assert no_connection.status_code == 422
    assert no_connection.json()["error"]["details"]["problems"][0]["path"] == "connection"
    wrong_options = await start(api, inputs={**INPUTS, "options": {"plan_id": "one"}})
    assert wrong_options.status_code == 422
    paths = [p["path"] for p in wrong_options.json()["error"]["details"]["problems"]]
    assert "inputs.options.plan_id" in paths and "inputs.options" in paths  # and location_id
    typo = await start(api, inputs={**INPUTS, "oder": {}})
    assert typo.status_code == 422
    assert "oder" in typo.json()["error"]["message"]


def _document(nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None) -> Any:
    flow: dict[str, Any] = {"nodes": nodes}
    if edges is not None:
        flow["edges"] = edges
    return {
        "format": "fluxbilling-visual-plugin",
        "plugin": {
            "slug": "echo-test",
            "name": "Echo",
            "type": "infrastructure-provider",
            "serviceType": "vps",
            "connectionType": "solusvm2",
            "capabilities": {"canProvision": True},
        },
        "flows": {"provision": flow},
    }
