"""What a phase handler receives, and the protocol every phase handler implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.db import Database
from fluxbilling.drivers.upstream import ExchangeRecorder
from fluxbilling.engine import activity
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.engine.runs import Claim

__all__ = ["PhaseContext", "PhaseHandler"]


@dataclass(slots=True)
class PhaseContext:
    """One attempt of one phase of one run."""

    claim: Claim
    db: Database
    cursor: Mapping[str, Any] | None
    now: datetime
    recorder: ExchangeRecorder = field(default_factory=ExchangeRecorder)

    @property
    def order_id(self) -> int:
        """The order this run provisions."""
        return self.claim.order_id

    @property
    def correlation_key(self) -> str:
        """The stable idempotency key of this phase."""
        return self.claim.correlation_key

    async def record(
        self,
        conn: AsyncConnection,
        event: str,
        message: str,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Write an activity row of this attempt (run, phase, lease token, worker) in `conn`."""
        await activity.record(
            conn,
            self.order_id,
            event,
            message,
            run_id=self.claim.run_id,
            phase=self.claim.phase,
            lease_token=self.claim.lease_token,
            worker=self.claim.worker,
            data=data,
        )


class PhaseHandler(Protocol):
    """One phase of the pipeline.

    `execute` does the slow, outside-world part (upstream calls) and must be idempotent:
    it may run more than once for the same correlation key. `commit` runs inside the fenced
    transaction that records the phase done, for writes that must be atomic with it.
    """

    async def execute(self, ctx: PhaseContext) -> Outcome:
        """Do the phase's work; return Done, or Pending with a cursor.

        Args:
            ctx: the attempt.

        Returns:
            Done with the phase output, or Pending to be called again later.

        Raises:
            errors.FluxError: classified failures (transient ones are retried).
        """
        ...

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        """Write the phase's results inside the completion transaction.

        Args:
            conn: the fenced transaction.
            ctx: the attempt.
            done: what `execute` returned.

        Returns:
            The output stored on the phase's checkpoint (usually `done.output`).

        Raises:
            errors.CapacityExhausted: nothing to reserve; the run is parked, not failed.
        """
        ...
