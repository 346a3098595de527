"""Apply a unified diff, to check diffs by what they do rather than by how they look."""

from __future__ import annotations


def apply_unified(old_lines: list[str], diff_text: str) -> list[str]:
    """The lines a unified diff turns `old_lines` into; every context and removed line is checked.

    Raises:
        AssertionError: the diff does not fit `old_lines`.
    """
    result: list[str] = []
    at = 0
    for line in diff_text.splitlines()[2:]:
        if line.startswith("@@"):
            start, _, length = line.split()[1][1:].partition(",")
            begin = int(start) if length == "0" else int(start) - 1
            assert begin >= at, line
            result += old_lines[at:begin]
            at = begin
        elif line.startswith("+"):
            result.append(line[1:])
        else:
            assert line[:1] in (" ", "-") and old_lines[at] == line[1:], (at, line)
            result += [line[1:]] if line.startswith(" ") else []
            at += 1
    return result + old_lines[at:]
