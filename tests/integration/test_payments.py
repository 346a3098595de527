"""payments.md §7 for every gateway, on SQLite and PostgreSQL: checkout through the API, the
gateway's own signed notifications from its simulator, our ledger, the reconciler.

Each scenario runs for Stripe, Mollie, PayPal and CoinGate (`payments.GATEWAYS`); what only
one gateway has (PayPal's certificate URL, CoinGate's token) is in the gateway's own tests.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap, metrics
from fluxbilling.db import schema
from tests.integration.payments import GATEWAYS, Driver, PaymentSims, driver_for
from tests.integration.support import activity, finish, place_order, rows, service_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(params=GATEWAYS)
def gateway(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def driver(gateway: str, payments: PaymentSims, api: httpx.AsyncClient) -> Driver:
    return driver_for(gateway, payments, api)


async def checkout(api: httpx.AsyncClient, gateway: str, invoice_id: int) -> str:
    """Start a checkout through the API; the gateway object's id."""
    response = await api.post(f"/api/v1/invoices/{invoice_id}/checkout", json={"gateway": gateway})
    assert response.status_code == 201, response.text
    started = response.json()
    assert started["redirect_url"].startswith("http")
    return str(started["gateway_ref"])


async def new_order(
    inst: bootstrap.Installation, api: httpx.AsyncClient, gateway: str, hostname: str
) -> tuple[int, int, str]:
    """An order with a checkout at `gateway`: (order id, invoice id, gateway ref)."""
    created = await place_order(inst, hostname)
    invoice_id = int(created["invoice"]["id"])
    ref = await checkout(api, gateway, invoice_id)
    return int(created["order"]["id"]), invoice_id, ref


async def money(inst: bootstrap.Installation, order_id: int) -> dict[str, Any]:
    """The order's state, its invoice, payments, reversals and provision runs."""
    t = schema
    (order,) = await rows(inst, sa.select(t.orders).where(t.orders.c.id == order_id))
    (invoice,) = await rows(inst, sa.select(t.invoices).where(t.invoices.c.order_id == order_id))
    payments = await rows(inst, sa.select(t.payments).where(t.payments.c.invoice_id == invoice.id))
    reversals = await rows(
        inst, sa.select(t.money_reversals).where(t.money_reversals.c.invoice_id == invoice.id)
    )
    runs = await rows(
        inst,
        sa.select(t.runs).where(t.runs.c.order_id == order_id, t.runs.c.kind == "provision"),
    )
    return {
        "order": order.state,
        "invoice": invoice.status,
        "payments": len(payments),
        "reversals": sorted((r.kind, r.full) for r in reversals),
        "runs": len(runs),
    }


async def outcomes(inst: bootstrap.Installation, gateway: str) -> Counter[str]:
    table = schema.webhook_events
    found = await rows(inst, sa.select(table.c.outcome).where(table.c.gateway == gateway))
    return Counter(str(r.outcome) for r in found)


