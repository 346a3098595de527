"""The upstream address policy, decided over literals: what each address is, what may be reached."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from fluxbilling.drivers.address_policy import (
    AddressKind,
    check,
    classify,
    literal,
    parse_allowed,
    static_verdict,
)

LOOPBACK_8 = [ip_network("127.0.0.0/8")]


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7F000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("10.1.0x102", "10.1.1.2"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[fe80::1%25eth0]", "fe80::1%eth0"),
        ("169.254.169.254", "169.254.169.254"),
    ],
)
def test_literals_are_read_as_a_resolver_reads_them(host: str, address: str) -> None:
    assert literal(host) == ip_address(address)


@pytest.mark.parametrize(
    "host", ["panel.example.com", "256.1.1.1", "1.2.3.4.5", "4294967296", "0x", "08.1", "1..2", ""]
)
def test_names_and_impossible_numbers_are_not_literals(host: str) -> None:
    assert literal(host) is None


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", AddressKind.LOOPBACK),
        ("127.255.255.254", AddressKind.LOOPBACK),
        ("::1", AddressKind.LOOPBACK),
        ("::ffff:127.0.0.1", AddressKind.LOOPBACK),
        ("2002:7f00:1::", AddressKind.LOOPBACK),  # 6to4 carrying 127.0.0.1
        ("169.254.169.254", AddressKind.METADATA),
        ("::ffff:169.254.169.254", AddressKind.METADATA),
        ("64:ff9b::a9fe:a9fe", AddressKind.METADATA),  # NAT64 carrying 169.254.169.254
        ("fd00:ec2::254", AddressKind.METADATA),
        ("100.100.100.200", AddressKind.METADATA),
        ("169.254.1.1", AddressKind.LINK_LOCAL),
        ("fe80::1", AddressKind.LINK_LOCAL),
        ("10.0.0.1", AddressKind.PRIVATE),
        ("172.31.255.1", AddressKind.PRIVATE),
        ("192.168.1.10", AddressKind.PRIVATE),
        ("fd00::1", AddressKind.PRIVATE),
        ("fc00::1", AddressKind.PRIVATE),
        ("100.64.0.1", AddressKind.SHARED),
        ("100.127.255.254", AddressKind.SHARED),
        ("0.0.0.0", AddressKind.UNSPECIFIED),  # noqa: S104 - an address to judge, not bind
        ("0.1.2.3", AddressKind.UNSPECIFIED),
        ("::", AddressKind.UNSPECIFIED),
        ("224.0.0.1", AddressKind.MULTICAST),
        ("239.255.255.250", AddressKind.MULTICAST),
        ("ff02::1", AddressKind.MULTICAST),
        ("255.255.255.255", AddressKind.RESERVED),
        ("240.0.0.1", AddressKind.RESERVED),
        ("::7f00:1", AddressKind.RESERVED),  # IPv4-compatible, deprecated
        ("192.0.2.10", AddressKind.RESERVED),  # documentation
        ("198.18.0.1", AddressKind.RESERVED),  # benchmarking
        ("93.184.215.14", AddressKind.PUBLIC),
        ("8.8.8.8", AddressKind.PUBLIC),
        ("100.63.255.255", AddressKind.PUBLIC),
        ("172.32.0.1", AddressKind.PUBLIC),
        ("2606:4700:4700::1111", AddressKind.PUBLIC),
        ("::ffff:8.8.8.8", AddressKind.PUBLIC),
    ],
)
def test_classify(address: str, kind: AddressKind) -> None:
    assert classify(ip_address(address)) is kind


def test_public_addresses_need_no_allowance() -> None:
    verdict = check([ip_address("93.184.215.14")])
    assert (verdict.allowed, verdict.address) == (True, ip_address("93.184.215.14"))


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "fd00::1", "100.64.0.1"])
def test_loopback_private_and_shared_are_refused_by_default(address: str) -> None:
    verdict = check([ip_address(address)])
    assert not verdict.allowed
    assert verdict.address is None
    assert "refused unless the connection's allowed_networks include it" in verdict.reason


def test_an_allowance_opens_exactly_its_networks() -> None:
    allowed = [ip_network("127.0.0.1/32"), ip_network("10.20.0.0/16")]
    assert check([ip_address("127.0.0.1")], allowed).allowed
    assert check([ip_address("::ffff:127.0.0.1")], allowed).allowed  # the same host
    assert check([ip_address("10.20.30.40")], allowed).allowed
    assert not check([ip_address("127.0.0.2")], allowed).allowed
    assert not check([ip_address("10.21.0.1")], allowed).allowed
    assert not check([ip_address("::1")], allowed).allowed


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.10.10", "fe80::1", "0.0.0.0"],  # noqa: S104
)
def test_metadata_link_local_and_unspecified_are_never_reached(address: str) -> None:
    everything = [ip_network(n) for n in ("169.254.0.0/16", "fc00::/7", "100.64.0.0/10")]
    verdict = check([ip_address(address)], everything)
    assert not verdict.allowed
    assert verdict.reason.endswith("never reached")


def test_the_first_permitted_address_is_the_one_to_connect_to() -> None:
    addresses = [ip_address("10.0.0.5"), ip_address("93.184.215.14"), ip_address("127.0.0.1")]
    assert check(addresses).address == ip_address("93.184.215.14")
    assert check(addresses, [ip_network("10.0.0.0/8")]).address == ip_address("10.0.0.5")


def test_a_refusal_names_the_first_address_and_its_kind() -> None:
    verdict = check([ip_address("169.254.169.254"), ip_address("127.0.0.1")])
    assert verdict.kind is AddressKind.METADATA
    assert verdict.reason == "169.254.169.254 is a cloud metadata address: never reached"
    assert check([]).reason == "the name resolves to no address"


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.1", False),
        ("2130706433", False),
        ("0x7f.1", False),
        ("[::1]", False),
        ("[::ffff:127.0.0.1]", False),
        ("localhost", False),
        ("LocalHost.", False),
        ("api.localhost", False),
        ("169.254.169.254", False),
        ("93.184.215.14", True),
    ],
)
def test_static_verdicts_for_hosts_known_without_dns(host: str, allowed: bool) -> None:
    verdict = static_verdict(host)
    assert verdict is not None
    assert verdict.allowed is allowed


def test_localhost_passes_once_loopback_is_allowed_and_names_stay_for_dns() -> None:
    assert static_verdict("localhost", LOOPBACK_8) is not None
    assert static_verdict("localhost", LOOPBACK_8).allowed  # type: ignore[union-attr]
    refused = static_verdict("localhost")
    assert refused is not None and refused.reason.startswith("localhost is a loopback address")
    assert static_verdict("panel.example.com") is None


def test_parse_allowed_accepts_loopback_private_and_shared_networks_only() -> None:
    networks, problems = parse_allowed(
        ["127.0.0.1", "10.20.0.0/16", "fd00::/8", "100.64.0.0/10", "192.168.1.7/24"]
    )
    assert [str(n) for n in networks] == [
        "127.0.0.1/32",
        "10.20.0.0/16",
        "fd00::/8",
        "100.64.0.0/10",
        "192.168.1.0/24",
    ]
    assert problems == []
    _, refused = parse_allowed(
        ["0.0.0.0/0", "169.254.0.0/16", "169.254.169.254", "8.8.8.8", "not-a-net", "::/0"]
    )
    assert [index for index, _ in refused] == [0, 1, 2, 3, 4, 5]
    assert refused[1][1] == "169.254.0.0/16 is not inside a loopback, private or shared range"
    assert "is not an IP address or network" in refused[4][1]
