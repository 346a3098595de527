"""Network phase: bind the reserved address, publish the PTR, report the firewall and DCIM."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.network import dcim
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
        """Publish the PTR record; report where the firewall baseline was enforced; DCIM."""
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
            "firewall": None,
            "dcim": None,
        }
        if address is not None and ours and view.product["service_type"] in _OWN_MACHINE:
            zone, ptr = await self.deps.rdns.set_ptr(str(address), hostname)
            out["ptr"] = {"zone": zone, "name": ptr, "content": hostname}
            out["firewall"] = _firewall(view.service["service_data"])
        if address is not None:
            out["dcim"] = dcim.dcim_record(
                service_id=str(view.service["id"]),
                location_code=view.location["code"],
                host_name=view.host["name"],
                address=address,
                hostname=hostname,
            ).to_dict()
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
        ptr = out["ptr"]
        steps += [("rdns_published", f"PTR {ptr['name']} -> {ptr['content']}", ptr)]
        steps.append(_firewall_step(out["firewall"]))
    else:
        steps.append(
            ("rdns_skipped", "no PTR or firewall baseline: the address is the provider's", {})
        )
    steps.append(("dcim_recorded", "DCIM record written", out["dcim"]))
    return steps


def _firewall(service_data: Mapping[str, Any]) -> dict[str, Any]:
    """Where the firewall baseline was enforced: `os_install` records the cloud-init one."""
    applied = service_data.get("firewall")
    if isinstance(applied, Mapping) and applied.get("sha256"):
        return {"enforced_by": applied["enforced_by"], "sha256": applied["sha256"]}
    return {"enforced_by": None, "sha256": None}


def _firewall_step(applied: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any]]:
    if applied["enforced_by"] is None:
        message = (
            "no firewall baseline: the product's policy is off, or the OS was not installed "
            "with our cloud-init"
        )
        return ("firewall_not_applied", message, {})
    message = f"firewall baseline applied by {applied['enforced_by']} (sha256 {applied['sha256']})"
    return ("firewall_applied", message, dict(applied))
