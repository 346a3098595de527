"""Secret redaction: what leaves the process (logs, activity, API, errors) never holds a secret."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

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

    A secret is also found in the forms it takes on its way out: percent-encoded (a query
    string, a form body) and escaped inside a JSON string.

    Example:
        >>> Redactor(["s3cr3t"]).text("Bearer s3cr3t")
        'Bearer ***'
        >>> Redactor(["p@ss word/1"]).text("?key=p%40ss%20word%2F1&form=p%40ss+word%2F1")
        '?key=***&form=***'
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._given = {s for s in secrets if s and len(s) >= 4}
        self._secrets = sorted(
            {form for s in self._given for form in _forms(s)}, key=len, reverse=True
        )

    def with_secrets(self, secrets: Iterable[str]) -> Redactor:
        """A redactor that also masks `secrets`."""
        return Redactor([*self._given, *secrets])

    def joined(self, other: Redactor) -> Redactor:
        """A redactor that masks the secrets of both `self` and `other`."""
        return Redactor([*self._given, *other._given])

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


def _forms(secret: str) -> set[str]:
    """`secret` as written, percent-encoded (both ways) and escaped in a JSON string."""
    escaped = {json.dumps(secret, ensure_ascii=plain)[1:-1] for plain in (True, False)}
    return {secret, quote(secret, safe=""), quote_plus(secret, safe=""), *escaped}
