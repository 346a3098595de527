"""Order input checks that need no database: the hostname."""

from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.orders.service import validate_hostname


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("VPS1.Example.com", "vps1.example.com"),
        ("vps1.example.com.", "vps1.example.com"),
        ("10-0-0-1.example.net", "10-0-0-1.example.net"),
        ("0x7f.example", "0x7f.example"),
        ("127.0.0.1.nip.io", "127.0.0.1.nip.io"),
    ],
)
def test_domain_names_are_accepted_lowercased(given: str, name: str) -> None:
    assert validate_hostname(given) == name


@pytest.mark.parametrize(
    "hostname",
    ["127.0.0.1", "127.1", "0x7f.1", "192.168.1.20", "8.8.8.8.", "1.0x7f", "10.1.0x102"],
)
def test_ip_address_literals_are_not_hostnames(hostname: str) -> None:
    with pytest.raises(errors.InvalidSettings, match="is an IP address, not a domain name"):
        validate_hostname(hostname)


@pytest.mark.parametrize("hostname", ["single", "no_underscores.example.com", "-a.example.com"])
def test_other_bad_names_are_not_fully_qualified(hostname: str) -> None:
    with pytest.raises(errors.InvalidSettings, match="not a fully qualified domain name"):
        validate_hostname(hostname)
