"""The forward-confirmed reverse DNS check: the PTR and the matching A/AAAA, as served.

An API's 2xx says a record was stored, not that it is answered. The network phase completes
only when the authoritative server answers the address's PTR with the service's host name
and that name's A (IPv4) or AAAA (IPv6) records include the address. `decide` is the pure
judgement over the answers; `check` is the I/O shell that asks the server with dnspython
(UDP, TCP when truncated; no recursion, no system resolver), following CNAMEs (RFC 2317's
lead from the /24 into a classless zone) by asking again.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from fluxbilling import errors

__all__ = ["Answer", "Record", "Verdict", "check", "decide"]

UPSTREAM = "dns"
_MAX_CNAMES = 8


@dataclass(frozen=True, slots=True)
class Record:
    """One answered record: owner name, type and content (text form, names absolute)."""

    name: str
    type: str
    content: str


@dataclass(frozen=True, slots=True)
class Answer:
    """What a server answered to one or more questions about one name (CNAMEs followed).

    Attributes:
        rcode: the response code of the last response (`NOERROR`, `NXDOMAIN`, `REFUSED`...).
        records: the answer sections' records, in order.
    """

    rcode: str
    records: tuple[Record, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the address's reverse and forward records agree.

    Attributes:
        confirmed: the PTR names the host and the host's A/AAAA include the address.
        reason: why not (or a one-line summary when confirmed), for the order's activity.
        ptr: the PTR targets the server answered.
        addresses: the host's addresses the server answered (of the address's family).
        server: who answered (`host:port`, or a description when no server was asked).
    """

    confirmed: bool
    reason: str
    ptr: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    server: str = ""

    def to_dict(self) -> dict[str, object]:
        """The verdict as activity data (JSON-safe)."""
        return {
            "confirmed": self.confirmed,
            "reason": self.reason,
            "ptr": list(self.ptr),
            "addresses": list(self.addresses),
            "server": self.server,
        }


def _name(value: str) -> str:
    return value.lower() if value.endswith(".") else value.lower() + "."


def _chase(name: str, rtype: str, records: Iterable[Record]) -> tuple[str, ...]:
    """The contents of `rtype` records at `name`, following CNAMEs within `records`."""
    found = tuple(records)
    current = _name(name)
    for _ in range(_MAX_CNAMES + 1):
        at = [r for r in found if _name(r.name) == current]
        wanted = tuple(r.content for r in at if r.type == rtype)
        if wanted:
            return wanted
        cname = next((r.content for r in at if r.type == "CNAME"), None)
        if cname is None:
            return ()
        current = _name(cname)
    return ()


def decide(address: str, hostname: str, reverse: Answer, forward: Answer | None) -> Verdict:
    """Judge the answers: is `address` forward-confirmed as `hostname`?

    Args:
        address: the IPv4 or IPv6 address.
        hostname: the name its PTR should give.
        reverse: the answer for the address's PTR (at `address.reverse_pointer`).
        forward: the answer for the host's A (IPv4) or AAAA (IPv6); None when not asked.

    Returns:
        The verdict, with the reason when it is not confirmed.

    Examples:
        >>> ptr = Answer("NOERROR", (Record("10.2.0.192.in-addr.arpa.", "PTR", "web.test."),))
        >>> a = Answer("NOERROR", (Record("web.test.", "A", "192.0.2.10"),))
        >>> decide("192.0.2.10", "web.test", ptr, a).confirmed
        True
        >>> decide("192.0.2.10", "db.test", ptr, a).reason
        'the PTR of 192.0.2.10 is web.test., not db.test.'
    """
    ip = ipaddress.ip_address(address)
    host = _name(hostname)
    lookup = ip.reverse_pointer + "."
    targets = tuple(_name(t) for t in _chase(lookup, "PTR", reverse.records))
    if not targets:
        return Verdict(False, f"no PTR for {ip} ({reverse.rcode})")
    if host not in targets:
        return Verdict(False, f"the PTR of {ip} is {', '.join(targets)}, not {host}", ptr=targets)
    rtype = "A" if ip.version == 4 else "AAAA"
    if forward is None:
        return Verdict(False, f"{host} {rtype} was not asked", ptr=targets)
    found = tuple(str(ipaddress.ip_address(a)) for a in _chase(host, rtype, forward.records))
    if not found:
        return Verdict(False, f"no {rtype} for {host} ({forward.rcode})", ptr=targets)
    if str(ip) not in found:
        return Verdict(
            False,
            f"{host} {rtype} is {', '.join(found)}, not {ip}",
            ptr=targets,
            addresses=found,
        )
    return Verdict(True, f"{ip} -> {host} -> {ip}", ptr=targets, addresses=found)


