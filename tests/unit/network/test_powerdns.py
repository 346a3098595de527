"""Tests for the pure parts of `fluxbilling.network.powerdns` (the server itself: integration)."""

from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.network import powerdns


@pytest.mark.parametrize(
    ("zone", "zone_id"),
    [
        ("2.0.192.in-addr.arpa.", "2.0.192.in-addr.arpa."),
        ("128/25.2.0.192.in-addr.arpa.", "128=2F25.2.0.192.in-addr.arpa."),
        ("a_b.example-1.test.", "a=5Fb.example-1.test."),
        (".", "=2E"),
    ],
)
def test_zone_ids_escape_what_powerdns_escapes(zone: str, zone_id: str) -> None:
    assert powerdns.api_zone_id(zone) == zone_id


def test_names_are_made_absolute_and_the_delegated_prefixes_place_the_ptr() -> None:
    http = powerdns.powerdns_http("http://192.0.2.1:8081/api/v1", "k" * 16)
    rdns = powerdns.PowerDnsRdns(http, ["192.0.2.0/26"], nameservers=["ns1.example.net"])
    assert rdns.nameservers == ("ns1.example.net.",)
    assert rdns.place("192.0.2.5").zone == "0/26.2.0.192.in-addr.arpa."
    assert rdns.place("192.0.2.200").zone == "2.0.192.in-addr.arpa."


def test_a_bad_network_is_refused_when_configured() -> None:
    http = powerdns.powerdns_http("http://192.0.2.1:8081/api/v1", "k" * 16)
    for bad in ("not-a-network", "192.0.2.1/24"):
        with pytest.raises(errors.InvalidSettings, match="reverse networks"):
            powerdns.PowerDnsRdns(http, [bad])
    with pytest.raises(errors.InvalidSettings, match="allowed networks"):
        powerdns.powerdns_http("http://192.0.2.1:8081/api/v1", "k" * 16, allowed_networks=["x"])
