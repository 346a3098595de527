"""The pipelines the engine runs, as values handed to it: the engine knows no orders.

A `Pipeline` is one kind of run: its phases in order, each a `PhaseSpec` with its retry
policy and whether an operator may re-run a failed run from it. The composition root hands
the `RunStore` every pipeline (`orders.pipeline.PIPELINES`) and the `RunHooks` through which
a run's progress reaches the records that own it (`orders.progress`), in the run's own
transaction. One event is one activity row: the engine hands the hooks the row it wants
written (`RunEntry`), and the hooks write it, with whatever of their own the event moved
(`RecordOnly` writes it alone).

Run states: `queued` (claimable at next_run_at) → `running` (leased) → `completed`;
`failed` (an operator may retry from a phase) and `cancelled` are terminal.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.engine import activity
from fluxbilling.engine.policy import RetryPolicy

__all__ = [
    "PhaseSpec",
    "Pipeline",
    "RecordOnly",
    "RunEntry",
    "RunEvent",
    "RunHooks",
    "RunRef",
    "RunState",
    "correlation_key",
]


class RunState(StrEnum):
    """Where a run is."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    """One phase of a pipeline.

    Attributes:
        name: the phase (the `runs.phase` and `phase_checkpoints.phase` value).
        policy: how a failed attempt of it is retried.
        no_rerun: why an operator may not re-run a failed run from it (None: they may).
        no_rerun_once_done: why an operator may not re-run it once it completed: what it did
            holds something a second run would take again (None: they may). A caller that
            undid it first says so (`RunStore.retry_in(..., undone=True)`).
    """

    name: str
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    no_rerun: str | None = None
    no_rerun_once_done: str | None = None


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The phases one kind of run goes through, in order.

    Attributes:
        kind: the `runs.kind` value.
        phases: in order; names are unique.
        key_per_run: correlation keys name the run too (an order has many runs of this kind).

    Example:
        >>> p = Pipeline("demo", (PhaseSpec("a"), PhaseSpec("b")))
        >>> p.next_phase("a"), p.next_phase("b")
        ('b', None)
    """

    kind: str
    phases: tuple[PhaseSpec, ...]
    key_per_run: bool = False

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.phases]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"pipeline {self.kind!r} needs unique phases, has {names}")

    @property
    def names(self) -> tuple[str, ...]:
        """The phase names, in order."""
        return tuple(spec.name for spec in self.phases)

    def spec(self, phase: str) -> PhaseSpec:
        """The spec of `phase`.

        Raises:
            errors.InvariantViolation: this pipeline has no such phase.
        """
        for spec in self.phases:
            if spec.name == phase:
                return spec
        raise errors.InvariantViolation(f"a {self.kind} run has no {phase} phase")

    def next_phase(self, phase: str) -> str | None:
        """The phase after `phase`, or None after the last."""
        names = self.names
        index = names.index(self.spec(phase).name)
        return names[index + 1] if index + 1 < len(names) else None

    def retry_refusal(
        self, failed_at: str, phase: str, *, done: bool, undone: bool = False
    ) -> str | None:
        """Why a run that failed at `failed_at` may not be retried from `phase` (None: it may).

        Args:
            failed_at: the phase the run failed at.
            phase: the phase the operator wants to start from.
            done: `phase` completed in this run (its checkpoint is done).
            undone: the caller undid what `phase` holds first (re-allocation).

        Example:
            >>> p = Pipeline("demo", (PhaseSpec("a", no_rerun="never"), PhaseSpec("b"),
            ...                       PhaseSpec("c", no_rerun_once_done="holds it")))
            >>> [p.retry_refusal("b", x, done=False) for x in ("a", "b")]
            ['never', None]
            >>> p.retry_refusal("b", "c", done=False)
            'it failed at b: retry from b or an earlier phase, not from c (that would skip b)'
        """
        names = self.names
        if phase not in names:
            return f"a {self.kind} run has no {phase} phase"
        if names.index(phase) > names.index(self.spec(failed_at).name):
            return (
                f"it failed at {failed_at}: retry from {failed_at} or an earlier phase, not "
                f"from {phase} (that would skip {failed_at})"
            )
        spec = self.spec(phase)
        if spec.no_rerun is not None:
            return spec.no_rerun
        if spec.no_rerun_once_done is not None and done and not undone:
            return spec.no_rerun_once_done
        return None

    def retry_from(self, failed_at: str, done: Collection[str]) -> tuple[str, ...]:
        """The phases a run that failed at `failed_at` may be retried from, in order.

        Args:
            failed_at: the phase the run failed at.
            done: the phases that completed in this run.

        Example:
            >>> p = Pipeline("demo", (PhaseSpec("a", no_rerun="never"), PhaseSpec("b"),
            ...                       PhaseSpec("c", no_rerun_once_done="holds it"),
            ...                       PhaseSpec("d"), PhaseSpec("e")))
            >>> p.retry_from("d", done={"a", "b", "c"})
            ('b', 'd')
        """
        return tuple(
            name
            for name in self.names
            if self.retry_refusal(failed_at, name, done=name in done) is None
        )

    def key(self, order_id: int, phase: str, run_id: int) -> str:
        """The correlation key of `phase` of run `run_id` of this kind."""
        return correlation_key(order_id, phase, run_id=run_id if self.key_per_run else None)


