"""Mollie next-gen webhook authenticity: sign and verify ``X-Mollie-Signature``.

Next-gen webhooks (beta, payments.md §2.2) POST a JSON event signed with
``X-Mollie-Signature: sha256=<hex>``, ``hex = HMAC_SHA256(key=secret UTF-8, msg=raw body)``.
While a secret is rotated the header comes once per secret; we accept when any value
matches any of our secrets (constant-time). There is no timestamp, so dedupe on the event
id. Classic webhooks carry no signature at all: they are authenticated by re-fetching the
payment (`adapter`). Pure functions; failures raise `errors.InvalidWebhook`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from fluxbilling import errors

__all__ = ["SIGNATURE_HEADER", "sign", "verify_signature"]


SIGNATURE_HEADER = "X-Mollie-Signature"
_HEX = "0123456789abcdefABCDEF"


def sign(body: bytes, secret: str) -> str:
    """The ``X-Mollie-Signature`` value Mollie sends for `body` signed with `secret`.

    Example:
        >>> sign(b"{}", "s3cret").startswith("sha256=")
        True
    """
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _candidates(headers: str | Sequence[str] | None) -> list[str]:
    values = [headers] if isinstance(headers, str) else list(headers or ())
    # A proxy may fold repeated headers into one, comma-separated; hex has no commas.
    found = [part.strip() for value in values for part in value.split(",")]
    return [value.removeprefix("sha256=") for value in found if value]


def verify_signature(
    body: bytes, headers: str | Sequence[str] | None, secrets: Sequence[str]
) -> None:
    """Check a next-gen delivery's signature; return silently when it is authentic.

    Args:
        body: The raw request body, exactly as received.
        headers: Every ``X-Mollie-Signature`` value of the request (one per secret while
            Mollie rotates), a single value, or None when the header is absent.
        secrets: Our signing secrets, current first, then previous ones.

    Raises:
        errors.InvalidSettings: No secret is configured.
        errors.InvalidWebhook: The header is missing, or no value matches any secret.

    Example:
        >>> verify_signature(b"{}", sign(b"{}", "s3cret"), ["s3cret"])
    """
    if not secrets:
        raise errors.InvalidSettings("no Mollie webhook signing secret is configured")
    candidates = _candidates(headers)
    if not candidates:
        raise errors.InvalidWebhook(f"missing {SIGNATURE_HEADER} header")
    matched = False
    # No early exit: timing must not reveal which secret or value matched.
    for secret in secrets:
        want = sign(body, secret).removeprefix("sha256=").encode("ascii")
        for candidate in candidates:
            given = candidate.lower() if all(c in _HEX for c in candidate) else candidate
            if hmac.compare_digest(want, given.encode("utf-8", "replace")):
                matched = True
    if not matched:
        raise errors.InvalidWebhook(
            "no signature matches", signatures=len(candidates), secrets_tried=len(secrets)
        )
