"""SHA-512 crypt (`$6$`) password hashes for the artefacts we hand to guest installers.

Implemented from Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512" specification with
`hashlib` only: the stdlib `crypt` module is deprecated (removed in Python 3.13) and
warnings are errors here. The output is what glibc's `crypt(3)` produces, so cloud-init,
d-i and anaconda accept it (`$6$` works everywhere, unlike yescrypt).

Format: `$6$[rounds=N$]<salt, at most 16 chars>$<86 chars>`. Following the specification,
salts longer than 16 characters are truncated and `rounds` is clamped to
[1000, 999_999_999]; `rounds=` appears in the output only when it differs from the
default 5000 (the implicit form glibc itself writes).
"""

from __future__ import annotations

import hashlib
import re
import secrets

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
_SALT_FORBIDDEN = re.compile(r"[$:\s]")
_SHA512_CRYPT = re.compile(
    r"^\$6\$(?:rounds=(?P<rounds>[0-9]+)\$)?(?P<salt>[^$:\s]{0,16})\$[./0-9A-Za-z]{86}$"
)

# The specification's byte order for the final base-64 step: 21 groups of three bytes,
# each (k, k + 21, k + 42) rotated by k mod 3, then the last byte alone.
_GROUPS: tuple[tuple[int, int, int], ...] = tuple(
    ((k, k + 21, k + 42), (k + 21, k + 42, k), (k + 42, k, k + 21))[k % 3] for k in range(21)
)


def _b64_from_24bit(b2: int, b1: int, b0: int, length: int) -> str:
    word = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(length):
        out.append(SALT_ALPHABET[word & 0x3F])
        word >>= 6
    return "".join(out)


def _repeat_to(block: bytes, length: int) -> bytes:
    """`length` bytes made of `block` repeated (the spec's P and S sequences)."""
    whole, rest = divmod(length, len(block))
    return block * whole + block[:rest]


def _digest(key: bytes, salt: bytes, rounds: int) -> bytes:
    alternate = hashlib.sha512(key + salt + key).digest()
    ctx = hashlib.sha512(key + salt)
    ctx.update(_repeat_to(alternate, len(key)))
    length = len(key)
    while length:
        ctx.update(alternate if length & 1 else key)
        length >>= 1
    a = ctx.digest()

    p = _repeat_to(hashlib.sha512(key * len(key)).digest(), len(key)) if key else b""
    s = _repeat_to(hashlib.sha512(salt * (16 + a[0])).digest(), len(salt)) if salt else b""

    c = a
    for i in range(rounds):
        round_ctx = hashlib.sha512(p if i & 1 else c)
        if i % 3:
            round_ctx.update(s)
        if i % 7:
            round_ctx.update(p)
        round_ctx.update(c if i & 1 else p)
        c = round_ctx.digest()
    return c


def _encode(digest: bytes) -> str:
    text = "".join(_b64_from_24bit(digest[x], digest[y], digest[z], 4) for x, y, z in _GROUPS)
    return text + _b64_from_24bit(0, 0, digest[63], 2)


def sha512_crypt(password: str, salt: str | None = None, rounds: int = DEFAULT_ROUNDS) -> str:
    """Hash `password` the way glibc `crypt(3)` does for the `$6$` scheme.

    Args:
        password: the clear-text password (encoded as UTF-8).
        salt: up to 16 characters, no `$`, `:` or whitespace; longer salts are truncated
            as the specification says. `None` draws 16 random characters from
            `SALT_ALPHABET` with `secrets`.
        rounds: iteration count, clamped to [`MIN_ROUNDS`, `MAX_ROUNDS`].

    Returns:
        The complete hash string, e.g. `$6$saltstring$svn8Uo…`.

    Raises:
        errors.InvalidSettings: the salt contains a forbidden character.

    Examples:
        >>> sha512_crypt("Hello world!", "saltstring")[:20]
        '$6$saltstring$svn8Uo'
    """
    if salt is None:
        salt = "".join(secrets.choice(SALT_ALPHABET) for _ in range(_SALT_MAX))
    if _SALT_FORBIDDEN.search(salt):
        raise errors.InvalidSettings(
            "a sha512-crypt salt must not contain '$', ':' or whitespace", salt=salt
        )
    salt = salt[:_SALT_MAX]
    rounds = min(max(rounds, MIN_ROUNDS), MAX_ROUNDS)
    digest = _digest(password.encode("utf-8"), salt.encode("utf-8"), rounds)
    prefix = "$6$" if rounds == DEFAULT_ROUNDS else f"$6$rounds={rounds}$"
    return f"{prefix}{salt}${_encode(digest)}"


def is_sha512_crypt(value: str) -> bool:
    """Whether `value` is shaped like a `$6$` hash (format only; nothing is verified).

    Args:
        value: the candidate hash string.

    Returns:
        True for `$6$[rounds=N$]salt$<86 base-64 chars>` with N inside the allowed range.
    """
    match = _SHA512_CRYPT.match(value)
    if match is None:
        return False
    rounds = match.group("rounds")
    return rounds is None or MIN_ROUNDS <= int(rounds) <= MAX_ROUNDS
