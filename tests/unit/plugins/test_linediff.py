"""The bounded line diff behind the plugin text diff: correct at any size, aligned within budget."""

from __future__ import annotations

import difflib
import random

import pytest

from fluxbilling.plugins._linediff import opcodes, unified
from tests.unifiedpatch import apply_unified


def diff_text(a: list[str], b: list[str], **options: int) -> str:
    settings = {"max_lines": 10**6, "budget": 10**6, **options}
    return "\n".join(unified(a, b, old_label="a", new_label="b", **settings).lines)


def edited(rng: random.Random, lines: list[str], alphabet: int) -> list[str]:
    changed = [line for line in lines if rng.random() > 0.2]
    for _ in range(rng.randrange(8)):
        changed.insert(rng.randrange(len(changed) + 1), str(rng.randrange(alphabet)))
    return changed


@pytest.mark.parametrize("budget", [0, 10, 10**6])
@pytest.mark.parametrize("context", [0, 1, 3])
def test_every_diff_turns_the_old_lines_into_the_new(budget: int, context: int) -> None:
    rng = random.Random(budget * 10 + context)
    for _ in range(300):
        alphabet = rng.choice([2, 5, 30, 1000])
        a = [str(rng.randrange(alphabet)) for _ in range(rng.randrange(50))]
        b = edited(rng, a, alphabet)
        text = diff_text(a, b, budget=budget, context=context)
        assert (text == "") == (a == b)
        if text:
            assert apply_unified(a, text) == b


def test_a_small_change_reads_like_difflib() -> None:
    a = [f"line {i}" for i in range(40)]
    b = [*a[:10], "new line", *a[10:25], *a[26:]]
    expected = "\n".join(difflib.unified_diff(a, b, "a", "b", lineterm=""))
    assert diff_text(a, b) == expected


def test_unique_lines_anchor_the_alignment() -> None:
    a = ["1", "x", "2", "x", "3"]
    b = ["3", "x", "1", "x", "2"]
    codes, coarse = opcodes(a, b, budget=0)
    assert not coarse  # no stretch between the anchors needed difflib
    assert codes == [  # "1" and "2" are the longest series of unique lines in the same order
        ("insert", 0, 0, 0, 2),
        ("equal", 0, 3, 2, 5),
        ("delete", 3, 5, 5, 5),
    ]


def test_stretches_beyond_the_budget_are_coarse() -> None:
    a = ["x"] * 30 + ["y"] * 30
    b = ["y"] * 30 + ["x"] * 30
    codes, coarse = opcodes(a, b, budget=100)
    assert coarse
    assert codes == [("replace", 0, 60, 0, 60)]
    codes, coarse = opcodes(a, b, budget=3600)
    assert not coarse
    assert sum(i2 - i1 for tag, i1, i2, _, _ in codes if tag == "equal") == 30


def test_the_output_stops_at_max_lines() -> None:
    a = [str(i) for i in range(100)]
    b = [f"{i}!" for i in range(100)]
    found = unified(a, b, old_label="a", new_label="b", max_lines=10, budget=10**6)
    assert found.cut
    assert len(found.lines) == 10
    assert not unified(a, b, old_label="a", new_label="b", max_lines=10**6, budget=10**6).cut


def test_large_inputs_with_changes_everywhere_stay_exact() -> None:
    # 200,000 lines with every other one changed: difflib alone is quadratic on this.
    a = [f"line {i}" for i in range(200_000)]
    b = [line if i % 2 else line + "!" for i, line in enumerate(a)]
    found = unified(a, b, old_label="a", new_label="b", max_lines=10**6, budget=10**6)
    assert not (found.coarse or found.cut)
    assert apply_unified(a, "\n".join(found.lines)) == b
