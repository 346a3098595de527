"""Subnet checks: the prefix, the gateway inside it, resolvers, the reverse zone."""

from __future__ import annotations

import pytest

from fluxbilling.catalogue.subnets import SubnetSpec, check, normalise


def spec(**change: object) -> SubnetSpec:
    values: dict[str, object] = {
        "cidr": "192.0.2.0/24",
        "location": "ams1",
        "gateway": "192.0.2.1",
        "dns_servers": ("192.0.2.53",),
    }
    return SubnetSpec(**{**values, **change})  # type: ignore[arg-type]


def test_a_plain_subnet_is_fine_and_its_zone_derived() -> None:
    assert check(spec()) == []
    assert normalise(spec()).reverse_zone == "2.0.192.in-addr.arpa"
    assert normalise(spec(cidr="10.8.0.0/16", gateway="10.8.0.1")).reverse_zone == (
        "8.10.in-addr.arpa"
    )
    assert normalise(spec(cidr="192.0.2.64/26", gateway="192.0.2.65")).reverse_zone == (
        "2.0.192.in-addr.arpa"
    )


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"cidr": "192.0.2.0"}, "cidr", "needs a prefix length, e.g. 192.0.2.0/24"),
        ({"cidr": "192.0.2.0/33"}, "cidr", "is not a network in CIDR form, e.g. 192.0.2.0/24"),
        ({"cidr": "192.0.2.9/24"}, "cidr", "has host bits set; the network is 192.0.2.0/24"),
        ({"cidr": "192.0.2.0/31"}, "cidr", "/31 leaves no room for a gateway and hosts"),
        ({"gateway": "192.0.3.1"}, "gateway", "is not inside 192.0.2.0/24"),
        ({"gateway": "192.0.2.0"}, "gateway", "is the network address of 192.0.2.0/24"),
        ({"gateway": "192.0.2.255"}, "gateway", "is the broadcast address of 192.0.2.0/24"),
        ({"gateway": "2001:db8::1"}, "gateway", "is not inside 192.0.2.0/24"),
        ({"gateway": "gw"}, "gateway", "is not an IP address"),
        ({"dns_servers": ()}, "dns_servers", "must list 1 to 8 addresses"),
        ({"dns_servers": ("9.9.9.9", "nine")}, "dns_servers[1]", "is not an IP address"),
        ({"dns_servers": ("9.9.9.9", "9.9.9.9")}, "dns_servers[1]", "is listed twice"),
    ],
)
def test_each_problem_is_named(change: dict[str, object], path: str, message: str) -> None:
    assert check(spec(**change)) == [{"path": path, "message": message}]


@pytest.mark.parametrize(
    "zone", ["2.0.192.in-addr.arpa", "0.192.in-addr.arpa.", "2.0.192.IN-ADDR.ARPA"]
)
def test_a_given_zone_must_contain_the_subnet(zone: str) -> None:
    assert check(spec(reverse_zone=zone)) == []
    assert normalise(spec(reverse_zone=zone)).reverse_zone == zone.lower().rstrip(".")


@pytest.mark.parametrize("zone", ["3.0.192.in-addr.arpa", "in-addr.arpa", "example.com", "arpa"])
def test_a_zone_that_misses_the_subnet_is_refused(zone: str) -> None:
    (problem,) = check(spec(reverse_zone=zone))
    assert problem["path"] == "reverse_zone"
    assert "use 2.0.192.in-addr.arpa" in problem["message"]


def test_ipv6_subnets_are_canonical() -> None:
    v6 = spec(cidr="2001:DB8::/64", gateway="2001:db8::1", dns_servers=("2001:4860:4860::8888",))
    assert check(v6) == []
    stored = normalise(v6)
    assert (stored.cidr, stored.gateway) == ("2001:db8::/64", "2001:db8::1")
    assert stored.reverse_zone == "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
