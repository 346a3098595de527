"""CoinGate callback authenticity: the per-order token, and parsing a posted callback.

CoinGate signs nothing (payments.md §4.1). Authenticity has two layers:

1. **token** — we generate a random token per order (`new_callback_token`), send it in the
   create-order request (`checkout.order_request`) and store it (or only its HMAC,
   `hash_token`); CoinGate echoes it as the ``token`` field of every callback for that
   order and `check_token` compares it in constant time. A cheap filter, nothing more;
2. **re-fetch** — the caller fetches ``GET /v2/orders/{id}`` (`api.CoinGateApi`) and acts
   only on what `events.classify` makes of the *fetched* order, never on the posted status.

`parse_callback` reads the body, form-encoded or JSON, into a `CoinGateCallback`: hints
about which order to re-fetch, never the truth about it. Failures raise
`errors.InvalidWebhook`; messages never contain the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qsl

from fluxbilling import errors, limits

__all__ = ["CoinGateCallback", "check_token", "hash_token", "new_callback_token", "parse_callback"]

# Top-level callback fields kept as text; bracketed keys (``fees[][amount]``) are skipped.
_FORM_MEDIA = "application/x-www-form-urlencoded"


# ---------------------------------------------------------------------------------------
# Tokens


def new_callback_token() -> str:
    """A fresh random per-order callback token (256 bits, URL- and form-safe characters)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str, secret: str) -> str:
    """The HMAC-SHA256 (hex) of a callback token, to store instead of the token itself.

    Args:
        token: The per-order token.
        secret: Our installation secret (the HMAC key).

    Raises:
        errors.InvalidSettings: `secret` is empty.
    """
    if not secret:
        raise errors.InvalidSettings("no CoinGate token-hashing secret is configured")
    return hmac.new(secret.encode("utf-8"), token.encode("utf-8"), hashlib.sha256).hexdigest()


def check_token(received: str | None, expected: str, *, secret: str | None = None) -> None:
    """Check a callback's ``token`` against the one stored for the order; return when equal.

    Args:
        received: The callback's ``token`` (None or empty when absent).
        expected: What we stored: the token itself, or its `hash_token` when `secret` is given.
        secret: The HMAC key when `expected` is a hash.

    Raises:
        errors.InvalidSettings: No token is stored for the order (nothing can match).
        errors.InvalidWebhook: The token is missing or does not match.

    Example:
        >>> check_token("t0k3n", "t0k3n")
        >>> check_token("t0k3n", hash_token("t0k3n", "k"), secret="k")
    """
    if not expected:
        raise errors.InvalidSettings("no callback token is stored for this order")
    if not received:
        raise errors.InvalidWebhook("missing callback token")
    candidate = received if secret is None else hash_token(received, secret)
    if not hmac.compare_digest(candidate.encode("utf-8"), expected.encode("utf-8")):
        raise errors.InvalidWebhook("callback token does not match")


# ---------------------------------------------------------------------------------------
# Callbacks


@dataclass(frozen=True, slots=True)
class CoinGateCallback:
    """A parsed callback: hints about which order to re-fetch, never the truth about it.

    Attributes:
        id: CoinGate's order id (what to fetch).
        order_id: Our reference as sent at creation (the invoice id).
        status: The posted status (informational; act on the fetched one).
        token: The per-order token, or None when absent.
        fields: Every other top-level field as text (amounts, currencies, ``created_at``).
    """

    id: int
    order_id: str
    status: str
    token: str | None = field(repr=False)
    fields: dict[str, str]


def _media_type(content_type: str | None, body: bytes) -> str:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media:
        return media
    # No header at all: sniff, as CoinGate's format is an API-app setting we may not know.
    return "application/json" if body.lstrip().startswith(b"{") else _FORM_MEDIA


def _form_fields(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidWebhook("malformed form body") from exc
    fields: dict[str, str] = {}
    for key, value in pairs:
        if "[" in key:
            continue  # nested values in Rails bracket notation (``fees[][type]``) may repeat
        if key in fields:
            raise errors.InvalidWebhook(f"field '{key}' is repeated", field=key)
        fields[key] = value
    return fields


def _json_fields(body: bytes) -> dict[str, str]:
    try:
        data = limits.loads_json(body, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidWebhook(f"malformed JSON body: {exc}") from exc
    if not isinstance(data, dict):
        raise errors.InvalidWebhook("malformed JSON body: not an object")
    fields: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, bool):
            fields[key] = "true" if value else "false"
        elif isinstance(value, str | int | Decimal):
            fields[key] = str(value)
        # None and nested values (``fees``) carry nothing we act on.
    return fields


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise errors.InvalidWebhook(f"missing field '{name}'", field=name)
    return value


def parse_callback(body: bytes, content_type: str | None = None) -> CoinGateCallback:
    """Parse a callback body, form-encoded or JSON (CoinGate's per-API-app setting).

    Args:
        body: The raw request body.
        content_type: The request's ``Content-Type`` (None: sniffed from the body).

    Returns:
        The callback; its `token` still has to pass `check_token`.

    Raises:
        errors.InvalidWebhook: An unsupported content type, a malformed body, a repeated
            field, or a missing/invalid ``id``, ``order_id`` or ``status`` (named).
    """
    media = _media_type(content_type, body)
    if media == "application/json":
        fields = _json_fields(body)
    elif media == _FORM_MEDIA:
        fields = _form_fields(body)
    else:
        raise errors.InvalidWebhook(f"unsupported content type '{media}'", content_type=media)
    raw_id = _required(fields, "id")
    # `int` refuses more than 4300 digits; CoinGate's ids are far shorter.
    if not (raw_id.isascii() and raw_id.isdigit()) or len(raw_id) > 18 or int(raw_id) == 0:
        raise errors.InvalidWebhook("field 'id' is not a CoinGate order id", field="id")
    token = fields.pop("token", "") or None
    return CoinGateCallback(
        id=int(raw_id),
        order_id=_required(fields, "order_id"),
        status=_required(fields, "status"),
        token=token,
        fields=fields,
    )
