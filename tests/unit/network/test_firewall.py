"""Tests for `fluxbilling.network.firewall`."""

from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.network import firewall
from fluxbilling.network.firewall import FirewallPolicy, PortRange, Transport


def texts(ports: tuple[PortRange, ...]) -> list[str]:
    return [str(port) for port in ports]


def test_the_defaults_open_ssh_on_a_vps_and_limit_everything_else() -> None:
    policy = firewall.parse(None)
    assert policy == FirewallPolicy()
    assert (policy.block_smtp, policy.anti_spoofing, policy.enabled) == (True, True, True)
    assert texts(firewall.open_ports(policy, "vps")) == ["tcp/22"]
    assert texts(firewall.open_ports(policy, "baremetal")) == ["tcp/22"]


def test_shared_hosting_opens_the_web_mail_and_ftp_ports() -> None:
    ports = texts(firewall.open_ports(FirewallPolicy(), "shared"))
    assert {"tcp/21", "tcp/80", "tcp/443", "tcp/587", "tcp/993"} <= set(ports)


def test_a_game_server_opens_its_port_range_on_tcp_and_udp() -> None:
    options = {"port_range": ["25565", "27015-27030", "not a port", 7, "0-3"]}
    assert texts(firewall.open_ports(FirewallPolicy(), "game", options)) == [
        "tcp/25565",
        "tcp/27015-27030",
        "udp/25565",
        "udp/27015-27030",
    ]
    assert firewall.open_ports(FirewallPolicy(), "game", {}) == ()


def test_an_operator_adds_and_removes_ports() -> None:
    policy = firewall.parse(
        {"open_ports": ["tcp/8443", "udp/51820", "tcp/8443"], "closed_ports": ["tcp/22"]}
    )
    assert texts(policy.open_ports) == ["tcp/8443", "udp/51820"]
    assert texts(firewall.open_ports(policy, "vps")) == ["tcp/8443", "udp/51820"]


def test_the_json_form_is_canonical_and_round_trips() -> None:
    data = {"open_ports": ["udp/53", "tcp/80", "tcp/10000-10100"], "icmp_per_second": None}
    canonical = firewall.to_json(firewall.parse(data))
    assert canonical == {
        "enabled": True,
        "open_ports": ["tcp/80", "tcp/10000-10100", "udp/53"],
        "closed_ports": [],
        "block_smtp": True,
        "icmp_per_second": None,
        "new_connections_per_minute": 120,
        "anti_spoofing": True,
    }
    assert firewall.to_json(firewall.parse(canonical)) == canonical


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"open_ports": ["tcp/22", "tcp/70000"]}, "firewall.open_ports[1]"),
        ({"open_ports": ["tcp/22; flush ruleset"]}, "firewall.open_ports[0]"),
        ({"open_ports": ['tcp/22" accept']}, "firewall.open_ports[0]"),
        ({"open_ports": ["sctp/22"]}, "firewall.open_ports[0]"),
        ({"open_ports": ["tcp/30-20"]}, "firewall.open_ports[0]"),
        ({"open_ports": ["tcp/022"]}, "firewall.open_ports[0]"),
        ({"open_ports": [22]}, "firewall.open_ports[0]"),
        ({"open_ports": "tcp/22"}, "firewall.open_ports"),
        ({"closed_ports": ["tcp/0"]}, "firewall.closed_ports[0]"),
        ({"block_smtp": "yes"}, "firewall.block_smtp"),
        ({"icmp_per_second": 0}, "firewall.icmp_per_second"),
        ({"icmp_per_second": True}, "firewall.icmp_per_second"),
        ({"new_connections_per_minute": "10/second"}, "firewall.new_connections_per_minute"),
        ({"flush": True}, "firewall.flush"),
    ],
)
def test_every_bad_field_is_named(data: dict[str, object], path: str) -> None:
    assert [p["path"] for p in firewall.problems(data)] == [path]
    with pytest.raises(errors.InvalidSettings) as raised:
        firewall.parse(data)
    assert raised.value.details["problems"] == firewall.problems(data)


def test_a_policy_that_is_not_a_mapping_is_refused() -> None:
    assert firewall.problems(["tcp/22"]) == [{"path": "firewall", "message": "must be a mapping"}]


def test_a_port_range_checks_itself_when_made() -> None:
    assert str(PortRange(Transport.UDP, 53, 53)) == "udp/53"
    for first, last in ((0, 1), (1, 65536), (10, 9)):
        with pytest.raises(errors.InvalidSettings):
            PortRange(Transport.TCP, first, last)
    with pytest.raises(errors.InvalidSettings):
        PortRange("icmp", 1, 1)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidSettings):
        PortRange(Transport.TCP, "22", 22)  # type: ignore[arg-type]