async def _ask(name: str, rtype: str, server: str, port: int, timeout: float) -> Answer:
    """Ask `server` for `name`/`rtype`, asking again at each CNAME target it leaves open."""
    records: list[Record] = []
    current = _name(name)
    rcode = "NOERROR"
    for _ in range(_MAX_CNAMES + 1):
        query = dns.message.make_query(current, rtype, use_edns=True)
        query.flags &= ~dns.flags.RD
        try:
            response, _tcp = await dns.asyncquery.udp_with_fallback(
                query, server, timeout=timeout, port=port
            )
        except (dns.exception.Timeout, OSError) as exc:
            raise errors.TransientUpstreamError(
                f"{UPSTREAM}: {server}:{port} did not answer {current} {rtype} "
                f"({type(exc).__name__})",
                upstream=UPSTREAM,
                operation="query",
            ) from exc
        except dns.exception.DNSException as exc:
            raise errors.PermanentUpstreamError(
                f"{UPSTREAM}: {server}:{port} answered {current} {rtype} unreadably "
                f"({type(exc).__name__})",
                upstream=UPSTREAM,
                operation="query",
            ) from exc
        rcode = dns.rcode.to_text(response.rcode())
        for rrset in response.answer:
            kind = dns.rdatatype.to_text(rrset.rdtype)
            records.extend(Record(rrset.name.to_text(), kind, rd.to_text()) for rd in rrset)
        if _chase(name, rtype, records) or rcode != "NOERROR":
            break
        cnames = [r for r in records if r.type == "CNAME" and _name(r.name) == current]
        if not cnames:
            break
        current = _name(cnames[0].content)
    return Answer(rcode, tuple(records))


async def check(
    address: str,
    hostname: str,
    *,
    server: str,
    port: int = 53,
    forward_server: str | None = None,
    forward_port: int | None = None,
    timeout: float = 2.0,
) -> Verdict:
    """Ask the authoritative servers and judge: is `address` forward-confirmed?

    Args:
        address: the IPv4 or IPv6 address.
        hostname: the name its PTR should give.
        server: the reverse zone's authoritative server (an IP address).
        port: its DNS port.
        forward_server: the forward zone's server (default: `server`).
        forward_port: its port (default: `port`).
        timeout: seconds per query.

    Returns:
        The verdict (`decide`).

    Raises:
        errors.TransientUpstreamError: a server did not answer.
        errors.PermanentUpstreamError: an answer could not be read.
    """
    ip = ipaddress.ip_address(address)
    answered = f"{server}:{port}"
    reverse = await _ask(ip.reverse_pointer, "PTR", server, port, timeout)
    verdict = decide(address, hostname, reverse, None)
    if not verdict.ptr or _name(hostname) not in verdict.ptr:
        return dataclasses.replace(verdict, server=answered)
    fserver = forward_server or server
    fport = port if forward_port is None else forward_port
    forward = await _ask(hostname, "A" if ip.version == 4 else "AAAA", fserver, fport, timeout)
    if (fserver, fport) != (server, port):
        answered += f", {fserver}:{fport}"
    return dataclasses.replace(decide(address, hostname, reverse, forward), server=answered)
