"""Checks shared by every kind of catalogue entry: natural keys, names and counts, pure.

```
key(path, value)      a code, slug or host name: letters, digits, `.`, `_`, `-`, starting with a
                      letter or digit (a URL segment, a YAML key, a panel's name for it)
name(path, value)     a display name: not blank, no control characters
count(path, value)    a resource amount: 0 .. 2^31-1 (an INTEGER column)
labels(path, values)  a set of labels (CPU flags, tags): keys of at most 64 characters, at
                      most 256 of them, no duplicates
```
Each returns the problems found (`records.Problem`), empty when the value is fine.
"""

from __future__ import annotations

import re

from fluxbilling.catalogue.records import Problem, problem

__all__ = ["INT32_MAX", "count", "key", "labels", "name"]

INT32_MAX = 2**31 - 1
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*")


def key(path: str, value: str) -> list[Problem]:
    """Problems of a natural key (see the module docstring).

    Example:
        >>> key("code", "fra1"), key("code", "fra 1")[0]["message"][:20]
        ([], 'must be letters, dig')
    """
    if _KEY.fullmatch(value):
        return []
    return [
        problem(
            path,
            "must be letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    ]


def name(path: str, value: str) -> list[Problem]:
    """Problems of a display name: blank, or holding control characters."""
    if not value.strip():
        return [problem(path, "must not be blank")]
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return [problem(path, "must not contain control characters (such as a line break)")]
    return []


def count(path: str, value: int, *, minimum: int = 0) -> list[Problem]:
    """Problems of an amount (RAM MB, vCPUs, GB, minutes): an integer within the column."""
    if isinstance(value, bool) or not minimum <= value <= INT32_MAX:
        return [problem(path, f"must be an integer from {minimum} to {INT32_MAX}")]
    return []


def labels(path: str, values: tuple[str, ...]) -> list[Problem]:
    """Problems of a set of labels (CPU flags, host tags), each placed at its index.

    Example:
        >>> labels("cpu_flags", ("avx2", "avx2"))
        [{'path': 'cpu_flags[1]', 'message': 'avx2 is listed twice'}]
    """
    if len(values) > _MAX_LABELS:
        return [problem(path, f"must list at most {_MAX_LABELS}")]
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, value in enumerate(values):
        where = f"{path}[{i}]"
        if len(value) > _MAX_LABEL:
            problems.append(problem(where, f"must be at most {_MAX_LABEL} characters"))
        elif value in seen:
            problems.append(problem(where, f"{value} is listed twice"))
        else:
            problems += key(where, value)
        seen.add(value)
    return problems


_MAX_LABELS = 256
_MAX_LABEL = 64
