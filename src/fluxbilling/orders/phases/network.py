"""Network phase: bind the reserved leases, publish their PTRs, record firewall baseline and DCIM."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.allocation import leases
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.network import dcim, firewall
from fluxbilling.orders.phases.deps import PhaseDeps

__all__ = ["NetworkPhase"]


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
        raw = (
            leases.service_address_of(view.address)
            if ours
            else view.service["service_data"].get("ip")
        )
        address = ipaddress.ip_address(raw) if raw else None
        hostname = view.order["hostname"]
        out: dict[str, Any] = {
            "service_id": view.service["id"],
            "address": None if address is None else str(address),
            "source": "ipam" if ours else "provider",
            "ptr": None,
            "ptrs": [],
            "firewall": [],
            "dcim": None,
        }
        if address is not None and ours and view.product["service_type"] in _OWN_MACHINE:
            # One PTR per lease (IPv4, IPv6, a routed prefix's ::1); the first is the primary.
            out["ptrs"] = [
                await self._publish(lease, hostname) for lease in view.leases or [view.address]
            ]
            out["ptr"] = {k: out["ptrs"][0][k] for k in ("zone", "name", "content")}
            out["firewall"] = [dataclasses.asdict(r) for r in firewall.baseline_rules(address)]
        if address is not None:
            out["dcim"] = dcim.dcim_record(
                service_id=str(view.service["id"]),
                location_code=view.location["code"],
                host_name=view.host["name"],
                address=address,
                hostname=hostname,
            ).to_dict()
        return Done(out)

    async def _publish(self, lease: Mapping[str, Any], hostname: str) -> dict[str, Any]:
        address = leases.service_address_of(lease)
        zone, ptr = await self.deps.rdns.set_ptr(address, hostname)
        return {
            "lease_id": lease.get("id"),
            "address": address,
            "zone": zone,
            "name": ptr,
            "content": hostname,
        }

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        """Assign the address to the service and record each step in the activity log."""
        out = done.output
        writes = self.deps.store.writes(conn, ctx)
        if out["source"] == "ipam":
            await writes.assign_address(ctx.order_id, out["service_id"])
        if out.get("ptrs"):
            await writes.set_lease_ptrs(out["ptrs"])
        await writes.merge_service_data(
            out["service_id"],
            {
                "network": {
                    k: out.get(k) for k in ("address", "source", "ptr", "ptrs", "firewall", "dcim")
                }
            },
        )
        for event, message, data in _steps(out):
            await writes.record(event, message, data)
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
        steps += [
            ("rdns_published", f"PTR {ptr['name']} -> {ptr['content']}", ptr)
            for ptr in out.get("ptrs") or [out["ptr"]]
        ]
        steps += [
            ("firewall_applied", f"firewall baseline of {len(out['firewall'])} rules recorded", {}),
        ]
    else:
        steps.append(
            ("rdns_skipped", "no PTR or firewall baseline: the address is the provider's", {})
        )
    steps.append(("dcim_recorded", "DCIM record written", out["dcim"]))
    return steps
