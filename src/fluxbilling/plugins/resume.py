"""Resume tokens: a paused test of a flow, sealed with the installation key and handed to the caller.

A test that ends `pending` (a `poll` or `wait` node) is not stored anywhere: everything needed
to resume it (which plugin, or the unsaved document itself; verb, connection, context,
cursor, correlation key, whether an admin allowed a production connection, and who started
it) is compressed and sealed with the installation key (`vault.Vault`, Fernet: encrypted and authenticated). Any
API process of the installation can open it, so resuming needs no sticky session and leaves
no state behind. A token is valid until `expires_at` (`TOKEN_TTL` after it was issued), and
may be used more than once until then (each use re-runs from the same cursor), by the one
who started the test only (`check_owner`): the context it carries may hold what another
operator typed in, and an allowance of production connections was given to them.

```
seal(vault, Resumable) ──► "gAAAA..." ──► open_token(vault, token, now) ──► Resumable
                                               │ tampered, truncated, other key: UserError (400)
                                               └ past expires_at:                  Expired (410)
```
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from fluxbilling import errors, limits
from fluxbilling.jsontypes import JsonObject
from fluxbilling.vault import Vault

__all__ = ["MAX_TOKEN_BYTES", "TOKEN_TTL", "Resumable", "check_owner", "open_token", "seal"]

TOKEN_TTL = timedelta(hours=1)
"""How long a resume token stays valid after it is issued."""
MAX_TOKEN_BYTES = 1 * limits.MIB
"""The largest token issued (a test whose state seals larger cannot be resumed)."""
_MAX_PLAIN_BYTES = 8 * limits.MIB
_VERSION = 2  # 2: `started_by`


@dataclass(frozen=True, slots=True)
class Resumable:
    """Everything needed to resume a paused test.

    Attributes:
        slug: the stored plugin's slug, or `None` for an unsaved `document`.
        version: the stored plugin's version.
        document: the unsaved document tested (validated when the test started).
        verb: the lifecycle verb.
        connection: the connection the flow runs against.
        context: the flow context (secrets included: the token is sealed).
        secrets: values of `context` to redact.
        correlation_key: the key every upstream request of the test carries.
        cursor: the interpreter's cursor.
        allow_production: an admin allowed a production connection for this test.
        expires_at: when the token stops being accepted.
        started_by: the name of whoever started the test (`Principal.name`): only they
            may resume it.
    """

    slug: str | None
    version: int | None
    document: JsonObject | None
    verb: str
    connection: str
    context: JsonObject
    secrets: tuple[str, ...]
    correlation_key: str
    cursor: JsonObject
    allow_production: bool
    expires_at: datetime
    started_by: str


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int
    slug: str | None
    version: int | None
    document: JsonObject | None
    verb: str
    connection: str
    context: JsonObject
    secrets: list[str]
    correlation_key: str
    cursor: JsonObject
    allow_production: bool
    expires_at: datetime
    started_by: str


def seal(vault: Vault, resumable: Resumable) -> str:
    """The sealed token of `resumable`.

    Raises:
        errors.UserError: the sealed state would be larger than `MAX_TOKEN_BYTES`.
    """
    payload: dict[str, Any] = {
        "v": _VERSION,
        "slug": resumable.slug,
        "version": resumable.version,
        "document": resumable.document,
        "verb": resumable.verb,
        "connection": resumable.connection,
        "context": resumable.context,
        "secrets": list(resumable.secrets),
        "correlation_key": resumable.correlation_key,
        "cursor": resumable.cursor,
        "allow_production": resumable.allow_production,
        "expires_at": resumable.expires_at.isoformat(),
        "started_by": resumable.started_by,
    }
    plain = json.dumps(payload, separators=(",", ":"), default=str).encode("utf-8")
    packed = base64.urlsafe_b64encode(zlib.compress(plain, 6)).decode("ascii")
    token = vault.seal(packed)
    if len(token) > MAX_TOKEN_BYTES:
        raise errors.UserError(
            f"the paused test's state takes {limits.describe_size(len(token))} sealed, more "
            f"than {limits.describe_size(MAX_TOKEN_BYTES)}: it cannot be resumed",
            max_bytes=MAX_TOKEN_BYTES,
        )
    return token


def _unpack(packed: str) -> bytes:
    inflater = zlib.decompressobj()
    plain = inflater.decompress(base64.urlsafe_b64decode(packed.encode("ascii")), _MAX_PLAIN_BYTES)
    if inflater.unconsumed_tail or not inflater.eof:
        raise ValueError("the token's state is larger than allowed or cut short")
    return plain


def open_token(vault: Vault, token: str, now: datetime) -> Resumable:
    """The test a token resumes.

    Args:
        vault: opens the token (the installation key, any of its rotated keys).
        token: what `seal` returned.
        now: the current time (timezone-aware).

    Raises:
        errors.UserError: the token was altered, cut, or sealed with another key.
        errors.Expired: the token is past its `expires_at`.
    """
    invalid = errors.UserError(
        "the resume token is not valid: altered, cut short, or from another installation; "
        "start the test again",
        field="token",
    )
    try:
        packed = vault.open(token)
    except (errors.InvalidSettings, UnicodeError):
        raise invalid from None
    try:
        payload = _Payload.model_validate_json(_unpack(packed))
    except (ValueError, zlib.error, ValidationError):  # sealed by us: a bug or an old format
        raise invalid from None
    if payload.v != _VERSION:
        raise invalid
    if now >= payload.expires_at:
        raise errors.Expired(
            f"the resume token expired at {payload.expires_at.isoformat()}; start the test again",
            expired_at=payload.expires_at.isoformat(),
        )
    return Resumable(
        slug=payload.slug,
        version=payload.version,
        document=payload.document,
        verb=payload.verb,
        connection=payload.connection,
        context=payload.context,
        secrets=tuple(payload.secrets),
        correlation_key=payload.correlation_key,
        cursor=payload.cursor,
        allow_production=payload.allow_production,
        expires_at=payload.expires_at,
        started_by=payload.started_by,
    )


def check_owner(resumable: Resumable, name: str) -> None:
    """Refuse to resume a test someone else started.

    Args:
        resumable: the opened token.
        name: who asks to resume it (`Principal.name`).

    Raises:
        errors.Forbidden: `name` did not start the test.
    """
    if resumable.started_by != name:
        raise errors.Forbidden(
            f"this paused test was started by {resumable.started_by!r}: a resume token is "
            "bound to whoever started the test; start the test yourself",
            started_by=resumable.started_by,
        )
