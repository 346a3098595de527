"""The one retry decision, table-driven: phases, flow nodes and database trouble all use it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fluxbilling import errors
from fluxbilling.engine.policy import Decision, Fail, Park, Retry, RetryPolicy, backoff, decide

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)
POLICY = RetryPolicy(max_attempts=5, deadline=timedelta(minutes=10), base=4 * S, cap=60 * S)
FOREVER = RetryPolicy(max_attempts=None, deadline=None, base=4 * S, cap=60 * S, jitter=0.0)


def transient(retry_after: float | None = None) -> errors.TransientUpstreamError:
    return errors.TransientUpstreamError("503", upstream="sim", retry_after=retry_after)


@pytest.mark.parametrize(
    ("policy", "attempt", "rand", "wait"),
    [
        # full jitter: uniform in [0, min(cap, base * 2**(attempt - 1))]
        (POLICY, 1, 0.0, 0.0),
        (POLICY, 1, 0.5, 2.0),
        (POLICY, 2, 0.5, 4.0),
        (POLICY, 3, 0.5, 8.0),
        (POLICY, 4, 0.999, 31.968),
        (POLICY, 5, 0.5, 30.0),  # 64 s capped at 60
        (POLICY, 40, 0.5, 30.0),
        (POLICY, 0, 0.5, 2.0),  # before any failure: the first wait
        # no jitter: rand is ignored
        (FOREVER, 1, 0.9, 4.0),
        (FOREVER, 3, 0.1, 16.0),
        (FOREVER, 10**6, 0.1, 60.0),
        # half jitter: [c/2, c]
        (RetryPolicy(base=4 * S, jitter=0.5), 2, 0.0, 4.0),
        (RetryPolicy(base=4 * S, jitter=0.5), 2, 0.5, 6.0),
    ],
)
def test_backoff_is_capped_exponential_with_jitter(
    policy: RetryPolicy, attempt: int, rand: float, wait: float
) -> None:
    assert backoff(attempt, policy, rand).total_seconds() == pytest.approx(wait)


DEADLINE_NEAR = NOW - timedelta(minutes=9, seconds=50)

CASES: list[tuple[str, BaseException, int, RetryPolicy, datetime, Decision]] = [
    ("transient: back off", transient(), 1, POLICY, NOW, Retry(NOW + 2 * S, "503")),
    (
        "transient: later attempts wait longer",
        transient(),
        3,
        POLICY,
        NOW,
        Retry(NOW + 8 * S, "503"),
    ),
    ("Retry-After wins over backoff", transient(30), 1, POLICY, NOW, Retry(NOW + 30 * S, "503")),
    (
        "Retry-After is not capped by cap",
        transient(600),
        1,
        FOREVER,
        NOW,
        Retry(NOW + 600 * S, "503"),
    ),
    ("a negative Retry-After means now", transient(-5), 1, POLICY, NOW, Retry(NOW, "503")),
    (
        "never past the deadline",
        transient(3600),
        1,
        POLICY,
        DEADLINE_NEAR,
        Retry(DEADLINE_NEAR + POLICY.deadline, "503"),  # type: ignore[operator]
    ),
    ("attempt limit", transient(), 5, POLICY, NOW, Fail("gave up after 5 attempts: 503")),
    (
        "deadline passed",
        transient(),
        1,
        POLICY,
        NOW - timedelta(minutes=10),
        Fail("gave up after the deadline of 0:10:00: 503"),
    ),
    (
        "no limit, no deadline",
        transient(),
        10**6,
        FOREVER,
        NOW - timedelta(days=99),
        Retry(NOW + 60 * S, "503"),
    ),
    (
        "permanent fails at once",
        errors.PermanentUpstreamError("422", upstream="sim"),
        1,
        POLICY,
        NOW,
        Fail("422"),
    ),
    ("a bug fails at once", errors.InvariantViolation("bug"), 1, FOREVER, NOW, Fail("bug")),
    (
        "bad settings fail at once",
        errors.InvalidSettings("bad plan"),
        1,
        POLICY,
        NOW,
        Fail("bad plan"),
    ),
    ("a foreign error fails at once", ValueError(), 1, POLICY, NOW, Fail("ValueError")),
    (
        "no capacity parks, never fails",
        errors.CapacityExhausted("no host"),
        99,
        POLICY,
        NOW - timedelta(days=9),
        Park(NOW + POLICY.park_interval, "no host"),
    ),
]


@pytest.mark.parametrize(
    ("error", "attempt", "policy", "started_at", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decide(
    error: BaseException,
    attempt: int,
    policy: RetryPolicy,
    started_at: datetime,
    expected: Decision,
) -> None:
    assert decide(error, attempt, policy, NOW, started_at, rand=0.5) == expected


@pytest.mark.parametrize(
    "fields", [{"jitter": 1.5}, {"jitter": -0.1}, {"max_attempts": 0}], ids=str
)
def test_a_policy_that_cannot_work_is_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**fields)  # type: ignore[arg-type]
