"""OS install phase: verify the image, seal the root password, render cloud-init, hand it over.

The image's sha256 is checked before anything uses it: a mismatch quarantines the image
(no later order will use it either) and fails the run permanently. The root password is
generated once per service and sealed with the installation key; cloud-init receives only
its SHA-512 crypt hash. The documents go to the provider through the plugin's `reinstall`
flow (SolusVM 2: `POST /servers/{id}/reinstall` with `user_data`, then the task is polled).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.db import schema
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.handoff import templates
from fluxbilling.images import cloudinit, hashing, passwords
from fluxbilling.orders.phases.deps import PhaseDeps, merge_service_data
from fluxbilling.orders.phases.flows import flow_context, pinned_plugin, root_password, run_verb
from fluxbilling.orders.view import OrderView

__all__ = ["OsInstallPhase", "render_cloud_init"]


class OsInstallPhase:
    """Installs the OS with our cloud-init through the plugin's `reinstall` flow."""

    def __init__(self, deps: PhaseDeps) -> None:
        self.deps = deps

    async def execute(self, ctx: PhaseContext) -> Outcome:
        """Verify, render and hand over (or resume polling the provider's task).

        The plugin's `osInstall` mode decides: `reinstall` (ours, via cloud-init), `provision`
        (the panel installed its template when the service was created: recorded only) or
        `none` (shared hosting, game servers: nothing to install).
        """
        view = await self.deps.view(ctx.order_id)
        plugin = await pinned_plugin(self.deps, ctx, view)
        mode = plugin.document.os_install_mode
        summary: dict[str, Any] = {"service_id": view.service["id"], "mode": mode}
        if mode == "none":
            return Done(summary)
        image = view.image
        if not image:
            raise errors.InvalidSettings(
                f"product {view.product['slug']} has no OS image, but plugin {plugin.slug} "
                f"installs one (osInstall {mode!r})",
                product=view.product["slug"],
            )
        summary.update(image=image["slug"], sha256=image["sha256"])
        if mode == "provision":
            summary["handed_over"] = False
            return Done(summary)
        if ctx.cursor is None:
            await self._verify(image)
        if not view.address:
            raise errors.InvalidSettings(
                f"plugin {plugin.slug} installs the OS with our cloud-init, which needs an "
                "address from our IPAM: set the product's options.addressing to 'ipam' or the "
                "plugin's osInstall to 'provision'",
                plugin=plugin.slug,
            )
        password = await root_password(self.deps, ctx, view)
        documents = render_cloud_init(view, password)
        summary["user_data_sha256"] = hashlib.sha256(documents.user_data.encode()).hexdigest()
        if "reinstall" not in plugin.document.flows:
            summary["handed_over"] = False
            return Done(summary)
        outcome = await run_verb(
            self.deps,
            ctx,
            plugin,
            "reinstall",
            flow_context(
                view,
                ctx,
                cloud_init={
                    "user_data": documents.user_data,
                    "meta_data": documents.meta_data,
                    "network_config": documents.network_config,
                },
                credentials={"root_password": password, "password": password},
            ),
            view.connection["name"],
            secrets=[password],
        )
        if not isinstance(outcome, Done):
            return outcome
        summary["handed_over"] = True
        return Done(summary)

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        """Record which image was installed (and by whom), or why nothing was."""
        out = done.output
        if out["mode"] == "none":
            message = "no OS install: the provider runs this service on its own platform"
        elif out["mode"] == "provision":
            message = f"{out['image']} was installed by the panel when the service was created"
        else:
            message = f"{out['image']} (sha256 verified) installed with our cloud-init"
        if out["mode"] != "none":
            await merge_service_data(
                conn,
                out["service_id"],
                {"os": {"image": out["image"], "sha256": out["sha256"], "by": out["mode"]}},
                status="installed",
            )
        await ctx.record(
            conn,
            "os_install_recorded",
            message,
            {"mode": out["mode"]},
        )
        return out

    async def _verify(self, image: Mapping[str, Any]) -> None:
        if image.get("status") != "active":
            raise errors.PermanentUpstreamError(
                f"image {image['slug']} is {image.get('status')} and cannot be used",
                upstream="image-library",
                operation="verify image",
            )
        try:
            await hashing.verify_image(image["source_url"], image["sha256"])
        except errors.PermanentUpstreamError:
            async with self.deps.db.begin() as conn:
                await conn.execute(
                    schema.images.update()
                    .where(schema.images.c.id == image["id"])
                    .values(status="quarantined")
                )
            raise


def render_cloud_init(view: OrderView, password: str) -> cloudinit.CloudInitDocuments:
    """The cloud-init documents for a service on its IPAM address, with `password` hashed."""
    subnet = view.subnet
    network = ipaddress.ip_network(subnet["cidr"])
    hostname = view.order["hostname"]
    extra = None
    template = view.image.get("user_data_template")
    if template:
        extra = templates.compile_template(template).render(
            {"hostname": hostname, "order": {"id": view.order_id}, "image": view.image["slug"]},
            escape=False,
        )
    spec = cloudinit.CloudInitSpec(
        hostname=hostname.split(".", 1)[0],
        fqdn=hostname,
        instance_id=f"fluxbilling-{view.order_id}",
        address=ipaddress.IPv4Interface(f"{view.address['address']}/{network.prefixlen}"),
        gateway=ipaddress.IPv4Address(subnet["gateway"]),
        dns_servers=tuple(ipaddress.ip_address(s) for s in subnet["dns_servers"]),
        root_password_hash=passwords.sha512_crypt(password),
        extra_user_data=extra,
    )
    return cloudinit.render(spec)
