"""Reverse DNS: the `RdnsBackend` port and the internal backend (records in our own database).

The internal backend serves installations without a DNS server of their own (and the demo);
PowerDNS and Cloudflare (`network.cloudflare`) backends implement the same port. `set_ptr`
is an upsert, so a repeated phase writes the same record again rather than a second one;
`delete_ptr` removes the record and is a no-op when there is none.
"""

from __future__ import annotations

import ipaddress
from typing import Protocol, runtime_checkable

import sqlalchemy as sa

from fluxbilling.db import Database, schema
from fluxbilling.network import ipam

__all__ = ["InternalRdns", "RdnsBackend"]


@runtime_checkable
class RdnsBackend(Protocol):
    """Publishes PTR records."""

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


class InternalRdns:
    """PTR records kept in the `dns_records` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def set_ptr(self, address: str, hostname: str, *, ttl: int = 3600) -> tuple[str, str]:
        """Upsert the PTR record of `address`."""
        ip = ipaddress.ip_address(address)
        prefix = 24 if ip.version == 4 else 64
        zone = ipam.reverse_zone_for(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
        name = ipam.ptr_name(ip)
        content = hostname if hostname.endswith(".") else hostname + "."
        records = schema.dns_records
        async with self.db.begin() as conn:
            updated = await conn.execute(
                records.update()
                .where(records.c.name == name, records.c.type == "PTR")
                .values(content=content, ttl=ttl, zone=zone)
            )
            if updated.rowcount == 0:
                await conn.execute(
                    self.db.insert_ignore(records).values(
                        zone=zone, name=name, type="PTR", content=content, ttl=ttl
                    )
                )
        return zone, name

    async def delete_ptr(self, address: str) -> None:
        """Delete the PTR record of `address`, if there is one."""
        name = ipam.ptr_name(ipaddress.ip_address(address))
        records = schema.dns_records
        async with self.db.begin() as conn:
            await conn.execute(
                records.delete().where(records.c.name == name, records.c.type == "PTR")
            )

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
