"""Revealing a service's root password: to an operator on request, or once through a link.

Two ways to hand a password over without it sitting in a mailbox or a log:

- **An operator asks** (`reveal_to_operator`): the current password is opened and answered
  for that one request, and the reveal is written down in the same transaction (an audit row
  naming the operator, an activity row on the order; never the password).
- **A one-time link** (`issue_link`, `link_is_live`, `redeem_link`): the welcome mail of a
  product with `password_delivery = reveal_link` carries `<public URL>/reveal/<token>`
  instead of the password. The token is random (256 bits); only its SHA-256 is stored, bound
  to the service, with an expiry. A link is spent by the one request that redeems it:

```
issued ──redeem (before expires_at)──> used        (the password is shown once)
   │
   ├──a newer link / a password reset──> revoked
   └──expires_at passes───────────────> expired   (nothing to do: it no longer matches)
```

Redeeming is one `UPDATE … WHERE used_at IS NULL AND revoked_at IS NULL AND expires_at >
now RETURNING` (on SQLite and PostgreSQL alike), so of two racing requests exactly one gets
the row: PostgreSQL re-checks the condition after the first commits, SQLite serializes
writers. A link that is unknown, spent, revoked or expired answers the same `None`, and so
does one whose service is terminated or has no password: callers cannot tell which.

The link reveals the service's *current* password (read when redeemed), which is why a
password reset revokes the links still outstanding (`revoke_links`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import audit, errors, logs
from fluxbilling.db import Database, schema
from fluxbilling.engine import activity
from fluxbilling.vault import Vault

__all__ = [
    "LINK_ACTOR",
    "Revealed",
    "issue_link",
    "link_is_live",
    "link_url",
    "new_token",
    "redeem_link",
    "reveal_to_operator",
    "revoke_links",
    "token_hash",
    "well_formed",
]

LINK_ACTOR = "reveal-link"
"""The audit actor of a reveal through a link (the customer holding the welcome mail)."""

TERMINATED = "terminated"
"""`orders.lifecycle.ServiceState.TERMINATED` (a layer above this one; a test ties them)."""

_TOKEN_BYTES = 32
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32): 43 characters, no padding

links = schema.reveal_links
services = schema.services
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Revealed:
    """A password revealed, and what it belongs to.

    Attributes:
        service_id: The service.
        order_id: Its order.
        password: The current root password (never log, store or echo it elsewhere).
    """

    service_id: int
    order_id: int
    password: str

    def __repr__(self) -> str:
        return f"Revealed(service_id={self.service_id}, order_id={self.order_id}, password=***)"


def new_token() -> str:
    """A fresh link token: 256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def well_formed(token: str) -> bool:
    """Whether `token` has the shape `new_token` makes (checked before any lookup)."""
    return _TOKEN.fullmatch(token) is not None


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, hex (a random 256-bit token needs no salt).

    Example:
        >>> len(token_hash(new_token()))
        64
    """
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def link_url(public_url: str, token: str) -> str:
    """The link a customer opens: `<public URL>/reveal/<token>`.

    Example:
        >>> link_url("https://billing.example.net/", "abc")
        'https://billing.example.net/reveal/abc'
    """
    return f"{public_url.rstrip('/')}/reveal/{token}"


async def revoke_links(conn: AsyncConnection, db: Database, service_id: int) -> int:
    """Revoke a service's links not yet used, in the caller's transaction.

    Returns:
        How many links were still outstanding (expired ones included).
    """
    result = await conn.execute(
        links.update()
        .where(
            links.c.service_id == service_id,
            links.c.used_at.is_(None),
            links.c.revoked_at.is_(None),
        )
        .values(revoked_at=db.now())
    )
    return int(result.rowcount or 0)


async def issue_link(
    conn: AsyncConnection, db: Database, service_id: int, token: str, *, hours: int
) -> None:
    """Store a link for `token` valid for `hours`; the service's earlier links are revoked.

    Args:
        conn: The caller's transaction.
        db: The database (for its clock).
        service_id: The service whose password the link reveals.
        token: The link's token (`new_token`); only its hash is stored.
        hours: How long the link stays valid.
    """
    await revoke_links(conn, db, service_id)
    await conn.execute(
        links.insert().values(
            service_id=service_id,
            token_hash=token_hash(token),
            expires_at=db.now(hours * 3600.0),
        )
    )


def _live(db: Database, token: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        links.c.token_hash == token_hash(token),
        links.c.used_at.is_(None),
        links.c.revoked_at.is_(None),
        links.c.expires_at > db.now(),
    )


async def link_is_live(db: Database, token: str) -> bool:
    """Whether `token` would reveal a password now (nothing is changed: a GET may ask).

    Unknown, spent, revoked and expired links, and links of a terminated service or of one
    without a password, are all simply not live.
    """
    if not well_formed(token):
        return False
    async with db.connect() as conn:
        found = (
            await conn.execute(
                sa.select(links.c.id)
                .join(services, services.c.id == links.c.service_id)
                .where(
                    _live(db, token),
                    services.c.status != TERMINATED,
                    services.c.root_password_sealed.is_not(None),
                )
            )
        ).first()
    return found is not None


async def redeem_link(db: Database, vault: Vault, token: str) -> Revealed | None:
    """Spend the link of `token` and reveal its service's password, or None (no oracle).

    The link is spent, the audit row (actor `LINK_ACTOR`) and the order's activity row are
    written in one transaction; when the password cannot be opened nothing is spent.

    Raises:
        errors.InvalidSettings: The sealed password cannot be opened with the configured key.
    """
    if not well_formed(token):
        return None
    async with db.begin() as conn:
        spent = (
            await conn.execute(
                links.update()
                .where(_live(db, token))
                .values(used_at=db.now())
                .returning(links.c.id, links.c.service_id)
            )
        ).first()
        if spent is None:
            return None
        service = await _service(conn, spent.service_id)
        if service.status == TERMINATED or service.root_password_sealed is None:
            return None  # the link is spent all the same: it can never become useful
        revealed = Revealed(service.id, service.order_id, vault.open(service.root_password_sealed))
        await _write_down(
            conn,
            revealed,
            actor=LINK_ACTOR,
            message="root password revealed through the one-time link of the welcome mail",
            via={"via": "reveal_link", "link_id": spent.id},
        )
    return revealed


async def reveal_to_operator(db: Database, vault: Vault, service_id: int, actor: str) -> Revealed:
    """Open a service's current password for `actor`, writing the reveal down.

    Args:
        db: The database.
        vault: Opens the sealed password.
        service_id: The service.
        actor: Who asks (`Principal.name`), for the audit and activity rows.

    Raises:
        errors.NotFound: No such service.
        errors.Conflict: The service has no password of ours, or is terminated.
        errors.InvalidSettings: The sealed password cannot be opened with the configured key.
    """
    async with db.begin() as conn:
        service = await _service(conn, service_id)
        if service is None:
            raise errors.NotFound(f"service {service_id} does not exist", service_id=service_id)
        if service.status == TERMINATED:
            raise errors.Conflict(
                f"service {service_id} is terminated: its password is gone",
                service_id=service_id,
                status=service.status,
            )
        if service.root_password_sealed is None:
            raise errors.Conflict(
                f"service {service_id} has no root password kept by us (the panel manages its "
                "credentials, or provisioning has not generated one yet)",
                service_id=service_id,
                status=service.status,
            )
        revealed = Revealed(service.id, service.order_id, vault.open(service.root_password_sealed))
        await _write_down(
            conn,
            revealed,
            actor=actor,
            message=f"root password revealed to {actor}",
            via={"via": "api"},
        )
    return revealed


async def _service(conn: AsyncConnection, service_id: int) -> Any:
    return (
        await conn.execute(
            sa.select(
                services.c.id,
                services.c.order_id,
                services.c.status,
                services.c.root_password_sealed,
            ).where(services.c.id == service_id)
        )
    ).first()


async def _write_down(
    conn: AsyncConnection, revealed: Revealed, *, actor: str, message: str, via: dict[str, Any]
) -> None:
    """The audit and activity rows of a reveal; the password is masked in any log from now."""
    logs.register_secret(revealed.password, recent=True)
    log.info(
        "service.password_reveal: root password of service %s revealed to %s (%s)",
        revealed.service_id,
        actor,
        via["via"],
        extra={"order": revealed.order_id},
    )
    await audit.record(
        conn,
        actor=actor,
        action="service.password_reveal",
        entity="service",
        entity_id=revealed.service_id,
        changes=via,
    )
    await activity.record(
        conn,
        revealed.order_id,
        "password_revealed",
        message,
        data={"service_id": revealed.service_id, "actor": actor, **via},
    )
