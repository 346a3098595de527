"""Attempts read back from activity rows, and errors normalized, with literals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fluxbilling.orders.attempts import (
    AttemptOutcome,
    ErrorClass,
    NormalizedError,
    Recorded,
    collect,
    normalize,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

EXCHANGE = {
    "upstream": "acme",
    "operation": "create server",
    "request": {
        "method": "POST",
        "url": "https://acme.test/servers",
        "headers": {"A": "***"},
        "body": {"n": 1},
    },
    "response": {"status": 503, "headers": {}, "body": "busy"},
    "error": None,
}


def _row(
    id_: int, event: str, phase: str | None = "provision", seconds: int = 0, **data: Any
) -> Recorded:
    return Recorded(id_, T0 + timedelta(seconds=seconds), event, 7, phase, data)


def test_each_ending_row_is_one_attempt_in_order_with_duration_and_exchanges() -> None:
    rows = [
        _row(
            3,
            "phase_retry",
            seconds=10,
            attempt=1,
            started_at=T0.isoformat(),
            error={
                "code": "TransientUpstreamError",
                "message": "503",
                "status": 503,
                "upstream": "acme",
            },
            exchanges=[EXCHANGE],
        ),
        _row(1, "phase_completed", phase="allocation", attempt=1),
        _row(2, "run_started"),
        _row(4, "phase_waiting", seconds=35, attempt=2, exchanges=[EXCHANGE]),
        _row(
            5,
            "phase_completed",
            seconds=40,
            attempt=2,
            started_at=(T0 + timedelta(seconds=30)).isoformat(),
        ),
    ]
    found = collect(rows)
    assert set(found) == {"allocation", "provision"}
    first, waiting, second = found["provision"]
    assert (waiting.number, waiting.outcome, len(waiting.exchanges)) == (
        2,
        AttemptOutcome.WAITING,
        1,
    )
    assert (first.number, first.outcome, first.duration_seconds) == (
        1,
        AttemptOutcome.RETRYING,
        10.0,
    )
    assert first.error == NormalizedError(
        ErrorClass.TRANSIENT, "TransientUpstreamError", "503", "acme", None, 503
    )
    (exchange,) = first.exchanges
    assert (exchange.request.method, exchange.response.status, exchange.request.body) == (
        "POST",
        503,
        {"n": 1},
    )
    assert (second.number, second.outcome, second.duration_seconds, second.error) == (
        2,
        AttemptOutcome.COMPLETED,
        10.0,
        None,
    )
    (allocation,) = found["allocation"]
    assert allocation.started_at is None and allocation.duration_seconds is None


def test_rows_from_before_attempts_were_recorded_get_numbers_not_invented_times() -> None:
    rows = [
        _row(
            1,
            "phase_parked",
            phase="allocation",
            error={"code": "CapacityExhausted", "message": "full"},
        ),
        _row(
            2,
            "phase_failed",
            phase="allocation",
            error={"code": "CapacityExhausted", "message": "full"},
        ),
    ]
    parked, failed = collect(rows)["allocation"]
    assert [parked.number, failed.number] == [1, 2]
    assert parked.outcome is AttemptOutcome.PARKED and failed.outcome is AttemptOutcome.FAILED
    assert parked.error is not None and parked.error.error_class is ErrorClass.CAPACITY
    assert parked.exchanges == () and parked.started_at is None


def test_malformed_data_is_ignored_not_trusted() -> None:
    rows = [
        _row(
            1,
            "phase_failed",
            attempt=True,
            started_at="yesterday",
            error="boom",
            exchanges=["not an exchange", {"request": "x", "response": {"status": "500"}}],
        ),
        Recorded(2, T0, "phase_failed", None, "provision", {}),
        _row(3, "phase_failed", phase=None),
    ]
    (attempt,) = collect(rows)["provision"]
    assert attempt.number == 1 and attempt.started_at is None and attempt.error is None
    (exchange,) = attempt.exchanges
    assert exchange.request.url == "" and exchange.response.status is None


def test_normalize_classifies_by_the_taxonomy() -> None:
    def cls(code: str) -> ErrorClass | None:
        found = normalize({"code": code, "message": "m"})
        return found.error_class if found else None

    assert cls("PermanentUpstreamError") is ErrorClass.PERMANENT
    assert cls("InvariantViolation") is ErrorClass.INVARIANT
    assert cls("InvalidSettings") is ErrorClass.USER
    assert cls("KeyError") is ErrorClass.UNKNOWN
    assert normalize({"message": "no code"}) is None
    assert normalize({"code": "X", "status": True}) == NormalizedError(ErrorClass.UNKNOWN, "X", "")


def test_an_attempts_end_is_the_one_it_recorded_and_a_backwards_one_is_unknown() -> None:
    started = T0 + timedelta(milliseconds=400)
    rows = [
        # the row's own time is second-precise (SQLite): it reads as before the start
        _row(
            1,
            "phase_completed",
            phase="billing",
            attempt=1,
            started_at=started.isoformat(),
            finished_at=(started + timedelta(milliseconds=12)).isoformat(),
        ),
        _row(2, "phase_completed", phase="allocation", attempt=1, started_at=started.isoformat()),
    ]
    found = collect(rows)
    (billing,) = found["billing"]
    assert billing.finished_at == started + timedelta(milliseconds=12)
    assert billing.duration_seconds == 0.012
    (allocation,) = found["allocation"]
    assert allocation.duration_seconds is None  # not "0 ms": not known
