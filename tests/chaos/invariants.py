"""The chaos run's verdict: what was duplicated, what was lost, which fenced write landed.

`audit()` counts instead of asserting, so that a failed run still reports its numbers
(the JSON result of `make chaos`); the test asserts on the `Audit` afterwards.

- duplicated: servers at the simulator beyond one per order (and servers of no order),
  welcome mails beyond one per order, `phase_completed` rows beyond one per run and phase,
  addresses handed out twice;
- lost: orders not `active`, orders without a server, without a completed phase, without
  a sent welcome mail (or one the SMTP server never received), without an address;
- fenced writes that landed: per run, activity rows written under a lease token must never
  go backwards, and one token belongs to one worker;
- other problems: an address that is the subnet's gateway or resolver.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from fluxbilling.db import Database, schema
from fluxbilling.orders.pipeline import PHASES
from fluxbilling_simulators.mailbox import CapturingSmtpServer

__all__ = ["Audit", "audit"]


@dataclass
class Audit:
    """What the invariants found (all counts zero and no problems: the run passed)."""

    orders: int
    duplicates: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    fenced_writes_landed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fenced_rows: int = 0
    repeated_smtp_deliveries: int = 0

    @property
    def passed(self) -> bool:
        """Nothing duplicated, nothing lost, no fenced write landed, no other problem."""
        return not (
            self.duplicates.total()
            or self.lost.total()
            or self.fenced_writes_landed
            or self.problems
        )

    def report(self) -> str:
        """Every finding, one per line ('' when the run passed)."""
        lines = [f"duplicated {kind}: {n}" for kind, n in sorted(self.duplicates.items()) if n]
        lines += [f"lost {kind}: {n}" for kind, n in sorted(self.lost.items()) if n]
        if self.fenced_writes_landed:
            lines.append("writes of fenced-out workers landed:")
            lines += [f"  {entry}" for entry in self.fenced_writes_landed[:20]]
        return "\n".join(lines + self.problems)


async def _rows(db: Database, query: Any) -> list[Any]:
    async with db.connect() as conn:
        return list((await conn.execute(query)).all())


def _simulator(found: Audit, servers: list[Mapping[str, Any]], hostnames: set[str]) -> None:
    names = Counter(str(s["name"]) for s in servers)
    duplicated = {name: count for name, count in names.items() if count > 1}
    missing = sorted(hostnames - names.keys())
    unknown = sorted(names.keys() - hostnames)
    found.duplicates["servers"] += sum(count - 1 for count in duplicated.values())
    found.duplicates["servers of no order"] += len(unknown)
    found.lost["servers"] += len(missing)
    if duplicated:
        found.problems.append(f"the simulator holds duplicate servers: {duplicated}")
    if missing or unknown:
        found.problems.append(f"orders without a server: {missing[:20]}; strays: {unknown[:20]}")


async def _phase_completions(found: Audit, db: Database, order_ids: set[int]) -> None:
    log = schema.activity_log
    runs = await _rows(db, sa.select(schema.runs.c.id, schema.runs.c.order_id))
    found.lost["runs"] += len(order_ids - {r.order_id for r in runs})
    counted = await _rows(
        db,
        sa.select(log.c.run_id, log.c.phase, sa.func.count())
        .where(log.c.event == "phase_completed")
        .group_by(log.c.run_id, log.c.phase),
    )
    per_run: dict[int, dict[str, int]] = defaultdict(dict)
    for run_id, phase, count in counted:
        per_run[run_id][phase] = count
    wrong = {}
    for run in runs:
        seen = per_run.get(run.id, {})
        for phase in PHASES:
            count = seen.get(phase.value, 0)
            found.duplicates["phase completions"] += max(0, count - 1)
            found.lost["phase completions"] += int(count == 0)
            if count != 1:
                wrong[run.id] = seen
    if wrong:
        found.problems.append(
            f"runs without exactly one phase_completed per phase: {dict(list(wrong.items())[:20])}"
        )


async def _fencing(found: Audit, db: Database) -> None:
    """Per run, fenced rows carry non-decreasing lease tokens, each token one worker's."""
    log = schema.activity_log
    fenced = await _rows(
        db,
        sa.select(log.c.id, log.c.run_id, log.c.lease_token, log.c.worker, log.c.event)
        .where(log.c.lease_token.is_not(None))
        .order_by(log.c.run_id, log.c.id),
    )
    owners: dict[tuple[int, int], set[str]] = defaultdict(set)
    last: dict[int, Any] = {}
    for row in fenced:
        previous = last.get(row.run_id)
        if previous is not None and row.lease_token < previous.lease_token:
            found.fenced_writes_landed.append(
                f"run {row.run_id}: row {row.id} ({row.event} by {row.worker}, token "
                f"{row.lease_token}) after row {previous.id} ({previous.event} by "
                f"{previous.worker}, token {previous.lease_token})"
            )
        last[row.run_id] = row
        owners[(row.run_id, row.lease_token)].add(row.worker)
    found.fenced_writes_landed += [
        f"run {run}: lease token {token} written by {sorted(names)}"
        for (run, token), names in owners.items()
        if len(names) > 1
    ]
    found.fenced_rows = len(fenced)


