"""The suggestion table: one case per row, with literals."""

from __future__ import annotations

import pytest

from fluxbilling.orders.attempts import ErrorClass, NormalizedError
from fluxbilling.orders.pipeline import RunState
from fluxbilling.orders.suggestions import Link, SuggestedAction, suggest

TRANSIENT = NormalizedError(
    ErrorClass.TRANSIENT, "TransientUpstreamError", "timed out", "acme", "create", None
)
DENIED = NormalizedError(
    ErrorClass.PERMANENT, "PermanentUpstreamError", "Unauthenticated.", "acme", "find", 401
)
FORBIDDEN = NormalizedError(
    ErrorClass.PERMANENT, "PermanentUpstreamError", "no", "acme", "find", 403
)
REFUSED = NormalizedError(
    ErrorClass.PERMANENT, "PermanentUpstreamError", "bad plan", "acme", "create", 422
)
CAPACITY = NormalizedError(ErrorClass.CAPACITY, "CapacityExhausted", "no host fits")
BUG = NormalizedError(ErrorClass.INVARIANT, "InvariantViolation", "unexpected KeyError")
SETTINGS = NormalizedError(ErrorClass.USER, "InvalidSettings", "plan_id is missing")
ODD = NormalizedError(ErrorClass.UNKNOWN, "Odd", "odd")


@pytest.mark.parametrize(
    ("error", "reallocatable", "action", "from_phase", "words"),
    [
        (TRANSIENT, False, SuggestedAction.RETRY, "provision", "retry from provision"),
        (DENIED, False, SuggestedAction.CHECK_CONNECTION, "provision", "check connection acme"),
        (FORBIDDEN, True, SuggestedAction.CHECK_CONNECTION, "provision", "HTTP 403"),
        (REFUSED, False, SuggestedAction.RETRY, "provision", "acme refused the request (HTTP 422)"),
        (REFUSED, True, SuggestedAction.RETRY, "provision", "or re-allocate"),
        (CAPACITY, True, SuggestedAction.REALLOCATE, None, "add capacity, or re-allocate"),
        (CAPACITY, False, SuggestedAction.ADD_CAPACITY, None, "no capacity"),
        (BUG, True, SuggestedAction.REPORT_BUG, None, "report a bug"),
        (SETTINGS, False, SuggestedAction.RETRY, "provision", "fix the product or plugin settings"),
        (ODD, False, SuggestedAction.RETRY, "provision", "provision failed (odd)"),
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
    found = suggest(
        error,
        run_state=RunState.FAILED,
        phase="provision",
        parked=False,
        reallocatable=reallocatable,
    )
    assert found is not None
    assert (found.action, found.from_phase) == (action, from_phase)
    assert words in found.message


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
