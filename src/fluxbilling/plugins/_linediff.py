"""A unified diff of two lists of lines in bounded time.

`difflib` alone is quadratic: two 546 KB plugin documents with a change every few nodes
took 24 s, two of 9.4 MB would take hours. Here:

1. The common head and tail are set aside.
2. Lines that occur exactly once on each side anchor the alignment (patience diff): the
   longest series of them in the same order on both sides is kept as equal (O(n log n)).
3. Each stretch between two anchors is aligned by `difflib` while the summed area of the
   stretches (lines before times lines after) stays within `budget`; a stretch beyond it is
   shown as removed and re-added, and the diff is marked `coarse` (still correct, not
   minimal).
4. The output stops after `max_lines` lines (`cut`).

The rendering is the unified format of `difflib.unified_diff(..., lineterm="")`.
"""

from __future__ import annotations

import difflib
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Literal

__all__ = ["LineDiff", "Opcode", "opcodes", "unified"]

Tag = Literal["equal", "replace", "delete", "insert"]
Opcode = tuple[Tag, int, int, int, int]
"""`(tag, i1, i2, j1, j2)` as `difflib.SequenceMatcher.get_opcodes` gives them."""


@dataclass(frozen=True, slots=True)
class LineDiff:
    """The lines of a unified diff (no line ends), and whether it is coarse or cut."""

    lines: list[str]
    coarse: bool
    cut: bool


def unified(
    a: Sequence[str],
    b: Sequence[str],
    *,
    old_label: str,
    new_label: str,
    max_lines: int,
    budget: int,
    context: int = 3,
) -> LineDiff:
    """The unified diff from `a` to `b`; empty when they are equal.

    Args:
        a: the old lines.
        b: the new lines.
        old_label: the `---` name.
        new_label: the `+++` name.
        max_lines: stop after this many diff lines.
        budget: the summed area of the stretches `difflib` may align.
        context: unchanged lines around each change.
    """
    codes, coarse = opcodes(a, b, budget)
    if all(code[0] == "equal" for code in codes):
        return LineDiff([], coarse=False, cut=False)
    lines = list(islice(_render(a, b, codes, old_label, new_label, context), max_lines + 1))
    cut = len(lines) > max_lines
    return LineDiff(lines[:max_lines], coarse, cut)


def opcodes(a: Sequence[str], b: Sequence[str], budget: int) -> tuple[list[Opcode], bool]:
    """Edit operations from `a` to `b`, and whether a stretch was too large to align.

    Example:
        >>> opcodes(["x", "a", "y"], ["x", "b", "y"], budget=100)
        ([('equal', 0, 1, 0, 1), ('replace', 1, 2, 1, 2), ('equal', 2, 3, 2, 3)], False)
    """
    n, m = len(a), len(b)
    head, tail = _common(a, b, (0, n, 0, m))
    codes: list[Opcode] = [("equal", 0, head, 0, head)]
    coarse = False
    i, j = head, head
    for ai, bj in _anchors(a, b, head, n - tail, head, m - tail):
        stretch, budget, rough = _stretch(a, b, (i, ai, j, bj), budget)
        codes += [*stretch, ("equal", ai, ai + 1, bj, bj + 1)]
        coarse = coarse or rough
        i, j = ai + 1, bj + 1
    stretch, budget, rough = _stretch(a, b, (i, n - tail, j, m - tail), budget)
    codes += [*stretch, ("equal", n - tail, n, m - tail, m)]
    return _merged(codes), coarse or rough


def _common(a: Sequence[str], b: Sequence[str], span: tuple[int, int, int, int]) -> tuple[int, int]:
    """How many lines the two sides of a span have in common at its start and at its end."""
    i1, i2, j1, j2 = span
    shorter = min(i2 - i1, j2 - j1)
    head = 0
    while head < shorter and a[i1 + head] == b[j1 + head]:
        head += 1
    tail = 0
    while tail < shorter - head and a[i2 - 1 - tail] == b[j2 - 1 - tail]:
        tail += 1
    return head, tail


