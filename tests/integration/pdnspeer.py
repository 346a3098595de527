"""The real PowerDNS Authoritative server the rDNS tests talk to (started by scripts/services).

`scripts/peers/pdns` writes `.peers/pdns.env` (or `$FLUXBILLING_PEERS_DIR/pdns.env`); a test
that needs the server fails, never skips, when the file is missing or the server does not
answer: the suite runs under `scripts/test`, which starts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tests.integration import peers


@dataclass(frozen=True, slots=True)
class PowerDns:
    """How to reach the server: DNS on `dns_host:dns_port`, the API at `api_url`."""

    dns_host: str
    dns_port: int
    api_url: str
    api_key: str


def env_file() -> Path:
    """Where the peer script wrote its settings."""
    return peers.env_file("pdns")


def running() -> PowerDns:
    """The running server, or a test failure that says how to start it."""
    values = peers.settings("pdns", "PowerDNS")
    found = PowerDns(
        values["PDNS_DNS_HOST"],
        int(values["PDNS_DNS_PORT"]),
        values["PDNS_API_URL"],
        values["PDNS_API_KEY"],
    )
    api = urlsplit(found.api_url)
    peers.answers("PowerDNS", "pdns", api.hostname, api.port, found.api_url)
    return found
