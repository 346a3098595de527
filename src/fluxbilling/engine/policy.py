"""Retry policy as data, and the one pure decision of what to do after a failed attempt.

Every retry is decided here, each with its own `RetryPolicy`: a phase's (its pipeline's
`PhaseSpec.policy`), a flow node's own (`plugins.nodes.RetryParams.policy`) and the worker's
while our own database is away (`engine.outage.DATABASE_TROUBLE`).

```
decide(error, attempt, policy, now, started_at, rand)
  TransientUpstreamError, attempts left, deadline not passed -> Retry(at)   backoff or Retry-After
  CapacityExhausted                                           -> Park(at)    wait for capacity;
                                                                 a paid order never fails for it
  anything else, or attempts/deadline exhausted               -> Fail(reason)
```
Backoff is capped exponential with jitter: the wait after the n-th failure is drawn from
`[(1 - jitter) * c, c]` with `c = min(cap, base * 2**(n - 1))` (jitter 1 is "full jitter",
0 none). A `Retry-After` from the upstream wins (still capped at the deadline).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fluxbilling import errors

__all__ = ["Decision", "Fail", "Park", "Retry", "RetryPolicy", "backoff", "decide"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How something is retried: attempt limit, deadline, backoff, parking interval.

    Attributes:
        max_attempts: attempts before giving up (None: no limit).
        deadline: time from the first attempt before giving up (None: none).
        base: the longest first wait; it doubles after every failure.
        cap: the longest wait.
        jitter: the share of each wait drawn at random, in [0, 1].
        park_interval: how often a run waiting for capacity looks again.
    """

    max_attempts: int | None = 8
    deadline: timedelta | None = timedelta(minutes=30)
    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=5)
    jitter: float = 1.0
    park_interval: timedelta = timedelta(minutes=1)

    def __post_init__(self) -> None:
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be within [0, 1], not {self.jitter}")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again at `at`."""

    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Park:
    """Nothing to do until capacity appears; look again at `at`. Never fails the run."""

    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Fail:
    """Stop; an operator decides."""

    reason: str


Decision = Retry | Park | Fail


def backoff(attempt: int, policy: RetryPolicy, rand: float) -> timedelta:
    """The wait after the `attempt`-th failure (1-based); `rand` in [0, 1).

    Examples:
        >>> backoff(1, RetryPolicy(), 0.5)
        datetime.timedelta(seconds=1)
        >>> backoff(30, RetryPolicy(), 0.999) <= RetryPolicy().cap
        True
        >>> backoff(3, RetryPolicy(jitter=0.0), 0.7)
        datetime.timedelta(seconds=8)
    """
    ceiling: timedelta = min(policy.cap, policy.base * (2 ** min(max(attempt - 1, 0), 32)))
    return ceiling * (1.0 - policy.jitter + policy.jitter * rand)


def decide(
    error: BaseException,
    attempt: int,
    policy: RetryPolicy,
    now: datetime,
    started_at: datetime,
    rand: float,
) -> Decision:
    """What to do after `attempt` (1-based), first tried at `started_at`, failed with `error`."""
    message = str(error) or type(error).__name__
    if isinstance(error, errors.CapacityExhausted):
        return Park(at=now + policy.park_interval, reason=message)
    if not isinstance(error, errors.TransientUpstreamError):
        return Fail(reason=message)
    if policy.max_attempts is not None and attempt >= policy.max_attempts:
        return Fail(reason=f"gave up after {attempt} attempts: {message}")
    deadline = None if policy.deadline is None else started_at + policy.deadline
    if deadline is not None and now >= deadline:
        return Fail(reason=f"gave up after the deadline of {policy.deadline}: {message}")
    wait = error.retry_after
    delay = backoff(attempt, policy, rand) if wait is None else timedelta(seconds=max(wait, 0.0))
    at = now + delay
    return Retry(at=at if deadline is None else min(at, deadline), reason=message)
