"""Network phase: bind the reserved address, publish the PTR, record firewall baseline and DCIM.

The DCIM record is the service's interface and address in our model (`dcim_assignments`,
activity `dcim_recorded`); with an inventory system configured (`PhaseDeps.dcim`) the commit
also enqueues a `dcim_sync` run that pushes it there, so a NetBox outage never holds up the
customer's service.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.network import dcim, firewall
from fluxbilling.orders.phases.deps import PhaseDeps
from fluxbilling.orders.pipeline import DCIM_SYNC_KIND, Phase

__all__ = ["NetworkPhase", "interface_name"]


def interface_name(service_id: int) -> str:
    """The name of a service's interface in our DCIM model and the inventory system."""
    return f"svc-{service_id}"


_OWN_MACHINE = frozenset({"vps", "baremetal"})


class NetworkPhase:
    """PTR first (an idempotent upsert at the DNS backend), then the database facts in `commit`.

    Only a machine of its own (VPS, bare metal) on an address from our IPAM gets a PTR and a
    firewall baseline; a shared-hosting account or a game server lives on the provider's
    shared address, whose PTR and firewall are the provider's, so the phase records the
    address the plugin reported (`service_data.ip`) and the DCIM record only.
    """

    def __init__(self, deps: PhaseDeps) -> None:
        self.deps = deps

    async def execute(self, ctx: PhaseContext) -> Outcome:
        """Publish the PTR record and compute the firewall baseline and DCIM record."""
        view = await self.deps.store.view(ctx.order_id)
        ours = bool(view.address)
        raw = view.address["address"] if ours else view.service["service_data"].get("ip")
        address = ipaddress.ip_address(raw) if raw else None
        hostname = view.order["hostname"]
        out: dict[str, Any] = {
            "service_id": view.service["id"],
            "address": None if address is None else str(address),
            "source": "ipam" if ours else "provider",
            "ptr": None,
            "firewall": [],
            "dcim": None,
        }
        if address is not None and ours and view.product["service_type"] in _OWN_MACHINE:
            zone, ptr = await self.deps.rdns.set_ptr(str(address), hostname)
            out["ptr"] = {"zone": zone, "name": ptr, "content": hostname}
            out["firewall"] = [dataclasses.asdict(r) for r in firewall.baseline_rules(address)]
        if address is not None:
            out["dcim"] = dcim.dcim_record(
                service_id=str(view.service["id"]),
                location_code=view.location["code"],
                host_name=view.host["name"],
                address=address,
                hostname=hostname,
            ).to_dict()
            out["dcim"]["interface"] = interface_name(int(view.service["id"]))
            out["dcim"]["host_id"] = view.host.get("id")
        return Done(out)

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        """Assign the address to the service and record each step in the activity log."""
        out = done.output
        writes = self.deps.store.writes(conn, ctx)
        if out["source"] == "ipam":
            await writes.assign_address(ctx.order_id, out["service_id"])
        await writes.merge_service_data(
            out["service_id"],
            {"network": {k: out[k] for k in ("address", "source", "ptr", "firewall", "dcim")}},
        )
        record = out["dcim"]
        if record is not None:
            await writes.assign_interface(
                out["service_id"],
                record.get("host_id"),
                record["interface"],
                record["address"],
                record["hostname"],
            )
        for event, message, data in _steps(out):
            await writes.record(event, message, data)
        if record is not None and self.deps.dcim is not None:
            key = f"{ctx.order_id}:{DCIM_SYNC_KIND}:network:{ctx.claim.run_id}"
            if await writes.enqueue_follow_up(DCIM_SYNC_KIND, Phase.DCIM_SYNC, key):
                await writes.record(
                    "dcim_sync_queued", "DCIM sync to the inventory system queued", {}
                )
        return out


def _steps(out: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    address = out["address"]
    if address is None:
        return [("address_unknown", "the provider reported no address for the service", {})]
    steps: list[tuple[str, str, Mapping[str, Any]]]
    if out["source"] == "ipam":
        steps = [("address_assigned", f"address {address} assigned", {"address": address})]
    else:
        steps = [("address_recorded", f"provider address {address} recorded", {"address": address})]
    if out["ptr"] is not None:
        ptr = out["ptr"]
        steps += [
            ("rdns_published", f"PTR {ptr['name']} -> {ptr['content']}", ptr),
            ("firewall_applied", f"firewall baseline of {len(out['firewall'])} rules recorded", {}),
        ]
    else:
        steps.append(
            ("rdns_skipped", "no PTR or firewall baseline: the address is the provider's", {})
        )
    dcim = out["dcim"]
    steps.append(
        ("dcim_recorded", f"DCIM: interface {dcim['interface']} with {address} recorded", dcim)
    )
    return steps
