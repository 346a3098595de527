"""The internal DNS server over real sockets: answers, negative answers, bounds, bad input."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import dns.asyncquery
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest

from fluxbilling.network import dnsserver, fcrdns
from fluxbilling.network.dnsserver import DnsServer, Row

pytestmark = pytest.mark.anyio

REVERSE = "2.0.192.in-addr.arpa."
FORWARD = "example.test."


@dataclass
class Records:
    """A `RecordSource` over a list of rows (zone, row)."""

    held: list[tuple[str, Row]] = field(default_factory=list)
    broken: bool = False

    def add(self, zone: str, name: str, rtype: str, content: str, ttl: int = 3600) -> None:
        self.held.append((zone, Row(name, rtype, content, ttl)))

    async def zones(self) -> Sequence[str]:
        if self.broken:
            raise RuntimeError("database away")
        return sorted({z for z, _ in self.held})

    async def rows(self, name: str) -> Sequence[Row]:
        return [r for _, r in self.held if r.name == name]

    async def has_below(self, name: str) -> bool:
        return any(r.name.endswith("." + name) for _, r in self.held)


@pytest.fixture
def records() -> Records:
    held = Records()
    held.add(REVERSE, "10.2.0.192.in-addr.arpa.", "PTR", "vps1.example.test.")
    held.add(FORWARD, "vps1.example.test.", "A", "192.0.2.10")
    held.add(FORWARD, "vps1.example.test.", "AAAA", "2001:db8::10")
    held.add(FORWARD, "www.deep.example.test.", "CNAME", "vps1.example.test.")
    return held


@pytest.fixture
async def server(records: Records) -> AsyncIterator[DnsServer]:
    running = DnsServer(records, nameservers=["ns1.example.test."])
    await running.start()
    yield running
    await running.stop()


async def ask(
    server: DnsServer, name: str, rtype: str, *, tcp: bool = False, edns: bool = True
) -> dns.message.Message:
    query = dns.message.make_query(name, rtype, use_edns=0 if edns else False)
    query.flags &= ~dns.flags.RD
    host, port = server.address
    if tcp:
        return await dns.asyncquery.tcp(query, host, port=port, timeout=2)
    return await dns.asyncquery.udp(query, host, port=port, timeout=2)


def texts(section: list[dns.rrset.RRset]) -> list[str]:
    return [line for rrset in section for line in rrset.to_text().splitlines()]


async def test_a_ptr_is_answered_authoritatively_without_recursion(server: DnsServer) -> None:
    reply = await ask(server, "10.2.0.192.in-addr.arpa.", "PTR")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    assert not reply.flags & dns.flags.RA
    assert texts(reply.answer) == ["10.2.0.192.in-addr.arpa. 3600 IN PTR vps1.example.test."]


async def test_a_and_aaaa_are_answered_over_tcp_too(server: DnsServer) -> None:
    a = await ask(server, "VPS1.Example.Test.", "A", tcp=True)
    aaaa = await ask(server, "vps1.example.test.", "AAAA", tcp=True)
    # the owner comes back in the question's case (name compression), as from any server
    assert [t.lower() for t in texts(a.answer)] == ["vps1.example.test. 3600 in a 192.0.2.10"]
    assert texts(aaaa.answer) == ["vps1.example.test. 3600 IN AAAA 2001:db8::10"]


async def test_fcrdns_check_confirms_what_the_server_answers(server: DnsServer) -> None:
    host, port = server.address
    verdict = await fcrdns.check("192.0.2.10", "vps1.example.test", server=host, port=port)
    assert verdict.confirmed, verdict.reason
    assert verdict.server == f"{host}:{port}"
    other = await fcrdns.check("192.0.2.10", "db.example.test", server=host, port=port)
    assert other.reason == "the PTR of 192.0.2.10 is vps1.example.test., not db.example.test."


async def test_a_zone_we_do_not_hold_is_refused(server: DnsServer) -> None:
    reply = await ask(server, "www.example.org.", "A")
    assert reply.rcode() == dns.rcode.REFUSED
    assert not reply.flags & dns.flags.AA
    assert reply.answer == [] and reply.authority == []


async def test_a_missing_name_is_nxdomain_with_the_soa(server: DnsServer) -> None:
    reply = await ask(server, "nope.example.test.", "A")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert reply.flags & dns.flags.AA
    (soa,) = reply.authority
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.name.to_text() == FORWARD
    assert soa[0].mname.to_text() == "ns1.example.test."


async def test_a_name_without_the_type_is_nodata_with_the_soa(server: DnsServer) -> None:
    reply = await ask(server, "vps1.example.test.", "MX")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.answer == []
    assert [r.rdtype for r in reply.authority] == [dns.rdatatype.SOA]


async def test_an_empty_non_terminal_is_nodata_not_nxdomain(server: DnsServer) -> None:
    reply = await ask(server, "deep.example.test.", "A")
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.answer == []


async def test_the_apex_has_a_soa_and_ns(server: DnsServer) -> None:
    soa = await ask(server, REVERSE, "SOA")
    ns = await ask(server, REVERSE, "NS")
    assert [r.rdtype for r in soa.answer] == [dns.rdatatype.SOA]
    assert texts(ns.answer) == [f"{REVERSE} 3600 IN NS ns1.example.test."]


async def test_a_cname_is_followed_inside_held_zones(server: DnsServer) -> None:
    reply = await ask(server, "www.deep.example.test.", "A")
    assert texts(reply.answer) == [
        "www.deep.example.test. 3600 IN CNAME vps1.example.test.",
        "vps1.example.test. 3600 IN A 192.0.2.10",
    ]


async def test_an_rfc2317_delegation_leads_to_the_classless_ptr(records: Records) -> None:
    child = "128/25.2.0.192.in-addr.arpa."
    records.add(REVERSE, "130.2.0.192.in-addr.arpa.", "CNAME", f"130.{child}")
    records.add(child, f"130.{child}", "PTR", "vps2.example.test.")
    records.add(FORWARD, "vps2.example.test.", "A", "192.0.2.130")
    running = DnsServer(records)
    await running.start()
    try:
        host, port = running.address
        verdict = await fcrdns.check("192.0.2.130", "vps2.example.test", server=host, port=port)
    finally:
        await running.stop()
    assert verdict.confirmed, verdict.reason


async def test_a_large_answer_is_truncated_over_udp_and_whole_over_tcp(records: Records) -> None:
    for n in range(200):
        records.add(FORWARD, "many.example.test.", "A", f"198.51.100.{n}")
    running = DnsServer(records)
    await running.start()
    try:
        udp = await ask(running, "many.example.test.", "A", edns=False)
        tcp = await ask(running, "many.example.test.", "A", tcp=True)
    finally:
        await running.stop()
    assert udp.flags & dns.flags.TC
    assert udp.answer == []
    assert len(tcp.answer[0]) == 200


async def test_other_opcodes_are_notimp_and_zone_transfers_refused(server: DnsServer) -> None:
    query = dns.message.make_query(FORWARD, "SOA")
    query.set_opcode(dns.opcode.NOTIFY)
    host, port = server.address
    notify = await dns.asyncquery.udp(query, host, port=port, timeout=2)
    axfr = await ask(server, FORWARD, "AXFR", tcp=True)
    assert notify.rcode() == dns.rcode.NOTIMP
    assert axfr.rcode() == dns.rcode.REFUSED


def _udp_exchange(port: int, payload: bytes, timeout: float = 0.5) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except TimeoutError:
            return None


async def test_malformed_packets_get_formerr_or_silence_and_the_server_lives_on(
    server: DnsServer,
) -> None:
    port = server.address[1]
    header = struct.pack("!HHHHHH", 0xBEEF, 0x0100, 1, 0, 0, 0)
    cases = {
        "short": b"\x12",
        "header, question missing": header,
        "garbage question": header + b"\xff" * 40,
        "a response": struct.pack("!HHHHHH", 7, 0x8180, 0, 0, 0, 0),
    }
    replies = {
        name: await asyncio.to_thread(_udp_exchange, port, payload)
        for name, payload in cases.items()
    }
    assert replies["short"] is None
    assert replies["a response"] is None
    for name in ("header, question missing", "garbage question"):
        reply = replies[name]
        assert reply is not None, name
        qid, flags = struct.unpack("!HH", reply[:4])
        assert qid == 0xBEEF and flags & 0x8000 and flags & 0xF == dns.rcode.FORMERR, name
    # and over TCP: a length prefix promising more than arrives, then a garbage message
    reader, writer = await asyncio.open_connection(*server.address)
    writer.write(struct.pack("!H", 12) + b"\x00" * 3)
    writer.close()
    reader, writer = await asyncio.open_connection(*server.address)
    writer.write(struct.pack("!H", len(header)) + header)
    await writer.drain()
    size = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 2))[0]
    reply = await reader.readexactly(size)
    writer.close()
    assert struct.unpack("!H", reply[2:4])[0] & 0xF == dns.rcode.FORMERR
    assert (await ask(server, "vps1.example.test.", "A")).answer, "still answering"


async def test_a_failing_record_source_answers_servfail(records: Records) -> None:
    records.broken = True
    running = DnsServer(records)
    await running.start()
    try:
        reply = await ask(running, "vps1.example.test.", "A")
    finally:
        await running.stop()
    assert reply.rcode() == dns.rcode.SERVFAIL


def test_a_zone_file_holds_the_soa_ns_and_records() -> None:
    text = dnsserver.zone_file(
        FORWARD,
        [Row("vps1.example.test.", "A", "192.0.2.10", 600)],
        nameservers=["ns1.example.test."],
        serial=42,
    )
    assert text.splitlines() == [
        f"$ORIGIN {FORWARD}",
        "$TTL 3600",
        f"{FORWARD} 300 IN SOA ns1.example.test. hostmaster.{FORWARD} 42 3600 600 1209600 300",
        f"{FORWARD} 3600 IN NS ns1.example.test.",
        "vps1.example.test. 600 IN A 192.0.2.10",
    ]
