"""Switch-port test helpers: put the seeded hosts on switch ports and the pool on a VLAN, read
an order's switch-port jobs, and work them (their retries made due at once)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from tests.integration.support import drain, rows


async def wire_switch(inst: bootstrap.Installation, prefix: str, vlan: int) -> list[str]:
    """Every host on a port `<prefix>-<host id>`, the pool on `vlan`; the ports' names."""
    hosts = schema.hosts
    names = []
    async with inst.db.begin() as conn:
        for host_id in (await conn.execute(sa.select(hosts.c.id))).scalars():
            name = f"{prefix}-{host_id}"
            names.append(name)
            await conn.execute(hosts.update().where(hosts.c.id == host_id).values(switch_port=name))
        await conn.execute(schema.subnets.update().values(vlan_id=vlan))
    return names


async def jobs_of(inst: bootstrap.Installation, order_id: int) -> list[Any]:
    """The order's switch-port jobs with their runs, oldest first."""
    jobs, runs = schema.switch_port_jobs, schema.runs
    return await rows(
        inst,
        sa.select(jobs, runs.c.state, runs.c.attempt, runs.c.last_error)
        .select_from(jobs.join(runs, runs.c.id == jobs.c.run_id))
        .where(jobs.c.order_id == order_id)
        .order_by(jobs.c.id),
    )


async def work_jobs(inst: bootstrap.Installation, *, rounds: int = 6) -> None:
    """Drain the worker, making every queued switch-port run due between rounds."""
    runs = schema.runs
    for _ in range(rounds):
        await drain(inst)
        async with inst.db.begin() as conn:
            due = await conn.execute(
                runs.update()
                .where(runs.c.kind == "switch_port", runs.c.state == "queued")
                .values(next_run_at=inst.db.now(-1))
            )
        if due.rowcount == 0:
            return


async def one_host(inst: bootstrap.Installation) -> None:
    """Only the first host takes new services (the others are draining)."""
    hosts = schema.hosts
    async with inst.db.begin() as conn:
        first = (await conn.execute(sa.select(sa.func.min(hosts.c.id)))).scalar_one()
        await conn.execute(hosts.update().where(hosts.c.id != first).values(status="draining"))
