"""The action phase: run one lifecycle verb on a service's driver, then record what it changed.

The verb runs on the driver version the action pinned when it was requested. Its context is
the order's (`operations.flow_context`) plus `action` (`verb`, `params`, `reason`); `resize` also
overlays `params.options` on `options`/`settings`; `reset_password` exposes the new password
and `reinstall` the service's own as `credentials.password` (redacted everywhere), and
`reinstall` of a service on our address also gets the `cloud_init` documents, as in the
os_install phase. The commit then:

| verb           | service afterwards                                                |
|----------------|-------------------------------------------------------------------|
| suspend        | `suspended`                                                       |
| unsuspend      | `active`                                                          |
| terminate      | `terminated`; host capacity and the reserved address released,   |
|                | after the PTR the network phase published is deleted (execute);   |
|                | a switch-port job takes the VLAN off the host port (its own run)  |
| reinstall      | `active`                                                          |
| resize         | `active`; the new options kept in `service_data.plan_options`     |
| reset_password | the sealed root password replaced by the new one; reveal links    |
|                | still outstanding revoked (they would reveal the new password)    |
| console, stats | unchanged; the flow's result is stored on the action (a console     |
|                | session sealed with the installation key: it grants access)       |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.allocation import leases
from fluxbilling.drivers.driver import Verb
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.images import passwords
from fluxbilling.orders import lifecycle
from fluxbilling.orders.actions import RESULT_EVENT, seal_result
from fluxbilling.orders.phases.deps import PhaseDeps, plain
from fluxbilling.orders.phases.operations import flow_context, run_verb
from fluxbilling.orders.phases.os_install import render_cloud_init
from fluxbilling.orders.view import OrderView

__all__ = ["ActionPhase"]

_QUIET = frozenset({"console", "stats"})
"""Verbs whose result may hold session tokens: kept on the action, not in the activity log."""


class ActionPhase:
    """Executes a `service_actions` row through its driver."""

    def __init__(self, deps: PhaseDeps) -> None:
        self.deps = deps

    async def execute(self, ctx: PhaseContext) -> Outcome:
        """Run (or resume) the verb."""
        action = await self.deps.store.action(ctx.claim.run_id)
        view = await self.deps.store.view(ctx.order_id)
        driver = await self.deps.drivers.get(action.plugin_slug, action.plugin_version)
        params = dict(action.params)
        context = flow_context(
            view, action={"verb": action.verb, "params": params, "reason": action.reason}
        )
        if action.verb == "resize":
            merged = {**context["options"], **params.get("options", {})}
            context["options"] = context["settings"] = merged
        secrets: list[str] = []
        sealed = action.secret_sealed or view.service.get("root_password_sealed")
        if sealed and action.verb in ("reset_password", "reinstall"):
            password = self.deps.vault.open(sealed)
            context["credentials"] = {"root_password": password, "password": password}
            secrets.append(password)
            if action.verb == "reinstall" and view.address and view.image:
                password_hash = passwords.sha512_crypt(password)
                secrets.append(password_hash)
                documents = render_cloud_init(view, password_hash)
                context["cloud_init"] = {
                    "user_data": documents.user_data,
                    "meta_data": documents.meta_data,
                    "network_config": documents.network_config,
                }
        outcome = await run_verb(
            ctx, driver, Verb(action.verb), context, view.connection["name"], secrets=secrets
        )
        if not isinstance(outcome, Done):
            return outcome
        ptr_removed = await self._remove_ptrs(view) if action.verb == "terminate" else None
        return Done(
            {
                "action_id": action.id,
                "verb": action.verb,
                "service_id": action.service_id,
                "plugin": f"{driver.slug}@{driver.version}",
                "service_data": dict(outcome.output.get("service_data") or {}),
                "result": outcome.output.get("result"),
                "ptr_removed": ptr_removed,
            }
        )

    async def _remove_ptrs(self, view: OrderView) -> list[str]:
        """Delete the PTRs the network phase published for the service's leases.

        Runs after the driver's terminate and before the commit releases the leases, so an
        address is never handed out again with the old PTR. Each lease that holds a PTR
        loses it (IPv4, IPv6, a routed prefix's `::1`); a service from before leases kept
        its PTR in `service_data.network.ptr` only. The deletes are idempotent; an
        `errors.UpstreamError` propagates, so a transient one retries the action (the verb
        again, under the same correlation key) instead of leaving a PTR behind.

        Returns:
            The addresses whose PTR was deleted (none: no PTR of ours, a provider address).
        """
        addresses = [
            leases.service_address_of(lease) for lease in view.leases if lease.get("ptr_name")
        ]
        network = (view.service.get("service_data") or {}).get("network") or {}
        if network.get("ptr") and network.get("address") and not addresses:
            addresses = [str(network["address"])]
        for address in addresses:
            await self.deps.rdns.delete_ptr(address)
        forward = network.get("forward") or {}
        primary = forward.get("content") or network.get("address")
        if forward.get("name") and primary:
            await self.deps.rdns.delete_forward(str(forward["name"]), str(primary))
        return addresses

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        """Apply the verb's effect on the service and store the result on the action."""
        writes = self.deps.store.writes(conn, ctx)
        out = done.output
        verb = out["verb"]
        action = await writes.action(out["action_id"])
        columns: dict[str, str | None] = {}
        patch = dict(out["service_data"])
        if verb == "resize":
            current = await writes.service_data(out["service_id"])
            patch["plan_options"] = {
                **(current.get("plan_options") or {}),
                **(action.params.get("options") or {}),
            }
        if verb == "reset_password":
            columns["root_password_sealed"] = action.secret_sealed
        await writes.merge_service_data(out["service_id"], patch, **columns)
        if verb == "reset_password" and await writes.revoke_reveal_links(out["service_id"]):
            await writes.record(
                "reveal_links_revoked",
                "password reset: the outstanding password reveal links no longer work",
                {"service_id": out["service_id"]},
            )
        await writes.store_action_result(
            action.id, seal_result(self.deps.vault, verb, plain(out["result"]))
        )
        if verb == "terminate":
            for address in out.get("ptr_removed") or ():
                await writes.record(
                    "rdns_removed",
                    f"PTR of {address} deleted",
                    {"address": address},
                )
            if self.deps.switching is not None:  # while the address still names its pool
                await self.deps.switching.jobs.terminated(conn, ctx, out["service_id"])
            released = await writes.release(ctx.order_id)
            await writes.record("capacity_released", released.describe(), {})
        note = "" if verb in _QUIET else f" ({_summary(out['result'])})"
        event = RESULT_EVENT[verb]
        moves = [] if event is None else [lifecycle.service(out["service_id"], event)]
        await writes.transition(
            "action_completed",
            f"{verb} completed{note}",
            *moves,
            data={"action_id": action.id, "verb": verb, "status": columns.get("status")},
        )
        return {k: v for k, v in out.items() if k != "result" or verb not in _QUIET}


def _summary(result: Any) -> str:
    if isinstance(result, Mapping):
        return ", ".join(sorted(str(k) for k in result)[:8]) or "no result"
    return "no result" if result is None else type(result).__name__
