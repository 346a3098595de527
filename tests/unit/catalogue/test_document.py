"""How a plan reads: one line per entry, a summary, and "nothing to change" when so."""

from __future__ import annotations

from fluxbilling.catalogue.document import Plan, Step, Verb


def test_a_plan_reads_as_a_diff() -> None:
    plan = Plan(
        (
            Step(Verb.CREATE, "locations", "fra1"),
            Step(Verb.UPDATE, "hosts", "kvm-1", changes={"ram_mb": {"from": 1, "to": 2}}),
            Step(Verb.UNCHANGED, "hosts", "kvm-2"),
            Step(Verb.MISSING, "hosts", "kvm-3"),
        )
    )
    assert plan.changes_anything
    assert plan.render().splitlines() == [
        "locations:",
        "  + fra1: create",
        "hosts:",
        "  ~ kvm-1: update ram_mb 1 -> 2",
        "  = kvm-2: unchanged",
        "  ? kvm-3: not in the file (kept; --prune deletes it)",
        "1 to create, 1 to update, 1 unchanged, 1 not in the file",
    ]


def test_nothing_to_change() -> None:
    plan = Plan((Step(Verb.UNCHANGED, "hosts", "a"), Step(Verb.MISSING, "hosts", "b")))
    assert not plan.changes_anything
    assert plan.render().splitlines()[-1] == "nothing to change (1 unchanged)"
