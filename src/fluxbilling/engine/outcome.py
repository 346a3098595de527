"""What a phase, a driver verb or a flow returns: `Done` or `Pending` (never a sleep)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

__all__ = ["Done", "Outcome", "Pending"]


@dataclass(frozen=True, slots=True)
class Done:
    """The step finished; `output` is stored on its checkpoint."""

    output: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Pending:
    """The step started something slow; call again with `cursor` after `check_after`."""

    cursor: Mapping[str, Any]
    check_after: timedelta = timedelta(seconds=5)
    note: str = ""


Outcome = Done | Pending
