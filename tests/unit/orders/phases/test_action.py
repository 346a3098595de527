from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.allocation.reservation import Reservation
from fluxbilling.drivers.driver import Verb
from fluxbilling.drivers.outcome import Done, Pending
from fluxbilling.orders.actions import SEALED
from fluxbilling.orders.phases.action import ActionPhase
from fluxbilling.orders.phases.store import ActionRow
from fluxbilling.orders.pipeline import ACTION_KIND, Phase
from fluxbilling.testing import NO_CONNECTION, phase_context
from tests.unit.orders.phases.phasesupport import ORDER_ID, SERVICE_ID, Rig, order_view

pytestmark = pytest.mark.anyio

RUN_ID = 40
ACTION_ID = 3
CTX = phase_context(ORDER_ID, Phase.ACTION, run_id=RUN_ID, kind=ACTION_KIND)


def action_rig(
    verb: str, params: dict[str, Any] | None = None, *, secret: str | None = None
) -> Rig:
    """An active service pinned on `fake@1`, with one `verb` action queued by run 40."""
    rig = Rig(view=order_view(service_status="active"))
    rig.service.update(plugin_slug="fake", plugin_version=1)
    rig.seal_password("old-password")
    rig.store.actions[RUN_ID] = ActionRow(
        id=ACTION_ID,
        service_id=SERVICE_ID,
        verb=verb,
        params=params or {},
        plugin_slug="fake",
        plugin_version=1,
        reason="customer asked",
        secret_sealed=None if secret is None else rig.vault.seal(secret),
    )
    return rig


async def run(rig: Rig) -> Done:
    """Execute and commit the queued action, as the worker would."""
    phase = ActionPhase(rig.deps)
    done = await phase.execute(CTX)
    assert isinstance(done, Done)
    await phase.commit(NO_CONNECTION, CTX, done)
    return done


async def test_suspend_calls_the_driver_and_suspends_the_service() -> None:
    rig = action_rig("suspend")
    rig.driver.script(
        Verb.SUSPEND, Done({"service_data": {"suspended_at": "now"}, "result": {"ok": 1}})
    )
    done = await run(rig)
    [call] = rig.driver.calls
    assert call.verb == Verb.SUSPEND
    assert call.correlation_key == f"{ORDER_ID}:action:{RUN_ID}"
    assert call.context["action"] == {"verb": "suspend", "params": {}, "reason": "customer asked"}
    assert "credentials" not in call.context
    assert done.output["plugin"] == "fake@1"
    assert rig.service["status"] == "suspended"
    assert rig.service["service_data"]["suspended_at"] == "now"
    assert rig.store.action_results == {ACTION_ID: {"ok": 1}}
    [row] = rig.store.activity  # one event, one row: the service's move is on it
    assert (row.event, row.message) == ("action_completed", "suspend completed (ok)")
    assert row.data["service"] == {"id": SERVICE_ID, "event": "suspended", "to": "suspended"}


async def test_a_waiting_verb_is_handed_back() -> None:
    rig = action_rig("unsuspend")
    waiting = Pending({"task": 1}, timedelta(seconds=10))
    rig.driver.script(Verb.UNSUSPEND, waiting)
    assert await ActionPhase(rig.deps).execute(CTX) == waiting


async def test_console_keeps_its_session_sealed_and_out_of_the_activity_log() -> None:
    rig = action_rig("console")
    session = {"url": "https://panel.example.net/vnc?token=s3cret"}
    rig.driver.script(Verb.CONSOLE, Done({"result": session}))
    phase = ActionPhase(rig.deps)
    done = await phase.execute(CTX)
    assert isinstance(done, Done)
    out = await phase.commit(NO_CONNECTION, CTX, done)
    assert "result" not in out
    stored = rig.store.action_results[ACTION_ID]
    assert json.loads(rig.vault.open(stored[SEALED])) == session
    assert rig.service["status"] == "active"
    assert all("s3cret" not in a.message for a in rig.store.activity)
    [row] = rig.store.activity
    assert row.message == "console completed"
    assert "service" not in row.data  # nothing moved


async def test_resize_overlays_the_new_options_and_keeps_them_on_the_service() -> None:
    rig = action_rig("resize", {"options": {"plan_id": 9}})
    await run(rig)
    [call] = rig.driver.calls
    assert call.settings == {"plan_id": 9}
    assert call.context["options"] == {"plan_id": 9}
    assert rig.service["service_data"]["plan_options"] == {"plan_id": 9}
    assert rig.service["status"] == "active"
    assert rig.store.activity[-1].data["service"]["event"] == "resized"


async def test_reset_password_sends_the_new_password_and_keeps_it_when_confirmed() -> None:
    rig = action_rig("reset_password", secret="new-password")
    await run(rig)
    [call] = rig.driver.calls
    assert call.context["credentials"]["password"] == "new-password"
    assert call.secrets == ("new-password",)
    assert rig.vault.open(rig.service["root_password_sealed"]) == "new-password"


async def test_a_confirmed_reset_revokes_the_outstanding_reveal_links() -> None:
    rig = action_rig("reset_password", secret="new-password")
    await rig.store.issue_reveal_link(CTX, SERVICE_ID, "t" * 43, hours=72)
    await run(rig)
    assert [link["revoked"] for link in rig.store.reveal_links] == [True]
    assert "reveal_links_revoked" in rig.store.events(ORDER_ID)


