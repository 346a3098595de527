"""How much a hostile input may cost us: size and depth limits, and CPU work off the event loop.

Every body we parse has a size and a nesting-depth limit, checked before it is parsed
(DESIGN.md section 6). The documented limits:

| What                                               | Limit                   | Answer |
|----------------------------------------------------|-------------------------|--------|
| request headers, all together                      | 32 KiB (configurable)   | 431    |
| gateway webhook body (`/webhooks/...`)             | 256 KiB                 | 413    |
| plugin document (`POST /api/v1/plugins`, files)    | 2 MiB                   | 413    |
| any other API body                                 | 1 MiB (configurable)    | 413    |
| JSON nesting (objects and arrays inside each other)| 64 levels               | 422    |

`check_json` measures the nesting depth of JSON bytes without parsing them and without
recursion: string literals are cut out first (brackets inside them do not nest), then the
running balance of the remaining brackets is taken, all of it in C (`bytes.replace`,
`bytes.translate`, `bytes.split`, `itertools.accumulate`). `loads_json` is `json.loads`
behind those checks, for any code that parses untrusted JSON (webhook bodies, upstream
answers, plugin files): it can never raise `RecursionError`.

`run_cpu_bound` runs a CPU-heavy pure function (validating or diffing a large plugin
document) in a worker thread, at most `CPU_THREADS` at a time per event loop, so that the
loop, which also runs the provisioning worker, keeps answering.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable
from itertools import accumulate
from typing import Any, TypeVar

from fluxbilling import errors

__all__ = [
    "API_BYTES",
    "CPU_THREADS",
    "HEADER_BYTES",
    "JSON_DEPTH",
    "KIB",
    "MIB",
    "PLUGIN_BYTES",
    "WEBHOOK_BYTES",
    "check_json",
    "check_size",
    "describe_size",
    "json_depth",
    "loads_json",
    "run_cpu_bound",
]

KIB = 1024
MIB = 1024 * KIB

HEADER_BYTES = 32 * KIB
"""Default limit of all request header lines together (name, value, `: ` and CRLF)."""
WEBHOOK_BYTES = 256 * KIB
"""A gateway notification is a few KiB; 256 KiB leaves room and nothing for abuse."""
PLUGIN_BYTES = 2 * MIB
"""A plugin document (the shipped ones are 10-40 KiB)."""
API_BYTES = 1 * MIB
"""Default limit of any other API request body."""
JSON_DEPTH = 64
"""Objects and arrays nested deeper than this are refused (our documents need about 12)."""
CPU_THREADS = 2
"""CPU-bound jobs running at once per event loop; more wait their turn."""

T = TypeVar("T")

_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_SQUARE = bytes.maketrans(b"{}", b"[]")
_STEP = tuple(1 if b == ord("[") else -1 if b == ord("]") else 0 for b in range(256))
_PAIR_PASSES = 3
_cpu_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def describe_size(size: int) -> str:
    """A byte count for people.

    Examples:
        >>> describe_size(256 * 1024), describe_size(2 * 1024 * 1024), describe_size(1000)
        ('256 KiB', '2 MiB', '1000 bytes')
    """
    for unit, name in ((MIB, "MiB"), (KIB, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} bytes"


def check_size(size: int, max_bytes: int, what: str = "body") -> None:
    """Refuse `size` bytes when more than `max_bytes` are allowed.

    Raises:
        errors.BodyTooLarge: `size` exceeds `max_bytes` (the details name the limit).
    """
    if size > max_bytes:
        raise errors.BodyTooLarge(
            f"{what} larger than {describe_size(max_bytes)}", max_bytes=max_bytes
        )


def json_depth(data: bytes) -> int:
    """The deepest nesting of objects and arrays in UTF-8 JSON text, without parsing it.

    Brackets inside string literals do not count. For text that is not valid JSON the
    answer is an upper bound of what a parser reaches before it gives up.

    Examples:
        >>> json_depth(b'{"a": [1, {"b": "[[["}]}'), json_depth(b"7")
        (3, 0)
    """
    return _depth(_brackets(data))


def check_json(data: bytes, *, max_depth: int = JSON_DEPTH) -> None:
    """Refuse JSON text that is not UTF-8 or nests deeper than `max_depth` (before parsing).

    Raises:
        errors.InvalidBody: the text is not UTF-8 (RFC 8259 section 8.1), or it nests too
            deeply (`details["max_depth"]`).
    """
    _utf8(data)
    _check_depth(data, max_depth)


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.InvalidBody(f"JSON text is not UTF-8: {exc.reason}") from exc


def _check_depth(data: bytes, max_depth: int) -> None:
    # Fewer openers than the limit cannot nest deeper (most bodies); a run of openers longer
    # than the limit is too deep without counting the rest.
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return
    brackets = _brackets(data)
    if len(brackets) > max_depth and (
        b"[" * (max_depth + 1) in brackets or _depth(brackets) > max_depth
    ):
        raise errors.InvalidBody(f"JSON nested deeper than {max_depth} levels", max_depth=max_depth)


def _brackets(data: bytes) -> bytes:
    """The brackets of JSON text outside its strings, `{}` written as `[]`."""
    # Backslashes occur only inside strings, as escapes: drop the escaped backslashes, then
    # the escaped quotes; every quote left opens or closes a string. Dropping two adjacent
    # quotes (a string without brackets) keeps every other byte inside or outside.
    plain = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(_SQUARE, _NOT_STRUCTURE)
    return b"".join(plain.replace(b'""', b"").split(b'"')[::2])


def _depth(brackets: bytes) -> int:
    # Dropping every innermost pair takes exactly one level off balanced brackets, and
    # shrinks long flat lists to almost nothing before the running balance is taken.
    levels = 0
    for _ in range(_PAIR_PASSES):
        fewer = brackets.replace(b"[]", b"")
        if len(fewer) == len(brackets):
            break
        brackets, levels = fewer, levels + 1
    return levels + max(0, max(accumulate(map(_STEP.__getitem__, brackets)), default=0))


def loads_json(
    data: bytes | str,
    *,
    max_bytes: int | None = None,
    max_depth: int = JSON_DEPTH,
    parse_float: Callable[[str], Any] | None = None,
) -> Any:
    """`json.loads` for untrusted text: size and depth are checked first.

    Args:
        data: the JSON text (bytes must be UTF-8).
        max_bytes: refuse longer text (None: no size limit here; the caller bounded it).
        max_depth: refuse deeper nesting.
        parse_float: as for `json.loads` (e.g. `decimal.Decimal`).

    Returns:
        The parsed value.

    Raises:
        errors.BodyTooLarge: the text is longer than `max_bytes`.
        errors.InvalidBody: the text is not UTF-8 or nests deeper than `max_depth`.
        ValueError: the text is not JSON (`json.JSONDecodeError`). `errors.InvalidBody`
            is a `ValueError` too, so one `except ValueError` covers every refusal.
    """
    # Text already decoded is scanned as UTF-8 bytes (lone surrogates kept: JSON escapes them).
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if max_bytes is not None:
        check_size(len(raw), max_bytes)
    text = data if isinstance(data, str) else _utf8(raw)
    _check_depth(raw, max_depth)
    return json.loads(text, parse_float=parse_float)


async def run_cpu_bound(function: Callable[..., T], /, *args: Any) -> T:
    """Run `function(*args)` in a worker thread, at most `CPU_THREADS` at once per loop.

    For pure functions whose cost grows with an input's size (validating or diffing a
    plugin document): the event loop keeps serving requests and the provisioning worker
    meanwhile. A job whose caller is cancelled still runs to its end (threads cannot be
    interrupted), which is why only bounded work may be handed in.
    """
    loop = asyncio.get_running_loop()
    slots = _cpu_slots.get(loop)
    if slots is None:
        slots = _cpu_slots[loop] = asyncio.Semaphore(CPU_THREADS)
    async with slots:
        return await asyncio.to_thread(function, *args)
