"""How webhook deliveries are kept: in full what a gateway vouches for, bounded what nobody does.

Anyone can POST to ``/webhooks/*``, so what is stored for a delivery depends on what is known
about it (`Limits` holds every bound; `bootstrap` fills it from the settings):

```
screen proved it authentic (Stripe, Mollie     stored in full, kept for ever
  next-gen: a local HMAC)
only the gateway can tell (Mollie ping,         stored in full while it waits; at most
  CoinGate callback, PayPal certificate)          `pending_per_source` per address and
                                                  `pending_total` in all wait at once; beyond
                                                  that the delivery is not stored and answered
                                                  503 (`errors.CapacityExhausted`): every
                                                  gateway retries later
  ... found authentic                           kept in full, for ever
  ... found not authentic, or naming an object  cut down, like a refused one:
      nobody knows (`unauthenticated`)
refused (screen or verify)                      body cut to `body_bytes` (its size and SHA-256
                                                  kept), headers trimmed; beyond `per_source`
                                                  such rows per address and `total` in all, the
                                                  oldest are deleted; the reconciler deletes
                                                  the rest after their retention
```

A delivery whose processing fails is retried (the gateway, the reconciler's sweep); it is
*quarantined* — a terminal outcome the sweep leaves alone, shown with its reason — after
`failed_attempts` failures that raised (a poisoned row) or `deferred_attempts` attempts that
could not reach the gateway. The operator releases it (``POST …/{id}/release``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fluxbilling import errors, metrics
from fluxbilling.db import Database, schema
from fluxbilling.redaction import MASK

__all__ = [
    "CREDENTIAL_HEADERS",
    "UNVERIFIED",
    "Cut",
    "DeliveryStore",
    "Limits",
    "column_text",
    "cut",
    "stored_headers",
    "trimmed_headers",
]

log = logging.getLogger(__name__)

#: `webhook_events.verification` of rows nothing vouches for: bounded and pruned.
UNVERIFIED = ("invalid", "unauthenticated")
# Stored as received except credentials: signatures are kept (they are not secrets, and the
# sweeper re-verifies a stored delivery); the operator API masks them on display.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_MAX_HEADERS = 64
_MAX_HEADER_NAME = 128
_MAX_HEADER_VALUE = 512
_REASON_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds of delivery storage (see the module docstring).

    Attributes:
        body_bytes: Bytes of the body kept for a refused or unauthenticated delivery.
        per_source: Refused and unauthenticated deliveries kept per remote address.
        total: Refused and unauthenticated deliveries kept in all.
        pending_per_source: Deliveries of one address waiting for their gateway at once.
        pending_total: Deliveries waiting for their gateway at once, in all.
        failed_attempts: Failures that raised before a delivery is quarantined.
        deferred_attempts: Attempts that could not ask the gateway before it is quarantined.
    """

    body_bytes: int = 4096
    per_source: int = 100
    total: int = 10_000
    pending_per_source: int = 100
    pending_total: int = 1000
    failed_attempts: int = 5
    deferred_attempts: int = 20


@dataclass(frozen=True, slots=True)
class Cut:
    """A body as kept: whole (`size` and `sha256` None), or its first bytes and what it was."""

    body: bytes
    size: int | None = None
    sha256: str | None = None


def cut(body: bytes, limit: int) -> Cut:
    """The part of `body` kept for a delivery nobody vouches for.

    Example:
        >>> cut(b"abc", 8)
        Cut(body=b'abc', size=None, sha256=None)
        >>> kept = cut(b"abcdef", 2)
        >>> kept.body, kept.size, kept.sha256[:8]
        (b'ab', 6, 'bef57ec7')
    """
    if len(body) <= limit:
        return Cut(body)
    return Cut(body[: max(limit, 0)], len(body), hashlib.sha256(body).hexdigest())


def column_text(value: str, limit: int = _REASON_LENGTH) -> str:
    """`value` as any text column on both databases takes it: no NUL (PostgreSQL refuses it),
    no lone surrogate (not UTF-8), at most `limit` characters.

    Example:
        >>> column_text("a\\x00b\\udc80", 100)
        'a\\\\x00b\\\\udc80'
    """
    if "\x00" in value:
        value = value.replace("\x00", "\\x00")
    value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value[:limit]


def stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers as stored for a delivery kept in full: credentials masked."""
    return {k: MASK if k.lower() in CREDENTIAL_HEADERS else v for k, v in headers.items()}


def trimmed_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers as stored for a delivery nobody vouches for: bounded in number and size."""
    kept = list(stored_headers(headers).items())[:_MAX_HEADERS]
    return {column_text(k, _MAX_HEADER_NAME): column_text(v, _MAX_HEADER_VALUE) for k, v in kept}


_events = schema.webhook_events
_PENDING = sa.and_(
    _events.c.verification == "pending",
    # Quarantined ones still count: nothing proved them authentic either.
    sa.or_(_events.c.outcome.is_(None), _events.c.outcome.in_(("deferred", "quarantined"))),
)


