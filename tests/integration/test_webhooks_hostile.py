"""Hostile webhook deliveries, on both databases: nothing anyone can POST answers 500, grows the
database without bound, stops the reconciler, or learns how we verify; nothing a gateway
signed is ever dropped.

The installation runs with small storage caps (`settings_overrides`) so the bounds show.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from fluxbilling import bootstrap
from fluxbilling.api import create_app
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.billing.gateway import AttemptLookup, Checkout, CheckoutRequest, Verified
from fluxbilling.billing.reconciler import Reconciler
from fluxbilling.billing.reversals import ReversalPolicy
from fluxbilling.billing.webhooks import GatewayEndpoint
from fluxbilling.config import Settings
from fluxbilling.db import schema
from fluxbilling_simulators import stripe as stripe_sim
from fluxbilling_simulators._coingate_state import encode_callback
from fluxbilling_simulators.mollie import MollieNotifier
from tests.integration.accounts import audit_rows
from tests.integration.payments import (
    PAID,
    PUBLIC_URL,
    UNPAID,
    PaymentSims,
    checkout_order,
    driver_for,
    ledger_state,
)
from tests.integration.support import place_and_pay, place_order, rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

BODY_BYTES = 1024
PER_SOURCE = 5
TOTAL = 8
BARE = {"code": "InvalidWebhook", "message": "not authentic", "details": {}}
# Nested far deeper than Python's recursion limit, well under the 256 KiB body limit.
DEEP = b'{"id": ' + b"[" * 5000 + b"]" * 5000 + b', "order_id": "1", "status": "paid"}'


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "webhook_rejected_body_bytes": BODY_BYTES,
        "webhook_unverified_per_source": PER_SOURCE,
        "webhook_unverified_total": TOTAL,
        "webhook_pending_per_source": 2,
        "webhook_failed_attempts": 3,
    }


def sender(inst: bootstrap.Installation, host: str = "198.51.100.7") -> httpx.AsyncClient:
    """A client posting from `host`; a 500 comes back as a response, not an exception."""
    transport = httpx.ASGITransport(
        app=create_app(inst), client=(host, 40000), raise_app_exceptions=False
    )
    return httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL)


@pytest.fixture
async def client(installation: bootstrap.Installation) -> AsyncIterator[httpx.AsyncClient]:
    async with sender(installation) as c:
        yield c


def signed(inst: bootstrap.Installation, body: bytes) -> dict[str, str]:
    return stripe_sim.signed_headers(body, inst.stripe_secrets[0], int(time.time()))


async def stored(inst: bootstrap.Installation, gateway: str | None = None) -> list[Any]:
    table = schema.webhook_events
    query = sa.select(table).order_by(table.c.id)
    if gateway is not None:
        query = query.where(table.c.gateway == gateway)
    return await rows(inst, query)


async def metric(api: httpx.AsyncClient, name: str, **labels: str) -> float:
    """One sample of `GET /metrics` (0 when absent)."""
    text = (await api.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def reconciler(inst: bootstrap.Installation, **options: Any) -> Reconciler:
    options.setdefault("after", 0)
    options.setdefault("limits", inst.delivery_limits())
    return Reconciler(inst.db, inst.store, inst.gateways, inst.reversal_policy(), **options)


# -- finding 2: one poisoned delivery, and the reconciler ---------------------------------


async def test_a_deeply_nested_coingate_callback_is_400_and_kept_cut_down(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/webhooks/coingate", content=DEEP, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"] == BARE
    (row,) = await stored(installation)
    assert (row.verification, row.outcome) == ("invalid", "rejected")
    assert row.error == "malformed JSON body: JSON nested deeper than 64 levels"
    assert (len(row.body), row.body_size) == (BODY_BYTES, len(DEEP))
    assert row.body_sha256 == hashlib.sha256(DEEP).hexdigest()


async def test_a_signed_deeply_nested_stripe_event_is_acknowledged_and_kept_in_full(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/webhooks/stripe", content=DEEP, headers=signed(installation, DEEP)
    )

    # Stripe signed it: authentic, never dropped; no retry can make it readable.
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "rejected"
    (row,) = await stored(installation)
    assert (row.verification, row.outcome, row.body, row.body_size) == (
        "valid",
        "rejected",
        DEEP,
        None,
    )
    assert "nested deeper than 64 levels" in row.error


async def test_a_poisoned_delivery_left_by_an_older_version_never_stops_a_pass(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    # What the old ingestion left behind: the deep body stored, never processed.
    poisoned = await installation.endpoint("coingate")._store_raw(
        DEEP, {"Content-Type": "application/json"}, "203.0.113.9"
    )
    # A delivery stored right before a crash, and a full refund whose action never ran.
    invoice = (await place_order(installation, "poison-1.example"))["invoice"]
    body = stripe_sim.checkout_completed(invoice["id"], invoice["amount_minor"], "EUR")
    await installation.stripe_endpoint()._store_raw(body, signed(installation, body), None)
    order_id = await place_and_pay(installation, "poison-2.example")
    await pending_full_refund(installation, order_id)

    first = await reconciler(installation).run_once()
    second = await reconciler(installation).run_once()

    assert first.errors == [
        f"delivery {poisoned}: malformed JSON body: JSON nested deeper than 64 levels"
    ]
    assert (first.deliveries, first.reversals) == (1, 1)
    assert (second.deliveries, second.reversals, second.errors) == (0, 0, [])
    (row,) = await rows(
        installation,
        sa.select(schema.webhook_events).where(schema.webhook_events.c.id == poisoned),
    )
    assert (row.verification, row.outcome, row.body_size) == ("invalid", "rejected", len(DEEP))
    statuses = await rows(installation, sa.select(schema.invoices.c.status))
    assert sorted(s.status for s in statuses) == ["paid", "refunded"]


async def pending_full_refund(inst: bootstrap.Installation, order_id: int) -> int:
    """Record a full refund of the order's payment whose policy has not acted yet."""
    invoices, payments = schema.invoices, schema.payments
    async with inst.db.begin() as conn:
        invoice = (
            await conn.execute(sa.select(invoices).where(invoices.c.order_id == order_id))
        ).one()
        payment = (
            await conn.execute(sa.select(payments).where(payments.c.invoice_id == invoice.id))
        ).one()
        await conn.execute(
            invoices.update().where(invoices.c.id == invoice.id).values(status="refunded")
        )
        return int(
            (
                await conn.execute(
                    schema.money_reversals.insert()
                    .values(
                        gateway="stripe",
                        kind="refund",
                        gateway_object_id=f"re_{order_id}",
                        gateway_payment_id=payment.gateway_payment_id,
                        invoice_id=invoice.id,
                        amount_minor=payment.amount_minor,
                        currency=payment.currency,
                        full=True,
                    )
                    .returning(schema.money_reversals.c.id)
                )
            ).scalar_one()
        )


