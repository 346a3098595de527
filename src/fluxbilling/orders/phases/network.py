"""Network phase: bind the reserved address, publish the PTR, record firewall baseline and DCIM."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.db import schema
from fluxbilling.engine import activity
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.network import dcim, firewall
from fluxbilling.orders.phases.deps import PhaseDeps, merge_service_data

__all__ = ["NetworkPhase"]


class NetworkPhase:
    """PTR first (an idempotent upsert at the DNS backend), then the database facts in `commit`."""

    def __init__(self, deps: PhaseDeps) -> None:
        self.deps = deps

    async def execute(self, ctx: PhaseContext) -> Outcome:
        """Publish the PTR record and compute the firewall baseline and DCIM record."""
        view = await self.deps.view(ctx.order_id)
        address = ipaddress.ip_address(view.address["address"])
        hostname = view.order["hostname"]
        zone, ptr = await self.deps.rdns.set_ptr(str(address), hostname)
        rules = firewall.baseline_rules(address)
        record = dcim.dcim_record(
            service_id=str(view.service["id"]),
            location_code=view.location["code"],
            host_name=view.host["name"],
            address=address,
            hostname=hostname,
        )
        return Done(
            {
                "service_id": view.service["id"],
                "address": str(address),
                "ptr": {"zone": zone, "name": ptr, "content": hostname},
                "firewall": [dataclasses.asdict(r) for r in rules],
                "dcim": record.to_dict(),
            }
        )

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        """Assign the address to the service and record each step in the activity log."""
        out = done.output
        await conn.execute(
            schema.ip_addresses.update()
            .where(schema.ip_addresses.c.order_id == ctx.order_id)
            .values(state="assigned", service_id=out["service_id"], assigned_at=self.deps.db.now())
        )
        await merge_service_data(
            conn,
            out["service_id"],
            {
                "network": {
                    "address": out["address"],
                    "ptr": out["ptr"],
                    "firewall": out["firewall"],
                    "dcim": out["dcim"],
                }
            },
        )
        steps = [
            ("address_assigned", f"address {out['address']} assigned", {"address": out["address"]}),
            ("rdns_published", f"PTR {out['ptr']['name']} -> {out['ptr']['content']}", out["ptr"]),
            ("firewall_applied", f"firewall baseline of {len(out['firewall'])} rules recorded", {}),
            ("dcim_recorded", "DCIM record written", out["dcim"]),
        ]
        for event, message, data in steps:
            await activity.record(
                conn,
                ctx.order_id,
                event,
                message,
                run_id=ctx.claim.run_id,
                phase=ctx.claim.phase,
                lease_token=ctx.claim.lease_token,
                worker=ctx.claim.worker,
                data=data,
            )
        return out
