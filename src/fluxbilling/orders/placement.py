"""Why the order's service landed where it did, as typed rows for the order page (pure).

The allocation phase keeps the placement summary (`allocation.summary`) in its checkpoint's
output; when nothing fitted, the run's last error (`CapacityExhausted`) carries it in its
details. `parse` reads either into a `PlacementView`, and answers None for anything that is
not one (an order allocated before placement was recorded).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PlacementHost", "PlacementRejection", "PlacementView", "from_order", "parse"]


@dataclass(frozen=True, slots=True)
class PlacementHost:
    """A host that fits: the chosen one or a runner-up."""

    host_id: int
    host: str
    pool: str | None
    ram_mb_left: int


@dataclass(frozen=True, slots=True)
class PlacementRejection:
    """A host that lost, and why."""

    host_id: int
    host: str
    reason: str
    text: str


@dataclass(frozen=True, slots=True)
class PlacementView:
    """The placement of an order (see `allocation.summary` for each field)."""

    strategy: str
    chosen: PlacementHost | None
    runners_up: tuple[PlacementHost, ...]
    fitting: int
    rejected: Mapping[str, int]
    rejections: tuple[PlacementRejection, ...]
    not_examined: int
    failed_hosts: tuple[int, ...]


def _host(value: Mapping[str, Any]) -> PlacementHost:
    return PlacementHost(
        int(value["host_id"]),
        str(value["host"]),
        None if value.get("pool") is None else str(value["pool"]),
        int(value.get("ram_mb_left", 0)),
    )


def parse(value: Any) -> PlacementView | None:
    """A stored placement summary as typed rows; None when `value` is not one.

    Example:
        >>> parse({"strategy": "fill", "chosen": None, "rejected": {"ram": 2}}).rejected
        {'ram': 2}
        >>> parse(None) is None, parse({"host": 1}) is None
        (True, True)
    """
    if not isinstance(value, Mapping) or "strategy" not in value:
        return None
    try:
        chosen = value.get("chosen")
        return PlacementView(
            strategy=str(value["strategy"]),
            chosen=_host(chosen) if isinstance(chosen, Mapping) else None,
            runners_up=tuple(_host(h) for h in value.get("runners_up") or ()),
            fitting=int(value.get("fitting", 0)),
            rejected={str(k): int(v) for k, v in (value.get("rejected") or {}).items()},
            rejections=tuple(
                PlacementRejection(
                    int(r["host_id"]), str(r["host"]), str(r["reason"]), str(r["text"])
                )
                for r in value.get("rejections") or ()
            ),
            not_examined=int(value.get("not_examined", 0)),
            failed_hosts=tuple(int(h) for h in value.get("failed_hosts") or ()),
        )
    except (KeyError, TypeError, ValueError):
        return None


def from_order(allocation_output: Any, last_error: Any) -> PlacementView | None:
    """The order's placement: its allocation's, else the one its last error carries."""
    if isinstance(allocation_output, Mapping):
        found = parse(allocation_output.get("placement"))
        if found is not None:
            return found
    if isinstance(last_error, Mapping) and last_error.get("code") == "CapacityExhausted":
        details = last_error.get("details")
        if isinstance(details, Mapping):
            return parse(details.get("placement"))
    return None