def _anchors(
    a: Sequence[str], b: Sequence[str], i1: int, i2: int, j1: int, j2: int
) -> list[tuple[int, int]]:
    """Positions of lines unique on both sides, the longest series in the same order."""
    count_a = Counter(a[i1:i2])
    count_b = Counter(b[j1:j2])
    where_b = {line: j for j, line in enumerate(b[j1:j2], j1) if count_b[line] == 1}
    pairs = [
        (i, where_b[line])
        for i, line in enumerate(a[i1:i2], i1)
        if count_a[line] == 1 and line in where_b
    ]
    # Patience sorting: the longest increasing series of b positions, in a order.
    tops: list[int] = []
    top_pair: list[int] = []
    previous = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        pile = bisect_left(tops, j)
        previous[k] = top_pair[pile - 1] if pile else -1
        if pile == len(tops):
            tops.append(j)
            top_pair.append(k)
        else:
            tops[pile], top_pair[pile] = j, k
    series: list[tuple[int, int]] = []
    k = top_pair[-1] if top_pair else -1
    while k >= 0:
        series.append(pairs[k])
        k = previous[k]
    return series[::-1]


def _stretch(
    a: Sequence[str], b: Sequence[str], span: tuple[int, int, int, int], budget: int
) -> tuple[list[Opcode], int, bool]:
    """Opcodes of one stretch between anchors, the budget left, and whether it was too large."""
    i1, i2, j1, j2 = span
    head, tail = _common(a, b, span)
    codes: list[Opcode] = [("equal", i1, i1 + head, j1, j1 + head)]
    end: Opcode = ("equal", i2 - tail, i2, j2 - tail, j2)
    i1, i2, j1, j2 = i1 + head, i2 - tail, j1 + head, j2 - tail
    area = (i2 - i1) * (j2 - j1)
    if not area:
        tag: Tag = "insert" if i1 == i2 else "delete"
        return [*codes, (tag, i1, i2, j1, j2), end], budget, False
    if area > budget:
        return [*codes, ("replace", i1, i2, j1, j2), end], budget, True
    if area == 1:  # one line for another: the most common change, and difflib costs more
        return [*codes, ("replace", i1, i2, j1, j2), end], budget, False
    matcher = difflib.SequenceMatcher(None, a[i1:i2], b[j1:j2])
    codes += [
        (tag, i1 + x1, i1 + x2, j1 + y1, j1 + y2) for tag, x1, x2, y1, y2 in matcher.get_opcodes()
    ]
    return [*codes, end], budget - area, False


def _merged(codes: list[Opcode]) -> list[Opcode]:
    """Drop empty operations and join neighbouring equal ones."""
    merged: list[Opcode] = []
    for code in codes:
        tag, i1, i2, j1, j2 = code
        if i1 == i2 and j1 == j2:
            continue
        if tag == "equal" and merged and merged[-1][0] == "equal":
            _, p1, _, q1, _ = merged[-1]
            merged[-1] = ("equal", p1, i2, q1, j2)
        else:
            merged.append(code)
    return merged


def _hunks(codes: list[Opcode], context: int) -> Iterator[list[Opcode]]:
    """The operations in hunks: the changes with up to `context` equal lines around them.

    `codes` alternate between equal and other operations (as `_merged` leaves them).
    """
    group: list[Opcode] = []
    last = len(codes) - 1
    for index, (tag, i1, i2, j1, j2) in enumerate(codes):
        long = tag == "equal" and (index in (0, last) or i2 - i1 > 2 * context)
        if not long:
            group.append((tag, i1, i2, j1, j2))
            continue
        if index:  # the context after the changes so far closes their hunk
            yield [*group, ("equal", i1, min(i2, i1 + context), j1, min(j2, j1 + context))]
        group = [("equal", max(i1, i2 - context), i2, max(j1, j2 - context), j2)]
    if any(code[0] != "equal" for code in group):
        yield group


def _range(start: int, stop: int) -> str:
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _render(
    a: Sequence[str],
    b: Sequence[str],
    codes: list[Opcode],
    old_label: str,
    new_label: str,
    context: int,
) -> Iterator[str]:
    yield f"--- {old_label}"
    yield f"+++ {new_label}"
    for group in _hunks(codes, context):
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            if tag in ("replace", "delete"):
                yield from ("-" + line for line in a[i1:i2])
            if tag in ("replace", "insert"):
                yield from ("+" + line for line in b[j1:j2])
