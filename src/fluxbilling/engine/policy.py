"""Retry policy as data, and the pure decision of what to do after a failed attempt.

```
decide(error, attempt, policy, now, phase_started_at, rand)
  TransientUpstreamError, attempts left, deadline not passed -> Retry(at)   backoff or Retry-After
  CapacityExhausted                                           -> Park(at)    wait for capacity;
                                                                 a paid order never fails for it
  anything else, or attempts/deadline exhausted               -> Fail(reason)
```
Backoff is "full jitter": a uniform draw in [0, min(cap, base * 2**attempt)]; a
`Retry-After` from the upstream wins (still capped at the deadline).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fluxbilling import errors

__all__ = ["Decision", "Fail", "Park", "Retry", "RetryPolicy", "backoff", "decide"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a phase is retried: attempt limit, deadline, backoff base and cap, parking interval."""

    max_attempts: int = 8
    deadline: timedelta = timedelta(minutes=30)
    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=5)
    park_interval: timedelta = timedelta(minutes=1)


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
    """Stop the run in `failed`; an operator decides."""

    reason: str


Decision = Retry | Park | Fail


def backoff(attempt: int, policy: RetryPolicy, rand: float) -> timedelta:
    """Full-jitter exponential backoff for the `attempt`-th failure (1-based); `rand` in [0, 1).

    Examples:
        >>> backoff(1, RetryPolicy(), 0.5)
        datetime.timedelta(seconds=1)
        >>> backoff(30, RetryPolicy(), 0.999) <= RetryPolicy().cap
        True
    """
    ceiling = min(policy.cap, policy.base * (2 ** min(attempt, 32)))
    return timedelta(seconds=ceiling.total_seconds() * rand)


def decide(
    error: BaseException,
    attempt: int,
    policy: RetryPolicy,
    now: datetime,
    phase_started_at: datetime,
    rand: float,
) -> Decision:
    """What to do after `attempt` (1-based) failed with `error`."""
    deadline = phase_started_at + policy.deadline
    message = str(error) or type(error).__name__
    if isinstance(error, errors.CapacityExhausted):
        return Park(at=now + policy.park_interval, reason=message)
    if not isinstance(error, errors.TransientUpstreamError):
        return Fail(reason=message)
    if attempt >= policy.max_attempts:
        return Fail(reason=f"gave up after {attempt} attempts: {message}")
    if now >= deadline:
        return Fail(reason=f"gave up after the phase deadline of {policy.deadline}: {message}")
    wait = error.retry_after
    delay = backoff(attempt, policy, rand) if wait is None else timedelta(seconds=wait)
    return Retry(at=min(now + delay, deadline), reason=message)
