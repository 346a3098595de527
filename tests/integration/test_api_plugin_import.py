"""`POST /api/v1/plugins/import`: a plugin document from an allowed URL, nothing stored."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from fluxbilling import bootstrap, limits
from fluxbilling.drivers.address_guard import StaticResolver

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

AUTH = {"Authorization": "Bearer test-api-token"}
DOCUMENT = {"format": "fluxbilling-visual-plugin", "plugin": {"slug": "acme"}, "flows": {}}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"plugin_import_hosts": "plugins.example.org, solusvm.test"}


def publish(installation: bootstrap.Installation, body: bytes, status: int = 200) -> None:
    """Serve `body` at plugins.example.org, a public address (the installation's fakes)."""
    connections = installation.connections
    inner = connections.transport_for
    fake = httpx.MockTransport(lambda _request: httpx.Response(status, content=body))
    connections.transport_for = lambda url: (
        fake if httpx.URL(url).host == "plugins.example.org" else inner(url)
    )
    connections.resolver = StaticResolver(
        {"plugins.example.org": "93.184.215.14", "solusvm.test": "127.0.0.1"}
    )


async def plugin_slugs(client: httpx.AsyncClient) -> set[str]:
    listed = (await client.get("/api/v1/plugins", headers=AUTH)).json()
    return {item["slug"] for item in listed["items"]}


async def test_imports_a_document_from_a_listed_host_and_stores_nothing(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    publish(installation, json.dumps(DOCUMENT).encode())
    before = await plugin_slugs(client)
    url = "https://plugins.example.org/acme.json"
    response = await client.post("/api/v1/plugins/import", json={"url": url}, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"url": url, "document": DOCUMENT}
    assert await plugin_slugs(client) == before


@pytest.mark.parametrize(
    ("url", "status", "says"),
    [
        ("https://evil.example/acme.json", 403, "'evil.example' is not in"),
        ("http://plugins.example.org/acme.json", 422, "https"),
        ("https://solusvm.test/api/v1/servers", 502, "loopback"),
    ],
)
async def test_refuses_hosts_off_the_list_plain_http_and_private_addresses(
    installation: bootstrap.Installation,
    client: httpx.AsyncClient,
    url: str,
    status: int,
    says: str,
) -> None:
    publish(installation, json.dumps(DOCUMENT).encode())
    response = await client.post("/api/v1/plugins/import", json={"url": url}, headers=AUTH)
    assert response.status_code == status, response.text
    assert says in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "served", "status"),
    [
        (b"[1, 2]", 200, 422),
        (b"not json", 200, 422),
        (b'{"x": "' + b"a" * limits.PLUGIN_BYTES + b'"}', 200, 413),
        (b"{}", 404, 502),
    ],
)
async def test_refuses_answers_that_are_no_document(
    installation: bootstrap.Installation,
    client: httpx.AsyncClient,
    body: bytes,
    served: int,
    status: int,
) -> None:
    publish(installation, body, served)
    url = "https://plugins.example.org/acme.json"
    response = await client.post("/api/v1/plugins/import", json={"url": url}, headers=AUTH)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]


@pytest.mark.parametrize("body", [{}, {"url": "https://plugins.example.org/a\n"}, {"url": 3}])
async def test_a_malformed_request_is_422(client: httpx.AsyncClient, body: Any) -> None:
    response = await client.post("/api/v1/plugins/import", json=body, headers=AUTH)
    assert response.status_code == 422
