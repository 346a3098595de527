"""Secrets at rest: sealed with the installation key, with rotation (old keys still open).

The installation key is one or more Fernet keys; the first seals, all open. A sealed value
is opaque text safe to store; `Sealed` wraps plaintext so that it never prints.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from fluxbilling import errors

__all__ = ["Vault", "generate_key", "load_or_create_key", "new_password"]


def generate_key() -> str:
    """A fresh installation key."""
    return Fernet.generate_key().decode("ascii")


def load_or_create_key(path: Path) -> str:
    """Read the key file at `path`, creating it (mode 0600) when missing."""
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    path.touch(mode=0o600)
    path.write_text(key + "\n", encoding="ascii")
    return key


class Vault:
    """Seals and opens secrets with the installation key.

    Args:
        keys: comma-separated Fernet keys, newest first.

    Example:
        >>> v = Vault(generate_key())
        >>> v.open(v.seal("hunter2"))
        'hunter2'
    """

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise errors.InvalidSettings("FLUXBILLING_SECRET_KEY is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in parts])
        except ValueError as exc:
            raise errors.InvalidSettings(
                "FLUXBILLING_SECRET_KEY is not a valid key list (urlsafe base64, 32 bytes each)"
            ) from exc

    def seal(self, plaintext: str) -> str:
        """Encrypt `plaintext` with the newest key."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        """Decrypt a sealed value with any configured key."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise errors.InvalidSettings(
                "a sealed secret cannot be opened with the configured installation key"
            ) from exc

    def rotate(self, sealed: str) -> str:
        """Re-seal a value under the newest key."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise errors.InvalidSettings(
                "a sealed secret cannot be opened with the configured installation key"
            ) from exc


def new_password(length: int = 20) -> str:
    """A random password of letters and digits (no shell or YAML special characters)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))
