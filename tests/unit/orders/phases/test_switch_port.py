"""The switch-port phase with the in-memory switch and jobs: it writes only what differs, is
done only when the read-back satisfies the job, keeps a VLAN another service uses, and
classifies what goes wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fluxbilling import errors
from fluxbilling.engine.outcome import Done
from fluxbilling.network.switchport import PortVlans, SwitchOp
from fluxbilling.orders.phases.switch_port import Switching, SwitchPortPhase
from fluxbilling.orders.pipeline import SWITCH_PORT_KIND, Phase, RunState
from fluxbilling.orders.switch_jobs import SwitchJobRow
from fluxbilling.testing import InMemorySwitchJobs, InMemorySwitchPorts, phase_context

pytestmark = pytest.mark.anyio

RUN_ID = 31
CTX = phase_context(7, Phase.SWITCH_PORT, run_id=RUN_ID, kind=SWITCH_PORT_KIND)
AT = datetime(2026, 12, 8, tzinfo=UTC)


def job(op: SwitchOp, vlan: int = 120) -> SwitchJobRow:
    return SwitchJobRow(
        1, RUN_ID, 7, 5, 2, "ge-0/0/7", vlan, op, RunState.RUNNING, 0, None, None, AT, AT
    )


def rig(
    op: SwitchOp, port: PortVlans
) -> tuple[SwitchPortPhase, InMemorySwitchPorts, InMemorySwitchJobs]:
    switch = InMemorySwitchPorts()
    switch.ports[port.name] = port
    jobs = InMemorySwitchJobs(job(op))
    return SwitchPortPhase(Switching(switch, jobs)), switch, jobs


async def test_a_trunk_add_writes_once_and_reports_what_it_read_back() -> None:
    phase, switch, _ = rig(SwitchOp.TRUNK_ADD, PortVlans("ge-0/0/7", trunks=frozenset({4094})))
    first = await phase.execute(CTX)
    assert isinstance(first, Done)
    assert first.output["read_back"]["trunks"] == [120] and first.output["changed"] is True
    again = await phase.execute(CTX)  # a retried job: nothing left to write
    assert isinstance(again, Done) and again.output["changed"] is False
    assert switch.writes == 1


async def test_a_vlan_another_service_uses_is_kept_without_touching_the_switch() -> None:
    phase, switch, jobs = rig(SwitchOp.TRUNK_REMOVE, PortVlans("ge-0/0/7", trunks=frozenset({120})))
    jobs.users[120] = [9]
    done = await phase.execute(CTX)
    assert isinstance(done, Done) and done.output["kept_for"] == [9]
    assert switch.ports["ge-0/0/7"].trunks == {120} and switch.writes == 0


async def test_a_read_back_that_does_not_match_is_transient() -> None:
    phase, switch, _ = rig(SwitchOp.ACCESS, PortVlans("ge-0/0/7", tag=5))

    class Stuck(InMemorySwitchPorts):
        async def set_access_vlan(self, port: str, vlan: int) -> None:
            self.writes += 1  # accepted, but the switch keeps the old VLAN

    stuck = Stuck()
    stuck.ports = switch.ports
    phase = SwitchPortPhase(Switching(stuck, InMemorySwitchJobs(job(SwitchOp.ACCESS))))
    with pytest.raises(errors.TransientUpstreamError, match="read back"):
        await phase.execute(CTX)


async def test_a_transient_switch_error_propagates_for_the_engine_to_retry() -> None:
    phase, switch, _ = rig(SwitchOp.ACCESS, PortVlans("ge-0/0/7"))
    switch.failures.append(errors.TransientUpstreamError("switch: connection reset"))
    with pytest.raises(errors.TransientUpstreamError):
        await phase.execute(CTX)
    assert isinstance(await phase.execute(CTX), Done)


async def test_without_a_switch_backend_the_job_fails_permanently_saying_why() -> None:
    with pytest.raises(errors.PermanentUpstreamError, match="FLUXBILLING_SWITCH_BACKEND=none"):
        await SwitchPortPhase(None).execute(CTX)
