"""The PowerDNS Authoritative rDNS backend: PTR and A/AAAA records through its HTTP API (v1).

Implements `rdns.RdnsBackend`. Each PTR is one record set written with a `PATCH` of the zone
(`REPLACE` to upsert, `DELETE` to remove; both idempotent in PowerDNS); so is each host's
A/AAAA record set, in the forward zone (`rdns.forward_zone_for`). `confirm` asks the server's
DNS listener (`dns_server`, by default the API's host on port 53) what it answers. The zone of an address
comes from `reverse.place` (the delegated prefixes, RFC 2317 for IPv4 blocks smaller than a
/24); with `create_zones` a missing zone is created first (`Native`, with the configured name
servers). Every call goes through `drivers.upstream.UpstreamHttp` behind the address policy's
`GuardedTransport`; the API key is a secret of that client (redacted in every exchange record
and registered with the log filter), never part of a message.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import httpx

from fluxbilling import errors, logs
from fluxbilling.drivers import address_policy
from fluxbilling.drivers.address_guard import GuardedTransport, Resolver, SystemResolver
from fluxbilling.drivers.upstream import Credential, UpstreamHttp
from fluxbilling.network import fcrdns, rdns, reverse

__all__ = ["UPSTREAM", "PowerDnsRdns", "api_zone_id", "powerdns_http"]

UPSTREAM = "powerdns"


def api_zone_id(zone: str) -> str:
    """The zone id PowerDNS uses in URLs: the name with characters other than letters, digits,
    `.` and `-` written as `=XX` (so RFC 2317's `/` becomes `=2F`), the root zone as `=2E`.

    Examples:
        >>> api_zone_id("128/25.2.0.192.in-addr.arpa.")
        '128=2F25.2.0.192.in-addr.arpa.'
    """
    if zone == ".":
        return "=2E"
    return "".join(
        c if (c.isascii() and c.isalnum()) or c in ".-" else f"={ord(c):02X}" for c in zone
    )


def powerdns_http(
    api_url: str,
    api_key: str,
    *,
    allowed_networks: Sequence[str] = (),
    resolver: Resolver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 10.0,
) -> UpstreamHttp:
    """The HTTP client for one PowerDNS API, behind the upstream address policy.

    Args:
        api_url: the API base, e.g. `http://127.0.0.1:8081/api/v1`.
        api_key: the `X-API-Key` secret.
        allowed_networks: private or loopback networks the API may live in (an admin's
            explicit allowance, as for connections; public addresses are always reachable).
        resolver: turns the API's host name into addresses (default: the system's).
        transport: the transport that really sends (default: httpx's HTTP transport).
        timeout: seconds per request.

    Raises:
        errors.InvalidSettings: no API key, or an allowed network the policy cannot allow.
    """
    if not api_key:
        raise errors.InvalidSettings("no PowerDNS API key is configured", upstream=UPSTREAM)
    allowed, bad = address_policy.parse_allowed(list(allowed_networks))
    if bad:
        raise errors.InvalidSettings(
            "PowerDNS allowed networks: " + "; ".join(message for _, message in bad),
            upstream=UPSTREAM,
        )
    logs.register_secret(api_key)
    return UpstreamHttp(
        UPSTREAM,
        api_url,
        headers={"Accept": "application/json"},
        secrets=[api_key],
        transport=GuardedTransport(
            transport or httpx.AsyncHTTPTransport(),
            resolver=resolver or SystemResolver(),
            allowed=allowed,
            upstream=UPSTREAM,
        ),
        timeout=timeout,
        credentials={None: Credential(headers={"X-API-Key": api_key})},
        trust_env=False,
    )


def _absolute(name: str) -> str:
    return name if name.endswith(".") else name + "."


class PowerDnsRdns:
    """PTR records in a PowerDNS Authoritative server.

    Args:
        http: the API client (`powerdns_http`).
        networks: the prefixes delegated to this server (they decide each PTR's zone).
        create_zones: create a missing reverse zone before writing into it.
        nameservers: the NS names of zones created here.
        server_id: PowerDNS's server id (always `localhost` for the Authoritative server).
        forward_zone: the zone of the hosts' A/AAAA records (None: each host's parent).
        dns_server: `(host, port)` of its DNS listener, which `confirm` asks.

    Raises:
        errors.InvalidSettings: a network is not an IP prefix (or has host bits set).
    """

    def __init__(
        self,
        http: UpstreamHttp,
        networks: Sequence[str] = (),
        *,
        create_zones: bool = True,
        nameservers: Sequence[str] = ("ns1.fluxbilling.invalid.",),
        server_id: str = "localhost",
        forward_zone: str | None = None,
        dns_server: tuple[str, int] = ("127.0.0.1", 53),
    ) -> None:
        self.http = http
        self.forward_zone = forward_zone
        self.dns_server = dns_server
        try:
            self.networks = tuple(ipaddress.ip_network(n) for n in networks)
        except ValueError as exc:
            raise errors.InvalidSettings(
                f"PowerDNS reverse networks: {exc}", upstream=UPSTREAM
            ) from None
        self.create_zones = create_zones
        self.nameservers = tuple(_absolute(n) for n in nameservers)
        self._zones = f"servers/{server_id}/zones"

    def place(self, address: str) -> reverse.Placement:
        """Where the PTR of `address` lives on this server."""
        return reverse.place(address, self.networks)

    async def ensure_zone(self, zone: str) -> None:
        """Create `zone` unless it exists (a concurrent create is not an error).

        Raises:
            errors.UpstreamError: the API failed or refused.
        """
        found = await self.http.request(
            "GET", self._zones, params={"zone": zone}, operation="find zone"
        )
        if not found.json():
            await self.http.request(
                "POST",
                self._zones,
                params={"rrsets": "false"},
                json_body={"name": zone, "kind": "Native", "nameservers": list(self.nameservers)},
                operation="create zone",
                expected=frozenset({201, 409}),  # 409: created meanwhile by someone else
            )

    async def set_ptr(self, address: str, hostname: str, *, ttl: int = 3600) -> tuple[str, str]:
        """Upsert the PTR of `address` (a `REPLACE` of its record set)."""
        where = self.place(address)
        if self.create_zones:
            await self.ensure_zone(where.zone)
        await self._patch(
            where.zone,
            {
                "name": where.name,
                "type": "PTR",
                "ttl": ttl,
                "changetype": "REPLACE",
                "records": [{"content": _absolute(hostname), "disabled": False}],
            },
            operation="set PTR",
        )
        return where.zone, where.name

    async def delete_ptr(self, address: str) -> None:
        """Delete the PTR of `address`; an absent record or zone is already the goal."""
        where = self.place(address)
        await self._patch(
            where.zone,
            {"name": where.name, "type": "PTR", "changetype": "DELETE"},
            operation="delete PTR",
            missing_zone_ok=True,
        )

    async def set_forward(self, hostname: str, address: str, *, ttl: int = 3600) -> tuple[str, str]:
        """Replace the host's A (IPv4) or AAAA (IPv6) record set with `address`."""
        rtype = rdns.forward_type(address)
        zone = rdns.forward_zone_for(hostname, self.forward_zone)
        name = _absolute(hostname.lower())
        if self.create_zones:
            await self.ensure_zone(zone)
        await self._patch(
            zone,
            {
                "name": name,
                "type": rtype,
                "ttl": ttl,
                "changetype": "REPLACE",
                "records": [{"content": str(ipaddress.ip_address(address)), "disabled": False}],
            },
            operation=f"set {rtype}",
        )
        return zone, name

    async def delete_forward(self, hostname: str, address: str) -> None:
        """Delete the host's A/AAAA record set (one address per family and host)."""
        rtype = rdns.forward_type(address)
        zone = rdns.forward_zone_for(hostname, self.forward_zone)
        await self._patch(
            zone,
            {"name": _absolute(hostname.lower()), "type": rtype, "changetype": "DELETE"},
            operation=f"delete {rtype}",
            missing_zone_ok=True,
        )

    async def confirm(self, address: str, hostname: str) -> fcrdns.Verdict:
        """Ask PowerDNS's DNS listener for the PTR and the host's A/AAAA."""
        host, port = self.dns_server
        return await fcrdns.check(address, hostname, server=host, port=port)

    async def publish(self, zone: str, rrsets: Sequence[reverse.RRset]) -> None:
        """Replace these record sets in `zone` in one transaction (e.g. an RFC 2317
        delegation from `reverse.rfc2317_delegation`), creating the zone if configured to."""
        if self.create_zones:
            await self.ensure_zone(zone)
        await self._patch(
            zone,
            *(
                {
                    "name": r.name,
                    "type": r.type,
                    "ttl": r.ttl,
                    "changetype": "REPLACE",
                    "records": [{"content": c, "disabled": False} for c in r.contents],
                }
                for r in rrsets
            ),
            operation="publish records",
        )

    async def _patch(
        self, zone: str, *rrsets: dict[str, object], operation: str, missing_zone_ok: bool = False
    ) -> None:
        expected = frozenset({200, 204, 404}) if missing_zone_ok else None
        await self.http.request(
            "PATCH",
            f"{self._zones}/{api_zone_id(zone)}",
            json_body={"rrsets": list(rrsets)},
            operation=operation,
            expected=expected,
        )

    async def aclose(self) -> None:
        """Close the API client."""
        await self.http.aclose()
