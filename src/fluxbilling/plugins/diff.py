"""What changed between two versions of a plugin document: a structural diff and a text diff.

`changes(old, new)` compares two JSON documents and returns `Change`s, each with an `op`
(`add`, `remove` or `replace`), the dotted `path` of the value (the same notation as
validation problems, e.g. `flows.provision.nodes[2].path`) and its `old` / `new` value.

- Objects are compared key by key, in sorted key order (PostgreSQL's JSONB does not keep
  key order, so document order would differ between databases).
- The `nodes` of a flow are matched by node `id`, so inserting, removing or moving a node is
  one change, not a change of every node after it. A node's path carries its index in the
  new document (in the old one for a removed node). When the common nodes change order,
  that is reported once, as a `replace` at the list's path whose `old` / `new` are the node
  ids in order (the order matters: a flow without edges runs its nodes in list order).
- Every other list is compared index by index.
- Keys that are not identifiers are written as JSON strings in brackets:
  `query["filter[search]"]`.

`text_diff` renders a unified diff of the pretty-printed documents for humans, in bounded
time (see `_linediff`): a changed region too large to align line by line is shown as removed
and re-added, and the text stops after `MAX_TEXT_LINES` lines; either marks it `truncated`.
`changes` is always complete (its cost grows linearly with the documents). Both are pure
functions of plain data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fluxbilling.jsontypes import JsonObject
from fluxbilling.plugins import _linediff

__all__ = [
    "ALIGN_BUDGET",
    "MAX_TEXT_LINES",
    "TRUNCATED",
    "Change",
    "TextDiff",
    "changes",
    "path_text",
    "text_diff",
]

MAX_TEXT_LINES = 20_000
"""The text diff stops after this many lines."""
ALIGN_BUDGET = 4_000_000
"""How much line-by-line alignment a text diff may do: the summed product of the lengths of
the changed regions it aligns (about 2,000 by 2,000 lines, under a second at worst)."""
TRUNCATED = "... (diff truncated)"
"""The last line of a text diff cut at `MAX_TEXT_LINES`."""

Op = Literal["add", "remove", "replace"]
Part = str | int

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two documents.

    `old` is None for an `add` and `new` is None for a `remove` (JSON `null` values are
    told apart by `op`).
    """

    op: Op
    path: str
    old: Any = None
    new: Any = None

    def to_dict(self) -> JsonObject:
        """JSON form: `{"op", "path", "from", "to"}`."""
        return {"op": self.op, "path": self.path, "from": self.old, "to": self.new}


def path_text(parts: Sequence[Part]) -> str:
    """The dotted path of a location in a document.

    Examples:
        >>> path_text(("flows", "provision", "nodes", 2, "path"))
        'flows.provision.nodes[2].path'
        >>> path_text(("query", "filter[search]"))
        'query["filter[search]"]'
    """
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


def changes(old: Any, new: Any) -> list[Change]:
    """Every difference between two JSON documents (empty when they are equal).

    Args:
        old: the earlier document (parsed JSON).
        new: the later document (parsed JSON).

    Returns:
        The changes, depth first: object keys in sorted order; within a flow's nodes, the
        removed nodes first, then the kept and added ones in their new order, then the
        order change (if any).

    Example:
        >>> changes({"a": 1, "b": [1]}, {"a": 2, "b": [1, 3]})  # doctest: +NORMALIZE_WHITESPACE
        [Change(op='replace', path='a', old=1, new=2),
         Change(op='add', path='b[1]', old=None, new=3)]
    """
    found: list[Change] = []
    _compare(old, new, (), found)
    return found


def _same(old: Any, new: Any) -> bool:
    # 1 == True and 1 == 1.0 in Python, but they are different JSON.
    return type(old) is type(new) and bool(old == new)


def _compare(old: Any, new: Any, parts: tuple[Part, ...], found: list[Change]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new), key=str):
            _pair(old.get(key, _MISSING), new.get(key, _MISSING), (*parts, key), found)
    elif isinstance(old, list) and isinstance(new, list):
        if _is_flow_nodes(parts) and _ids(old) is not None and _ids(new) is not None:
            _compare_nodes(old, new, parts, found)
        else:
            for index in range(max(len(old), len(new))):
                before = old[index] if index < len(old) else _MISSING
                after = new[index] if index < len(new) else _MISSING
                _pair(before, after, (*parts, index), found)
    elif not _same(old, new):
        found.append(Change("replace", path_text(parts), old, new))


def _pair(old: Any, new: Any, parts: tuple[Part, ...], found: list[Change]) -> None:
    if old is _MISSING:
        found.append(Change("add", path_text(parts), None, new))
    elif new is _MISSING:
        found.append(Change("remove", path_text(parts), old, None))
    else:
        _compare(old, new, parts, found)


def _is_flow_nodes(parts: tuple[Part, ...]) -> bool:
    return len(parts) == 3 and parts[0] == "flows" and parts[2] == "nodes"


def _ids(nodes: list[Any]) -> list[str] | None:
    """The node ids in order, or None when they cannot key the list (missing or repeated)."""
    ids = [n.get("id") if isinstance(n, Mapping) else None for n in nodes]
    if not all(isinstance(i, str) for i in ids) or len(set(ids)) != len(ids):
        return None
    return [str(i) for i in ids]


def _compare_nodes(
    old: list[Any], new: list[Any], parts: tuple[Part, ...], found: list[Change]
) -> None:
    old_ids, new_ids = _ids(old) or [], _ids(new) or []
    old_at = {node_id: i for i, node_id in enumerate(old_ids)}
    new_at = {node_id: i for i, node_id in enumerate(new_ids)}
    for index, node_id in enumerate(old_ids):
        if node_id not in new_at:
            found.append(Change("remove", path_text((*parts, index)), old[index], None))
    for index, node_id in enumerate(new_ids):
        if node_id in old_at:
            _compare(old[old_at[node_id]], new[index], (*parts, index), found)
        else:
            found.append(Change("add", path_text((*parts, index)), None, new[index]))
    kept_old = [i for i in old_ids if i in new_at]
    kept_new = [i for i in new_ids if i in old_at]
    if kept_old != kept_new:
        found.append(Change("replace", path_text(parts), old_ids, new_ids))


@dataclass(frozen=True, slots=True)
class TextDiff:
    """A unified diff, and whether it is truncated (cut short, or coarse in places)."""

    text: str
    truncated: bool


def text_diff(
    old: Any,
    new: Any,
    *,
    old_label: str = "old",
    new_label: str = "new",
    max_lines: int = MAX_TEXT_LINES,
    align_budget: int = ALIGN_BUDGET,
) -> TextDiff:
    """A unified diff of the two documents pretty-printed as JSON with sorted keys.

    Args:
        old: the earlier document.
        new: the later document.
        old_label: the `---` file name, e.g. `solusvm2@1`.
        new_label: the `+++` file name.
        max_lines: stop after this many lines; the last line is then `TRUNCATED`.
        align_budget: see `ALIGN_BUDGET`.

    Returns:
        The diff text ("" when the documents print the same); `truncated` when it was cut
        at `max_lines` or a region over the budget is shown as removed and re-added.
    """
    before = json.dumps(old, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    after = json.dumps(new, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    found = _linediff.unified(
        before,
        after,
        old_label=old_label,
        new_label=new_label,
        max_lines=max_lines,
        budget=align_budget,
    )
    lines = [*found.lines, TRUNCATED] if found.cut else found.lines
    return TextDiff("\n".join(lines), truncated=found.cut or found.coarse)
