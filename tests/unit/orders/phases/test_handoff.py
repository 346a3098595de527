from __future__ import annotations

import re

import pytest

from fluxbilling import errors
from fluxbilling.engine.outcome import Done
from fluxbilling.handoff import reveal
from fluxbilling.orders.phases.handoff import HandoffPhase
from fluxbilling.orders.pipeline import Phase
from fluxbilling.redaction import MASK
from fluxbilling.testing import NO_CONNECTION, phase_context
from tests.unit.orders.phases.phasesupport import ORDER_ID, SERVICE_ID, Rig, order_view

pytestmark = pytest.mark.anyio

CTX = phase_context(ORDER_ID, Phase.HANDOFF)
MESSAGE_ID = f"<order-{ORDER_ID}-welcome@fluxbilling>"


def ready_rig(password_delivery: str = "mail") -> Rig:  # noqa: S107 - a mode
    rig = Rig(view=order_view(service_status="installed", password_delivery=password_delivery))
    rig.seal_password("correct-horse-battery")
    return rig


def reveal_url(text: str) -> str:
    """The one reveal link in a mail's text."""
    [url] = re.findall(r"https://billing\.example\.net/reveal/\S+", text)
    return str(url)


async def test_the_welcome_mail_is_queued_masked_and_sent_with_the_password() -> None:
    rig = ready_rig()
    out = await HandoffPhase(rig.deps).execute(CTX)
    assert out == Done({"service_id": SERVICE_ID, "mail": MESSAGE_ID, "to": "ada@example.net"})
    [sent] = rig.mailer.sent
    assert (sent.message_id, sent.to, sent.sender) == (
        MESSAGE_ID,
        "ada@example.net",
        "hello@hosting.example",
    )
    assert "correct-horse-battery" in sent.text
    assert "192.0.2.10" in sent.text
    kept = rig.store.outbox[MESSAGE_ID]
    assert "correct-horse-battery" not in kept.body_masked
    assert MASK in kept.body_masked
    assert kept.subject == sent.subject
    assert rig.store.mail_status == {MESSAGE_ID: "sent"}


async def test_a_retry_after_the_mail_went_out_does_not_send_it_again() -> None:
    rig = ready_rig()
    phase = HandoffPhase(rig.deps)
    await phase.execute(CTX)
    await phase.execute(CTX)
    assert len(rig.mailer.sent) == 1


async def test_a_failed_send_leaves_the_mail_queued_for_the_retry() -> None:
    rig = ready_rig()
    rig.mailer.failures.append(errors.TransientUpstreamError("421 try later", upstream="smtp"))
    phase = HandoffPhase(rig.deps)
    with pytest.raises(errors.TransientUpstreamError):
        await phase.execute(CTX)
    assert rig.store.mail_status == {MESSAGE_ID: "queued"}
    await phase.execute(CTX)
    assert len(rig.mailer.sent) == 1
    assert rig.store.mail_status == {MESSAGE_ID: "sent"}


async def test_handoff_without_sealed_credentials_is_our_bug() -> None:
    rig = Rig(view=order_view(service_status="installed"))
    with pytest.raises(errors.InvariantViolation, match="without sealed credentials"):
        await HandoffPhase(rig.deps).execute(CTX)
    assert rig.mailer.sent == []


async def test_commit_makes_the_service_and_the_order_active() -> None:
    rig = ready_rig()
    done = Done({"service_id": SERVICE_ID, "mail": MESSAGE_ID, "to": "ada@example.net"})
    assert await HandoffPhase(rig.deps).commit(NO_CONNECTION, CTX, done) == done.output
    assert rig.service["status"] == "active"
    assert rig.store.views[ORDER_ID].order["state"] == "active"
    [row] = rig.store.activity  # one event, one row: both moves are on it
    assert (row.event, row.message) == (
        "service_active",
        f"welcome mail {MESSAGE_ID} sent to ada@example.net; service is active",
    )
    assert row.data == {
        "service": {"id": SERVICE_ID, "event": "handed_off", "to": "active"},
        "order": {"event": "handed_off", "to": "active"},
    }


async def test_commit_refuses_an_order_that_is_not_provisioning() -> None:
    rig = Rig(view=order_view(service_status="installed", order_state="cancelled"))
    done = Done({"service_id": SERVICE_ID, "mail": MESSAGE_ID, "to": "ada@example.net"})
    with pytest.raises(errors.IllegalTransition):
        await HandoffPhase(rig.deps).commit(NO_CONNECTION, CTX, done)


async def test_under_reveal_link_the_mail_carries_a_one_time_link_and_no_password() -> None:
    rig = ready_rig("reveal_link")
    await HandoffPhase(rig.deps).execute(CTX)
    [sent] = rig.mailer.sent
    assert "correct-horse-battery" not in sent.text
    url = reveal_url(sent.text)
    token = url.rsplit("/", 1)[1]
    assert reveal.well_formed(token)
    assert "expires after 72 hours" in sent.text
    [link] = rig.store.reveal_links
    assert link == {
        "service_id": SERVICE_ID,
        "token_hash": reveal.token_hash(token),
        "hours": 72,
        "revoked": False,
    }
    kept = rig.store.outbox[MESSAGE_ID].body_masked
    assert token not in kept and "correct-horse-battery" not in kept
    assert MASK in kept
    assert "reveal_link_issued" in rig.store.events(ORDER_ID)


async def test_a_resend_under_reveal_link_issues_a_new_link_and_revokes_the_first() -> None:
    rig = ready_rig("reveal_link")
    rig.mailer.failures.append(errors.TransientUpstreamError("421 try later", upstream="smtp"))
    phase = HandoffPhase(rig.deps)
    with pytest.raises(errors.TransientUpstreamError):
        await phase.execute(CTX)
    await phase.execute(CTX)
    [sent] = rig.mailer.sent
    token = reveal_url(sent.text).rsplit("/", 1)[1]
    first, second = rig.store.reveal_links
    assert first["revoked"] and not second["revoked"]
    assert second["token_hash"] == reveal.token_hash(token)


async def test_no_link_is_issued_once_the_mail_went_out() -> None:
    rig = ready_rig("reveal_link")
    phase = HandoffPhase(rig.deps)
    await phase.execute(CTX)
    await phase.execute(CTX)
    assert len(rig.store.reveal_links) == 1
    assert len(rig.mailer.sent) == 1


async def test_under_mail_no_link_is_issued() -> None:
    rig = ready_rig()
    await HandoffPhase(rig.deps).execute(CTX)
    assert rig.store.reveal_links == []
    assert "/reveal/" not in rig.mailer.sent[0].text
