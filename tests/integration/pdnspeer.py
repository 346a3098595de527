"""The real PowerDNS Authoritative server the rDNS tests talk to (started by scripts/services).

`scripts/peers/pdns` writes `.peers/pdns.env` (or `$FLUXBILLING_PEERS_DIR/pdns.env`); a test
that needs the server fails, never skips, when the file is missing or the server does not
answer: the suite runs under `scripts/test`, which starts it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
START = "scripts/services (scripts/test runs it; or scripts/peers/pdns alone)"


@dataclass(frozen=True, slots=True)
class PowerDns:
    """How to reach the server: DNS on `dns_host:dns_port`, the API at `api_url`."""

    dns_host: str
    dns_port: int
    api_url: str
    api_key: str


def env_file() -> Path:
    """Where the peer script wrote its settings."""
    return Path(os.environ.get("FLUXBILLING_PEERS_DIR", ROOT / ".peers")) / "pdns.env"


def running() -> PowerDns:
    """The running server, or a test failure that says how to start it."""
    path = env_file()
    if not path.is_file():
        pytest.fail(f"PowerDNS is not running ({path} is missing): start it with {START}")
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    found = PowerDns(
        values["PDNS_DNS_HOST"],
        int(values["PDNS_DNS_PORT"]),
        values["PDNS_API_URL"],
        values["PDNS_API_KEY"],
    )
    api = urlsplit(found.api_url)
    try:
        socket.create_connection((api.hostname, api.port), timeout=2).close()
    except OSError as exc:
        pytest.fail(f"PowerDNS does not answer at {found.api_url} ({exc}): start it with {START}")
    return found
