"""How a phase's status is read from its checkpoint and the run standing at it."""

from __future__ import annotations

import pytest

from fluxbilling.orders.detail import PhaseStatus, phase_status
from fluxbilling.orders.pipeline import RunState

S = PhaseStatus


@pytest.mark.parametrize(
    ("checkpoint", "run", "expected"),
    [
        (None, None, S.PENDING),
        ("waiting", None, S.WAITING),
        ("done", None, S.DONE),
        ("reset", None, S.RESET),
        (None, RunState.QUEUED, S.WAITING),
        ("reset", RunState.QUEUED, S.WAITING),
        ("waiting", RunState.RUNNING, S.RUNNING),
        ("waiting", RunState.FAILED, S.FAILED),
        (None, RunState.CANCELLED, S.CANCELLED),
        ("waiting", RunState.COMPLETED, S.WAITING),
        ("done", RunState.FAILED, S.DONE),
    ],
)
def test_phase_status(checkpoint: str | None, run: RunState | None, expected: PhaseStatus) -> None:
    assert phase_status(checkpoint, run) is expected


def test_an_unknown_checkpoint_status_is_refused() -> None:
    with pytest.raises(ValueError, match="'lost'"):
        phase_status("lost", None)
