from __future__ import annotations

import pytest

from fluxbilling.orders.pipeline import (
    ACTIONS,
    DCIM_SYNC,
    PHASES,
    PIPELINES,
    PROVISIONING,
    Phase,
)


def test_the_six_phases_in_order() -> None:
    assert [p.value for p in PHASES] == [
        "billing",
        "allocation",
        "provision",
        "os_install",
        "network",
        "handoff",
    ]


def test_next_phase_walks_the_table_and_ends() -> None:
    walked: list[str] = [Phase.BILLING]
    while (following := PROVISIONING.next_phase(walked[-1])) is not None:
        walked.append(following)
    assert tuple(walked) == PHASES
    assert ACTIONS.next_phase(Phase.ACTION) is None


def test_every_phase_is_in_one_pipeline_with_its_own_policy() -> None:
    specs = [spec for pipeline in PIPELINES for spec in pipeline.phases]
    assert sorted(spec.name for spec in specs) == sorted(Phase)
    assert PROVISIONING.spec(Phase.HANDOFF).policy.max_attempts == 20


@pytest.mark.parametrize("phase", list(Phase))
def test_only_billing_may_not_be_re_run(phase: Phase) -> None:
    pipeline = {Phase.ACTION: ACTIONS, Phase.DCIM_SYNC: DCIM_SYNC}.get(phase, PROVISIONING)
    assert (pipeline.spec(phase).no_rerun is not None) == (phase == Phase.BILLING)


def test_correlation_keys_are_stable_and_name_the_run_for_actions() -> None:
    assert PROVISIONING.key(7, Phase.PROVISION, run_id=3) == "7:provision"
    assert ACTIONS.key(7, Phase.ACTION, run_id=3) == "7:action:3"
