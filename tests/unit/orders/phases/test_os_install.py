from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
import yaml

from fluxbilling import errors
from fluxbilling.drivers.driver import Verb
from fluxbilling.drivers.outcome import Done, Pending
from fluxbilling.orders.phases import service_firewall
from fluxbilling.orders.phases.os_install import OsInstallPhase
from fluxbilling.orders.pipeline import Phase
from fluxbilling.testing import NO_CONNECTION, FakeDriver, phase_context
from tests.unit.orders.phases.phasesupport import (
    IMAGE_SHA256,
    IMAGE_URL,
    ORDER_ID,
    SERVICE_ID,
    Rig,
    order_view,
)

pytestmark = pytest.mark.anyio

CTX = phase_context(ORDER_ID, Phase.OS_INSTALL)
IMAGE = {"image": "debian-12", "sha256": IMAGE_SHA256}


def installed_rig(
    *,
    service_type: str = "vps",
    ours: bool = True,
    with_image: bool = True,
    driver: FakeDriver | None = None,
) -> Rig:
    """A provisioned service with a password, on the fake driver."""
    view = order_view(
        service_status="provisioned", service_type=service_type, ours=ours, with_image=with_image
    )
    rig = Rig(view=view, driver=driver or FakeDriver("fake", connection_type="acme"))
    rig.seal_password()
    return rig


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def test_our_cloud_init_goes_to_the_drivers_reinstall_verb() -> None:
    rig = installed_rig()
    rig.driver.script(Verb.REINSTALL, Done({"service_data": {}}))
    out = await OsInstallPhase(rig.deps).execute(CTX)
    assert rig.images.checked == [(IMAGE_URL, IMAGE_SHA256)]
    ruleset = service_firewall.ruleset_for(rig.store.views[ORDER_ID])
    assert ruleset is not None
    [call] = rig.driver.calls
    assert call.verb == Verb.REINSTALL
    documents = call.context["cloud_init"]
    assert 'fqdn: "web1.example.net"' in documents["user_data"]
    assert "192.0.2.10/24" in documents["network_config"]
    assert call.context["credentials"]["password"] == "correct-horse-battery"
    password, password_hash = call.secrets
    assert password == "correct-horse-battery"
    assert password_hash.startswith("$6$")
    assert password_hash in documents["user_data"]
    assert out == Done(
        {
            "service_id": SERVICE_ID,
            "mode": "reinstall",
            **IMAGE,
            "user_data_sha256": sha256(documents["user_data"]),
            "firewall": {"enforced_by": "cloud-init", "sha256": ruleset.sha256},
            "handed_over": True,
        }
    )
    [nft_file] = [
        f
        for f in yaml.safe_load(documents["user_data"])["write_files"]
        if f["path"] == "/etc/nftables.conf"
    ]
    assert nft_file["content"] == ruleset.text
    assert "ip saddr != { 192.0.2.10 } drop" in ruleset.text


async def test_a_product_with_its_firewall_off_gets_no_ruleset() -> None:
    rig = installed_rig()
    rig.store.views[ORDER_ID].product["firewall"] = {"enabled": False}
    rig.driver.script(Verb.REINSTALL, Done({"service_data": {}}))
    out = await OsInstallPhase(rig.deps).execute(CTX)
    [call] = rig.driver.calls
    assert "nftables" not in call.context["cloud_init"]["user_data"]
    assert isinstance(out, Done)
    assert "firewall" not in out.output


async def test_the_documents_are_kept_sealed_before_the_driver_sees_them() -> None:
    rig = installed_rig()
    await OsInstallPhase(rig.deps).execute(CTX)
    [kept] = rig.store.cursors
    assert kept["flow"] is None
    sent = rig.driver.calls[0].context["cloud_init"]
    opened = json.loads(rig.vault.open(kept["cloud_init_sealed"]))
    assert {k: opened[k] for k in sent} == sent


async def test_a_waiting_reinstall_resumes_with_the_same_documents() -> None:
    rig = installed_rig()
    rig.driver.script(Verb.REINSTALL, Pending({"task": 5}, timedelta(seconds=30)), Done())
    phase = OsInstallPhase(rig.deps)
    waiting = await phase.execute(CTX)
    assert isinstance(waiting, Pending)
    assert waiting.check_after == timedelta(seconds=30)
    assert waiting.cursor["flow"] == {"task": 5}
    resumed = phase_context(ORDER_ID, Phase.OS_INSTALL, cursor=waiting.cursor)
    done = await phase.execute(resumed)
    first, second = rig.driver.calls
    assert (first.cursor, second.cursor) == (None, {"task": 5})
    assert first.context["cloud_init"] == second.context["cloud_init"]
    assert isinstance(done, Done)
    assert done.output["user_data_sha256"] == sha256(first.context["cloud_init"]["user_data"])
    assert len(rig.images.checked) == 1, "a resumed install does not fetch the image again"
    assert len(rig.store.cursors) == 1


