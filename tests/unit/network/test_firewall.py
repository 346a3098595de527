"""Tests for `fluxbilling.network.firewall`."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from fluxbilling import errors
from fluxbilling.network import firewall
from fluxbilling.network.firewall import FirewallRule

V4 = ip_address("192.0.2.10")


def inbound(rules: tuple[FirewallRule, ...]) -> list[FirewallRule]:
    return [rule for rule in rules if rule.direction == "in"]


def outbound(rules: tuple[FirewallRule, ...]) -> list[FirewallRule]:
    return [rule for rule in rules if rule.direction == "out"]


def test_default_baseline() -> None:
    rules = firewall.baseline_rules(V4)
    assert [(r.protocol, r.port, r.action, r.state) for r in inbound(rules)] == [
        ("any", None, "accept", "established"),
        ("tcp", 22, "accept", None),
        ("icmp", None, "accept", None),
        ("any", None, "drop", None),
    ]
    assert [(r.protocol, r.port, r.source, r.action) for r in outbound(rules)] == [
        ("tcp", 25, None, "reject"),
        ("any", None, "192.0.2.10/32", "accept"),
        ("any", None, None, "drop"),
    ]
    assert all(rule.comment for rule in rules)


def test_anti_spoof_is_the_last_egress_rule() -> None:
    last = outbound(firewall.baseline_rules(V4))[-1]
    assert last == FirewallRule(
        "out", "any", None, None, "drop", "anti-spoof: drop egress from any other source address"
    )


def test_custom_ssh_port_icmp_off_and_smtp_allowed() -> None:
    rules = firewall.baseline_rules(V4, ssh_port=2222, allow_icmp=False, block_smtp=False)
    assert ("tcp", 2222) in [(r.protocol, r.port) for r in inbound(rules)]
    assert all(rule.protocol != "icmp" for rule in rules)
    assert all(rule.port != 25 for rule in outbound(rules))


def test_ipv6_always_accepts_icmpv6() -> None:
    rules = firewall.baseline_rules(ip_address("2001:db8::10"), allow_icmp=False)
    assert [r.protocol for r in inbound(rules)].count("icmpv6") == 1
    assert ("any", "2001:db8::10/128", "accept") in [
        (r.protocol, r.source, r.action) for r in outbound(rules)
    ]


def test_open_ports_are_deduplicated_sorted_and_before_default_deny() -> None:
    rules = inbound(
        firewall.baseline_rules(V4, open_ports=[443, 80, ("udp", 53), 80, ("tcp", 443), 22])
    )
    opened = [(r.protocol, r.port) for r in rules if r.comment.startswith("customer-opened")]
    assert opened == [("udp", 53), ("tcp", 80), ("tcp", 443)]  # ssh is not duplicated
    assert rules[-1].action == "drop"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ssh_port": 0},
        {"ssh_port": 65536},
        {"ssh_port": True},
        {"open_ports": [70000]},
        {"open_ports": [("sctp", 80)]},
        {"open_ports": [("udp", 0)]},
    ],
)
def test_invalid_ports(kwargs: dict[str, object]) -> None:
    with pytest.raises(errors.InvalidSettings):
        firewall.baseline_rules(V4, **kwargs)  # type: ignore[arg-type]


def test_rules_are_frozen() -> None:
    rule = firewall.baseline_rules(V4)[0]
    with pytest.raises(AttributeError):
        rule.action = "drop"  # type: ignore[misc]
