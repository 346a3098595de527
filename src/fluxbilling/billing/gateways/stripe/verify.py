"""Stripe webhook authenticity: sign and verify the `Stripe-Signature` header.

Pure functions over the raw body bytes, the header value, the configured endpoint secrets
and an explicit `now` (unix seconds). The algorithm is Stripe's own (docs, cross-checked
against the `stripe` library):

1. split the header on ``,`` and each item on the first ``=``; take the single ``t``
   and *all* ``v1`` values; ignore every other scheme (``v0`` ...) so a downgrade is
   impossible;
2. ``signed_payload = t + "." + raw_body``;
3. ``expected = hex(HMAC_SHA256(key=secret.encode("utf-8"), msg=signed_payload))`` —
   the key is the whole secret string *including* ``whsec_``, not base64-decoded;
4. accept when any of our secrets (current + previous, for rotation) matches any
   ``v1`` value under a constant-time comparison;
5. reject when the timestamp is too old *or* too far in the future.

Failures raise `errors.InvalidWebhook`; messages and details never contain secrets.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from fluxbilling import errors

__all__ = ["SIGNATURE_HEADER", "sign", "verify_signature"]


SIGNATURE_HEADER = "Stripe-Signature"


def _signature(secret: str, t: int, body: bytes) -> str:
    signed_payload = str(t).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed_payload, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, t: int, extra_secrets: Sequence[str] = ()) -> str:
    """Build a ``Stripe-Signature`` header value the way Stripe does.

    Args:
        body: The exact body bytes that will be sent.
        secret: The endpoint secret (``whsec_...``), used verbatim as the HMAC key.
        t: The timestamp to sign (unix seconds).
        extra_secrets: More secrets to add one ``v1`` each (Stripe does this while an
            endpoint secret is being rolled).

    Returns:
        The header value, e.g. ``t=1764140000,v1=5257a869...``.

    Example:
        >>> sign(b"{}", "whsec_test", 1).startswith("t=1,v1=")
        True
    """
    signatures = [_signature(s, t, body) for s in (secret, *extra_secrets)]
    return f"t={t}," + ",".join(f"v1={sig}" for sig in signatures)


def _parse_header(header: str | None) -> tuple[int, list[str]]:
    """The timestamp and the ``v1`` signatures of a header value."""
    if header is None or not header.strip():
        raise errors.InvalidWebhook("missing Stripe-Signature header")
    timestamps: list[str] = []
    v1: list[str] = []
    schemes: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key:
            raise errors.InvalidWebhook("malformed header: an item has no 'key=value' form")
        schemes.append(key)
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            v1.append(value)
    if len(timestamps) != 1:
        raise errors.InvalidWebhook(
            f"malformed header: expected one timestamp 't', found {len(timestamps)}",
            schemes=schemes,
        )
    raw_t = timestamps[0]
    # Unix seconds need 10 digits until 2286; `int` refuses more than 4300.
    if not (raw_t.isascii() and raw_t.isdigit()) or len(raw_t) > 15:
        raise errors.InvalidWebhook(
            "malformed header: the timestamp 't' is not an integer", schemes=schemes
        )
    if not v1:
        raise errors.InvalidWebhook("no v1 signature in the header", schemes=schemes)
    return int(raw_t), v1


def _matches(expected: str, candidates: Sequence[str]) -> bool:
    want = expected.encode("ascii")
    # Every candidate is compared (no early exit) so timing does not reveal which matched.
    found = False
    for candidate in candidates:
        if hmac.compare_digest(want, candidate.encode("utf-8", "replace")):
            found = True
    return found


def verify_signature(
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: int,
    tolerance: int = 300,
    future_tolerance: int = 300,
) -> None:
    """Check that a delivery is authentic and fresh; return silently when it is.

    Args:
        body: The raw request body, exactly as received (never re-serialised JSON).
        header: The ``Stripe-Signature`` header value, or None when it was absent.
        secrets: Our endpoint secrets, current first, then previous ones (rotation).
        now: The current time in unix seconds.
        tolerance: Maximum age of the signed timestamp in seconds.
        future_tolerance: Maximum clock skew into the future in seconds.

    Raises:
        errors.InvalidSettings: No secret is configured.
        errors.InvalidWebhook: The header is missing or malformed, has no ``v1``
            signature, no signature matches any secret, or the timestamp lies outside
            the tolerance.

    Example:
        >>> body = b'{"id": "evt_1"}'
        >>> verify_signature(body, sign(body, "whsec_a", 100), ["whsec_a"], now=160)
    """
    if not secrets:
        raise errors.InvalidSettings("no Stripe webhook secret is configured")
    t, candidates = _parse_header(header)
    matched = False
    for secret in secrets:
        if _matches(_signature(secret, t, body), candidates):
            matched = True
    if not matched:
        raise errors.InvalidWebhook(
            "no signature matches",
            v1_signatures=len(candidates),
            secrets_tried=len(secrets),
        )
    age = now - t
    if age > tolerance:
        raise errors.InvalidWebhook(
            f"timestamp outside the tolerance ({age} s old)",
            timestamp=t,
            now=now,
            tolerance=tolerance,
        )
    if -age > future_tolerance:
        raise errors.InvalidWebhook(
            f"timestamp outside the tolerance ({-age} s in the future)",
            timestamp=t,
            now=now,
            future_tolerance=future_tolerance,
        )
