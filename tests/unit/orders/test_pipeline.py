from __future__ import annotations

from fluxbilling.orders.pipeline import PHASES, POLICIES, Phase, correlation_key, next_phase


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
    walked = [Phase.BILLING]
    while (following := next_phase(walked[-1])) is not None:
        walked.append(following)
    assert tuple(walked) == PHASES


def test_every_phase_has_a_policy() -> None:
    assert set(POLICIES) == set(Phase)


def test_correlation_keys_are_stable() -> None:
    assert correlation_key(7, Phase.PROVISION) == "7:provision"
    assert correlation_key(7, Phase.PROVISION, "create_vm") == "7:provision:create_vm"
