from __future__ import annotations

from datetime import timedelta

import pytest

from fluxbilling import errors
from fluxbilling.drivers.driver import Driver, Verb
from fluxbilling.drivers.outcome import Done, Failed, Pending
from fluxbilling.drivers.registry import DriverRegistry
from fluxbilling.orders.phases.provision import ProvisionPhase
from fluxbilling.orders.pipeline import Phase
from fluxbilling.testing import NO_CONNECTION, FakeDriver, phase_context
from tests.unit.orders.phases.phasesupport import NOW, ORDER_ID, SERVICE_ID, Rig

pytestmark = pytest.mark.anyio

CTX = phase_context(ORDER_ID, Phase.PROVISION, now=NOW)
CREATED = Done({"service_data": {"external_id": 901, "username": "fb000007"}})


class Versions:
    """A driver source with several versions of one slug."""

    def __init__(self, *drivers: FakeDriver) -> None:
        self.drivers = {d.version: d for d in drivers}

    async def latest_version(self, slug: str) -> int:
        return max(self.drivers)

    async def get(self, slug: str, version: int | None = None) -> Driver:
        return self.drivers[version or max(self.drivers)]


async def test_a_fresh_service_pins_its_driver_seals_a_password_and_provisions() -> None:
    rig = Rig()
    rig.driver.script(Verb.PROVISION, CREATED)
    outcome = await ProvisionPhase(rig.deps).execute(CTX)
    assert outcome == Done(
        {
            "plugin": "fake@1",
            "service_id": SERVICE_ID,
            "service_data": {"external_id": 901, "username": "fb000007"},
        }
    )
    assert (rig.service["plugin_slug"], rig.service["plugin_version"]) == ("fake", 1)
    password = rig.vault.open(rig.service["root_password_sealed"])
    [call] = rig.driver.calls
    assert call.verb == Verb.PROVISION
    assert call.correlation_key == f"{ORDER_ID}:provision"
    assert call.connection == "acme-main"
    assert call.cursor is None
    assert call.now == NOW
    assert call.secrets == (password,)
    assert call.context["credentials"] == {"root_password": password, "password": password}
    assert call.settings == {"plan_id": 3}
    assert call.context["account"] == {"username": "fb000007"}
    assert rig.driver.validated == [({"plan_id": 3}, "vps-2g")]
    assert rig.store.events(ORDER_ID) == ["credentials_sealed"]


async def test_a_retry_keeps_the_password_of_the_first_attempt() -> None:
    rig = Rig()
    password = rig.seal_password()
    await ProvisionPhase(rig.deps).execute(CTX)
    assert rig.driver.calls[0].context["credentials"]["password"] == password
    assert rig.store.activity == []


async def test_pending_is_handed_back_and_the_next_attempt_resumes_its_cursor() -> None:
    rig = Rig()
    waiting = Pending({"task": 77}, timedelta(seconds=20), "waiting for the panel")
    rig.driver.script(Verb.PROVISION, waiting, CREATED)
    phase = ProvisionPhase(rig.deps)
    assert await phase.execute(CTX) == waiting
    resumed = phase_context(ORDER_ID, Phase.PROVISION, cursor={"task": 77}, now=NOW)
    done = await phase.execute(resumed)
    assert isinstance(done, Done)
    assert [c.cursor for c in rig.driver.calls] == [None, {"task": 77}]


async def test_a_failed_verb_raises_the_drivers_classified_error() -> None:
    rig = Rig()
    cause = errors.TransientUpstreamError("panel timed out", upstream="acme")
    rig.driver.script(Verb.PROVISION, Failed(cause))
    with pytest.raises(errors.TransientUpstreamError) as raised:
        await ProvisionPhase(rig.deps).execute(CTX)
    assert raised.value is cause


async def test_a_service_pinned_earlier_stays_on_its_version() -> None:
    rig = Rig()
    old, new = FakeDriver("fake", 1), FakeDriver("fake", 2)
    rig.drivers = DriverRegistry(Versions(old, new))
    rig.service.update(plugin_slug="fake", plugin_version=1)
    await ProvisionPhase(rig.deps).execute(CTX)
    assert (len(old.calls), len(new.calls)) == (1, 0)


async def test_an_unpinned_service_pins_the_newest_version() -> None:
    rig = Rig()
    old, new = FakeDriver("fake", 1), FakeDriver("fake", 2)
    rig.drivers = DriverRegistry(Versions(old, new))
    out = await ProvisionPhase(rig.deps).execute(CTX)
    assert isinstance(out, Done)
    assert out.output["plugin"] == "fake@2"
    assert rig.service["plugin_version"] == 2


async def test_a_connection_of_the_wrong_type_is_refused_before_any_call() -> None:
    rig = Rig(driver=FakeDriver("fake", connection_type="solusvm2"))
    with pytest.raises(errors.InvalidSettings, match="needs a 'solusvm2' connection"):
        await ProvisionPhase(rig.deps).execute(CTX)
    assert rig.driver.calls == []


async def test_options_the_driver_refuses_stop_the_phase_before_any_call() -> None:
    rig = Rig()
    rig.driver.settings_error = errors.InvalidSettings("options.plan_id: required")
    with pytest.raises(errors.InvalidSettings, match="plan_id"):
        await ProvisionPhase(rig.deps).execute(CTX)
    assert rig.driver.calls == []


async def test_a_driver_that_cannot_provision_is_never_called() -> None:
    rig = Rig(driver=FakeDriver("fake", capabilities={"canSuspend"}))
    with pytest.raises(errors.InvalidFlow, match="has no 'provision' flow"):
        await ProvisionPhase(rig.deps).execute(CTX)
    assert rig.driver.calls == []


async def test_commit_keeps_the_providers_ids_and_moves_the_service() -> None:
    rig = Rig()
    done = Done(
        {"plugin": "fake@1", "service_id": SERVICE_ID, "service_data": {"external_id": 901}}
    )
    out = await ProvisionPhase(rig.deps).commit(NO_CONNECTION, CTX, done)
    assert out == done.output
    assert rig.service["external_id"] == "901"
    assert rig.service["service_data"] == {"external_id": 901}
    assert rig.service["status"] == "provisioned"
    [row] = rig.store.activity
    assert (row.event, row.message) == ("service_provisioned", "the provider's id is 901")
    assert row.data == {"service": {"id": SERVICE_ID, "event": "provisioned", "to": "provisioned"}}