async def _mail(found: Audit, db: Database, order_ids: set[int], smtp: CapturingSmtpServer) -> None:
    """One welcome outbox row per order, sent and received; counts repeated deliveries."""
    outbox = schema.outgoing_mail
    mails = await _rows(db, sa.select(outbox.c.order_id, outbox.c.template, outbox.c.status))
    per_order = Counter(m.order_id for m in mails)
    found.lost["welcome mails"] += len(order_ids - set(per_order))
    found.duplicates["welcome mails"] += sum(count - 1 for count in per_order.values())
    found.lost["sent welcome mails"] += sum(
        m.status != "sent" or m.template != "welcome" for m in mails
    )
    received = Counter(str(m["Message-ID"]) for m in smtp.messages)
    expected = {f"<order-{o}-welcome@fluxbilling>" for o in order_ids}
    found.lost["received welcome mails"] += len(expected - received.keys())
    found.repeated_smtp_deliveries = sum(received.values()) - len(received)


async def _addresses(found: Audit, db: Database) -> None:
    """Every order has its own address in the subnet, never the gateway or a DNS server."""
    (subnet,) = await _rows(db, sa.select(schema.subnets))
    network = ipaddress.ip_network(subnet.cidr)
    infrastructure = {ipaddress.ip_address(subnet.gateway)} | {
        ipaddress.ip_address(a) for a in subnet.dns_servers
    }
    addresses = [
        ipaddress.ip_address(r.address)
        for r in await _rows(db, sa.select(schema.ip_addresses.c.address))
    ]
    found.duplicates["addresses"] += len(addresses) - len(set(addresses))
    found.lost["addresses"] += max(0, found.orders - len(set(addresses)))
    strays = sorted(str(a) for a in addresses if a not in network)
    clashes = sorted(str(a) for a in set(addresses) & infrastructure)
    if strays or clashes:
        found.problems.append(f"addresses outside the subnet {strays}, infrastructure {clashes}")


async def audit(
    db: Database,
    expected_orders: int,
    sim_servers: list[Mapping[str, Any]],
    smtp: CapturingSmtpServer,
) -> Audit:
    """Check every invariant of a finished chaos run against the database, simulator, SMTP."""
    found = Audit(orders=expected_orders)
    orders = await _rows(
        db, sa.select(schema.orders.c.id, schema.orders.c.hostname, schema.orders.c.state)
    )
    found.lost["orders placed"] += max(0, expected_orders - len(orders))
    found.lost["orders not active"] += sum(o.state != "active" for o in orders)
    order_ids = {o.id for o in orders}
    _simulator(found, sim_servers, {o.hostname for o in orders})
    await _phase_completions(found, db, order_ids)
    await _fencing(found, db)
    await _mail(found, db, order_ids, smtp)
    await _addresses(found, db)
    return found
