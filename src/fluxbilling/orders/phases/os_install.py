"""OS install phase: verify the image, seal the root password, render cloud-init, hand it over.

The image's sha256 is checked before anything uses it: a mismatch quarantines the image
(no later order will use it either) and fails the run permanently. The root password is
generated once per service and sealed with the installation key; cloud-init receives only
its SHA-512 crypt hash. The documents go to the provider through the driver's `reinstall`
verb (SolusVM 2: `POST /servers/{id}/reinstall` with `user_data`, then the task is polled).

The documents are rendered **once** per phase: a crypt hash has a random salt, so a second
rendering differs byte for byte. Before the flow sends anything they are sealed with the
installation key (the hash is secret-ish, the operator's template may hold more) and kept
in the phase's cursor (`PhaseStore.save_cursor`); every later attempt (a resumed poll, a
retry after an error, a takeover after a crash) opens and sends those same bytes, and the
recorded `user_data_sha256` is the hash of what the panel received. The phase cursor is

```
{"cloud_init_sealed": <sealed JSON of the documents and the hash>,
 "flow": <the reinstall flow's cursor, or null before its first Pending>}
```

The user-data carries the product's firewall baseline (`service_firewall`): an nftables
ruleset over the addresses allocation reserved, loaded at first boot. This phase runs before
the network phase, so it renders the rules; it records `service_data.firewall`
(`enforced_by: cloud-init` and the ruleset's sha256) once the panel has the documents, and
the network phase reports it.

An operator retry clears the cursor and so renders afresh (after a fixed template, say).
The documents and the hash are redacted from exchanges and logs like the password.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.drivers.driver import Driver, Verb
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome, Pending
from fluxbilling.handoff import templates
from fluxbilling.images import cloudinit, passwords
from fluxbilling.network import nftables
from fluxbilling.orders import lifecycle
from fluxbilling.orders.phases import service_firewall
from fluxbilling.orders.phases.deps import PhaseDeps
from fluxbilling.orders.phases.operations import (
    flow_context,
    pinned_driver,
    root_password,
    run_verb,
)
from fluxbilling.orders.view import OrderView
from fluxbilling.vault import Vault

__all__ = ["SEALED_KEY", "OsInstallPhase", "render_cloud_init"]

SEALED_KEY = "cloud_init_sealed"
"""The cursor key under which the rendered cloud-init (it holds the password hash) is sealed."""
_SEALED = SEALED_KEY
_FLOW = "flow"


@dataclass(frozen=True, slots=True)
class _Handover:
    """What this phase hands to the panel, as rendered on its first attempt."""

    documents: cloudinit.CloudInitDocuments
    password_hash: str
    sealed: str | None
    """The sealed form kept in the cursor; None for a cursor older than kept documents."""
    flow_cursor: Mapping[str, Any] | None
    firewall_sha256: str | None = None
    """The sha256 of the nftables ruleset in the user-data; None: it holds none."""

    def seal(self, vault: Vault) -> str:
        """The documents and the hash as one sealed value."""
        return vault.seal(
            json.dumps(
                {
                    **dataclasses.asdict(self.documents),
                    "root_password_hash": self.password_hash,
                    "firewall_sha256": self.firewall_sha256,
                },
                sort_keys=True,
            )
        )

    @classmethod
    def open(cls, vault: Vault, sealed: str, flow_cursor: Mapping[str, Any] | None) -> _Handover:
        """The handover kept in a cursor by `seal`."""
        kept = json.loads(vault.open(sealed))
        return cls(
            cloudinit.CloudInitDocuments(
                user_data=kept["user_data"],
                meta_data=kept["meta_data"],
                network_config=kept["network_config"],
            ),
            kept["root_password_hash"],
            sealed,
            flow_cursor,
            kept.get("firewall_sha256"),
        )


class OsInstallPhase:
    """Installs the OS with our cloud-init through the driver's `reinstall` verb."""

    def __init__(self, deps: PhaseDeps) -> None:
        self.deps = deps

    async def execute(self, ctx: PhaseContext) -> Outcome:
        """Verify, render and hand over (or resume polling the provider's task).

        The driver's `os_install` mode (a plugin's `osInstall`) decides: `reinstall` (ours,
        via cloud-init), `provision` (the panel installed its template when the service was
        created: recorded only) or `none` (shared hosting, game servers: nothing to install).
        """
        view = await self.deps.store.view(ctx.order_id)
        driver = await pinned_driver(self.deps, ctx, view)
        mode = driver.os_install
        summary: dict[str, Any] = {"service_id": view.service["id"], "mode": mode}
        if mode == "none":
            return Done(summary)
        image = view.image
        if not image:
            raise errors.InvalidSettings(
                f"product {view.product['slug']} has no OS image, but plugin {driver.slug} "
                f"installs one (osInstall {mode!r})",
                product=view.product["slug"],
            )
        summary.update(image=image["slug"], sha256=image["sha256"])
        if image.get("sha512"):
            summary["sha512"] = image["sha512"]
        if mode == "provision":
            summary["handed_over"] = False
            return Done(summary)
        if ctx.cursor is None:
            await self._verify(image)
        if not view.address:
            raise errors.InvalidSettings(
                f"plugin {driver.slug} installs the OS with our cloud-init, which needs an "
                "address from our IPAM: set the product's options.addressing to 'ipam' or the "
                "plugin's osInstall to 'provision'",
                plugin=driver.slug,
            )
        password = await root_password(self.deps, ctx, view)
        if Verb.REINSTALL not in driver.verbs:
            documents = render_cloud_init(view, passwords.sha512_crypt(password))
            summary["user_data_sha256"] = _sha256(documents.user_data)
            summary["handed_over"] = False
            return Done(summary)
        return await self._reinstall(ctx, view, driver, password, summary)

    async def _reinstall(
        self,
        ctx: PhaseContext,
        view: OrderView,
        driver: Driver,
        password: str,
        summary: dict[str, Any],
    ) -> Outcome:
        """Run the `reinstall` verb with the documents of this phase's first attempt."""
        handover = await self._handover(ctx, view, password)
        documents = handover.documents
        outcome = await run_verb(
            dataclasses.replace(ctx, cursor=handover.flow_cursor),
            driver,
            Verb.REINSTALL,
            flow_context(
                view,
                cloud_init={
                    "user_data": documents.user_data,
                    "meta_data": documents.meta_data,
                    "network_config": documents.network_config,
                },
                credentials={"root_password": password, "password": password},
            ),
            view.connection["name"],
            secrets=[password, handover.password_hash],
        )
        if isinstance(outcome, Pending):
            if handover.sealed is None:
                return outcome
            return dataclasses.replace(
                outcome, cursor={_SEALED: handover.sealed, _FLOW: dict(outcome.cursor)}
            )
        if handover.sealed is not None:
            summary["user_data_sha256"] = _sha256(documents.user_data)
            if handover.firewall_sha256 is not None:
                summary["firewall"] = {
                    "enforced_by": service_firewall.CLOUD_INIT,
                    "sha256": handover.firewall_sha256,
                }
        summary["handed_over"] = True
        return Done(summary)

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        """Record which image was installed (and by whom), or why nothing was."""
        out = done.output
        writes = self.deps.store.writes(conn, ctx)
        if out["mode"] == "none":
            message = "no OS install: the provider runs this service on its own platform"
        elif out["mode"] == "provision":
            message = f"{out['image']} was installed by the panel when the service was created"
        else:
            verified = "sha512" if out.get("sha512") else "sha256"
            message = f"{out['image']} ({verified} verified) installed with our cloud-init"
        if out["mode"] != "none":
            await writes.merge_service_data(
                out["service_id"],
                {
                    "os": {
                        "image": out["image"],
                        "sha256": out["sha256"],
                        **({"sha512": out["sha512"]} if out.get("sha512") else {}),
                        "by": out["mode"],
                    },
                    # Always written by a reinstall, so a re-run without one (the policy
                    # turned off since) does not leave an earlier record standing.
                    **({"firewall": out.get("firewall")} if out["mode"] == "reinstall" else {}),
                },
            )
        installed = lifecycle.service(out["service_id"], lifecycle.ServiceEvent.INSTALLED)
        moves = [] if out["mode"] == "none" else [installed]
        await writes.transition("os_install_recorded", message, *moves, data={"mode": out["mode"]})
        return out

    async def _handover(self, ctx: PhaseContext, view: OrderView, password: str) -> _Handover:
        """The documents to send: kept from an earlier attempt, or rendered and kept now."""
        cursor = ctx.cursor
        if cursor is not None and _SEALED in cursor:
            return _Handover.open(self.deps.vault, cursor[_SEALED], cursor.get(_FLOW))
        password_hash = passwords.sha512_crypt(password)
        ruleset = service_firewall.ruleset_for(view)
        documents = render_cloud_init(view, password_hash, ruleset)
        if cursor is not None:
            # A flow cursor left by a release that kept no documents: the panel already has
            # some we cannot know, so this phase resumes the flow but records no hash.
            return _Handover(documents, password_hash, None, cursor)
        firewall_sha256 = None if ruleset is None else ruleset.sha256
        handover = _Handover(documents, password_hash, None, None, firewall_sha256)
        sealed = handover.seal(self.deps.vault)
        await self.deps.store.save_cursor(ctx.claim, {_SEALED: sealed, _FLOW: None})
        return dataclasses.replace(handover, sealed=sealed)

    async def _verify(self, image: Mapping[str, Any]) -> None:
        if image.get("status") != "active":
            raise errors.PermanentUpstreamError(
                f"image {image['slug']} is {image.get('status')} and cannot be used",
                upstream="image-library",
                operation="verify image",
            )
        try:
            # The stronger digest when both are known.
            expected = image.get("sha512") or image["sha256"]
            await self.deps.verify_image(image["source_url"], expected)
        except errors.PermanentUpstreamError:
            await self.deps.store.quarantine_image(image["id"])
            raise


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render_cloud_init(
    view: OrderView, password_hash: str, ruleset: nftables.Ruleset | None = None
) -> cloudinit.CloudInitDocuments:
    """The cloud-init documents for a service on its IPAM address.

    Args:
        view: the order; its service must have an address from our IPAM.
        password_hash: root's `$6$` hash (`passwords.sha512_crypt`): hash once, since each
            hash has its own random salt.
        ruleset: the service's firewall baseline (`service_firewall.ruleset_for`), when the
            caller has it already; rendered from `view` otherwise (None: the policy is off).

    Returns:
        The three NoCloud documents.

    Raises:
        errors.InvalidSettings: the image's template or the address does not fit.
    """
    if ruleset is None:
        ruleset = service_firewall.ruleset_for(view)
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
        root_password_hash=password_hash,
        extra_user_data=extra,
        firewall_ruleset=None if ruleset is None else ruleset.text,
    )
    return cloudinit.render(spec)
