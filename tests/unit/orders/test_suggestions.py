"""The suggestion table: one case per row, with literals."""

from __future__ import annotations

import pytest

from fluxbilling.orders.attempts import ErrorClass, NormalizedError
from fluxbilling.orders.pipeline import RunState
from fluxbilling.orders.suggestions import Link, SuggestedAction, Suggestion, suggest

TRANSIENT = NormalizedError(
    ErrorClass.TRANSIENT, "TransientUpstreamError", "timed out", "acme", "create", None
)
DENIED = NormalizedError(
    ErrorClass.PERMANENT, "PermanentUpstreamError", "Unauthenticated.", "acme", "find", 401
)
FORBIDDEN = NormalizedError(
    ErrorClass.PERMANENT, "PermanentUpstreamError", "Forbidden.", "acme", "find", 403
)
REFUSED = NormalizedError(
    ErrorClass.PERMANENT, "PermanentUpstreamError", "bad plan", "acme", "create", 422
)
CAPACITY = NormalizedError(ErrorClass.CAPACITY, "CapacityExhausted", "no host fits")
BUG = NormalizedError(ErrorClass.INVARIANT, "InvariantViolation", "unexpected KeyError")
SETTINGS = NormalizedError(ErrorClass.USER, "InvalidSettings", "plan_id is missing")
ODD = NormalizedError(ErrorClass.UNKNOWN, "Odd", "odd")


def _failed_at_provision(error: NormalizedError | None, reallocatable: bool) -> Suggestion | None:
    return suggest(
        error,
        run_state=RunState.FAILED,
        phase="provision",
        parked=False,
        reallocatable=reallocatable,
    )


@pytest.mark.parametrize(
    ("error", "reallocatable", "action", "from_phase", "words"),
    [
        (TRANSIENT, False, SuggestedAction.RETRY, "provision", "ran out of retries: check"),
        (DENIED, False, SuggestedAction.CHECK_CONNECTION, "provision", "fix the secrets of con"),
        (FORBIDDEN, True, SuggestedAction.CHECK_CONNECTION, "provision", "HTTP 403"),
        (REFUSED, False, SuggestedAction.RETRY, "provision", "acme refused the request (HTTP 422)"),
        (REFUSED, True, SuggestedAction.RETRY, "provision", "or re-allocate"),
        (CAPACITY, True, SuggestedAction.REALLOCATE, None, "add a host or free capacity, or re-"),
        (CAPACITY, False, SuggestedAction.ADD_CAPACITY, None, "then retry from provision"),
        (BUG, True, SuggestedAction.REPORT_BUG, None, "report a bug"),
        (SETTINGS, False, SuggestedAction.RETRY, "provision", "then retry from provision"),
        (ODD, False, SuggestedAction.RETRY, "provision", "fix what the error names, then retry"),
        (None, False, SuggestedAction.RETRY, "provision", "provision failed"),
    ],
)
def test_a_failed_run_gets_the_act_its_error_calls_for(
    error: NormalizedError | None,
    reallocatable: bool,
    action: SuggestedAction,
    from_phase: str | None,
    words: str,
) -> None:
    found = _failed_at_provision(error, reallocatable)
    assert found is not None
    assert (found.action, found.from_phase) == (action, from_phase)
    assert words in found.message


@pytest.mark.parametrize("reallocatable", [False, True])
@pytest.mark.parametrize(
    "error", [TRANSIENT, DENIED, FORBIDDEN, REFUSED, CAPACITY, BUG, SETTINGS, ODD]
)
def test_a_suggestion_says_what_to_do_and_never_repeats_the_errors_text(
    error: NormalizedError, reallocatable: bool
) -> None:
    found = _failed_at_provision(error, reallocatable)
    assert found is not None
    assert error.message not in found.message  # the page shows the error just above
    assert any(verb in found.message for verb in ("fix", "add", "check", "report", "correct"))


def test_credentials_link_to_the_connection() -> None:
    found = suggest(
        DENIED, run_state=RunState.FAILED, phase="provision", parked=False, reallocatable=False
    )
    assert found is not None and found.link == Link("connection", "acme")


def test_a_parked_run_asks_for_capacity_and_a_running_one_for_nothing() -> None:
    parked = suggest(
        CAPACITY, run_state=RunState.QUEUED, phase="allocation", parked=True, reallocatable=False
    )
    assert parked is not None and parked.action is SuggestedAction.ADD_CAPACITY
    assert "retries by itself" in parked.message
    for state in (RunState.QUEUED, RunState.RUNNING, RunState.COMPLETED, RunState.CANCELLED, None):
        assert (
            suggest(TRANSIENT, run_state=state, phase="provision", parked=False, reallocatable=True)
            is None
        )
