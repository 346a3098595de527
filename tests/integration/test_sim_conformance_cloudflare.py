"""Cloudflare's own Python SDK (``cloudflare`` 5.9.0) against the Cloudflare DNS simulator.

The SDK speaks to the simulator over a real loopback socket (`conformance.serving`).
Covered: what the Cloudflare rDNS backend does (find the reverse zone by name, list PTR
records by type and name, create, patch, delete) and what an operator reaches for first
(get, put, paging through a long list); Cloudflare's errors come back as the SDK's exception
classes with Cloudflare's codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cloudflare
import httpx
import pytest
from cloudflare import Cloudflare

from fluxbilling_simulators.cloudflare import CloudflareState, create_app
from tests.integration.conformance import serving

TOKEN = "sim-cloudflare-conformance-token"
ZONE = "2.0.192.in-addr.arpa"


@pytest.fixture
def state() -> CloudflareState:
    sim = CloudflareState(token=TOKEN, seed=5)
    sim.add_zone(ZONE)
    sim.add_zone("example.com")
    sim.add_zone("8.b.d.0.1.0.0.2.ip6.arpa", status="pending")
    return sim


@pytest.fixture
def base_url(state: CloudflareState) -> Iterator[str]:
    with serving(create_app(state)) as url:
        yield url


def connect(base_url: str, token: str = TOKEN) -> Cloudflare:
    return Cloudflare(api_token=token, base_url=f"{base_url}/client/v4", max_retries=0)


@pytest.fixture
def client(base_url: str) -> Iterator[Cloudflare]:
    with connect(base_url) as sdk:  # closes its connections (no socket left to the GC)
        yield sdk


def zone_id(client: Cloudflare, name: str = ZONE) -> str:
    zones = list(client.zones.list(name=name))
    assert [z.name for z in zones] == [name]
    return zones[0].id


def codes(exc: cloudflare.APIStatusError) -> list[int]:
    body: Any = exc.body
    return [e["code"] for e in body["errors"]]


def test_zone_lookup_by_exact_name_and_operator(client: Cloudflare) -> None:
    found = zone_id(client)
    assert client.zones.get(zone_id=found).name == ZONE  # type: ignore[union-attr]
    reverse = sorted(z.name for z in client.zones.list(name="ends_with:arpa"))
    assert reverse == ["2.0.192.in-addr.arpa", "8.b.d.0.1.0.0.2.ip6.arpa"]
    assert [z.name for z in client.zones.list(status="pending")] == ["8.b.d.0.1.0.0.2.ip6.arpa"]
    assert list(client.zones.list(name="nowhere.test")) == []


def test_ptr_lifecycle(client: Cloudflare, state: CloudflareState) -> None:
    zid = zone_id(client)
    created = client.dns.records.create(
        zone_id=zid,
        type="PTR",
        name="10.2.0.192.in-addr.arpa",
        content="vps1.example.com.",
        ttl=3600,
    )
    assert created is not None
    assert (created.name, created.content, created.ttl) == (
        "10.2.0.192.in-addr.arpa",
        "vps1.example.com",
        3600,
    )
    listed = list(
        client.dns.records.list(zone_id=zid, type="PTR", name={"exact": "10.2.0.192.in-addr.arpa"})
    )
    assert [r.id for r in listed] == [created.id]
    edited = client.dns.records.edit(
        created.id, zone_id=zid, type="PTR", name="10.2.0.192.in-addr.arpa", ttl=3600,
        content="vps2.example.com",
    )  # fmt: skip
    assert edited is not None and edited.content == "vps2.example.com"
    got = client.dns.records.get(created.id, zone_id=zid)
    assert got is not None and got.content == "vps2.example.com"
    put = client.dns.records.update(
        created.id, zone_id=zid, type="PTR", name="10", content="vps3.example.com", ttl=1
    )
    assert put is not None and (put.name, put.ttl) == ("10.2.0.192.in-addr.arpa", 1)
    deleted = client.dns.records.delete(created.id, zone_id=zid)
    assert deleted is not None and deleted.id == created.id
    assert state.records[zid] == {}
    with pytest.raises(cloudflare.NotFoundError) as missing:
        client.dns.records.get(created.id, zone_id=zid)
    assert codes(missing.value) == [81044]


def test_identical_record_is_refused_as_cloudflare_reports_it(client: Cloudflare) -> None:
    zid = zone_id(client)
    client.dns.records.create(zone_id=zid, type="PTR", name="7", content="a.example.com", ttl=1)
    with pytest.raises(cloudflare.BadRequestError) as identical:
        client.dns.records.create(zone_id=zid, type="PTR", name="7", content="a.example.com", ttl=1)
    assert codes(identical.value) == [81058]
    # a second PTR with another content is allowed, as on Cloudflare
    client.dns.records.create(zone_id=zid, type="PTR", name="7", content="b.example.com", ttl=1)
    assert len(list(client.dns.records.list(zone_id=zid, type="PTR"))) == 2


def test_cname_conflicts(client: Cloudflare) -> None:
    zid = zone_id(client, "example.com")
    client.dns.records.create(zone_id=zid, type="A", name="www", content="192.0.2.1", ttl=1)
    with pytest.raises(cloudflare.BadRequestError) as cname:
        client.dns.records.create(zone_id=zid, type="CNAME", name="www", content="x.test", ttl=1)
    assert codes(cname.value) == [81053]
    client.dns.records.create(zone_id=zid, type="CNAME", name="cdn", content="x.test", ttl=1)
    with pytest.raises(cloudflare.BadRequestError) as beside:
        client.dns.records.create(zone_id=zid, type="A", name="cdn", content="192.0.2.2", ttl=1)
    assert codes(beside.value) == [81054]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "A", "name": "x", "content": "not-an-ip", "ttl": 1}, 9005),
        ({"type": "AAAA", "name": "x", "content": "192.0.2.1", "ttl": 1}, 9005),
        ({"type": "PTR", "name": "x", "content": "h.test", "ttl": 5}, 9021),
        ({"type": "PTR", "name": "x", "content": "h.test", "ttl": 1, "proxied": True}, 9004),
        ({"type": "PTR", "name": "bad name!", "content": "h.test", "ttl": 1}, 9000),
    ],
)
def test_invalid_input_is_a_400_with_a_code(
    client: Cloudflare, body: dict[str, Any], code: int
) -> None:
    zid = zone_id(client, "example.com")
    with pytest.raises(cloudflare.BadRequestError) as refused:
        client.dns.records.create(zone_id=zid, **body)
    assert codes(refused.value) == [code]


def test_list_filters_and_paging(client: Cloudflare) -> None:
    zid = zone_id(client)
    for n in range(1, 8):
        client.dns.records.create(
            zone_id=zid, type="PTR", name=str(n), content=f"host{n}.example.com", ttl=1
        )
    page = client.dns.records.list(zone_id=zid, per_page=3, order="name", direction="desc")
    assert page.result_info is not None and page.result_info.per_page == 3
    assert [r.name.split(".")[0] for r in page.result] == ["7", "6", "5"]
    # the SDK follows the pages itself
    assert len(list(client.dns.records.list(zone_id=zid, per_page=3))) == 7
    assert [
        r.content
        for r in client.dns.records.list(zone_id=zid, content={"exact": "host4.example.com"})
    ] == ["host4.example.com"]
    starts = client.dns.records.list(zone_id=zid, name={"startswith": "3."})
    assert [r.name for r in starts] == ["3.2.0.192.in-addr.arpa"]
    either = client.dns.records.list(
        zone_id=zid, match="any", name={"exact": "1.2.0.192.in-addr.arpa"},
        content={"exact": "host2.example.com"},
    )  # fmt: skip
    assert sorted(str(r.content) for r in either) == ["host1.example.com", "host2.example.com"]


def test_auth_errors(base_url: str) -> None:
    with (
        connect(base_url, "not-the-token") as sdk,
        pytest.raises(cloudflare.PermissionDeniedError) as wrong,
    ):
        list(sdk.zones.list())
    assert codes(wrong.value) == [9109]
    missing = httpx.get(f"{base_url}/client/v4/zones")
    assert (missing.status_code, missing.json()["errors"][0]["code"]) == (400, 9106)
    basic = httpx.get(f"{base_url}/client/v4/zones", headers={"Authorization": "Basic eA=="})
    assert basic.status_code == 400 and basic.json()["success"] is False
    assert basic.json()["errors"][0]["error_chain"][0]["code"] == 6111


def test_unknown_zone_and_malformed_id(client: Cloudflare) -> None:
    with pytest.raises(cloudflare.NotFoundError) as unknown:
        list(client.dns.records.list(zone_id="f" * 32))
    assert codes(unknown.value) == [1001]
    with pytest.raises(cloudflare.BadRequestError) as malformed:
        client.zones.get(zone_id="nope")
    assert codes(malformed.value) == [7003]


def test_faults_reach_the_sdk_as_its_errors(client: Cloudflare, state: CloudflareState) -> None:
    zid = zone_id(client)
    state.faults.fail_next(1, 429)
    with pytest.raises(cloudflare.RateLimitError):
        client.zones.get(zone_id=zid)
    state.faults.exists_next()
    with pytest.raises(cloudflare.BadRequestError) as exists:
        client.dns.records.create(zone_id=zid, type="PTR", name="9", content="h.test", ttl=1)
    assert codes(exists.value) == [81057]
    assert state.records[zid] == {}
    state.faults.crash_next_create()
    with pytest.raises(cloudflare.InternalServerError):
        client.dns.records.create(zone_id=zid, type="PTR", name="9", content="h.test", ttl=1)
    assert [r["content"] for r in state.records[zid].values()] == ["h.test"]
