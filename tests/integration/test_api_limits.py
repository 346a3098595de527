"""Hostile requests at the API's edge: sizes, depth, headers, and CPU-heavy plugin work.

Everything here was found by an attacker's review (issue 9): a 9 MB plugin diff froze the
process for 14 minutes, bodies were read whole before their size was checked, deep JSON
gave 500, a 60 KB header got no 431.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.api import create_app
from fluxbilling.db import schema
from fluxbilling.server import LoopbackServer
from fluxbilling_simulators import stripe as stripe_sim
from tests.integration.support import rows
from tests.largedocs import maximal_plugin

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

AUTH = {"Authorization": "Bearer test-api-token"}
DEEP = b"[" * 100_000 + b"]" * 100_000


def error(response: httpx.Response) -> dict[str, Any]:
    found: dict[str, Any] = response.json()["error"]
    return found


async def count(inst: bootstrap.Installation, table: sa.Table) -> int:
    return int((await rows(inst, sa.select(sa.func.count()).select_from(table)))[0][0])


async def test_a_plugin_document_over_2_mib_is_413_and_nothing_is_stored(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    document = maximal_plugin()
    document["plugin"]["description"] = "x" * (300 * 1024)
    before = await count(installation, schema.plugin_versions)
    response = await api.post("/api/v1/plugins", json=document)
    assert response.status_code == 413
    assert error(response) == {
        "code": "BodyTooLarge",
        "message": "body larger than 2 MiB",
        "details": {"max_bytes": 2 * 1024 * 1024},
    }
    assert await count(installation, schema.plugin_versions) == before


@pytest.mark.parametrize("path", ["/api/v1/plugins", "/api/v1/orders", "/api/v1/connections"])
async def test_json_nested_too_deep_is_422_by_name_on_every_route(
    api: httpx.AsyncClient, path: str
) -> None:
    response = await api.post(path, content=DEEP, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert error(response) == {
        "code": "InvalidBody",
        "message": "JSON nested deeper than 64 levels",
        "details": {"max_depth": 64},
    }


async def test_api_bodies_over_1_mib_are_413(api: httpx.AsyncClient) -> None:
    order = {"customer": {"email": "a@example.com", "name": "x" * (1024 * 1024)}}
    response = await api.post("/api/v1/orders", json=order)
    assert response.status_code == 413
    assert error(response)["message"] == "body larger than 1 MiB"


@pytest.mark.parametrize("settings_overrides", [{"max_body_bytes": 8 * 1024}])
async def test_the_api_body_limit_is_a_setting(api: httpx.AsyncClient) -> None:
    order = {"customer": {"email": "a@example.com", "name": "x" * (9 * 1024)}}
    response = await api.post("/api/v1/orders", json=order)
    assert response.status_code == 413
    assert error(response)["message"] == "body larger than 8 KiB"


async def test_webhook_bodies_over_256_kib_are_413_and_never_stored(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    body = json.dumps({"id": "evt_big", "pad": "x" * (256 * 1024)}).encode()
    headers = stripe_sim.signed_headers(body, installation.stripe_secrets[0], int(time.time()))
    response = await client.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 413
    assert error(response)["message"] == "body larger than 256 KiB"
    assert await count(installation, schema.webhook_events) == 0


async def test_openapi_documents_the_limits(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    for path, limit in (
        ("/api/v1/plugins", "the document is larger than 2 MiB"),
        ("/api/v1/orders", "the body is larger than 1 MiB"),
        ("/webhooks/{gateway}", "the body is larger than 256 KiB"),
    ):
        answer = paths[path]["post"]["responses"]["413"]
        assert answer["description"] == limit
        assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert "413" not in paths["/api/v1/plugins"]["get"]["responses"]
    assert "headers 32 KiB (431)" in document["info"]["description"]
    assert "truncated" in document["components"]["schemas"]["DiffOut"]["required"]


async def test_two_maximal_plugin_versions_diff_while_the_api_keeps_answering(
    api: httpx.AsyncClient,
) -> None:
    # Before: the text diff (difflib) held the event loop for about 20 s on these, and for
    # over 14 minutes on two 9.4 MB versions; /healthz and the worker stood still.
    for variant in (0, 1):
        response = await api.post("/api/v1/plugins", json=maximal_plugin(variant))
        assert response.status_code == 201, response.text
    diffing = asyncio.create_task(api.get("/api/v1/plugins/huge/diff?from=1&to=2", timeout=300))
    slowest = 0.0
    answered = 0
    while not diffing.done():
        started = time.monotonic()
        health = await api.get("/healthz")
        slowest = max(slowest, time.monotonic() - started)
        assert health.json() == {"status": "ok"}
        answered += 1
        await asyncio.sleep(0.02)
    response = await diffing
    assert response.status_code == 200
    body = response.json()
    assert len(body["changes"]) == 9 * 499  # complete: the path of every node
    assert {c["op"] for c in body["changes"]} == {"replace"}
    assert body["truncated"] is True
    lines = body["text"].splitlines()
    assert lines[:2] == ["--- huge@1", "+++ huge@2"]
    assert lines[-1] == "... (diff truncated)"
    assert len(lines) == 20_001
    # A generous guard, not a measurement: the loop never stood still for long.
    assert answered >= 1 and slowest < 5, (answered, slowest)


async def test_a_60_kb_header_is_answered_431_by_a_real_server(
    installation: bootstrap.Installation,
) -> None:
    server = LoopbackServer(create_app(installation))
    await server.start()
    try:
        huge = "y" * (60 * 1024)
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            response = await http.get("/healthz", headers={"X-Big": huge})
            assert response.status_code == 431
            assert error(response)["code"] == "HeadersTooLarge"
            assert error(response)["message"] == "request headers larger than 32 KiB"
            assert (await http.get("/healthz", headers={"X-Fine": "y" * 20_000})).status_code == 200

        # A head still arriving past the limit: h11 stops buffering it and we answer.
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: api.test\r\nX-Big: " + b"y" * 40_000)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.startswith(b"content-length")
        )
        body = json.loads(await reader.readexactly(length))
        assert body["error"]["code"] == "HeadersTooLarge"
        assert body["error"]["details"] == {"max_bytes": 32 * 1024}
        writer.close()

        # Other malformed requests keep uvicorn's plain 400.
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert head.startswith(b"HTTP/1.1 400 ")
        writer.close()
    finally:
        await server.stop()


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
async def test_a_webhook_nested_too_deep_is_refused_unsigned_and_kept_signed(
    installation: bootstrap.Installation,
    client: httpx.AsyncClient,
    content_type: str,
) -> None:
    # Before: RecursionError inside the gateway's parser, answered 500. Webhooks keep their
    # gateways' contract (not the API's 422): unsigned is 400, signed is kept and rejected.
    body = b'{"id": "evt_deep", "data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    forged = await client.post(
        "/webhooks/stripe",
        content=body,
        headers={"Content-Type": content_type, "Stripe-Signature": "t=1,v1=00"},
    )
    assert forged.status_code == 400
    assert error(forged)["code"] == "InvalidWebhook"

    headers = stripe_sim.signed_headers(body, installation.stripe_secrets[0], int(time.time()))
    signed = await client.post(
        "/webhooks/stripe", content=body, headers={**headers, "Content-Type": content_type}
    )
    assert signed.status_code == 200
    assert signed.json()["outcome"] == "rejected"
    async with installation.db.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(schema.webhook_events.c.body, schema.webhook_events.c.error).where(
                    schema.webhook_events.c.id == signed.json()["delivery_id"]
                )
            )
        ).one()
    assert bytes(stored.body) == body
    assert "nested deeper than 64 levels" in stored.error