class DeliveryStore:
    """Writes the bounded rows of `webhook_events` and keeps them within `limits`.

    Args:
        db: The database.
        limits: The bounds.
    """

    def __init__(self, db: Database, limits: Limits) -> None:
        self.db = db
        self.limits = limits

    async def check_pending(self, gateway: str, remote: str | None) -> None:
        """Room for one more delivery that waits for its gateway, from `remote`?

        Raises:
            errors.CapacityExhausted: `remote`, or everyone, has too many waiting already
                (answer 503 and store nothing: the gateway retries later).
        """
        mine = _events.c.remote_addr.is_not_distinct_from(remote)
        query = sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((mine, 1), else_=0)), 0)
        ).where(_PENDING)
        async with self.db.connect() as conn:
            total, from_source = (await conn.execute(query)).one()
        if from_source >= self.limits.pending_per_source or total >= self.limits.pending_total:
            metrics.WEBHOOK_DELIVERIES_DROPPED.labels(gateway, "pending_cap").inc()
            raise errors.CapacityExhausted(
                "too many unverified deliveries are waiting",
                waiting=int(total),
                from_source=int(from_source),
            )

    async def store_refused(
        self, gateway: str, body: bytes, headers: Mapping[str, str], remote: str | None, why: str
    ) -> int:
        """Store a delivery refused before it was stored in full; returns its id."""
        kept = cut(body, self.limits.body_bytes)
        async with self.db.begin() as conn:
            delivery_id = (
                await conn.execute(
                    _events.insert()
                    .values(
                        gateway=gateway,
                        remote_addr=remote,
                        headers=trimmed_headers(headers),
                        body=kept.body,
                        body_size=kept.size,
                        body_sha256=kept.sha256,
                        verification="invalid",
                        outcome="rejected",
                        error=column_text(why),
                        attempts=1,
                    )
                    .returning(_events.c.id)
                )
            ).scalar_one()
        await self.enforce(remote)
        return int(delivery_id)

    async def cut_down(
        self,
        delivery_id: int,
        body: bytes,
        headers: Mapping[str, str],
        *,
        verification: str,
        outcome: str,
        why: str,
    ) -> None:
        """Mark a stored delivery as nobody's (`UNVERIFIED`) and keep only its bounded part."""
        kept = cut(body, self.limits.body_bytes)
        async with self.db.begin() as conn:
            remote = (
                await conn.execute(
                    _events.update()
                    .where(_events.c.id == delivery_id)
                    .values(
                        headers=trimmed_headers(headers),
                        body=kept.body,
                        body_size=kept.size,
                        body_sha256=kept.sha256,
                        verification=verification,
                        outcome=outcome,
                        error=column_text(why),
                        attempts=_events.c.attempts + 1,
                    )
                    .returning(_events.c.remote_addr)
                )
            ).scalar_one_or_none()
        await self.enforce(remote)

    async def enforce(self, remote: str | None) -> int:
        """Delete the oldest rows nobody vouches for beyond the caps; how many went.

        Its own transaction, after the row that made room necessary: a failure here is
        logged and the next refused delivery tries again.
        """
        unverified = _events.c.verification.in_(UNVERIFIED)
        surplus = (
            (
                "per_source",
                sa.select(_events.c.id)
                .where(unverified, _events.c.remote_addr.is_not_distinct_from(remote))
                .order_by(_events.c.id.desc())
                .offset(self.limits.per_source),
            ),
            (
                "total",
                sa.select(_events.c.id)
                .where(unverified)
                .order_by(_events.c.id.desc())
                .offset(self.limits.total),
            ),
        )
        dropped = 0
        try:
            async with self.db.begin() as conn:
                for reason, oldest in surplus:
                    gone = (
                        await conn.execute(
                            _events.delete()
                            .where(_events.c.id.in_(oldest), unverified)
                            .returning(_events.c.gateway)
                        )
                    ).all()
                    for row in gone:
                        metrics.WEBHOOK_DELIVERIES_DROPPED.labels(row.gateway, reason).inc()
                    dropped += len(gone)
        except sa.exc.SQLAlchemyError:
            log.exception("webhook deliveries: could not enforce the storage caps")
        return dropped

    async def failed(self, delivery_id: int, why: str) -> str | None:
        """Count a processing attempt that raised; quarantine after `failed_attempts`.

        Returns:
            The delivery's outcome now (``quarantined`` once its attempts are used).
        """
        return await self._attempted(
            delivery_id, why, keep=_events.c.outcome, after=self.limits.failed_attempts
        )

    async def deferred(self, delivery_id: int, why: str) -> str | None:
        """Count an attempt that could not ask the gateway; quarantine after
        `deferred_attempts`.

        Returns:
            ``deferred``, or ``quarantined`` once its attempts are used.
        """
        return await self._attempted(
            delivery_id, why, keep=sa.literal("deferred"), after=self.limits.deferred_attempts
        )

    async def _attempted(
        self, delivery_id: int, why: str, *, keep: sa.ColumnElement[Any], after: int
    ) -> str | None:
        attempts = _events.c.attempts + 1
        async with self.db.begin() as conn:
            outcome = (
                await conn.execute(
                    _events.update()
                    .where(_events.c.id == delivery_id)
                    .values(
                        attempts=attempts,
                        error=column_text(why),
                        outcome=sa.case((attempts >= after, "quarantined"), else_=keep),
                    )
                    .returning(_events.c.outcome)
                )
            ).scalar_one_or_none()
        if outcome == "quarantined":
            log.warning("webhook delivery %s quarantined: %s", delivery_id, why[:200])
        return None if outcome is None else str(outcome)