async def test_a_checksum_mismatch_quarantines_the_image_and_calls_no_driver() -> None:
    rig = installed_rig()
    rig.images.failing[IMAGE_URL] = errors.PermanentUpstreamError("image sha256 mismatch")
    with pytest.raises(errors.PermanentUpstreamError, match="mismatch"):
        await OsInstallPhase(rig.deps).execute(CTX)
    assert rig.store.quarantined == {4}
    assert rig.driver.calls == []


async def test_an_image_out_of_service_is_refused_unread() -> None:
    rig = installed_rig()
    rig.store.views[ORDER_ID].image["status"] = "quarantined"
    with pytest.raises(errors.PermanentUpstreamError, match="is quarantined"):
        await OsInstallPhase(rig.deps).execute(CTX)
    assert rig.images.checked == []


async def test_a_panel_that_installs_at_creation_is_only_recorded() -> None:
    rig = installed_rig()
    rig.driver.os_install = "provision"
    out = await OsInstallPhase(rig.deps).execute(CTX)
    assert out == Done(
        {"service_id": SERVICE_ID, "mode": "provision", **IMAGE, "handed_over": False}
    )
    assert rig.driver.calls == []
    assert rig.images.checked == []


async def test_a_driver_without_reinstall_renders_but_hands_nothing_over() -> None:
    rig = installed_rig(driver=FakeDriver("fake", capabilities={"canProvision"}))
    out = await OsInstallPhase(rig.deps).execute(CTX)
    assert isinstance(out, Done)
    assert out.output["handed_over"] is False
    assert len(out.output["user_data_sha256"]) == 64
    assert rig.driver.calls == []


async def test_shared_hosting_installs_nothing() -> None:
    rig = installed_rig(service_type="shared", ours=False)
    rig.driver.os_install = "none"
    out = await OsInstallPhase(rig.deps).execute(CTX)
    assert out == Done({"service_id": SERVICE_ID, "mode": "none"})
    await OsInstallPhase(rig.deps).commit(NO_CONNECTION, CTX, out)
    assert rig.service["status"] == "provisioned"
    assert [(a.event, a.message) for a in rig.store.activity] == [
        (
            "os_install_recorded",
            "no OS install: the provider runs this service on its own platform",
        )
    ]


async def test_a_product_without_an_image_is_a_settings_error() -> None:
    rig = installed_rig(with_image=False)
    with pytest.raises(errors.InvalidSettings, match="has no OS image"):
        await OsInstallPhase(rig.deps).execute(CTX)


async def test_our_cloud_init_needs_an_address_from_our_ipam() -> None:
    rig = installed_rig(ours=False)
    with pytest.raises(errors.InvalidSettings, match="needs an address from our IPAM"):
        await OsInstallPhase(rig.deps).execute(CTX)
    assert rig.driver.calls == []


async def test_commit_records_the_image_and_moves_the_service() -> None:
    rig = installed_rig()
    done = Done({"service_id": SERVICE_ID, "mode": "reinstall", **IMAGE, "handed_over": True})
    assert await OsInstallPhase(rig.deps).commit(NO_CONNECTION, CTX, done) == done.output
    assert rig.service["status"] == "installed"
    assert rig.service["service_data"]["os"] == {
        "image": "debian-12",
        "sha256": IMAGE_SHA256,
        "by": "reinstall",
    }
    [row] = rig.store.activity
    assert (row.event, row.message) == (
        "os_install_recorded",
        "debian-12 (sha256 verified) installed with our cloud-init",
    )
    assert row.data == {
        "mode": "reinstall",
        "service": {"id": SERVICE_ID, "event": "installed", "to": "installed"},
    }


async def test_commit_of_a_panel_install_names_the_panel() -> None:
    rig = installed_rig()
    done = Done({"service_id": SERVICE_ID, "mode": "provision", **IMAGE, "handed_over": False})
    await OsInstallPhase(rig.deps).commit(NO_CONNECTION, CTX, done)
    assert rig.service["service_data"]["os"]["by"] == "provision"
    assert rig.store.activity[-1].message == (
        "debian-12 was installed by the panel when the service was created"
    )
