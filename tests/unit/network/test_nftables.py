"""Tests for `fluxbilling.network.nftables` (the rendered text is checked by the real `nft`
in tests/integration/test_nftables_check.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fluxbilling import errors
from fluxbilling.network import firewall, nftables
from fluxbilling.network.firewall import FirewallPolicy

GOLDEN = Path(__file__).parents[2] / "fixtures" / "nftables"


def vps_dual_stack() -> nftables.Ruleset:
    policy = firewall.parse({"open_ports": ["tcp/443", "udp/51820", "tcp/80"]})
    return nftables.render(
        policy,
        firewall.open_ports(policy, "vps"),
        ipv4=["192.0.2.10", "198.51.100.0/29"],
        ipv6=["2001:db8:1:2::/64", "2001:db8::10"],
    )


def game_open() -> nftables.Ruleset:
    policy = firewall.parse(
        {
            "block_smtp": False,
            "icmp_per_second": None,
            "new_connections_per_minute": None,
            "anti_spoofing": False,
        }
    )
    ports = firewall.open_ports(policy, "game", {"port_range": ["27015-27030", "25565"]})
    return nftables.render(policy, ports, ipv4=["203.0.113.5"])


CASES = {"vps-dual-stack.nft": vps_dual_stack, "game-open.nft": game_open}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_ruleset_is_the_golden_one(name: str) -> None:
    ruleset = CASES[name]()
    assert ruleset.text == (GOLDEN / name).read_text(encoding="utf-8")
    assert ruleset.sha256 == hashlib.sha256(ruleset.text.encode()).hexdigest()


def test_rendering_is_deterministic_whatever_the_order_of_its_input() -> None:
    policy = FirewallPolicy()
    ports = firewall.open_ports(firewall.parse({"open_ports": ["tcp/80", "tcp/443"]}), "vps")
    one = nftables.render(policy, ports, ipv4=["192.0.2.10", "192.0.2.9"], ipv6=["2001:db8::2"])
    two = nftables.render(
        policy,
        tuple(reversed(ports)),
        ipv4=["192.0.2.9", "192.0.2.10", "192.0.2.9"],
        ipv6=["2001:db8::2"],
    )
    assert one == two
    assert "ip saddr != { 192.0.2.9, 192.0.2.10 } drop" in one.text


def test_anti_spoofing_follows_the_services_own_addresses_of_each_family() -> None:
    text = nftables.render(FirewallPolicy(), (), ipv6=["2001:db8::10"]).text
    assert "meta nfproto ipv4 drop" in text, "no IPv4 address: it sends no IPv4"
    assert "ip6 saddr != { ::, 2001:db8::10, fe80::/10 } drop" in text
    ndp = text.index("nd-neighbor-solicit, nd-neighbor-advert } accept")
    assert ndp < text.index("ip6 saddr !="), "neighbour discovery before the anti-spoof drop"


def test_neighbour_discovery_is_accepted_even_when_everything_else_is_limited() -> None:
    text = nftables.render(FirewallPolicy(icmp_per_second=1), (), ipv4=["192.0.2.10"]).text
    lines = [line.strip() for line in text.splitlines()]
    ndp = next(i for i, line in enumerate(lines) if line.startswith("icmpv6 type { nd-router"))
    assert "limit" not in lines[ndp]
    assert lines.index("meta l4proto ipv6-icmp limit rate 1/second burst 2 packets accept") > ndp


@pytest.mark.parametrize(
    "address",
    [
        "192.0.2.10 } accept",
        "192.0.2.10; flush ruleset",
        "192.0.2.10\n",
        " 192.0.2.10",
        "",
        "192.0.2.1/24",
        "web1.example.net",
        '"lo"',
    ],
)
def test_an_address_that_is_not_one_is_refused(address: str) -> None:
    with pytest.raises(errors.InvalidSettings, match="is not an address"):
        nftables.render(FirewallPolicy(), (), ipv4=[address])


def test_an_address_of_the_other_family_is_refused() -> None:
    with pytest.raises(errors.InvalidSettings, match="is not IPv6"):
        nftables.render(FirewallPolicy(), (), ipv6=["192.0.2.10"])
    with pytest.raises(errors.InvalidSettings, match="is not IPv4"):
        nftables.render(FirewallPolicy(), (), ipv4=["2001:db8::1"])


def test_a_disabled_policy_renders_nothing() -> None:
    with pytest.raises(errors.InvalidSettings, match="disabled"):
        nftables.render(FirewallPolicy(enabled=False), (), ipv4=["192.0.2.10"])


def test_no_value_reaches_the_text_unchecked() -> None:
    """Every caller value is parsed: addresses by ipaddress, ports as checked integers."""
    with pytest.raises(errors.InvalidSettings):
        firewall.parse({"open_ports": ["tcp/22 } } table inet evil { chain x { accept"]})
    sneaky = FirewallPolicy(icmp_per_second="1/second accept; flush ruleset")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid literal"):
        nftables.render(sneaky, (), ipv4=["192.0.2.10"])


def test_overlapping_addresses_collapse_into_one_element() -> None:
    text = nftables.render(
        FirewallPolicy(), (), ipv4=["192.0.2.10", "192.0.2.0/24"], ipv6=["fe80::1"]
    ).text
    assert "ip saddr != { 192.0.2.0/24 } drop" in text
    assert "ip6 saddr != { ::, fe80::/10 } drop" in text
