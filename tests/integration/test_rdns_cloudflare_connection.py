"""The Cloudflare rDNS backend over a stored `cloudflare` connection, against the simulator.

The token is a sealed secret of the connection; the client is the connection factory's
(`UpstreamHttp` behind the address guard), so this is the path the product will use.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fluxbilling import bootstrap
from fluxbilling.drivers.address_guard import StaticResolver
from fluxbilling.drivers.upstream import ExchangeRecorder
from fluxbilling.network.cloudflare import CloudflareRdns
from fluxbilling_simulators.cloudflare import CloudflareState, create_app

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

AUTH = {"Authorization": "Bearer test-api-token"}
TOKEN = "cf-Token-9kQ3xV7bN2"
CONNECTION = {
    "name": "cloudflare-dns",
    "type": "cloudflare",
    "base_url": "http://cf.test/client/v4/",
    "secrets": {"api_token": TOKEN},
    "allowed_networks": ["127.0.0.1/32"],
}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """The installation's own rDNS is Cloudflare through the connection created below."""
    return {"rdns_backend": "cloudflare", "rdns_cloudflare_connection": CONNECTION["name"]}


@pytest.fixture
def cloudflare() -> CloudflareState:
    sim = CloudflareState(token=TOKEN, seed=4)
    sim.add_zone("2.0.192.in-addr.arpa")
    return sim


@pytest.fixture
async def api(
    installation: bootstrap.Installation, client: httpx.AsyncClient, cloudflare: CloudflareState
) -> Any:
    factory = installation.connections
    simulators = factory.transport_for
    app = create_app(cloudflare)
    factory.transport_for = lambda url: (
        httpx.ASGITransport(app=app) if httpx.URL(url).host == "cf.test" else simulators(url)
    )
    factory.resolver = StaticResolver({"cf.test": "127.0.0.1"})

    async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await client.request(method, path, headers=AUTH, **kwargs)

    created = await call("POST", "/api/v1/connections", json=CONNECTION)
    assert created.status_code == 201, created.text
    return call


async def test_the_connection_probe_verifies_the_token(api: Any) -> None:
    answer = await api("POST", "/api/v1/connections/cloudflare-dns/test")
    tested = answer.json()
    assert (tested["ok"], tested["status"]) == (True, 200), tested
    assert TOKEN not in answer.text


async def test_set_and_delete_a_ptr_through_the_connection(
    installation: bootstrap.Installation, api: Any, cloudflare: CloudflareState
) -> None:
    recorder = ExchangeRecorder()
    http = await installation.connections.client("cloudflare-dns", recorder)
    try:
        rdns = CloudflareRdns(http, upstream="cloudflare-dns")
        assert await rdns.set_ptr("192.0.2.10", "web1.example.com") == (
            "2.0.192.in-addr.arpa.",
            "10.2.0.192.in-addr.arpa.",
        )
        await rdns.set_ptr("192.0.2.10", "web1.example.com")
        (zone_id,) = cloudflare.zones
        assert [(r["name"], r["content"]) for r in cloudflare.find_records(zone_id)] == [
            ("10.2.0.192.in-addr.arpa", "web1.example.com")
        ]
        await rdns.delete_ptr("192.0.2.10")
        assert cloudflare.find_records(zone_id) == []
        assert all(TOKEN not in str(e) for e in recorder.exchanges)
        assert any(e["request"]["headers"].get("Authorization") for e in recorder.exchanges)
    finally:
        await http.aclose()


async def test_the_installations_rdns_is_cloudflare_through_the_named_connection(
    installation: bootstrap.Installation, api: Any, cloudflare: CloudflareState
) -> None:
    rdns = installation.rdns
    assert isinstance(rdns, CloudflareRdns)
    assert isinstance(rdns.http, bootstrap.ConnectionJson)
    assert await rdns.set_ptr("192.0.2.11", "web2.example.com") == (
        "2.0.192.in-addr.arpa.",
        "11.2.0.192.in-addr.arpa.",
    )
    (zone_id,) = cloudflare.zones
    assert [(r["name"], r["content"]) for r in cloudflare.find_records(zone_id)] == [
        ("11.2.0.192.in-addr.arpa", "web2.example.com")
    ]
    await rdns.delete_ptr("192.0.2.11")
    await rdns.delete_ptr("192.0.2.11")  # nothing left is not an error
    assert cloudflare.find_records(zone_id) == []
