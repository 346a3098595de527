"""Random credentials and how they are kept: session ids, CSRF tokens, API tokens, passwords.

Only a SHA-256 digest of a session id or an API token is stored: a copy of the database
lets nobody sign in. They carry 256 bits of randomness, so a plain digest (no salt, no
stretching) is enough; passwords, chosen by people, get argon2id (`passwords`).

```
session id     43 url-safe characters, in the `fluxbilling_session` cookie
CSRF token     43 url-safe characters, in the `fluxbilling_csrf` cookie and X-CSRF-Token
API token      fbt_ + 43 url-safe characters, shown once when created
password       24 url-safe characters when generated (144 bits)
```
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = [
    "TOKEN_PREFIX",
    "digest",
    "generate_password",
    "matches",
    "new_api_token",
    "new_secret",
    "token_prefix",
]

TOKEN_PREFIX = "fbt_"  # noqa: S105 - a prefix, not a secret
"""Every personal API token starts with this (secret scanners can recognise them)."""


def new_secret() -> str:
    """A fresh random value of 256 bits (session ids and CSRF tokens)."""
    return secrets.token_urlsafe(32)


def new_api_token() -> str:
    """A fresh personal API token: `fbt_` and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_prefix(token: str) -> str:
    """The first characters of a token: enough to recognise it in a list, useless to sign in.

    >>> token_prefix("fbt_abcdefghijklmnop")
    'fbt_abcdef'
    """
    return token[: len(TOKEN_PREFIX) + 6]


def generate_password() -> str:
    """A password for a new user or a reset, shown once."""
    return secrets.token_urlsafe(18)


def digest(value: str) -> str:
    """The hex SHA-256 of `value`: what is stored of a session id, CSRF token or API token."""
    return hashlib.sha256(value.encode()).hexdigest()


def matches(value: str, stored_digest: str) -> bool:
    """Whether `value` hashes to `stored_digest`, compared in constant time."""
    return hmac.compare_digest(digest(value).encode(), stored_digest.encode())
