"""Testing a connection with a plugin's `test` flow, for panels whose base URL says nothing.

AcmePanel (the guide's worked example) answers 501 at its base URL, so the `http` type's
built-in probe reads it as broken; its plugin's `test` flow lists one instance instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling.drivers.address_guard import StaticResolver

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

AUTH = {"Authorization": "Bearer test-api-token"}
KEY = "acme-Key-7hQ2vZ9xW4"
ACMEPANEL = Path(__file__).resolve().parents[2] / "docs" / "examples" / "acmepanel.json"
CONNECTION = {
    "name": "acme-eu",
    "type": "http",
    "base_url": "http://acme.test/api/v2/",
    "settings": {"auth": {"scheme": "header", "name": "X-Acme-Key", "secret": "api_key"}},
    "secrets": {"api_key": KEY},
    "allowed_networks": ["127.0.0.1/32"],
}


def acmepanel(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/api/v2/":
        return httpx.Response(501, json={"ok": False, "error": {"code": "not_implemented"}})
    if request.headers.get("X-Acme-Key") != KEY:
        return httpx.Response(401, json={"ok": False, "error": {"code": "unauthorized"}})
    if request.url.path == "/api/v2/instances":
        return httpx.Response(200, json={"ok": True, "data": [], "links": {"next": None}})
    return httpx.Response(404, json={"ok": False, "error": {"code": "not_found"}})


@pytest.fixture
async def api(installation: bootstrap.Installation, client: httpx.AsyncClient) -> Any:
    factory = installation.connections
    simulators = factory.transport_for
    factory.transport_for = lambda url: (
        httpx.MockTransport(acmepanel) if httpx.URL(url).host == "acme.test" else simulators(url)
    )
    factory.resolver = StaticResolver({"acme.test": "127.0.0.1"})

    async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await client.request(method, path, headers=AUTH, **kwargs)

    assert (await call("POST", "/api/v1/connections", json=CONNECTION)).status_code == 201
    return call


async def test_the_type_probe_reads_a_501_base_url_as_broken_the_plugins_test_flow_does_not(
    api: Any,
) -> None:
    builtin = (await api("POST", "/api/v1/connections/acme-eu/test")).json()
    assert (builtin["ok"], builtin["status"], builtin["probe"]) == (
        False,
        501,
        "GET (the base URL)",
    )

    saved = await api(
        "POST", "/api/v1/plugins", json=json.loads(ACMEPANEL.read_text(encoding="utf-8"))
    )
    assert saved.status_code == 201, saved.text
    answer = await api("POST", "/api/v1/connections/acme-eu/test", params={"plugin": "acmepanel"})

    assert answer.status_code == 200
    tested = answer.json()
    assert (tested["ok"], tested["status"]) == (True, 200)
    assert tested["probe"] == "plugin acmepanel@1, flow 'test'"
    assert tested["message"] == "the plugin's test flow passed"
    exchange = tested["exchange"]
    assert exchange["request"]["url"] == "http://acme.test/api/v2/instances?limit=1"
    assert exchange["request"]["headers"]["X-Acme-Key"] == "***"
    assert exchange["request"]["headers"]["X-Correlation-Id"] == "connection-test:acme-eu"
    assert len(exchange["response"]["body"]) <= 200
    assert KEY not in answer.text


async def test_a_plugin_used_by_a_product_on_the_connection_is_chosen_by_itself(
    installation: bootstrap.Installation, api: Any
) -> None:
    assert (
        await api("POST", "/api/v1/plugins", json=json.loads(ACMEPANEL.read_text(encoding="utf-8")))
    ).status_code == 201
    async with installation.db.begin() as conn:
        acme = (
            await conn.execute(
                sa.select(schema.connections.c.id).where(schema.connections.c.name == "acme-eu")
            )
        ).scalar_one()
        await conn.execute(
            schema.products.update()
            .where(schema.products.c.slug == "vps-2g")
            .values(connection_id=acme, plugin_slug="acmepanel")
        )

    tested = (await api("POST", "/api/v1/connections/acme-eu/test")).json()
    assert (tested["ok"], tested["probe"]) == (True, "plugin acmepanel@1, flow 'test'")

    rotated = await api(
        "PATCH", "/api/v1/connections/acme-eu", json={"secrets": {"api_key": "wrong-key-123456"}}
    )
    assert rotated.status_code == 200
    refused = await api("POST", "/api/v1/connections/acme-eu/test")
    assert (refused.json()["ok"], refused.json()["status"]) == (False, 401)
    assert "wrong-key-123456" not in refused.text
    # The built-in plugins keep the type's probe: solusvm2 has no test flow.
    assert (await api("POST", "/api/v1/connections/solusvm2/test")).json()["probe"] == "GET plans"


@pytest.mark.parametrize(
    ("plugin", "status", "message"),
    [
        ("solusvm2", 422, "has no 'test' flow"),
        ("no-such-plugin", 404, "no plugin 'no-such-plugin'"),
        ("Bad Slug", 422, "plugin"),
    ],
)
async def test_asking_for_a_plugin_that_cannot_test_it_is_refused(
    api: Any, plugin: str, status: int, message: str
) -> None:
    answer = await api("POST", "/api/v1/connections/acme-eu/test", params={"plugin": plugin})

    assert answer.status_code == status
    assert message in json.dumps(answer.json()["error"])


async def test_a_plugin_for_another_connection_type_is_refused(api: Any) -> None:
    document = json.loads(ACMEPANEL.read_text(encoding="utf-8"))
    document["plugin"] |= {"slug": "acme-typed", "connectionType": "whm"}
    assert (await api("POST", "/api/v1/plugins", json=document)).status_code == 201

    answer = await api("POST", "/api/v1/connections/acme-eu/test", params={"plugin": "acme-typed"})

    assert answer.status_code == 422
    assert "talks to 'whm' connections" in answer.json()["error"]["message"]
