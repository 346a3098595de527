"""payments.md §7 for every gateway, on SQLite and PostgreSQL: checkout through the API, the
gateway's own signed notifications from its simulator, our ledger, the reconciler.

Each scenario runs for Stripe, Mollie, PayPal and CoinGate (`payments.GATEWAYS`); what only
one gateway has (PayPal's certificate URL, CoinGate's token) is in the gateway's own tests.
"""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap, metrics
from fluxbilling.billing.reconciler import Reconciler
from fluxbilling.db import schema
from tests.integration.accounts import audit_rows
from tests.integration.payments import (
    GATEWAYS,
    PAID,
    Driver,
    PaymentSims,
    checkout_order,
    driver_for,
    ledger_state,
    start_checkout,
)
from tests.integration.support import activity, finish, rows, service_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(params=GATEWAYS)
def gateway(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def driver(gateway: str, payments: PaymentSims, api: httpx.AsyncClient) -> Driver:
    return driver_for(gateway, payments, api)


async def outcomes(inst: bootstrap.Installation, gateway: str) -> Counter[str]:
    table = schema.webhook_events
    found = await rows(inst, sa.select(table.c.outcome).where(table.c.gateway == gateway))
    return Counter(str(r.outcome) for r in found)


async def test_a_paid_checkout_provisions_once(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, invoice_id, ref = await checkout_order(
        installation, api, gateway, "pay-1.example.net"
    )
    assert (await ledger_state(installation, order_id))["invoice"] == "unpaid"

    await driver.pay(ref)
    statuses = await driver.notify()

    assert statuses and set(statuses) == {200}, statuses
    state = await ledger_state(installation, order_id)
    assert state == PAID
    assert (await outcomes(installation, gateway))["processed"] == 1
    invoice = (await api.get(f"/api/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "paid"
    assert [a["gateway_ref"] for a in invoice["attempts"]] == [ref]
    assert "callback_token_hash" not in invoice["attempts"][0]
    deliveries = await api.get("/api/v1/webhook-deliveries", params={"invoice_id": invoice_id})
    assert "processed" in {d["outcome"] for d in deliveries.json()["items"]}


async def test_a_notification_storm_pays_once(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, _, ref = await checkout_order(installation, api, gateway, "storm-1.example.net")
    await driver.pay(ref)
    captured = await driver.capture()
    assert captured

    for request in captured:  # PayPal: the approval, whose handling captures the order
        answers = await driver.replay(request, 50)
        assert {a.status_code for a in answers} == {200}, {a.text for a in answers}
    await driver.notify()  # what the handling queued (PayPal's capture completion)

    assert await ledger_state(installation, order_id) == PAID
    seen = await outcomes(installation, gateway)
    assert seen["processed"] == 1
    assert seen["duplicate"] >= 49


async def test_the_same_notification_again_later_changes_nothing(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, _, ref = await checkout_order(installation, api, gateway, "again-1.example.net")
    await driver.pay(ref)
    captured = await driver.capture()
    for request in captured:
        (first,) = await driver.replay(request, 1)
        assert first.status_code == 200, first.text
    await driver.notify()
    before = await ledger_state(installation, order_id)

    again = [(await driver.replay(request, 1))[0] for request in captured]

    assert {a.status_code for a in again} == {200}
    assert {a.json()["outcome"] for a in again} == {"duplicate"}
    assert await ledger_state(installation, order_id) == before
    assert (before["invoice"], before["payments"], before["runs"]) == ("paid", 1, 1)


async def test_notifications_in_reverse_order_converge(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, _, ref = await checkout_order(installation, api, gateway, "reorder-1.example.net")
    await driver.pay(ref)
    assert set(await driver.notify(reverse=True)) == {200}

    state = await ledger_state(installation, order_id)
    assert (state["invoice"], state["payments"], state["runs"]) == ("paid", 1, 1)


async def test_a_late_failure_of_another_attempt_never_downgrades(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, invoice_id, first = await checkout_order(
        installation, api, gateway, "late-1.example.net"
    )
    second = await start_checkout(api, gateway, invoice_id)
    assert second != first
    await driver.pay(first)
    await driver.notify()
    assert (await ledger_state(installation, order_id))["invoice"] == "paid"

    await driver.expire(second)
    assert set(await driver.notify()) == {200}

    assert await ledger_state(installation, order_id) == PAID
    invoice = (await api.get(f"/api/v1/invoices/{invoice_id}")).json()
    assert [a["gateway_ref"] for a in invoice["attempts"]] == [first, second]


async def test_an_earlier_attempt_paid_later_still_pays_the_invoice(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, invoice_id, first = await checkout_order(
        installation, api, gateway, "early-1.example.net"
    )
    await start_checkout(api, gateway, invoice_id)  # the customer came back and started again

    await driver.pay(first)
    await driver.notify()

    state = await ledger_state(installation, order_id)
    assert (state["invoice"], state["payments"], state["runs"]) == ("paid", 1, 1)


async def test_a_lost_webhook_is_recovered_by_the_reconciler_once(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, invoice_id, ref = await checkout_order(
        installation, api, gateway, "lost-1.example.net"
    )
    before = metrics.RECONCILER_CORRECTIONS.labels(gateway)._value.get()
    await driver.pay(ref)
    assert driver.drop() >= 1
    assert (await ledger_state(installation, order_id))["invoice"] == "unpaid"

    first = (await api.post("/api/v1/reconciler/run")).json()
    second = (await api.post("/api/v1/reconciler/run")).json()

    assert first["corrected"] == [invoice_id], first
    assert second["corrected"] == [], second
    assert await ledger_state(installation, order_id) == PAID
    events = [a.event for a in await activity(installation, order_id)]
    assert events.count("reconciled") == 1
    assert metrics.RECONCILER_CORRECTIONS.labels(gateway)._value.get() == before + 1


async def test_a_lost_refund_webhook_is_found_by_the_daily_recheck_of_paid_invoices(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, invoice_id, ref = await checkout_order(
        installation, api, gateway, "lostre-1.example.net"
    )
    await driver.pay(ref)
    await driver.notify()
    await driver.refund(ref, 100)
    assert driver.drop() >= 1
    reconciler = Reconciler(
        installation.db,
        installation.store,
        installation.gateways,
        installation.reversal_policy(),
        after=0,
        paid_recheck=0,
    )
    assert (await installation.reconciler().run_once()).corrected == []  # not due yet

    first = await reconciler.run_once()
    second = await reconciler.run_once()

    assert (first.corrected, second.corrected) == ([invoice_id], [])
    state = await ledger_state(installation, order_id)
    assert (state["invoice"], state["reversals"], state["runs"]) == (
        "paid",
        [("refund", 100, False)],
        1,
    )
    reconciled = [a for a in await activity(installation, order_id) if a.event == "reconciled"]
    assert len(reconciled) == 1 and "refund_partial" in reconciled[0].message


async def test_an_open_checkout_is_checked_but_left_open(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, invoice_id, _ = await checkout_order(installation, api, gateway, "open-1.example.net")

    report = (await api.post("/api/v1/reconciler/run")).json()
    synced = (await api.post(f"/api/v1/invoices/{invoice_id}/sync")).json()

    assert report["corrected"] == [] and report["errors"] == [], report
    assert report["checked"] >= 1
    assert synced["results"], synced
    assert (await ledger_state(installation, order_id))["invoice"] == "unpaid"
    invoice = (await api.get(f"/api/v1/invoices/{invoice_id}")).json()
    assert invoice["attempts"][0]["checked_at"] is not None
    ran, asked = (
        await audit_rows(installation, "reconciler.run"),
        await audit_rows(installation, "invoice.sync"),
    )
    assert [(r.actor, r.changes["corrected"]) for r in ran] == [("installation-token", [])]
    assert [(r.entity_id, r.changes["outcomes"]) for r in asked] == [
        (str(invoice_id), [r["outcome"] for r in synced["results"]])
    ]


async def test_a_full_refund_suspends_the_service_and_a_partial_one_does_not(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, _, ref = await checkout_order(installation, api, gateway, "refund-9.example.net")
    await driver.pay(ref)
    await driver.notify()
    assert (await finish(installation, order_id)).state == "completed"

    await driver.refund(ref, 100)
    assert set(await driver.notify()) == {200}
    state = await ledger_state(installation, order_id)
    assert (state["invoice"], state["reversals"]) == ("paid", [("refund", 100, False)])

    await driver.refund(ref)  # the rest
    assert set(await driver.notify()) == {200}
    await finish_actions(installation, order_id)

    state = await ledger_state(installation, order_id)
    assert (state["invoice"], state["runs"]) == ("refunded", 1)
    # Stripe and CoinGate: one cumulative refund; Mollie and PayPal: one per refund.
    assert {kind for kind, _, _ in state["reversals"]} == {"refund"}
    assert [full for _, _, full in state["reversals"]].count(True) == 1
    assert (await service_of(installation, order_id)).status == "suspended"
    assert await action_verbs(installation, order_id) == ["suspend"]
    events = [a.event for a in await activity(installation, order_id)]
    assert events.count("payment_refund") == 2


async def test_a_chargeback_suspends_the_service(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, _, ref = await checkout_order(installation, api, gateway, "dispute-9.example.net")
    await driver.pay(ref)
    await driver.notify()
    assert (await finish(installation, order_id)).state == "completed"

    await driver.chargeback(ref)
    assert set(await driver.notify()) == {200}
    await finish_actions(installation, order_id)

    state = await ledger_state(installation, order_id)
    assert state["invoice"] == "disputed"
    assert [(kind, full) for kind, _, full in state["reversals"]] == [("dispute", True)]
    assert (await service_of(installation, order_id)).status == "suspended"
    assert await action_verbs(installation, order_id) == ["suspend"]


async def action_verbs(inst: bootstrap.Installation, order_id: int) -> list[str]:
    """The lifecycle actions of the order's service, oldest first."""
    actions = schema.service_actions
    found = await rows(
        inst,
        sa.select(actions.c.verb).where(actions.c.order_id == order_id).order_by(actions.c.id),
    )
    return [str(r.verb) for r in found]


async def finish_actions(inst: bootstrap.Installation, order_id: int) -> None:
    """Work the lifecycle actions the reversal policy queued until none is left running."""
    runs = schema.runs
    for _ in range(10):
        await finish_pending(inst)
        open_runs = await rows(
            inst,
            sa.select(runs.c.id).where(
                runs.c.order_id == order_id,
                runs.c.kind == "action",
                runs.c.state.notin_(("completed", "failed", "cancelled")),
            ),
        )
        if not open_runs:
            return


async def finish_pending(inst: bootstrap.Installation) -> None:
    from tests.integration.support import drain

    await drain(inst)