class FlakyGateway:
    """A gateway whose verification always hits trouble of ours (a reset socket)."""

    name = "flaky"
    livemode = False

    def screen(self, body: bytes, headers: Mapping[str, str], *, now: float) -> bool:
        return False

    async def verify(
        self, body: bytes, headers: Mapping[str, str], *, now: float, attempts: AttemptLookup
    ) -> Verified:
        raise ConnectionResetError("connection reset by peer")

    async def fetch(self, gateway_ref: str) -> Sequence[PaymentFact] | None:
        raise KeyError(gateway_ref)

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


async def test_a_delivery_that_keeps_failing_is_counted_quarantined_and_released(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    flaky = FlakyGateway()
    endpoint = GatewayEndpoint(installation.db, installation.store, flaky)
    delivery_id = await endpoint._store_raw(b"{}", {}, "203.0.113.10")
    passes = Reconciler(
        installation.db,
        installation.store,
        {"flaky": flaky, **installation.gateways},
        installation.reversal_policy(),
        after=0,
        limits=installation.delivery_limits(),
    )
    failures = await metric(api, "fluxbilling_webhook_delivery_failures_total", gateway="flaky")

    reports = [await passes.run_once() for _ in range(4)]

    expected = f"delivery {delivery_id}: ConnectionResetError: connection reset by peer"
    assert [r.errors for r in reports] == [[expected]] * 3 + [[]]
    assert (
        await metric(api, "fluxbilling_webhook_delivery_failures_total", gateway="flaky")
        == failures + 3
    )
    assert (
        await metric(
            api, "fluxbilling_webhook_deliveries_kept", gateway="flaky", state="quarantined"
        )
        == 1
    )
    listed = (await api.get("/api/v1/webhook-deliveries", params={"outcome": "quarantined"})).json()
    (item,) = listed["items"]
    assert (item["id"], item["attempts"], item["verification"]) == (delivery_id, 3, "pending")
    assert item["reason"] == "processing failed: ConnectionResetError: connection reset by peer"

    released = await api.post(f"/api/v1/webhook-deliveries/{delivery_id}/release")
    assert released.status_code == 200, released.text
    assert (released.json()["outcome"], released.json()["attempts"]) == (None, 0)
    again = await api.post(f"/api/v1/webhook-deliveries/{delivery_id}/release")
    assert again.status_code == 409
    (row,) = await audit_rows(installation, "delivery.release")  # the refused one wrote none
    assert (row.actor, row.entity_id) == ("installation-token", str(delivery_id))
    assert row.changes == {"outcome": {"from": "quarantined", "to": None}}
    assert (await passes.run_once()).errors == [expected]


class FailingPolicy(ReversalPolicy):
    """The installation's policy, but its pass fails outright."""

    async def apply_pending(self) -> list[str]:
        raise RuntimeError("policy store unavailable")


class BrokenFetch:
    """The real Stripe gateway, whose fetch trips over an answer (a KeyError)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.name = real.name
        self.livemode = real.livemode

    def screen(self, body: bytes, headers: Mapping[str, str], *, now: float) -> bool:
        return bool(self.real.screen(body, headers, now=now))

    async def verify(
        self, body: bytes, headers: Mapping[str, str], *, now: float, attempts: AttemptLookup
    ) -> Verified:
        verified: Verified = await self.real.verify(body, headers, now=now, attempts=attempts)
        return verified

    async def fetch(self, gateway_ref: str) -> Sequence[PaymentFact] | None:
        raise KeyError("payment_intent")

    async def create_checkout(self, request: CheckoutRequest) -> Checkout:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


async def test_each_stage_of_a_pass_runs_whatever_the_others_raise(
    installation: bootstrap.Installation, api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    _, open_invoice, _ = await checkout_order(installation, api, "stripe", "stage-1.example")
    invoice = (await place_order(installation, "stage-2.example"))["invoice"]
    body = stripe_sim.checkout_completed(invoice["id"], invoice["amount_minor"], "EUR")
    await installation.stripe_endpoint()._store_raw(body, signed(installation, body), None)
    forged = await client.post("/webhooks/stripe", content=b"{}", headers={})
    assert forged.status_code == 400
    policy = FailingPolicy(
        installation.db, installation.store, installation.drivers, installation.vault
    )
    passes = Reconciler(
        installation.db,
        installation.store,
        {"stripe": BrokenFetch(installation.gateways["stripe"])},
        policy,
        after=0,
        invalid_retention=0,
    )
    before = await metric(api, "fluxbilling_reconciler_failures_total", stage="stage_reversals")

    report = await passes.run_once()

    assert report.errors == [
        f"invoice {open_invoice}: KeyError: 'payment_intent'",
        "reversals: RuntimeError: policy store unavailable",
    ]
    assert (report.deliveries, report.pruned) == (1, 1)  # the sweep and the pruning ran
    assert (
        await metric(api, "fluxbilling_reconciler_failures_total", stage="stage_reversals")
        == before + 1
    )


class OneBrokenReversal(ReversalPolicy):
    """The installation's policy, failing on one reversal."""

    broken: int = 0

    async def _apply(self, reversal: Any) -> str:
        if reversal.id == self.broken:
            raise TypeError("'list' object has no attribute 'get'")
        return await super()._apply(reversal)


async def test_one_failing_reversal_never_keeps_the_others_from_acting(
    installation: bootstrap.Installation,
) -> None:
    broken = await pending_full_refund(
        installation, await place_and_pay(installation, "rev-1.example")
    )
    await pending_full_refund(installation, await place_and_pay(installation, "rev-2.example"))
    policy = OneBrokenReversal(
        installation.db, installation.store, installation.drivers, installation.vault
    )
    policy.broken = broken

    done = await policy.apply_pending()

    assert len(done) == 1
    applied = await rows(
        installation,
        sa.select(schema.money_reversals.c.id, schema.money_reversals.c.applied).order_by(
            schema.money_reversals.c.id
        ),
    )
    assert [(r.id == broken, r.applied is None) for r in applied] == [(True, True), (False, False)]


# -- finding 5: numbers beyond our columns in authentic facts ------------------------------


async def test_a_signed_amount_beyond_any_integer_column_is_rejected_not_a_500(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    invoice = (await place_order(installation, "huge-1.example"))["invoice"]
    body = stripe_sim.checkout_completed(invoice["id"], 99999999999999999999, "EUR")

    response = await client.post(
        "/webhooks/stripe", content=body, headers=signed(installation, body)
    )

    assert response.status_code == 200, response.text  # authentic: acknowledged, not acted on
    assert response.json()["outcome"] == "rejected"
    (row,) = await stored(installation)
    assert (row.verification, row.outcome, row.body, row.body_size) == (
        "valid",
        "rejected",
        body,
        None,
    )
    assert row.error == (
        "paid: amount out of range: more than 9007199254740991 minor units; nothing recorded"
    )
    assert await rows(installation, sa.select(schema.payments)) == []
    assert await rows(installation, sa.select(schema.runs)) == []


async def test_a_signed_invoice_reference_beyond_our_ids_is_no_match_not_a_500(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    body = stripe_sim.checkout_completed(10**30, 1200, "EUR")

    response = await client.post(
        "/webhooks/stripe", content=body, headers=signed(installation, body)
    )

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "unknown_invoice"


async def test_a_signed_refund_beyond_any_integer_column_records_nothing(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    invoice = (await place_order(installation, "huge-2.example"))["invoice"]
    paid = stripe_sim.checkout_completed(invoice["id"], invoice["amount_minor"], "EUR")
    assert (
        await client.post("/webhooks/stripe", content=paid, headers=signed(installation, paid))
    ).json()["outcome"] == "processed"
    intent = json.loads(paid)["data"]["object"]["payment_intent"]
    refund = stripe_sim.charge_refunded(intent, invoice["amount_minor"], 2**64, "EUR")

    response = await client.post(
        "/webhooks/stripe", content=refund, headers=signed(installation, refund)
    )

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "rejected"
    assert await rows(installation, sa.select(schema.money_reversals)) == []
    assert (await rows(installation, sa.select(schema.invoices.c.status)))[0].status == "paid"


async def test_a_fetched_coingate_price_beyond_any_integer_column_is_rejected(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    order_id, _, ref = await checkout_order(installation, api, "coingate", "huge-3.example")
    driver = driver_for("coingate", payments, client)
    await driver.pay(ref)
    payments.coingate.orders[int(ref)]["price_amount"] = "99999999999999999999"

    statuses = await driver.notify()

    assert set(statuses) == {200}, statuses
    outcomes = {r.outcome for r in await stored(installation, "coingate")}
    assert "rejected" in outcomes, outcomes
    assert await ledger_state(installation, order_id) == UNPAID


# -- finding 6: a Mollie signature with no next-gen secret -----------------------------------


async def test_a_mollie_signature_without_a_next_gen_secret_is_400_not_deferred(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    asked = payments.mollie.requests
    body = b'{"resource": "event", "id": "event_x", "entityId": "tr_x"}'
    headers = {"X-Mollie-Signature": "sha256=" + "0" * 64, "Content-Type": "application/json"}

    response = await client.post("/webhooks/mollie", content=body, headers=headers)

    assert response.status_code == 400, response.text
    assert response.json()["error"] == BARE
    (row,) = await stored(installation)
    assert (row.verification, row.outcome) == ("invalid", "rejected")
    assert "no next-gen webhook secret is configured" in row.error
    assert "fluxbilling_webhook_deliveries_waiting{" not in (await api.get("/metrics")).text
    assert payments.mollie.requests == asked


# -- finding 8: bounded storage of what nobody vouched for ----------------------------------


def forged_stripe(size: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": "evt_forged", "pad": "A" * size}).encode()[:size]
    return body, {"Stripe-Signature": f"t={int(time.time())},v1={'0' * 64}"}


def db_bytes(database_url: str) -> int:
    path = Path(database_url.split(":///", 1)[1])
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


async def test_unsigned_bodies_are_kept_cut_down_and_bounded_per_source(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    backend: str,
    database_url: str,
) -> None:
    body, headers = forged_stripe(200 * 1024)
    dropped = await metric(
        api, "fluxbilling_webhook_deliveries_dropped_total", gateway="stripe", reason="per_source"
    )
    size_before = db_bytes(database_url) if backend == "sqlite" else 0

    answers = [
        await client.post("/webhooks/stripe", content=body, headers=headers) for _ in range(20)
    ]

    assert {a.status_code for a in answers} == {400}
    assert all(a.json()["error"] == BARE for a in answers)
    kept = await stored(installation)
    assert len(kept) == PER_SOURCE
    assert [r.id for r in kept] == sorted(r.id for r in kept)[-PER_SOURCE:]  # the newest
    assert {(len(r.body), r.body_size, r.body_sha256) for r in kept} == {
        (BODY_BYTES, len(body), hashlib.sha256(body).hexdigest())
    }
    assert all("no signature matches" in r.error for r in kept)
    assert (
        await metric(
            api,
            "fluxbilling_webhook_deliveries_dropped_total",
            gateway="stripe",
            reason="per_source",
        )
        == dropped + 20 - PER_SOURCE
    )
    assert (
        await metric(
            api, "fluxbilling_webhook_deliveries_kept", gateway="stripe", state="unverified"
        )
        == PER_SOURCE
    )
    if backend == "sqlite":
        # 20 bodies of 200 KiB grew file and WAL by 7.8 MB before; stored whole they would be
        # 4 MiB at least. What is left is page churn: WAL frames of the rows, their indexes and
        # the counters, ~1 MiB (more indexes on webhook_events since).
        assert db_bytes(database_url) - size_before < 2 * 1024 * 1024
    one = (await api.get(f"/api/v1/webhook-deliveries/{kept[-1].id}")).json()
    assert (one["body_truncated"], one["body_size"], len(one["body"])) == (
        True,
        len(body),
        BODY_BYTES,
    )
    assert "no signature matches" in one["reason"]


async def test_the_total_cap_holds_across_sources(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    body, headers = forged_stripe(4096)
    for source in range(4):
        async with sender(installation, f"192.0.2.{source + 10}") as from_source:
            for _ in range(3):
                answer = await from_source.post("/webhooks/stripe", content=body, headers=headers)
                assert answer.status_code == 400

    kept = await stored(installation)

    assert len(kept) == TOTAL
    assert {r.remote_addr for r in kept} == {"192.0.2.11", "192.0.2.12", "192.0.2.13"}


async def test_an_authentic_delivery_is_kept_in_full_whatever_the_caps(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    invoice = (await place_order(installation, "full-1.example"))["invoice"]
    event = json.loads(stripe_sim.checkout_completed(invoice["id"], invoice["amount_minor"], "EUR"))
    event["data"]["object"]["metadata"]["note"] = "B" * (200 * 1024)
    body = json.dumps(event).encode()
    forged, forged_headers = forged_stripe(8192)

    response = await client.post(
        "/webhooks/stripe", content=body, headers=signed(installation, body)
    )
    for _ in range(PER_SOURCE + TOTAL):
        await client.post("/webhooks/stripe", content=forged, headers=forged_headers)

    assert response.json()["outcome"] == "processed"
    genuine = [r for r in await stored(installation) if r.verification == "valid"]
    assert [(r.body, r.body_size) for r in genuine] == [(body, None)]


async def test_a_padded_callback_for_an_order_nobody_knows_is_cut_down_and_pruned(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    fields = {
        "id": 987654,
        "order_id": "1",
        "status": "paid",
        "token": "anything",
        "pad": "C" * (200 * 1024),
    }
    body, content_type = encode_callback(fields, "json")

    response = await client.post(
        "/webhooks/coingate", content=body, headers={"Content-Type": content_type}
    )

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "unknown_resource"
    (row,) = await stored(installation)
    assert (row.verification, row.outcome) == ("unauthenticated", "unknown_resource")
    assert (len(row.body), row.body_size) == (BODY_BYTES, len(body))
    assert (await reconciler(installation, invalid_retention=0).run_once()).pruned == 1


async def test_too_many_deliveries_waiting_for_their_gateway_are_refused_unstored(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    client: httpx.AsyncClient,
    payments: PaymentSims,
) -> None:
    order_id, _, ref = await checkout_order(installation, api, "mollie", "wait-1.example")
    await driver_for("mollie", payments, client).pay(ref)
    notifier = MollieNotifier(payments.mollie, client)
    payments.mollie.faults.fail_next(2, 503)
    refused = await metric(
        api, "fluxbilling_webhook_deliveries_dropped_total", gateway="mollie", reason="pending_cap"
    )

    sent = [
        await notifier.deliver(notifier.classic(ref, f"{PUBLIC_URL}/webhooks/mollie"))
        for _ in range(3)
    ]

    assert [s.status for s in sent] == [503, 503, 503]
    waiting = await stored(installation, "mollie")
    assert [(r.verification, r.outcome) for r in waiting] == [("pending", "deferred")] * 2
    assert (
        await metric(
            api,
            "fluxbilling_webhook_deliveries_dropped_total",
            gateway="mollie",
            reason="pending_cap",
        )
        == refused + 1
    )
    report = await reconciler(installation).run_once()
    assert (report.deliveries, report.errors) == (2, [])
    assert await ledger_state(installation, order_id) == PAID


async def test_a_refused_delivery_with_nul_and_odd_headers_is_stored_on_both_databases(
    installation: bootstrap.Installation, client: httpx.AsyncClient
) -> None:
    # CoinGate form keys reach the reason: a NUL or a stray surrogate must not break storage.
    body = b"id=5&order_id=1&status=paid&k%00ey=1&k%00ey=2"

    response = await client.post(
        "/webhooks/coingate",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Pad": "D" * 4000},
    )

    assert response.status_code == 400, response.text
    (row,) = await stored(installation)
    assert row.error == "field 'k\\x00ey' is repeated"
    assert len(row.headers["x-pad"]) == 512


def test_the_cap_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="webhook_unverified_total"):
        Settings(webhook_unverified_total=0)
