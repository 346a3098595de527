"""Handoff phase: the welcome mail (outbox row first, then SMTP) and the service goes active.

The outbox row (unique per order and template) makes the mail exactly-once in our records;
it is read under the run's lease, so a worker that lost its lease never sends. SMTP itself is
at-least-once: a crash between the server's 250 and our "sent" mark re-sends the same
Message-ID, which receiving systems recognise.

How the password travels is the product's `password_delivery`:

- `mail`: in the mail. The stored copy has it masked; it is read from its sealed form only
  to render the mail being sent.
- `reveal_link`: not at all. The mail carries a one-time, expiring link
  (`handoff.reveal`) instead; each send issues a fresh link (only its hash is stored) and
  revokes the earlier one, so a re-sent mail never leaves two live links. The stored copy
  has the link masked too: the link is as good as the password until it is used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.handoff import reveal, templates
from fluxbilling.handoff.mail import OutgoingMessage
from fluxbilling.orders import lifecycle
from fluxbilling.orders.phases.deps import PhaseDeps
from fluxbilling.orders.phases.operations import account_username
from fluxbilling.orders.phases.store import WelcomeMail
from fluxbilling.orders.view import OrderView
from fluxbilling.redaction import MASK

__all__ = ["HandoffPhase"]

_TEMPLATES = {
    kind: (templates.compile_template(subject), templates.compile_template(text))
    for kind, (subject, text) in templates.WELCOME_TEMPLATES.items()
}


class HandoffPhase:
    """Sends the welcome mail once and flips the service and order to active."""

    def __init__(self, deps: PhaseDeps) -> None:
        self.deps = deps

    async def execute(self, ctx: PhaseContext) -> Outcome:
        """Queue the mail in the outbox and send it unless it was sent already."""
        view = await self.deps.store.view(ctx.order_id)
        sealed = view.service.get("root_password_sealed")
        if not sealed:
            raise errors.InvariantViolation("handoff reached without sealed credentials")
        by_link = view.product.get("password_delivery") == "reveal_link"
        message_id = f"<order-{ctx.order_id}-welcome@fluxbilling>"
        context = self._mail_context(view)
        subject_template, text_template = _TEMPLATES[view.product["service_type"]]
        subject = subject_template.render(context, escape=False)
        if by_link:
            context["reveal_link"] = {"hours": self.deps.reveal_link_hours}
        masked = _with_secret(context, MASK, by_link=by_link)
        status = await self.deps.store.queue_mail(
            ctx.claim,
            WelcomeMail(
                order_id=ctx.order_id,
                to_addr=view.customer["email"],
                subject=subject,
                body_masked=text_template.render(masked, escape=False),
                message_id=message_id,
            ),
        )
        if status != "sent":
            if by_link:
                token = reveal.new_token()
                await self.deps.store.issue_reveal_link(
                    ctx, view.service["id"], token, hours=self.deps.reveal_link_hours
                )
                secret = reveal.link_url(self.deps.public_url, token)
            else:
                secret = self.deps.vault.open(sealed)
            await self.deps.mailer.send(
                OutgoingMessage(
                    message_id=message_id,
                    sender=self.deps.mail_from,
                    to=view.customer["email"],
                    subject=subject,
                    text=text_template.render(
                        _with_secret(context, secret, by_link=by_link), escape=False
                    ),
                )
            )
            await self.deps.store.mail_sent(message_id)
        return Done(
            {"service_id": view.service["id"], "mail": message_id, "to": view.customer["email"]}
        )

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        """Service and order become active."""
        writes = self.deps.store.writes(conn, ctx)
        await writes.transition(
            "service_active",
            f"welcome mail {done.output['mail']} sent to {done.output['to']}; service is active",
            lifecycle.service(done.output["service_id"], lifecycle.ServiceEvent.HANDED_OFF),
            lifecycle.order(ctx.order_id, lifecycle.OrderEvent.HANDED_OFF),
        )
        return done.output

    def _mail_context(self, view: OrderView) -> dict[str, Any]:
        """The welcome template's context, without the password or its link."""
        data = view.service.get("service_data") or {}
        network = data.get("network") or {}
        ipv4: dict[str, Any] = {"address": network.get("address") or data.get("ip")}
        if view.subnet:
            prefix = ipaddress.ip_network(view.subnet["cidr"])
            ipv4 = {
                "address": view.address["address"],
                "gateway": view.subnet["gateway"],
                "netmask": str(prefix.netmask),
            }
        return {
            "customer": {"name": view.customer["name"]},
            "order_number": view.order_id,
            "hostname": view.order["hostname"],
            "ipv4": ipv4,
            "os_image": view.image.get("name"),
            "root_user": "root",
            "account": {"username": data.get("username") or account_username(view.order_id)},
            "game": {"address": data.get("address")},
            "panel_url": data.get("panel_url"),
            "support": {"team": self.deps.support_team, "email": self.deps.mail_from},
        }


def _with_secret(context: dict[str, Any], secret: str, *, by_link: bool) -> dict[str, Any]:
    """`context` with the password, or with the reveal link (`reveal_link.url`) instead."""
    if by_link:
        return {**context, "reveal_link": {**context["reveal_link"], "url": secret}}
    return {**context, "password": secret}
