"""The operator API: token auth, order creation and errors, runs listing, retry and cancel."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling_simulators.solusvm2 import SolusVM2State
from tests.integration.accounts import audit_rows
from tests.integration.support import drain, place_and_pay, rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

AUTH = {"Authorization": "Bearer test-api-token"}
ORDER = {
    "customer": {"email": "grace@example.com", "name": "Grace Hopper"},
    "product": "vps-2g",
    "hostname": "cobol.example.com",
}


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdA=="}]
)
async def test_every_operator_endpoint_needs_the_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for method, path in (
        ("POST", "/api/v1/orders"),
        ("GET", "/api/v1/orders/1"),
        ("GET", "/api/v1/runs"),
        ("POST", "/api/v1/runs/1/retry"),
        ("POST", "/api/v1/runs/1/cancel"),
        ("GET", "/metrics"),
    ):
        response = await client.request(method, path, headers=headers, json=ORDER)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "HTTPError"


async def test_create_order_returns_its_unpaid_invoice(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    response = await client.post("/api/v1/orders", json=ORDER, headers=AUTH)
    assert response.status_code == 201
    body = response.json()
    assert body["order"]["state"] == "awaiting_payment"
    assert body["invoice"] == {
        "id": body["invoice"]["id"],
        "amount_minor": 1200,
        "currency": "EUR",
        "status": "unpaid",
    }
    shown = (await client.get(f"/api/v1/orders/{body['order']['id']}", headers=AUTH)).json()
    assert shown["state"] == "awaiting_payment"
    assert [p["status"] for p in shown["phases"]] == ["pending"] * 6
    assert shown["activity"][0]["event"] == "order_created"
    (row,) = await audit_rows(installation, "order.create")
    assert (row.actor, row.entity, row.entity_id) == (
        "installation-token",
        "order",
        str(shown["id"]),
    )
    assert row.changes == {
        "product": "vps-2g",
        "hostname": "cobol.example.com",
        "invoice_id": body["invoice"]["id"],
    }


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"hostname": "no_underscores.example.com"}, 422, "hostname"),
        ({"hostname": "single"}, 422, "fully qualified"),
        ({"product": "nope"}, 404, "no product 'nope'"),
        ({"customer": {"email": "not-an-email", "name": "X"}}, 422, "customer.email"),
        ({"extra": 1}, 422, "extra"),
    ],
)
async def test_bad_order_input_is_named_and_stores_nothing(
    installation: bootstrap.Installation,
    client: httpx.AsyncClient,
    change: dict[str, object],
    status: int,
    needle: str,
) -> None:
    response = await client.post("/api/v1/orders", json={**ORDER, **change}, headers=AUTH)
    assert response.status_code == status
    assert needle in response.json()["error"]["message"]
    assert await rows(installation, sa.select(schema.orders)) == []


async def test_a_hostname_is_only_used_once(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/orders", json=ORDER, headers=AUTH)).status_code == 201
    again = await client.post("/api/v1/orders", json=ORDER, headers=AUTH)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "Conflict"


async def test_unknown_order_is_404_in_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/orders/999", headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "NotFound",
            "message": "order 999 does not exist",
            "details": {"order_id": 999},
        }
    }


async def test_failed_runs_are_listed_with_their_upstream_and_can_be_retried(
    installation: bootstrap.Installation, client: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    sim.fail_next_task("disk image corrupt on node")
    order_id = await place_and_pay(installation, "retry.example.com")
    await drain(installation)
    listed = (await client.get("/api/v1/runs", params={"state": "failed"}, headers=AUTH)).json()
    (item,) = listed["items"]
    assert (item["order_id"], item["phase"]) == (order_id, "os_install")
    assert "disk image corrupt on node" in item["last_error"]["message"]
    upstream = item["last_upstream"]
    assert "/api/v1/tasks/" in upstream["request"]["url"]
    assert upstream["response"]["body"]["data"]["status"] == "failed"
    assert (await client.post(f"/api/v1/runs/{item['id']}/cancel", headers=AUTH)).status_code == 200
    conflict = await client.post(f"/api/v1/runs/{item['id']}/retry", headers=AUTH)
    assert conflict.status_code == 409


async def test_retry_from_an_earlier_phase(
    installation: bootstrap.Installation, client: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    sim.fail_next_task("reinstall failed")
    order_id = await place_and_pay(installation, "again.example.com")
    await drain(installation)
    (run,) = (await client.get("/api/v1/runs", params={"state": "failed"}, headers=AUTH)).json()[
        "items"
    ]
    response = await client.post(
        f"/api/v1/runs/{run['id']}/retry", json={"from_phase": "provision"}, headers=AUTH
    )
    assert response.status_code == 200
    queued = (await client.get(f"/api/v1/orders/{order_id}", headers=AUTH)).json()
    # provision waits for a worker; os_install, which had begun, runs again after it
    assert [p["status"] for p in queued["phases"]] == [
        "done",
        "done",
        "waiting",
        "reset",
        "pending",
        "pending",
    ]
    await drain(installation)
    order = (await client.get(f"/api/v1/orders/{order_id}", headers=AUTH)).json()
    assert order["state"] == "active"
    assert len(sim.servers) == 1  # provision re-ran and adopted the server it had created
    assert [e["event"] for e in order["activity"]].count("run_retried") == 1


async def test_runs_are_paginated(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    for i in range(3):
        await place_and_pay(installation, f"page{i}.example.com")
    first = (await client.get("/api/v1/runs", params={"limit": 2}, headers=AUTH)).json()
    second = (
        await client.get(
            "/api/v1/runs", params={"limit": 2, "cursor": first["next_cursor"]}, headers=AUTH
        )
    ).json()
    ids = [r["id"] for r in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 3
    assert second["next_cursor"] is None


async def test_openapi_and_metrics_are_served(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    schema_doc = (await client.get("/openapi.json")).json()
    assert "/api/v1/orders" in schema_doc["paths"] and "/webhooks/{gateway}" in schema_doc["paths"]
    await place_and_pay(installation, "metrics.example.com")
    text = (await client.get("/metrics", headers=AUTH)).text
    assert 'fluxbilling_runs{phase="allocation",state="queued"} 1.0' in text
    await drain(installation)
    text = (await client.get("/metrics", headers=AUTH)).text
    assert 'fluxbilling_runs{phase="handoff",state="completed"} 1.0' in text
    assert 'fluxbilling_phase_outcomes_total{outcome="completed",phase="handoff"}' in text
    await client.post("/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    text = (await client.get("/metrics", headers=AUTH)).text
    assert 'fluxbilling_webhooks_total{gateway="stripe",outcome="invalid"}' in text
