"""Network phase: bind the leases, publish their PTRs, report the firewall and DCIM.

A machine of its own gets a PTR per lease (IPv4, IPv6, a routed prefix's `::1`; the first
is the primary) and its host name's A/AAAA record for the primary address, and the phase completes
only once the backend's authoritative server answers both (forward-confirmed reverse DNS,
`network.fcrdns`): an API's 2xx says a record was stored, not served. Until then the phase
answers `Pending` every `CONFIRM_EVERY` with what the server answered in its note (the
`phase_waiting` activity row); the pipeline's deadline for the phase fails it with that note.
The publication is kept in the cursor, so a check does not write the records again.

The DCIM record is the service's interface and address in our model (`dcim_assignments`,
activity `dcim_recorded`); with an inventory system configured (`PhaseDeps.dcim`) the commit
also enqueues a `dcim_sync` run that pushes it there, so a NetBox outage never holds up the
customer's service.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.allocation import leases
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome, Pending
from fluxbilling.network import dcim
from fluxbilling.orders.phases.deps import PhaseDeps
from fluxbilling.orders.pipeline import DCIM_SYNC_KIND, Phase

__all__ = ["CONFIRM_EVERY", "NetworkPhase", "interface_name"]


def interface_name(service_id: int) -> str:
    """The name of a service's interface in our DCIM model and the inventory system."""
    return f"svc-{service_id}"


CONFIRM_EVERY = timedelta(seconds=2)
"""How long the phase waits before asking the authoritative server again."""
_PUBLISHED = "published"
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
        """Publish the records (once), then wait until the server answers them."""
        published = (ctx.cursor or {}).get(_PUBLISHED)
        out = dict(published) if published is not None else await self._publish(ctx)
        if out["ptr"] is None:
            return Done(out)
        return await self._confirm(out)

    async def _confirm(self, out: Mapping[str, Any]) -> Outcome:
        """Done when the authoritative server answers the PTR and the A/AAAA as published."""
        address, hostname = out["address"], out["ptr"]["content"]
        verdict = await self.deps.rdns.confirm(address, hostname)
        if verdict.confirmed:
            return Done({**out, "confirmed": verdict.to_dict()})
        rtype = "A" if ipaddress.ip_address(address).version == 4 else "AAAA"
        note = (
            f"rDNS not confirmed yet: expected PTR {address} -> {hostname} and {hostname} "
            f"{rtype} {address}; {verdict.server or 'the server'} answered: {verdict.reason}"
        )
        return Pending(
            cursor={_PUBLISHED: dict(out), "verdict": verdict.to_dict()},
            check_after=CONFIRM_EVERY,
            note=note,
        )

    async def _publish(self, ctx: PhaseContext) -> dict[str, Any]:
        """Publish the PTR and the forward record; compute the firewall baseline and DCIM."""
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
            "forward": None,
            "firewall": None,
            "dcim": None,
        }
        if address is not None and ours and view.product["service_type"] in _OWN_MACHINE:
            # One PTR per lease (IPv4, IPv6, a routed prefix's ::1); the first is the primary.
            out["ptrs"] = [
                await self._publish_ptr(lease, hostname) for lease in view.leases or [view.address]
            ]
            out["ptr"] = {k: out["ptrs"][0][k] for k in ("zone", "name", "content")}
            fzone, fname = await self.deps.rdns.set_forward(hostname, str(address))
            out["forward"] = {
                "zone": fzone,
                "name": fname,
                "type": "A" if address.version == 4 else "AAAA",
                "content": str(address),
            }
            out["firewall"] = _firewall(view.service["service_data"])
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
        return out

    async def _publish_ptr(self, lease: Mapping[str, Any], hostname: str) -> dict[str, Any]:
        """Publish the PTR of one lease's service address."""
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
                    k: out.get(k)
                    for k in ("address", "source", "ptr", "ptrs", "forward", "firewall", "dcim")
                }
            },
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
        if self.deps.switching is not None:  # the host port moves in a job of its own
            await self.deps.switching.jobs.provisioned(conn, ctx, out["service_id"])
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
        forward = out.get("forward")
        for i, ptr in enumerate(out.get("ptrs") or [out["ptr"]]):
            published = f"PTR {ptr['name']} -> {ptr['content']}"
            if i == 0 and forward:
                published += f", {forward['name']} {forward['type']} {forward['content']}"
            steps.append(
                ("rdns_published", published, {**ptr, "forward": forward if i == 0 else None})
            )
        steps += [
            *_confirmed(out),
            _firewall_step(out["firewall"]),
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


def _confirmed(out: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    verdict = out.get("confirmed")
    if not verdict:
        return []
    return [("rdns_confirmed", f"{verdict['server']} answered {verdict['reason']}", verdict)]


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
