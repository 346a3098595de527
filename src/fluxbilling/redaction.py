"""Secret redaction: what leaves the process (logs, activity, API, errors) never holds a secret."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MASK", "SENSITIVE_HEADERS", "SENSITIVE_KEYS", "Redactor"]

MASK = "***"
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "stripe-signature",
        "x-mollie-signature",
        "paypal-transmission-sig",
    }
)
SENSITIVE_KEYS = re.compile(r"(pass(word)?|secret|token|api[_-]?key|authorization)", re.IGNORECASE)


class Redactor:
    """Masks known secret values anywhere in text and values under sensitive keys.

    Example:
        >>> Redactor(["s3cr3t"]).text("Bearer s3cr3t")
        'Bearer ***'
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def with_secrets(self, secrets: Iterable[str]) -> Redactor:
        """A redactor that also masks `secrets`."""
        return Redactor([*self._secrets, *secrets])

    def joined(self, other: Redactor) -> Redactor:
        """A redactor that masks the secrets of both `self` and `other`."""
        return Redactor([*self._secrets, *other._secrets])

    def text(self, value: str) -> str:
        """Mask every known secret inside `value`."""
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Headers with sensitive ones masked and secrets removed from the rest."""
        return {
            k: MASK if k.lower() in SENSITIVE_HEADERS else self.text(v) for k, v in headers.items()
        }

    def value(self, value: Any) -> Any:
        """A JSON-like value with secrets masked, recursively; sensitive keys masked whole."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                k: MASK if isinstance(k, str) and SENSITIVE_KEYS.search(k) else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value