def correlation_key(
    order_id: int, phase: str, node: str | None = None, *, run_id: int | None = None
) -> str:
    """The stable key of one phase of one order: `<order id>:<phase>[:<node>]`.

    A run whose pipeline has a key per run also names the run (`<order id>:action:<run id>`).

    Examples:
        >>> correlation_key(42, "provision")
        '42:provision'
        >>> correlation_key(42, "provision", "create_vm")
        '42:provision:create_vm'
        >>> correlation_key(42, "action", run_id=7)
        '42:action:7'
    """
    key = f"{order_id}:{phase}"
    if run_id is not None:
        key = f"{key}:{run_id}"
    return f"{key}:{node}" if node else key


class RunEvent(StrEnum):
    """What happened to runs, for their owner."""

    STARTED = "started"
    FAILED = "failed"
    RETRIED = "retried"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class RunRef:
    """A run as its hooks see it; lease and worker are set when a worker made the change."""

    run_id: int
    order_id: int
    kind: str
    phase: str
    lease_token: int | None = None
    worker: str | None = None


@dataclass(frozen=True, slots=True)
class RunEntry:
    """One run's event as its activity row: the run, and the row's event, words and data."""

    run: RunRef
    event: str
    """The row's event (`run_started`, `phase_failed`, `run_retried`, `run_cancelled`)."""
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def row(self) -> activity.Row:
        """The activity row, as `activity.record_many` writes it."""
        run = self.run
        return activity.Row(
            run.order_id,
            self.event,
            self.message,
            run_id=run.run_id,
            phase=run.phase,
            data=self.data,
            lease_token=run.lease_token,
            worker=run.worker,
        )


class RunHooks(Protocol):
    """What a run's progress does to the records that own it, inside the run's transaction.

    The hooks write each entry's activity row once, adding what the event moved: every
    failed, retried and cancelled one; a started one only when it moved something (a run
    is claimed again after every wait, and that is no news).
    """

    async def __call__(
        self, conn: AsyncConnection, event: RunEvent, entries: Sequence[RunEntry]
    ) -> None:
        """Apply `event` of the entries' runs and write their rows (raising rolls back all).

        Args:
            conn: the run's transaction.
            event: what happened.
            entries: the runs it happened to, each with its activity row (several for
                one claim).
        """
        ...


class RecordOnly:
    """`RunHooks` for runs no record owns: each event's row alone (a start writes none)."""

    async def __call__(
        self, conn: AsyncConnection, event: RunEvent, entries: Sequence[RunEntry]
    ) -> None:
        """Write the rows of `entries`, unless they started."""
        if event != RunEvent.STARTED:
            await activity.record_many(conn, [e.row for e in entries])
