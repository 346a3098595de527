"""What a driver verb, a flow or a phase returns: `Done`, `Pending` (never a sleep) or `Failed`.

`Done` and `Pending` are also what a phase hands the engine (`engine.outcome` reuses them);
`Failed` stays between a driver and the phase that called it, which raises its error, so
the engine's one retry policy decides what happens next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from fluxbilling import errors

__all__ = ["Done", "Failed", "Failure", "Pending", "VerbOutcome", "classify"]


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


class Failure(StrEnum):
    """The error taxonomy's verdict on a failed verb (STYLE.md, error taxonomy)."""

    TRANSIENT = "transient"
    """Will probably succeed later unchanged: retried with backoff."""
    PERMANENT = "permanent"
    """The upstream will refuse again unchanged: the phase fails, an operator decides."""
    CAPACITY = "capacity"
    """No host, address or image: the order waits for capacity."""
    INVALID = "invalid"
    """Our input or configuration is wrong (settings, flow, lookups): never retried."""
    INVARIANT = "invariant"
    """Our bug, or something we cannot classify: never retried."""


def classify(error: errors.FluxError) -> Failure:
    """Where `error` sits in the taxonomy.

    Example:
        >>> classify(errors.TransientUpstreamError("timeout"))
        <Failure.TRANSIENT: 'transient'>
    """
    if isinstance(error, errors.TransientUpstreamError | errors.DatabaseUnavailable):
        return Failure.TRANSIENT
    if isinstance(error, errors.UpstreamError):
        return Failure.PERMANENT
    if isinstance(error, errors.CapacityExhausted):
        return Failure.CAPACITY
    if isinstance(error, errors.UserError):
        return Failure.INVALID
    return Failure.INVARIANT


@dataclass(frozen=True, slots=True)
class Failed:
    """The verb failed with a classified error; the caller raises `error` (cause chained)."""

    error: errors.FluxError

    @property
    def failure(self) -> Failure:
        """The error's class in the taxonomy."""
        return classify(self.error)


VerbOutcome = Done | Pending | Failed
"""What `Driver.run` returns."""
