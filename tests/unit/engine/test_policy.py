from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fluxbilling import errors
from fluxbilling.engine.policy import Fail, Park, Retry, RetryPolicy, backoff, decide

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    max_attempts=5,
    deadline=timedelta(minutes=10),
    base=timedelta(seconds=2),
    cap=timedelta(seconds=60),
)


def transient(retry_after: float | None = None) -> errors.TransientUpstreamError:
    return errors.TransientUpstreamError("503", upstream="sim", retry_after=retry_after)


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 4), (2, 8), (3, 16), (5, 60), (40, 60)])
def test_full_jitter_backoff_is_capped_exponential(attempt: int, ceiling: float) -> None:
    assert backoff(attempt, POLICY, 0.0) == timedelta(0)
    assert backoff(attempt, POLICY, 0.999999) <= timedelta(seconds=ceiling)
    assert backoff(attempt, POLICY, 0.5) == timedelta(seconds=ceiling / 2)


def test_transient_errors_are_retried_after_backoff() -> None:
    decision = decide(transient(), 1, POLICY, NOW, NOW, rand=0.5)
    assert decision == Retry(at=NOW + timedelta(seconds=2), reason="503")


def test_retry_after_wins_over_backoff() -> None:
    decision = decide(transient(retry_after=30), 1, POLICY, NOW, NOW, rand=0.0)
    assert isinstance(decision, Retry)
    assert decision.at == NOW + timedelta(seconds=30)


def test_retry_never_goes_past_the_deadline() -> None:
    started = NOW - timedelta(minutes=9, seconds=50)
    decision = decide(transient(retry_after=3600), 1, POLICY, NOW, started, rand=0.0)
    assert isinstance(decision, Retry)
    assert decision.at == started + POLICY.deadline


def test_gives_up_after_the_attempt_limit() -> None:
    decision = decide(transient(), 5, POLICY, NOW, NOW, rand=0.1)
    assert decision == Fail(reason="gave up after 5 attempts: 503")


def test_gives_up_at_the_deadline() -> None:
    decision = decide(transient(), 1, POLICY, NOW, NOW - timedelta(minutes=10), rand=0.1)
    assert isinstance(decision, Fail)
    assert "deadline" in decision.reason


@pytest.mark.parametrize(
    "error",
    [
        errors.PermanentUpstreamError("422", upstream="sim"),
        errors.InvariantViolation("bug"),
        errors.InvalidSettings("bad plan"),
    ],
)
def test_everything_but_transient_fails_at_once(error: Exception) -> None:
    assert isinstance(decide(error, 1, POLICY, NOW, NOW, rand=0.1), Fail)


def test_no_capacity_parks_and_never_fails() -> None:
    decision = decide(
        errors.CapacityExhausted("no host"), 99, POLICY, NOW, NOW - timedelta(days=9), rand=0.1
    )
    assert decision == Park(at=NOW + POLICY.park_interval, reason="no host")
