"""The internal backend's authoritative DNS server: the `dns_records` table, answered over UDP and TCP.

The internal rDNS backend (`network.rdns.InternalRdns`) keeps its PTR, A and AAAA records in
our own database; this server makes them real DNS answers, so the forward-confirmed check
(`network.fcrdns`) asks a DNS server whatever the backend. It is authoritative only:

- a zone is held when `dns_records` has a row in it; every held zone has a synthesized SOA
  and NS set at its apex (the NS names are a setting; the serial is the answer's Unix time);
- a question outside every held zone is REFUSED (never recursion, never a referral);
- a name without the asked type is NODATA, a name that does not exist (nor has names below
  it) NXDOMAIN, both with the zone's SOA in the authority section (negative caching, RFC 2308);
- CNAMEs (RFC 2317's lead from the /24 into a classless zone) are followed inside held zones;
- `AA` is set, `RA` never is; opcodes other than QUERY are NOTIMP, AXFR/IXFR REFUSED; a
  response, or a packet shorter than a DNS header, gets no answer; any other packet that
  cannot be read gets FORMERR; a failure reading the records SERVFAIL.

Answers are bounded: UDP replies fit the client's EDNS payload (512 without EDNS, at most
`UDP_PAYLOAD`) or come back truncated (TC) so the client asks again over TCP; TCP messages are
length-prefixed, at most 65535 bytes, a connection idles out after `TCP_IDLE` seconds and at
most `MAX_CONNECTIONS` are served at once, `MAX_UDP_INFLIGHT` UDP questions likewise.

`resolve` is the decision (over a `RecordSource`); `answer` turns wire bytes into wire
bytes; `DnsServer` is the asyncio shell; `zone_file` writes a zone as a master file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import sqlalchemy as sa

from fluxbilling.db import Database, schema
from fluxbilling.network import fcrdns

__all__ = [
    "MAX_CONNECTIONS",
    "TCP_IDLE",
    "UDP_PAYLOAD",
    "DnsServer",
    "DnsTable",
    "RecordSource",
    "Resolution",
    "Row",
    "answer",
    "resolve",
    "zone_file",
]

log = logging.getLogger(__name__)

UDP_PAYLOAD = 1232
"""The largest UDP reply we send (the DNS flag day 2020 size), whatever a client offers."""
TCP_IDLE = 10.0
MAX_CONNECTIONS = 64
MAX_UDP_INFLIGHT = 256
SOA_TIMES = (3600, 600, 1209600, 300)
"""Refresh, retry, expire, minimum (the negative-caching TTL) of the synthesized SOA."""
_MAX_CNAMES = 8


@dataclass(frozen=True, slots=True)
class Row(fcrdns.Record):
    """One stored record: absolute owner name, type, text content (`fcrdns.Record`) and TTL."""

    ttl: int = 3600


class RecordSource(Protocol):
    """Where the server reads records (the `dns_records` table, or a test's)."""

    async def zones(self) -> Sequence[str]:
        """The zones held (absolute, lower case)."""
        ...

    async def rows(self, name: str) -> Sequence[Row]:
        """The records owned by `name` (absolute, lower case)."""
        ...

    async def has_below(self, name: str) -> bool:
        """Whether some record is owned by a name below `name` (an empty non-terminal)."""
        ...


def _absolute(name: str) -> str:
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


class DnsTable:
    """The `dns_records` table as a `RecordSource`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def zones(self) -> Sequence[str]:
        """Every zone some row is in."""
        records = schema.dns_records
        async with self.db.connect() as conn:
            found = (await conn.execute(sa.select(records.c.zone).distinct())).scalars()
            return sorted({_absolute(z) for z in found})

    async def _select(self, where: Any, *order: Any) -> list[Row]:
        records = schema.dns_records
        async with self.db.connect() as conn:
            found = await conn.execute(
                sa.select(records.c.name, records.c.type, records.c.content, records.c.ttl)
                .where(where)
                .order_by(*order, records.c.id)
            )
            return [Row(_absolute(r.name), r.type.upper(), r.content, r.ttl) for r in found]

    async def rows(self, name: str) -> Sequence[Row]:
        """The rows owned by `name` (stored names are absolute and lower case)."""
        return await self._select(schema.dns_records.c.name == _absolute(name))

    async def has_below(self, name: str) -> bool:
        """Whether a row is owned by a name ending in `.name`."""
        records = schema.dns_records
        suffix = "%." + _absolute(name).replace("\\", "\\\\").replace("%", r"\%").replace(
            "_", r"\_"
        )
        async with self.db.connect() as conn:
            found = await conn.execute(
                sa.select(records.c.id).where(records.c.name.like(suffix, escape="\\")).limit(1)
            )
            return found.first() is not None

    async def zone_rows(self, zone: str) -> Sequence[Row]:
        """Every row of `zone`, for export."""
        records = schema.dns_records
        return await self._select(records.c.zone == _absolute(zone), records.c.name, records.c.type)


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the server answers to one question.

    Attributes:
        rcode: `NOERROR`, `NXDOMAIN` or `REFUSED`.
        zone: the held zone that answered (None when REFUSED).
        answer: the answer section's records, CNAMEs first.
        authority: the authority section (the SOA of a negative answer).
    """

    rcode: str
    zone: str | None = None
    answer: tuple[Row, ...] = ()
    authority: tuple[Row, ...] = field(default=())


def _within(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone) or zone == "."


def _zone_of(name: str, zones: Sequence[str]) -> str | None:
    holding = [z for z in zones if _within(name, z)]
    return max(holding, key=len) if holding else None


def soa_row(zone: str, nameservers: Sequence[str], serial: int) -> Row:
    """The synthesized SOA of `zone` (the first name server is the primary)."""
    refresh, retry, expire, minimum = SOA_TIMES
    primary = _absolute(nameservers[0])
    content = f"{primary} hostmaster.{zone} {serial} {refresh} {retry} {expire} {minimum}"
    return Row(zone, "SOA", content, minimum)


def _apex(zone: str, nameservers: Sequence[str], serial: int) -> list[Row]:
    ns = [Row(zone, "NS", _absolute(n), 3600) for n in nameservers]
    return [soa_row(zone, nameservers, serial), *ns]


async def resolve(
    source: RecordSource,
    qname: str,
    qtype: str,
    *,
    nameservers: Sequence[str],
    serial: int | None = None,
) -> Resolution:
    """The authoritative answer to `qname`/`qtype` from `source`'s records.

    Args:
        source: the records.
        qname: the asked name.
        qtype: the asked type (`ANY` answers every record of the name).
        nameservers: the NS names of every held zone.
        serial: the SOA serial (default: the current Unix time).

    Returns:
        REFUSED outside the held zones; otherwise the records, following CNAMEs while their
        targets are in held zones, or a negative answer with the zone's SOA.
    """
    serial = int(time.time()) if serial is None else serial
    zones = await source.zones()
    current = _absolute(qname)
    first_zone = _zone_of(current, zones)
    if first_zone is None:
        return Resolution("REFUSED")
    qtype = qtype.upper()
    answer: list[Row] = []
    zone = first_zone
    for _ in range(_MAX_CNAMES + 1):
        rows = list(await source.rows(current))
        if current == zone:
            rows = [r for r in rows if r.type not in ("SOA", "NS")] + _apex(
                zone, nameservers, serial
            )
        wanted = rows if qtype == "ANY" else [r for r in rows if r.type == qtype]
        if wanted:
            return Resolution("NOERROR", first_zone, (*answer, *wanted))
        cname = next((r for r in rows if r.type == "CNAME"), None)
        if cname is not None and qtype != "CNAME":
            answer.append(cname)
            target = _absolute(cname.content)
            following = _zone_of(target, zones)
            if following is None:
                return Resolution("NOERROR", first_zone, tuple(answer))
            current, zone = target, following
            continue
        exists = bool(rows) or await source.has_below(current)
        soa = (soa_row(zone, nameservers, serial),)
        if exists or answer:
            return Resolution("NOERROR", first_zone, tuple(answer), soa)
        return Resolution("NXDOMAIN", first_zone, tuple(answer), soa)
    return Resolution("NOERROR", first_zone, tuple(answer))  # a CNAME loop: what we have


def _rrsets(rows: Sequence[Row]) -> list[dns.rrset.RRset]:
    """Rows grouped into RRsets (in first-seen order); unreadable contents are skipped."""
    grouped: dict[tuple[str, str], dns.rrset.RRset] = {}
    for row in rows:
        try:
            rdata = dns.rdata.from_text(dns.rdataclass.IN, row.type, row.content)
        except (dns.exception.DNSException, ValueError):
            log.warning(
                "dns_records row %s %s has unreadable content; not served", row.name, row.type
            )
            continue
        key = (row.name, row.type)
        if key not in grouped:
            grouped[key] = dns.rrset.RRset(
                dns.name.from_text(row.name), dns.rdataclass.IN, rdata.rdtype
            )
        grouped[key].add(rdata, row.ttl)
    return list(grouped.values())


def _header_only(wire: bytes, rcode: int) -> bytes | None:
    """A reply with only the header of an unreadable query (FORMERR), or None without one."""
    if len(wire) < 12:
        return None
    (qid, flags) = struct.unpack("!HH", wire[:4])
    if flags & 0x8000:  # a response: never answer one
        return None
    opcode_bits = flags & 0x7800
    reply_flags = 0x8000 | opcode_bits | (flags & 0x0100) | rcode
    return struct.pack("!HHHHHH", qid, reply_flags, 0, 0, 0, 0)


async def answer(
    wire: bytes,
    source: RecordSource,
    *,
    nameservers: Sequence[str],
    tcp: bool = False,
) -> bytes | None:
    """The wire reply to the wire query `wire` (None: send nothing).

    Args:
        wire: the query as received.
        source: the records.
        nameservers: the NS names of the held zones.
        tcp: the query came over TCP (replies up to 65535 bytes; no truncation for size).
    """
    try:
        query = dns.message.from_wire(wire)
    except Exception:  # noqa: BLE001 - any unreadable packet: FORMERR when we can, never a crash
        return _header_only(wire, dns.rcode.FORMERR)
    if query.flags & dns.flags.QR:
        return None
    response = dns.message.make_response(query, our_payload=UDP_PAYLOAD)
    response.flags &= ~dns.flags.RA
    if query.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.NOTIMP)
        return _wire(response, query, tcp)
    if len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return _wire(response, query, tcp)
    question = query.question[0]
    qtype = dns.rdatatype.to_text(question.rdtype)
    if question.rdclass != dns.rdataclass.IN or qtype in ("AXFR", "IXFR"):
        response.set_rcode(dns.rcode.REFUSED)
        return _wire(response, query, tcp)
    found = await resolve(source, question.name.to_text(), qtype, nameservers=nameservers)
    response.set_rcode(dns.rcode.from_text(found.rcode))
    if found.zone is not None:
        response.flags |= dns.flags.AA
    response.answer = _rrsets(found.answer)
    response.authority = _rrsets(found.authority)
    return _wire(response, query, tcp)


