"""The guarding transport: resolve once, check, send to the checked address with the name kept."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address, ip_network

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.drivers.address_guard import GuardedTransport, Resolver, StaticResolver
from fluxbilling.drivers.address_policy import IPAddress
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.engine import policy

pytestmark = pytest.mark.anyio


class Vendor:
    """A MockTransport handler that keeps every request it received."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"ok": True})


class Rebinding:
    """A resolver whose answer changes after the first question (DNS rebinding)."""

    def __init__(self, *answers: str) -> None:
        self.answers = [IPv4Address(a) for a in answers]
        self.asked = 0

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.asked += 1
        return [self.answers[min(self.asked, len(self.answers)) - 1]]


def guarded(
    vendor: Vendor,
    resolver: Resolver,
    base: str = "https://panel.example/api/",
    allowed: tuple[str, ...] = (),
) -> UpstreamHttp:
    transport = GuardedTransport(
        httpx.MockTransport(vendor),
        resolver=resolver,
        allowed=[ip_network(n) for n in allowed],
        upstream="panel",
    )
    return UpstreamHttp("panel", base, transport=transport, trust_env=False)


async def test_requests_go_to_the_checked_address_with_host_and_sni_kept() -> None:
    vendor = Vendor()
    http = guarded(vendor, StaticResolver({"panel.example": "93.184.215.14"}))
    response = await http.request("GET", "plans", operation="list plans")
    assert response.status_code == 200
    (sent,) = vendor.requests
    assert str(sent.url) == "https://93.184.215.14/api/plans"
    assert sent.headers["Host"] == "panel.example"
    assert sent.extensions["sni_hostname"] == "panel.example"
    assert response.request.url.host == "panel.example"  # callers still see the name
    assert http.recorder.last is not None
    assert http.recorder.last.url == "https://panel.example/api/plans"


async def test_a_name_is_resolved_once_so_a_rebinding_answer_changes_nothing() -> None:
    vendor = Vendor()
    resolver = Rebinding("93.184.215.14", "169.254.169.254")
    http = guarded(vendor, resolver, base="http://panel.example:8080/")
    for _ in range(3):
        await http.request("GET", "plans", operation="list plans")
    assert resolver.asked == 1
    assert {str(r.url) for r in vendor.requests} == {"http://93.184.215.14:8080/plans"}
    assert all(r.headers["Host"] == "panel.example:8080" for r in vendor.requests)
    assert all("sni_hostname" not in r.extensions for r in vendor.requests)  # plain HTTP


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ("169.254.169.254", "metadata"),
        ("127.0.0.1", "loopback"),
        ("10.0.0.7", "private"),
        ("::ffff:127.0.0.1", "loopback"),
    ],
)
async def test_a_refused_address_is_a_permanent_error_naming_the_policy(
    answer: str, kind: str
) -> None:
    vendor = Vendor()
    http = guarded(vendor, StaticResolver({"panel.example": answer}))
    with pytest.raises(errors.PermanentUpstreamError) as caught:
        await http.request("GET", "plans", operation="list plans")
    assert vendor.requests == []
    assert "refused by the upstream address policy" in caught.value.message
    assert caught.value.details["kind"] == kind
    assert http.recorder.last is not None and "address policy" in str(http.recorder.last.error)
    # ... which the engine fails at once instead of retrying
    now = datetime(2026, 1, 1, tzinfo=UTC)
    decision = policy.decide(caught.value, 1, policy.RetryPolicy(), now, now, 0.5)
    assert isinstance(decision, policy.Fail)


async def test_an_allowed_private_address_is_reached() -> None:
    vendor = Vendor()
    http = guarded(
        vendor, StaticResolver({"panel.example": "10.20.0.5"}), allowed=("10.20.0.0/16",)
    )
    await http.request("GET", "plans", operation="list plans")
    assert vendor.requests[0].url.host == "10.20.0.5"


@pytest.mark.parametrize(
    "base",
    ["http://127.1/", "http://2130706433/", "http://0x7f.1/", "http://[::1]/", "http://localhost/"],
)
async def test_literals_and_localhost_never_reach_the_resolver(base: str) -> None:
    vendor = Vendor()
    resolver = StaticResolver({})
    http = guarded(vendor, resolver, base=base)
    with pytest.raises(errors.PermanentUpstreamError, match="loopback"):
        await http.request("GET", "x", operation="op")
    assert resolver.asked == [] and vendor.requests == []
    allowed = guarded(vendor, resolver, base=base, allowed=("127.0.0.0/8", "::1/128"))
    await allowed.request("GET", "x", operation="op")
    assert vendor.requests[-1].url.host in ("127.0.0.1", "::1")


async def test_a_name_that_does_not_resolve_is_transient() -> None:
    http = guarded(Vendor(), StaticResolver({}))
    with pytest.raises(errors.TransientUpstreamError, match=r"cannot resolve panel\.example"):
        await http.request("GET", "x", operation="op")


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "metadata.google.internal"},
        {"host": "internal.example"},
        {"Transfer-Encoding": "chunked"},
        {"Content-Length": "0"},
        {"X-Note": "a\r\nHost: internal.example"},
        {"Bad Name": "x"},
    ],
)
async def test_host_framing_and_broken_headers_are_refused(headers: dict[str, str]) -> None:
    vendor = Vendor()
    http = guarded(vendor, StaticResolver({"panel.example": "93.184.215.14"}))
    with pytest.raises(errors.InvalidSettings, match="header"):
        await http.request("GET", "x", operation="op", headers=headers)
    assert vendor.requests == []


async def test_static_resolver_is_case_insensitive_and_records_questions() -> None:
    resolver = StaticResolver({"Panel.Example": ["10.0.0.1", "93.184.215.14"]})
    assert await resolver.resolve("panel.example.", 443) == [
        IPv4Address("10.0.0.1"),
        IPv4Address("93.184.215.14"),
    ]
    assert resolver.asked == ["panel.example."]
    with pytest.raises(OSError, match="name not known"):
        await resolver.resolve("other.example", 443)
