"""SHA-512 crypt (`$6$`) password hashes for the artefacts we hand to guest installers.

The hashing itself is libpass's `sha512_crypt` (the maintained passlib fork, imported as
`passlib`; its pure-Python backend follows Ulrich Drepper's specification, so the output
is what glibc's `crypt(3)` produces and cloud-init, d-i and anaconda accept it; `$6$`
works everywhere, unlike yescrypt). The stdlib `crypt` module is deprecated (removed in
Python 3.13) and warnings are errors here.

This module only decides the settings, before the library sees them, so the library is
always called in its strict mode (its "relaxed" mode corrects values with a warning):

- a salt is drawn from `SALT_ALPHABET` (the crypt base-64 alphabet); longer than 16
  characters it is truncated, as the specification says; `None` lets the library draw 16
  characters from the system's CSPRNG;
- `rounds` is clamped to [`MIN_ROUNDS`, `MAX_ROUNDS`]; `rounds=` appears in the output
  only when it differs from the default 5000 (the implicit form glibc itself writes).

Format: `$6$[rounds=N$]<salt, at most 16 chars>$<86 chars>`.
"""

from __future__ import annotations

from passlib.hash import sha512_crypt as _sha512_crypt

from fluxbilling import errors

__all__ = [
    "DEFAULT_ROUNDS",
    "MAX_ROUNDS",
    "MIN_ROUNDS",
    "SALT_ALPHABET",
    "is_sha512_crypt",
    "sha512_crypt",
]

DEFAULT_ROUNDS = 5000
MIN_ROUNDS = 1000
MAX_ROUNDS = 999_999_999
SALT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SALT_MAX = 16


def sha512_crypt(password: str, salt: str | None = None, rounds: int = DEFAULT_ROUNDS) -> str:
    """Hash `password` the way glibc `crypt(3)` does for the `$6$` scheme.

    Args:
        password: the clear-text password (encoded as UTF-8).
        salt: characters from `SALT_ALPHABET`; longer than 16 characters it is truncated
            as the specification says. `None` draws 16 random characters (the library
            uses the operating system's CSPRNG).
        rounds: iteration count, clamped to [`MIN_ROUNDS`, `MAX_ROUNDS`].

    Returns:
        The complete hash string, e.g. `$6$saltstring$svn8Uo…`.

    Raises:
        errors.InvalidSettings: the salt contains a character outside `SALT_ALPHABET`.

    Examples:
        >>> sha512_crypt("Hello world!", "saltstring")[:20]
        '$6$saltstring$svn8Uo'
    """
    rounds = min(max(rounds, MIN_ROUNDS), MAX_ROUNDS)
    if salt is None:
        handler = _sha512_crypt.using(rounds=rounds)
    else:
        if not set(salt) <= set(SALT_ALPHABET):
            raise errors.InvalidSettings(
                "a sha512-crypt salt may only use the characters ./0-9A-Za-z", salt=salt
            )
        handler = _sha512_crypt.using(salt=salt[:_SALT_MAX], rounds=rounds)
    hashed: str = handler.hash(password)
    return hashed


def is_sha512_crypt(value: str) -> bool:
    """Whether `value` is shaped like a `$6$` hash (format only; nothing is verified).

    Args:
        value: the candidate hash string.

    Returns:
        True for `$6$[rounds=N$]salt$<86 base-64 chars>` with N inside the allowed range
        and a salt of at most 16 characters from `SALT_ALPHABET`.
    """
    try:
        parsed = _sha512_crypt.from_string(value)
    except ValueError:
        # The library's InvalidHashError and MalformedHashError are ValueErrors.
        return False
    return parsed.checksum is not None