def _wire(response: dns.message.Message, query: dns.message.Message, tcp: bool) -> bytes:
    if tcp:
        limit = 65535
    else:
        offered = query.payload if query.edns >= 0 else 512
        limit = max(512, min(offered, UDP_PAYLOAD))
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        response.answer, response.authority, response.additional = [], [], []
        response.flags |= dns.flags.TC
        return response.to_wire(max_size=limit)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.DatagramTransport", transport)  # uvloop: no subclass

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(self.server.inflight) >= MAX_UDP_INFLIGHT or len(data) > 65535:
            return  # shed load: the client asks again
        task = asyncio.get_running_loop().create_task(self._reply(data, addr))
        self.server.inflight.add(task)
        task.add_done_callback(self.server.inflight.discard)

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.server.reply(data, tcp=False)
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


class DnsServer:
    """The asyncio UDP + TCP server that answers from a `RecordSource`.

    Args:
        source: the records (`DnsTable`).
        host: the address to listen on.
        port: the port (0: any free one, the same for UDP and TCP).
        nameservers: the NS names of the held zones.
    """

    def __init__(
        self,
        source: RecordSource,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        nameservers: Sequence[str] = ("ns1.fluxbilling.invalid.",),
    ) -> None:
        self.source = source
        self.host = host
        self.port = port
        self.nameservers = tuple(_absolute(n) for n in nameservers) or ("ns1.fluxbilling.invalid.",)
        self.inflight: set[asyncio.Task[None]] = set()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._connections = asyncio.Semaphore(MAX_CONNECTIONS)

    @property
    def address(self) -> tuple[str, int]:
        """`(host, port)` it listens on (the bound port once started)."""
        return self.host, self.port

    async def reply(self, data: bytes, *, tcp: bool) -> bytes | None:
        """The reply to one query; an error reading the records answers SERVFAIL."""
        try:
            return await answer(data, self.source, nameservers=self.nameservers, tcp=tcp)
        except Exception:
            log.warning("DNS answer failed; SERVFAIL", exc_info=True)
            return _header_only(data, dns.rcode.SERVFAIL)

    async def start(self) -> None:
        """Bind TCP, then UDP on the same port (a free one when `port` is 0)."""
        loop = asyncio.get_running_loop()
        for _ in range(20):
            self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self.port)
            bound = int(self._tcp.sockets[0].getsockname()[1])
            try:
                self._udp, _ = await loop.create_datagram_endpoint(
                    lambda: _Udp(self), local_addr=(self.host, bound)
                )
            except OSError:
                self._tcp.close()
                await self._tcp.wait_closed()
                if self.port:
                    raise
                continue  # the free TCP port is taken for UDP: pick another
            self.port = bound
            log.info("DNS server listening on %s:%s (UDP and TCP)", self.host, bound)
            return
        raise OSError("no port free for both UDP and TCP")

    async def stop(self) -> None:
        """Stop listening and finish nothing more."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 2)
            self._tcp = None
        for task in list(self.inflight):
            task.cancel()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._connections.locked():
            writer.close()
            return
        async with self._connections:
            try:
                while True:
                    size = struct.unpack(
                        "!H", await asyncio.wait_for(reader.readexactly(2), TCP_IDLE)
                    )[0]
                    data = await asyncio.wait_for(reader.readexactly(size), TCP_IDLE)
                    reply = await self.reply(data, tcp=True)
                    if reply is None:
                        break
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()


def zone_file(zone: str, rows: Sequence[Row], *, nameservers: Sequence[str], serial: int) -> str:
    """`zone` as an RFC 1035 master file: $ORIGIN, $TTL, the SOA, the NS set, then the rows.

    Examples:
        >>> print(zone_file("2.0.192.in-addr.arpa.",
        ...     [Row("10.2.0.192.in-addr.arpa.", "PTR", "web.test.", 3600)],
        ...     nameservers=["ns1.test."], serial=7))  # doctest: +NORMALIZE_WHITESPACE
        $ORIGIN 2.0.192.in-addr.arpa.
        $TTL 3600
        2.0.192.in-addr.arpa. 300 IN SOA ns1.test. hostmaster.2.0.192.in-addr.arpa. 7 3600 600 1209600 300
        2.0.192.in-addr.arpa. 3600 IN NS ns1.test.
        10.2.0.192.in-addr.arpa. 3600 IN PTR web.test.
    """
    zone = _absolute(zone)
    lines = [f"$ORIGIN {zone}", "$TTL 3600"]
    apex = _apex(zone, [_absolute(n) for n in nameservers], serial)
    served = [r for r in rows if not (r.name == zone and r.type in ("SOA", "NS"))]
    for row in (*apex, *served):
        lines.append(f"{row.name} {row.ttl} IN {row.type} {row.content}")
    return "\n".join(lines) + "\n"
