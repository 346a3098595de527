"""Reverse DNS: the `RdnsBackend` port and the internal backend (records in our own database).

A forward-confirmed PTR needs two records: the address's PTR naming the host, and the host's
A (IPv4) or AAAA (IPv6) record holding the address. Every backend publishes both (`set_ptr`,
`set_forward`), removes both (`delete_ptr`, `delete_forward`) and says what its authoritative
server answers (`confirm`, the check of `network.fcrdns`).

The host's forward record goes into the backend's forward zone (`forward_zone_for`): the
configured one (`FLUXBILLING_RDNS_FORWARD_ZONE`), which must hold the host name, or else the
host name's parent domain (`vps1.example.com` -> `example.com.`).

The internal backend serves installations without a DNS server of their own (and the demo):
its records live in the `dns_records` table and `network.dnsserver` answers them over DNS.
`set_*` are upserts, so a repeated phase writes the same record again rather than a second
one; `delete_*` remove the record and are no-ops when there is none.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Protocol, runtime_checkable

import sqlalchemy as sa

from fluxbilling import errors
from fluxbilling.db import Database, schema
from fluxbilling.network import dnsserver, fcrdns, ipam

__all__ = ["InternalRdns", "RdnsBackend", "forward_type", "forward_zone_for"]


def _absolute(name: str) -> str:
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def forward_type(address: str) -> str:
    """`A` for an IPv4 address, `AAAA` for IPv6.

    Raises:
        errors.InvariantViolation: `address` is not an IP address.
    """
    try:
        return "A" if ipaddress.ip_address(address).version == 4 else "AAAA"
    except ValueError:
        raise errors.InvariantViolation(f"not an IP address: {address!r}") from None


def forward_zone_for(hostname: str, configured: str | None = None) -> str:
    """The forward zone the A/AAAA record of `hostname` goes into.

    Args:
        hostname: the service's fully qualified host name.
        configured: the backend's forward zone (None: the host name's parent domain).

    Raises:
        errors.PermanentUpstreamError: `hostname` is outside the configured zone, or has no
            parent domain.

    Examples:
        >>> forward_zone_for("vps1.example.com")
        'example.com.'
        >>> forward_zone_for("vps1.hosts.example.com", "example.com")
        'example.com.'
    """
    host = _absolute(hostname)
    if configured:
        zone = _absolute(configured)
        if host != zone and not host.endswith("." + zone):
            raise errors.PermanentUpstreamError(
                f"rdns: the host name {host} is outside the forward zone {zone} "
                "(FLUXBILLING_RDNS_FORWARD_ZONE)",
                upstream="rdns",
                operation="set forward record",
            )
        return zone
    _first, _, parent = host.partition(".")
    if parent in ("", "."):
        raise errors.PermanentUpstreamError(
            f"rdns: the host name {host} has no parent domain to hold its A/AAAA record",
            upstream="rdns",
            operation="set forward record",
        )
    return parent


@runtime_checkable
class RdnsBackend(Protocol):
    """Publishes PTR records and the matching forward records, and checks what is served."""

    async def set_ptr(self, address: str, hostname: str, *, ttl: int = 3600) -> tuple[str, str]:
        """Point the PTR of `address` at `hostname` (idempotent).

        Args:
            address: the IPv4 or IPv6 address.
            hostname: the fully qualified name (a trailing dot is added when missing).
            ttl: record TTL in seconds.

        Returns:
            `(zone, record name)` of the PTR record.

        Raises:
            errors.UpstreamError: the DNS backend failed (transient ones are retried).
        """
        ...

    async def delete_ptr(self, address: str) -> None:
        """Remove the PTR of `address` (idempotent: no record is not an error).

        Args:
            address: the IPv4 or IPv6 address whose PTR goes.

        Raises:
            errors.UpstreamError: the DNS backend failed (transient ones are retried).
        """
        ...

    async def set_forward(self, hostname: str, address: str, *, ttl: int = 3600) -> tuple[str, str]:
        """Make `address` the A (IPv4) or AAAA (IPv6) record of `hostname` (idempotent).

        Args:
            hostname: the fully qualified host name, in the backend's forward zone.
            address: the IPv4 or IPv6 address.
            ttl: record TTL in seconds.

        Returns:
            `(zone, record name)` of the forward record.

        Raises:
            errors.UpstreamError: the DNS backend failed (transient ones are retried), or
                the host name is outside the forward zone (permanent).
        """
        ...

    async def delete_forward(self, hostname: str, address: str) -> None:
        """Remove the A/AAAA record of `hostname` that holds `address` (idempotent).

        Raises:
            errors.UpstreamError: the DNS backend failed (transient ones are retried).
        """
        ...

    async def confirm(self, address: str, hostname: str) -> fcrdns.Verdict:
        """Ask the backend's authoritative server: is `address` forward-confirmed as `hostname`?

        Returns:
            The verdict, with what was answered and by whom (`Verdict.server`).

        Raises:
            errors.TransientUpstreamError: the server did not answer.
            errors.PermanentUpstreamError: its answer could not be read.
            errors.InvalidSettings: the backend knows no server to ask.
        """
        ...


class InternalRdns:
    """PTR, A and AAAA records kept in the `dns_records` table, served by `network.dnsserver`.

    Args:
        db: the database.
        forward_zone: the zone of the hosts' A/AAAA records (None: each host's parent).
        nameserver: the DNS server that serves the table, `(host, port)`: ours (set by
            `bootstrap.Installation.start_dns` once it listens) or the address another
            process's server listens on. None: no DNS server serves the table here, and
            `confirm` reads the same answers from the table directly (and says so).
        nameservers: the NS names of the zones (for the answers read from the table).
    """

    def __init__(
        self,
        db: Database,
        *,
        forward_zone: str | None = None,
        nameserver: tuple[str, int] | None = None,
        nameservers: tuple[str, ...] = ("ns1.fluxbilling.invalid.",),
    ) -> None:
        self.db = db
        self.forward_zone = forward_zone
        self.nameserver = nameserver
        self.nameservers = nameservers
        self.table = dnsserver.DnsTable(db)

    async def _upsert(self, zone: str, name: str, rtype: str, content: str, ttl: int) -> None:
        records = schema.dns_records
        async with self.db.begin() as conn:
            updated = await conn.execute(
                records.update()
                .where(records.c.name == name, records.c.type == rtype)
                .values(content=content, ttl=ttl, zone=zone)
            )
            if updated.rowcount == 0:
                await conn.execute(
                    self.db.insert_ignore(records).values(
                        zone=zone, name=name, type=rtype, content=content, ttl=ttl
                    )
                )

    async def set_ptr(self, address: str, hostname: str, *, ttl: int = 3600) -> tuple[str, str]:
        """Upsert the PTR record of `address`."""
        ip = ipaddress.ip_address(address)
        prefix = 24 if ip.version == 4 else 64
        zone = ipam.reverse_zone_for(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
        name = ipam.ptr_name(ip)
        await self._upsert(zone, name, "PTR", _absolute(hostname), ttl)
        return zone, name

    async def delete_ptr(self, address: str) -> None:
        """Delete the PTR record of `address`, if there is one."""
        name = ipam.ptr_name(ipaddress.ip_address(address))
        records = schema.dns_records
        async with self.db.begin() as conn:
            await conn.execute(
                records.delete().where(records.c.name == name, records.c.type == "PTR")
            )

    async def set_forward(self, hostname: str, address: str, *, ttl: int = 3600) -> tuple[str, str]:
        """Upsert the A/AAAA record of `hostname` (one address per family and host)."""
        rtype = forward_type(address)
        zone = forward_zone_for(hostname, self.forward_zone)
        name = _absolute(hostname)
        await self._upsert(zone, name, rtype, str(ipaddress.ip_address(address)), ttl)
        return zone, name

    async def delete_forward(self, hostname: str, address: str) -> None:
        """Delete the A/AAAA record of `hostname` if it still holds `address` (a later
        service with the same host name keeps its own)."""
        records = schema.dns_records
        async with self.db.begin() as conn:
            await conn.execute(
                records.delete().where(
                    records.c.name == _absolute(hostname),
                    records.c.type == forward_type(address),
                    records.c.content == str(ipaddress.ip_address(address)),
                )
            )

    async def confirm(self, address: str, hostname: str) -> fcrdns.Verdict:
        """Ask our DNS server; without one, read the same answers from the table."""
        if self.nameserver is not None:
            host, port = self.nameserver
            return await fcrdns.check(address, hostname, server=host, port=port)
        ip = ipaddress.ip_address(address)
        reverse = await self._answer(ip.reverse_pointer, "PTR")
        forward = await self._answer(hostname, forward_type(address))
        verdict = fcrdns.decide(address, hostname, reverse, forward)
        return dataclasses.replace(verdict, server="dns_records (no DNS server in this process)")

    async def _answer(self, name: str, rtype: str) -> fcrdns.Answer:
        found = await dnsserver.resolve(self.table, name, rtype, nameservers=self.nameservers)
        return fcrdns.Answer(found.rcode, found.answer)

    async def lookup(self, address: str) -> str | None:
        """The PTR content for `address`, if any (for tests and the console)."""
        name = ipam.ptr_name(ipaddress.ip_address(address))
        async with self.db.connect() as conn:
            return (
                await conn.execute(
                    sa.select(schema.dns_records.c.content).where(
                        schema.dns_records.c.name == name, schema.dns_records.c.type == "PTR"
                    )
                )
            ).scalar()