async def test_a_paid_checkout_provisions_once(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, invoice_id, ref = await new_order(installation, api, gateway, "pay-1.example.net")
    assert (await money(installation, order_id))["invoice"] == "unpaid"

    await driver.pay(ref)
    statuses = await driver.notify()

    assert statuses and set(statuses) == {200}, statuses
    state = await money(installation, order_id)
    assert state == {
        "order": "provisioning_pending",
        "invoice": "paid",
        "payments": 1,
        "reversals": [],
        "runs": 1,
    }
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
    order_id, _, ref = await new_order(installation, api, gateway, "storm-1.example.net")
    await driver.pay(ref)
    captured = await driver.capture()
    assert captured

    for request in captured:  # PayPal: the approval, whose handling captures the order
        answers = await driver.replay(request, 50)
        assert {a.status_code for a in answers} == {200}, {a.text for a in answers}
    await driver.notify()  # what the handling queued (PayPal's capture completion)

    assert await money(installation, order_id) == {
        "order": "provisioning_pending",
        "invoice": "paid",
        "payments": 1,
        "reversals": [],
        "runs": 1,
    }
    seen = await outcomes(installation, gateway)
    assert seen["processed"] == 1
    assert seen["duplicate"] >= 49


async def test_notifications_in_reverse_order_converge(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, _, ref = await new_order(installation, api, gateway, "reorder-1.example.net")
    await driver.pay(ref)
    assert set(await driver.notify(reverse=True)) == {200}

    state = await money(installation, order_id)
    assert (state["invoice"], state["payments"], state["runs"]) == ("paid", 1, 1)


async def test_a_late_failure_of_another_attempt_never_downgrades(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, invoice_id, first = await new_order(installation, api, gateway, "late-1.example.net")
    second = await checkout(api, gateway, invoice_id)
    assert second != first
    await driver.pay(first)
    await driver.notify()
    assert (await money(installation, order_id))["invoice"] == "paid"

    await driver.expire(second)
    assert set(await driver.notify()) == {200}

    assert await money(installation, order_id) == {
        "order": "provisioning_pending",
        "invoice": "paid",
        "payments": 1,
        "reversals": [],
        "runs": 1,
    }
    invoice = (await api.get(f"/api/v1/invoices/{invoice_id}")).json()
    assert [a["gateway_ref"] for a in invoice["attempts"]] == [first, second]


async def test_an_earlier_attempt_paid_later_still_pays_the_invoice(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, invoice_id, first = await new_order(installation, api, gateway, "early-1.example.net")
    await checkout(api, gateway, invoice_id)  # the customer came back and started again

    await driver.pay(first)
    await driver.notify()

    state = await money(installation, order_id)
    assert (state["invoice"], state["payments"], state["runs"]) == ("paid", 1, 1)


async def test_a_lost_webhook_is_recovered_by_the_reconciler_once(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, invoice_id, ref = await new_order(installation, api, gateway, "lost-1.example.net")
    before = metrics.RECONCILER_CORRECTIONS.labels(gateway)._value.get()
    await driver.pay(ref)
    assert driver.drop() >= 1
    assert (await money(installation, order_id))["invoice"] == "unpaid"

    first = (await api.post("/api/v1/reconciler/run")).json()
    second = (await api.post("/api/v1/reconciler/run")).json()

    assert first["corrected"] == [invoice_id], first
    assert second["corrected"] == [], second
    assert await money(installation, order_id) == {
        "order": "provisioning_pending",
        "invoice": "paid",
        "payments": 1,
        "reversals": [],
        "runs": 1,
    }
    events = [a.event for a in await activity(installation, order_id)]
    assert events.count("reconciled") == 1
    assert metrics.RECONCILER_CORRECTIONS.labels(gateway)._value.get() == before + 1


async def test_an_open_checkout_is_checked_but_left_open(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, invoice_id, _ = await new_order(installation, api, gateway, "open-1.example.net")

    report = (await api.post("/api/v1/reconciler/run")).json()
    synced = (await api.post(f"/api/v1/invoices/{invoice_id}/sync")).json()

    assert report["corrected"] == [] and report["errors"] == [], report
    assert report["checked"] >= 1
    assert synced["results"], synced
    assert (await money(installation, order_id))["invoice"] == "unpaid"
    invoice = (await api.get(f"/api/v1/invoices/{invoice_id}")).json()
    assert invoice["attempts"][0]["checked_at"] is not None


async def test_a_full_refund_suspends_the_service_and_a_partial_one_does_not(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, _, ref = await new_order(installation, api, gateway, "refund-9.example.net")
    await driver.pay(ref)
    await driver.notify()
    assert (await finish(installation, order_id)).state == "completed"

    await driver.refund(ref, 100)
    assert set(await driver.notify()) == {200}
    state = await money(installation, order_id)
    assert (state["invoice"], state["reversals"]) == ("paid", [("refund", False)])

    await driver.refund(ref)  # the rest
    assert set(await driver.notify()) == {200}
    await finish_actions(installation, order_id)

    state = await money(installation, order_id)
    assert (state["invoice"], state["runs"]) == ("refunded", 1)
    # Stripe and CoinGate: one cumulative refund; Mollie and PayPal: one per refund.
    assert {kind for kind, _ in state["reversals"]} == {"refund"}
    assert [full for _, full in state["reversals"]].count(True) == 1
    assert (await service_of(installation, order_id)).status == "suspended"
    assert await action_verbs(installation, order_id) == ["suspend"]
    events = [a.event for a in await activity(installation, order_id)]
    assert events.count("payment_refund") == 2


async def test_a_chargeback_suspends_the_service(
    installation: bootstrap.Installation, api: httpx.AsyncClient, driver: Driver, gateway: str
) -> None:
    order_id, _, ref = await new_order(installation, api, gateway, "dispute-9.example.net")
    await driver.pay(ref)
    await driver.notify()
    assert (await finish(installation, order_id)).state == "completed"

    await driver.chargeback(ref)
    assert set(await driver.notify()) == {200}
    await finish_actions(installation, order_id)

    state = await money(installation, order_id)
    assert state["invoice"] == "disputed"
    assert ("dispute", True) in state["reversals"]
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