async def test_a_reset_with_no_link_out_says_nothing_of_links() -> None:
    rig = action_rig("reset_password", secret="new-password")
    await run(rig)
    assert "reveal_links_revoked" not in rig.store.events(ORDER_ID)


async def test_other_verbs_leave_reveal_links_alone() -> None:
    rig = action_rig("reinstall")
    await rig.store.issue_reveal_link(CTX, SERVICE_ID, "t" * 43, hours=72)
    await run(rig)
    assert [link["revoked"] for link in rig.store.reveal_links] == [False]


async def test_reinstall_on_our_address_sends_cloud_init_with_the_services_password() -> None:
    rig = action_rig("reinstall")
    await run(rig)
    [call] = rig.driver.calls
    assert call.context["credentials"]["password"] == "old-password"
    assert call.secrets[0] == "old-password"
    assert call.secrets[1] in call.context["cloud_init"]["user_data"]
    assert rig.store.activity[-1].data["service"]["event"] == "reinstalled"


async def test_terminate_releases_the_capacity() -> None:
    rig = action_rig("terminate")
    rig.store.reservation = Reservation(21, "hv-ams1-01", 31, "192.0.2.10")
    await run(rig)
    assert rig.service["status"] == "terminated"
    assert rig.store.released == [ORDER_ID]
    released = [a for a in rig.store.activity if a.event == "capacity_released"]
    assert [a.message for a in released] == [
        "released 2048 MB / 2 vCPU / 40 GB on hv-ams1-01, address 192.0.2.10 cooling down"
    ]


async def test_terminate_deletes_the_ptr_the_network_phase_published() -> None:
    rig = action_rig("terminate")
    rig.service["service_data"]["network"] = {
        "address": "192.0.2.10",
        "ptr": {"zone": "2.0.192.in-addr.arpa", "name": "10.2.0.192.in-addr.arpa"},
    }
    rig.rdns.records = {"192.0.2.10": "web1.example.net", "192.0.2.11": "other.example.net"}
    done = await run(rig)
    assert done.output["ptr_removed"] == ["192.0.2.10"]
    assert rig.rdns.records == {"192.0.2.11": "other.example.net"}
    removed = [a.message for a in rig.store.activity if a.event == "rdns_removed"]
    assert removed == ["PTR of 192.0.2.10 deleted"]
    assert rig.store.released == [ORDER_ID]


async def test_terminate_deletes_the_hosts_forward_record_too() -> None:
    rig = action_rig("terminate")
    rig.service["service_data"]["network"] = {
        "address": "192.0.2.10",
        "ptr": {"zone": "2.0.192.in-addr.arpa", "name": "10.2.0.192.in-addr.arpa"},
        "forward": {"zone": "example.net.", "name": "web1.example.net.", "type": "A"},
    }
    rig.rdns.records = {"192.0.2.10": "web1.example.net"}
    rig.rdns.forward = {
        ("web1.example.net", "A"): "192.0.2.10",
        ("web2.example.net", "A"): "192.0.2.11",
    }
    await run(rig)
    assert rig.rdns.records == {}
    assert rig.rdns.forward == {("web2.example.net", "A"): "192.0.2.11"}


async def test_terminate_leaves_a_provider_address_ptr_alone() -> None:
    rig = action_rig("terminate")
    rig.service["service_data"]["network"] = {"address": "198.51.100.7", "ptr": None}
    rig.rdns.records = {"198.51.100.7": "shared.provider.example"}
    done = await run(rig)
    assert done.output["ptr_removed"] == []
    assert rig.rdns.records == {"198.51.100.7": "shared.provider.example"}
    assert not [a for a in rig.store.activity if a.event == "rdns_removed"]


async def test_a_failing_ptr_delete_fails_the_attempt_before_anything_is_released() -> None:
    rig = action_rig("terminate")
    rig.service["service_data"]["network"] = {"address": "192.0.2.10", "ptr": {"name": "x"}}
    rig.rdns.records = {"192.0.2.10": "web1.example.net"}
    rig.rdns.failures = [errors.TransientUpstreamError("DNS API away", upstream="powerdns")]
    with pytest.raises(errors.TransientUpstreamError):
        await ActionPhase(rig.deps).execute(CTX)
    assert rig.service["status"] == "active"
    assert rig.store.released == []
    await run(rig)  # the retry
    assert rig.rdns.records == {}
    assert rig.service["status"] == "terminated"


async def test_suspend_never_touches_the_ptr() -> None:
    rig = action_rig("suspend")
    rig.service["service_data"]["network"] = {"address": "192.0.2.10", "ptr": {"name": "x"}}
    rig.rdns.records = {"192.0.2.10": "web1.example.net"}
    await run(rig)
    assert rig.rdns.records == {"192.0.2.10": "web1.example.net"}


async def test_a_verb_the_driver_lacks_is_never_sent() -> None:
    rig = action_rig("stats")
    rig.driver.verbs = frozenset({"provision"})
    with pytest.raises(errors.InvalidFlow, match="has no 'stats' flow"):
        await ActionPhase(rig.deps).execute(CTX)
    assert rig.driver.calls == []


async def test_an_action_run_without_its_action_is_our_bug() -> None:
    rig = Rig()
    with pytest.raises(errors.InvariantViolation, match="has no service_actions row"):
        await ActionPhase(rig.deps).execute(CTX)
