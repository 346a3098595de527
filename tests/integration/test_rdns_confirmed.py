"""Forward-confirmed rDNS on the internal backend (both databases): the network phase completes
only when a real DNS server answers the PTR and the host's A as published, waits while it
does not, and fails at the phase's deadline naming what was answered.

The installation fixture runs the internal DNS server (`Installation.start_dns`, a free port).
Where the test needs a server that answers otherwise (one that has not loaded the records
yet, or answers another address), it starts a second `DnsServer` over the same table with a
filter in front and points the backend at it, as `FLUXBILLING_RDNS_NAMESERVER` would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dns.asyncquery
import dns.message
import pytest

from fluxbilling import bootstrap
from fluxbilling.engine.worker import Worker
from fluxbilling.network.dnsserver import DnsServer, DnsTable, Row
from fluxbilling.network.rdns import InternalRdns
from fluxbilling.orders import detail
from tests.integration.support import activity, drain, make_due, place_and_pay, run_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@dataclass
class Filtered:
    """The table as a server that may not have loaded it (`hidden`) or that answers another
    address for every A record (`a_answer`)."""

    table: DnsTable
    hidden: bool = True
    a_answer: str | None = None

    async def zones(self) -> Sequence[str]:
        return [] if self.hidden else await self.table.zones()

    async def rows(self, name: str) -> Sequence[Row]:
        found = await self.table.rows(name)
        if self.a_answer is None:
            return found
        return [Row(r.name, r.type, self.a_answer, r.ttl) if r.type == "A" else r for r in found]

    async def has_below(self, name: str) -> bool:
        return await self.table.has_below(name)


@pytest.fixture
async def filtered(installation: bootstrap.Installation) -> AsyncIterator[Filtered]:
    """A second DNS server over the table, which the backend asks from now on."""
    assert isinstance(installation.rdns, InternalRdns)
    source = Filtered(installation.rdns.table)
    server = DnsServer(source)
    await server.start()
    installation.rdns.nameserver = server.address
    yield source
    await server.stop()


async def ask(address: tuple[str, int], name: str, rtype: str) -> list[str]:
    query = dns.message.make_query(name, rtype)
    reply = await dns.asyncquery.udp(query, address[0], port=address[1], timeout=2)
    return [rd.to_text() for rrset in reply.answer for rd in rrset]


async def events(installation: bootstrap.Installation, order_id: int) -> dict[str, object]:
    return {e.event: e for e in await activity(installation, order_id)}


async def test_an_order_goes_active_once_our_dns_server_answers_the_ptr_and_the_a(
    installation: bootstrap.Installation,
) -> None:
    assert installation.dns is not None
    order_id = await place_and_pay(installation, "web1.example.com")
    await drain(installation)
    order = await detail.describe_order(installation.db, order_id)
    assert order.state == "active"
    address = order.phases[1].output["address"]
    served = installation.dns.address
    reverse = ".".join(reversed(address.split("."))) + ".in-addr.arpa."
    assert await ask(served, reverse, "PTR") == ["web1.example.com."]
    assert await ask(served, "web1.example.com.", "A") == [address]
    rows = await events(installation, order_id)
    published, confirmed = rows["rdns_published"], rows["rdns_confirmed"]
    assert published.message.endswith(f"web1.example.com. A {address}")  # type: ignore[attr-defined]
    assert confirmed.message == (  # type: ignore[attr-defined]
        f"{served[0]}:{served[1]} answered {address} -> web1.example.com. -> {address}"
    )
    assert confirmed.data["addresses"] == [address]  # type: ignore[attr-defined]


async def test_the_phase_waits_while_the_server_does_not_answer_then_completes(
    installation: bootstrap.Installation, filtered: Filtered
) -> None:
    order_id = await place_and_pay(installation, "web2.example.com")
    await drain(installation)
    order = await detail.describe_order(installation.db, order_id)
    assert order.state == "provisioning"
    run = await run_of(installation, order_id)
    assert (run.phase, run.state) == ("network", "queued")
    assert "rDNS not confirmed yet: expected PTR" in run.wait_reason
    assert run.wait_reason.endswith("(REFUSED)")  # the server holds no zone yet
    waiting = (await events(installation, order_id))["phase_waiting"]
    assert waiting.message == run.wait_reason  # type: ignore[attr-defined]

    filtered.hidden = False  # the server has loaded the records
    await make_due(installation, order_id)
    await drain(installation)
    order = await detail.describe_order(installation.db, order_id)
    assert order.state == "active"
    assert "rdns_confirmed" in await events(installation, order_id)


async def test_a_mismatching_answer_keeps_the_phase_waiting_then_fails_it_at_the_deadline(
    installation: bootstrap.Installation, filtered: Filtered
) -> None:
    filtered.hidden, filtered.a_answer = False, "198.51.100.99"
    order_id = await place_and_pay(installation, "web3.example.com")
    await drain(installation)
    run = await run_of(installation, order_id)
    assert (run.phase, run.state) == ("network", "queued")
    assert run.wait_reason.endswith("web3.example.com. A is 198.51.100.99, not " + run_address(run))

    later = datetime.now(UTC) + timedelta(minutes=31)
    worker = Worker(installation.store, installation.handlers, clock=lambda: later)
    await make_due(installation, order_id)
    await worker.drain()
    run = await run_of(installation, order_id)
    assert run.state == "failed"
    assert (
        "still waiting after the deadline of 0:30:00: rDNS not confirmed yet"
        in run.last_error["message"]
    )
    assert "A is 198.51.100.99, not" in run.last_error["message"]
    order = await detail.describe_order(installation.db, order_id)
    assert order.state == "failed"


def run_address(run: object) -> str:
    """The address the wait reason expects (`expected PTR <address> -> ...`)."""
    reason: str = run.wait_reason  # type: ignore[attr-defined]
    return reason.split("expected PTR ", 1)[1].split(" ", 1)[0]
