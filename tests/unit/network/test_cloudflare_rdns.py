"""The Cloudflare rDNS backend against the Cloudflare simulator (in process, over ASGI).

The backend's client is the upstream boundary's `UpstreamHttp` behind the address guard,
as a connection's client is, so the token's redaction and the address policy are exercised.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.drivers.address_guard import GuardedTransport, StaticResolver
from fluxbilling.drivers.upstream import Credential, UpstreamHttp
from fluxbilling.network.cloudflare import CloudflareRdns
from fluxbilling.network.dnsserver import DnsServer
from fluxbilling.network.rdns import RdnsBackend
from fluxbilling_simulators.cloudflare import CloudflareState, create_app
from fluxbilling_simulators.cloudflare_dns import CloudflareDns

pytestmark = pytest.mark.anyio

TOKEN = "cf-secret-token-0123456789"
BASE = "https://api.cloudflare.test/client/v4/"
V4_ZONE = "2.0.192.in-addr.arpa"
V6_ZONE = "8.b.d.0.1.0.0.2.ip6.arpa"


def backend(
    sim: CloudflareState, *, address: str = "104.16.132.229", token: str = TOKEN
) -> CloudflareRdns:
    transport = GuardedTransport(
        httpx.ASGITransport(app=create_app(sim)),
        resolver=StaticResolver({"api.cloudflare.test": address}),
        allowed=[],
        upstream="cloudflare",
    )
    http = UpstreamHttp(
        "cloudflare",
        BASE,
        secrets=[token],
        transport=transport,
        credentials={None: Credential(headers={"Authorization": f"Bearer {token}"})},
        trust_env=False,
    )
    return CloudflareRdns(http)


@pytest.fixture
def sim() -> CloudflareState:
    state = CloudflareState(token=TOKEN, seed=9)
    state.add_zone("192.in-addr.arpa")  # a wider zone: the longest containing one wins
    state.add_zone(V4_ZONE)
    state.add_zone(V6_ZONE)
    state.add_zone("example.com")
    return state


def zone_id(sim: CloudflareState, name: str) -> str:
    return next(str(z["id"]) for z in sim.zones.values() if z["name"] == name)


def ptrs(sim: CloudflareState, zone: str) -> list[tuple[str, str, int]]:
    return [
        (r["name"], r["content"], r["ttl"])
        for r in sim.find_records(zone_id(sim, zone), type="PTR")
    ]


async def test_set_ptr_creates_in_the_longest_reverse_zone_and_a_repeat_writes_nothing(
    sim: CloudflareState,
) -> None:
    rdns = backend(sim)
    assert isinstance(rdns, RdnsBackend)
    assert await rdns.set_ptr("192.0.2.10", "Web1.Example.com.") == (
        V4_ZONE + ".",
        "10.2.0.192.in-addr.arpa.",
    )
    assert ptrs(sim, V4_ZONE) == [("10.2.0.192.in-addr.arpa", "web1.example.com", 3600)]
    assert ptrs(sim, "192.in-addr.arpa") == []
    before = {r["id"]: r["modified_on"] for r in sim.records[zone_id(sim, V4_ZONE)].values()}
    await rdns.set_ptr("192.0.2.10", "web1.example.com")
    after = {r["id"]: r["modified_on"] for r in sim.records[zone_id(sim, V4_ZONE)].values()}
    assert after == before  # same record, untouched


async def test_set_ptr_updates_content_and_ttl_and_keeps_one_record(sim: CloudflareState) -> None:
    rdns = backend(sim)
    await rdns.set_ptr("192.0.2.10", "web1.example.com")
    (first,) = sim.records[zone_id(sim, V4_ZONE)]
    await rdns.set_ptr("192.0.2.10", "web2.example.com", ttl=300)
    assert ptrs(sim, V4_ZONE) == [("10.2.0.192.in-addr.arpa", "web2.example.com", 300)]
    assert list(sim.records[zone_id(sim, V4_ZONE)]) == [first]


async def test_extra_ptrs_of_the_name_are_removed(sim: CloudflareState) -> None:
    zid = zone_id(sim, V4_ZONE)
    for host in ("old.example.com", "web1.example.com", "other.example.com"):
        sim.create_record(zid, {"type": "PTR", "name": "10", "content": host, "ttl": 3600})
    sim.create_record(zid, {"type": "PTR", "name": "11", "content": "n.example.com", "ttl": 1})
    await backend(sim).set_ptr("192.0.2.10", "web1.example.com")
    assert sorted(ptrs(sim, V4_ZONE)) == [
        ("10.2.0.192.in-addr.arpa", "web1.example.com", 3600),
        ("11.2.0.192.in-addr.arpa", "n.example.com", 1),
    ]


async def test_ipv6_goes_to_the_nibble_zone_and_delete_is_idempotent(sim: CloudflareState) -> None:
    rdns = backend(sim)
    zone, name = await rdns.set_ptr("2001:db8::5", "v6.example.com")
    assert zone == V6_ZONE + "."
    assert name == "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0." + V6_ZONE + "."
    assert len(ptrs(sim, V6_ZONE)) == 1
    await rdns.delete_ptr("2001:db8::5")
    assert ptrs(sim, V6_ZONE) == []
    await rdns.delete_ptr("2001:db8::5")  # nothing to delete: fine
    assert ptrs(sim, V6_ZONE) == []


async def test_a_lost_create_answer_is_recovered_without_a_second_record(
    sim: CloudflareState,
) -> None:
    rdns = backend(sim)
    sim.faults.crash_next_create()
    with pytest.raises(errors.TransientUpstreamError):
        await rdns.set_ptr("192.0.2.10", "web1.example.com")
    await rdns.set_ptr("192.0.2.10", "web1.example.com")  # the phase's retry
    assert ptrs(sim, V4_ZONE) == [("10.2.0.192.in-addr.arpa", "web1.example.com", 3600)]


async def test_already_exists_on_create_relists_and_converges(sim: CloudflareState) -> None:
    zid = zone_id(sim, V4_ZONE)
    sim.faults.exists_next()  # says "exists" and creates nothing: nothing to converge on yet
    with pytest.raises(errors.TransientUpstreamError, match="lists none"):
        await backend(sim).set_ptr("192.0.2.10", "web1.example.com")
    assert sim.find_records(zid) == []
    await backend(sim).set_ptr("192.0.2.10", "web1.example.com")
    assert len(sim.find_records(zid)) == 1


async def test_transient_and_permanent_failures_follow_the_taxonomy(sim: CloudflareState) -> None:
    rdns = backend(sim)
    sim.faults.fail_next(1, 503)
    with pytest.raises(errors.TransientUpstreamError):
        await rdns.set_ptr("192.0.2.10", "web1.example.com")
    with pytest.raises(errors.PermanentUpstreamError, match=r"no zone of the account contains"):
        await rdns.set_ptr("198.51.100.7", "web1.example.com")
    with pytest.raises(errors.PermanentUpstreamError, match="9021"):
        await rdns.set_ptr("192.0.2.10", "web1.example.com", ttl=5)
    with pytest.raises(errors.InvariantViolation):
        await rdns.set_ptr("not-an-ip", "web1.example.com")


async def test_a_wrong_token_is_permanent_and_never_shown(
    sim: CloudflareState, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "cf-wrong-token-abcdef0123"
    rdns = backend(sim, token=wrong)
    with pytest.raises(errors.PermanentUpstreamError) as refused:
        await rdns.set_ptr("192.0.2.10", "web1.example.com")
    assert refused.value.status == 403
    exchange = rdns.http.recorder.last  # type: ignore[attr-defined]
    assert exchange is not None
    shown = f"{refused.value} {exchange.to_dict()} {caplog.text}"
    assert wrong not in shown


async def test_the_address_policy_refuses_a_private_api_address(sim: CloudflareState) -> None:
    with pytest.raises(errors.PermanentUpstreamError):
        await backend(sim, address="10.0.0.7").set_ptr("192.0.2.10", "web1.example.com")
    assert sim.requests == 0


async def test_the_zone_is_found_past_the_first_page_of_zones(sim: CloudflareState) -> None:
    for n in range(60):  # Cloudflare lists at most 50 zones a page
        sim.add_zone(f"{n}.10.in-addr.arpa")
    zone, _ = await backend(sim).set_ptr("10.59.0.1", "far.example.com")
    assert zone == "59.10.in-addr.arpa."
    assert ptrs(sim, "59.10.in-addr.arpa") == [("1.0.59.10.in-addr.arpa", "far.example.com", 3600)]


def forwards(sim: CloudflareState, rtype: str) -> list[tuple[str, str]]:
    return [
        (r["name"], r["content"]) for r in sim.find_records(zone_id(sim, "example.com"), type=rtype)
    ]


async def test_set_forward_upserts_the_hosts_a_and_aaaa_in_its_zone(sim: CloudflareState) -> None:
    rdns = backend(sim)
    assert await rdns.set_forward("Web1.Example.com.", "192.0.2.10") == (
        "example.com.",
        "web1.example.com.",
    )
    await rdns.set_forward("web1.example.com", "192.0.2.11")  # a new address replaces it
    await rdns.set_forward("web1.example.com", "2001:db8::10")
    assert forwards(sim, "A") == [("web1.example.com", "192.0.2.11")]
    assert forwards(sim, "AAAA") == [("web1.example.com", "2001:db8::10")]
    await rdns.delete_forward("web1.example.com", "192.0.2.10")  # not its address: kept
    assert forwards(sim, "A") == [("web1.example.com", "192.0.2.11")]
    await rdns.delete_forward("web1.example.com", "192.0.2.11")
    await rdns.delete_forward("web1.example.com", "192.0.2.11")  # idempotent
    assert forwards(sim, "A") == []


async def test_a_host_outside_the_accounts_zones_is_a_permanent_error(
    sim: CloudflareState,
) -> None:
    with pytest.raises(errors.PermanentUpstreamError, match=r"no zone of the account contains"):
        await backend(sim).set_forward("web1.example.org", "192.0.2.10")


async def test_confirm_without_an_authoritative_server_names_the_setting(
    sim: CloudflareState,
) -> None:
    with pytest.raises(errors.InvalidSettings, match="FLUXBILLING_RDNS_NAMESERVER"):
        await backend(sim).confirm("192.0.2.10", "web1.example.com")


async def test_confirm_asks_the_server_that_answers_the_simulators_zones(
    sim: CloudflareState,
) -> None:
    server = DnsServer(CloudflareDns(sim))
    await server.start()
    try:
        rdns = backend(sim)
        rdns.nameserver = server.address
        await rdns.set_ptr("192.0.2.10", "web1.example.com")
        missing = await rdns.confirm("192.0.2.10", "web1.example.com")
        assert missing.reason == "no A for web1.example.com. (NXDOMAIN)"
        assert missing.server == "{}:{}".format(*server.address)
        await rdns.set_forward("web1.example.com", "192.0.2.10")
        verdict = await rdns.confirm("192.0.2.10", "web1.example.com")
        assert verdict.confirmed, verdict.reason
        await rdns.set_forward("web1.example.com", "192.0.2.11")
        moved = await rdns.confirm("192.0.2.10", "web1.example.com")
        assert moved.reason == "web1.example.com. A is 192.0.2.11, not 192.0.2.10"
    finally:
        await server.stop()
