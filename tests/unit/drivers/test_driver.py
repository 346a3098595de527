from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fluxbilling import errors
from fluxbilling.drivers import driver as drivers
from fluxbilling.drivers.outcome import Done, Failed, Failure, classify
from fluxbilling.testing import FakeDriver

pytestmark = pytest.mark.anyio


def operation(verb: drivers.Verb) -> drivers.Operation:
    return drivers.Operation(
        verb=verb,
        correlation_key="7:action:40",
        context={"settings": {"plan_id": 3}},
        connection="acme-main",
        cursor=None,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_every_verb_has_exactly_one_capability() -> None:
    declared = [verb for verbs in drivers.CAPABILITY_VERBS.values() for verb in verbs]
    assert sorted(declared) == sorted(drivers.VERBS)
    assert drivers.capability_of("unsuspend") == "canSuspend"
    assert drivers.capability_of(drivers.Verb.STATS) == "canGetStats"


def test_an_operation_reads_its_settings_from_the_context() -> None:
    assert operation(drivers.Verb.SUSPEND).settings == {"plan_id": 3}
    bare = drivers.Operation(drivers.Verb.STATS, "k", {}, "c", None, datetime.now(UTC))
    assert bare.settings == {}


async def test_call_runs_a_verb_the_driver_has() -> None:
    driver = FakeDriver("acme").script("suspend", Done({"result": "ok"}))
    assert await drivers.call(driver, operation(drivers.Verb.SUSPEND)) == Done({"result": "ok"})
    assert driver.verbs_called() == ["suspend"]


async def test_call_never_reaches_a_driver_for_a_verb_it_lacks() -> None:
    driver = FakeDriver("acme", version=2, capabilities={"canProvision"})
    with pytest.raises(errors.InvalidFlow, match=r"acme@2 has no 'suspend' flow"):
        await drivers.call(driver, operation(drivers.Verb.SUSPEND))
    assert driver.calls == []


async def test_an_unscripted_verb_answers_done() -> None:
    driver = FakeDriver()
    assert await drivers.call(driver, operation(drivers.Verb.STATS)) == Done()


@pytest.mark.parametrize(
    ("error", "failure"),
    [
        (errors.TransientUpstreamError("timeout"), Failure.TRANSIENT),
        (errors.DatabaseUnavailable(), Failure.TRANSIENT),
        (errors.PermanentUpstreamError("404"), Failure.PERMANENT),
        (errors.UpstreamError("unclassified upstream"), Failure.PERMANENT),
        (errors.CapacityExhausted(), Failure.CAPACITY),
        (errors.InvalidSettings("plan_id"), Failure.INVALID),
        (errors.InvalidFlow("no flow"), Failure.INVALID),
        (errors.InvariantViolation(), Failure.INVARIANT),
        (errors.FluxError(), Failure.INVARIANT),
    ],
)
def test_failures_are_classified_by_the_taxonomy(error: errors.FluxError, failure: Failure) -> None:
    assert classify(error) == failure
    assert Failed(error).failure == failure
