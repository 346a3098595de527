"""The console's API: the order list, the dashboard, the order page's attempts and suggestion,
and acting on an order (retry, cancel, re-allocate), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling_simulators.solusvm2 import SolusVM2State
from tests.integration.support import (
    assert_refused_filter,
    drain,
    every_page,
    finish,
    place_and_pay,
    place_order,
    rows,
    run_of,
)

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def _get(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def _set(inst: bootstrap.Installation, table: sa.Table, where: Any, **values: Any) -> None:
    async with inst.db.begin() as conn:
        await conn.execute(table.update().where(where).values(**values))


# -- the order list -----------------------------------------------------------------------


async def test_orders_are_listed_newest_first_with_their_run(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    unpaid = (await place_order(installation, "unpaid.example.com"))["order"]["id"]
    active = await place_and_pay(installation, "active.example.com")
    assert (await finish(installation, active)).state == "completed"
    sim.fail_next_task("disk image corrupt on node")
    failed = await place_and_pay(installation, "broken.example.com")
    assert (await finish(installation, failed)).state == "failed"

    listed = await _get(api, "/api/v1/orders")
    assert [o["id"] for o in listed["items"]] == [failed, active, unpaid]
    assert listed["next_cursor"] is None
    broken = listed["items"][0]
    assert broken["hostname"] == "broken.example.com"
    assert (broken["state"], broken["phase"], broken["run_state"]) == (
        "failed",
        "os_install",
        "failed",
    )
    assert broken["product"] == "vps-2g" and broken["customer_email"] == "ada@example.com"
    assert "disk image corrupt on node" in broken["last_error"]
    assert listed["items"][2]["phase"] is None and listed["items"][2]["run_state"] is None

    async def ids(**params: Any) -> list[int]:
        return [o["id"] for o in (await _get(api, "/api/v1/orders", **params))["items"]]

    assert await ids(state="active") == [active]
    assert await ids(run_state="failed") == [failed]
    assert await ids(phase="os_install") == [failed]
    assert await ids(phase="handoff", run_state="completed") == [active]
    assert await ids(product="vps-2g") == [failed, active, unpaid]
    assert await ids(product="nope") == []
    assert await ids(customer="ADA@EXAMPLE") == [failed, active, unpaid]
    assert await ids(customer="grace") == []
    assert await ids(q="BROKEN") == [failed]
    assert await ids(q=str(unpaid)) == [unpaid]
    assert await ids(q="%") == []  # taken literally


async def test_orders_are_paginated_by_cursor(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    made = [
        (await place_order(installation, f"page{i}.example.com"))["order"]["id"] for i in range(5)
    ]
    assert await every_page(api, "/api/v1/orders", limit=2) == sorted(made, reverse=True)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"state": "bogus"}, "state"),
        ({"phase": "nowhere"}, "phase"),
        ({"q": "a\nb"}, "q"),
        ({"q": "x" * 254}, "q"),
        ({"limit": 0}, "limit"),
        ({"cursor": 2**63}, "cursor"),
    ],
)
async def test_bad_list_filters_are_named(
    api: httpx.AsyncClient, params: dict[str, Any], needle: str
) -> None:
    await assert_refused_filter(api, "/api/v1/orders", params, needle)


# -- the dashboard ------------------------------------------------------------------------


def _phase(board: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in board["phases"] if p["phase"] == name)
    return found


def _count(board: dict[str, Any], kind: str) -> int:
    return int(next(c["count"] for c in board["alarm_counts"] if c["kind"] == kind))


async def test_dashboard_counts_runs_by_phase_and_bucket_and_orders_by_state(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    await place_order(installation, "waiting.example.com")
    sim.fail_next_task("disk image corrupt on node")
    failed = await place_and_pay(installation, "failed.example.com")
    assert (await finish(installation, failed)).state == "failed"
    # runs that found no capacity wait (parked) at allocation
    products = schema.products
    queued = await place_and_pay(installation, "queued.example.com")
    huge = await place_and_pay(installation, "huge.example.com")
    await _set(installation, products, products.c.slug == "vps-2g", ram_mb=10**6)
    await drain(installation)
    await _set(installation, products, products.c.slug == "vps-2g", ram_mb=2048)
    board = await _get(api, "/api/v1/dashboard")

    assert {(p["phase"]) for p in board["phases"]} >= {"allocation", "os_install"}
    assert _phase(board, "allocation")["parked"] == 2
    assert _phase(board, "allocation")["waiting"] == 0
    assert _phase(board, "os_install")["failed"] == 1
    states = {s["state"]: s["count"] for s in board["states"]}
    assert states["awaiting_payment"] == 1
    assert states["failed"] == 1
    assert states["provisioning_pending"] + states["provisioning"] == 2
    assert {queued, huge} == {
        o["id"] for o in (await _get(api, "/api/v1/orders", phase="allocation"))["items"]
    }


async def test_dashboard_alarms_for_late_orders_per_product_threshold(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    sim.fail_next_task("disk image corrupt on node")
    late = await place_and_pay(installation, "late.example.com")
    assert (await finish(installation, late)).state == "failed"
    fresh = await place_and_pay(installation, "fresh.example.com")
    done = await place_and_pay(installation, "done.example.com")
    await _set(installation, schema.orders, schema.orders.c.id == done, state="active")
    invoices = schema.invoices
    # paid 40 minutes ago: past the installation's default of 30
    for order_id in (late, done):
        await _set(
            installation,
            invoices,
            invoices.c.order_id == order_id,
            paid_at=await _minutes_ago(installation, 40),
        )
    board = await _get(api, "/api/v1/dashboard")
    alarms = [a for a in board["alarms"] if a["kind"] == "order_not_active"]
    assert [a["link"] for a in alarms] == [{"kind": "order", "id": str(late)}]
    assert (
        f"order {late} (late.example.com) was paid 40 min ago and is failed"
        in (alarms[0]["message"])
    )
    assert _count(board, "order_not_active") == 1
    # the product's own threshold wins over the default
    products = schema.products
    await _set(installation, products, products.c.slug == "vps-2g", alarm_after_minutes=60)
    board = await _get(api, "/api/v1/dashboard")
    assert _count(board, "order_not_active") == 0
    await _set(
        installation,
        invoices,
        invoices.c.order_id == fresh,
        paid_at=await _minutes_ago(installation, 61),
    )
    board = await _get(api, "/api/v1/dashboard")
    assert [a["link"]["id"] for a in board["alarms"] if a["kind"] == "order_not_active"] == [
        str(fresh)
    ]


async def _minutes_ago(inst: bootstrap.Installation, minutes: int) -> Any:
    async with inst.db.connect() as conn:
        now = (await conn.execute(sa.select(inst.db.now()))).scalar_one()
    return now - timedelta(minutes=minutes)


async def test_dashboard_alarms_for_deliveries_and_quarantined_hosts(
    installation: bootstrap.Installation, api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    bad = await client.post(
        "/webhooks/stripe", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert bad.status_code == 400
    events = schema.webhook_events
    (rejected,) = await rows(installation, sa.select(events.c.id, events.c.outcome))
    deferred_id = await _delivery(installation, outcome="deferred", error="gateway unreachable")
    await _delivery(
        installation,
        outcome="deferred",
        error="old",
        received_at=await _minutes_ago(installation, 60 * 25),
    )
    hosts = schema.hosts
    (host,) = await rows(installation, sa.select(hosts.c.id, hosts.c.name).limit(1))
    await _set(installation, hosts, hosts.c.id == host.id, status="quarantined")

    board = await _get(api, "/api/v1/dashboard")
    by_kind = {(a["kind"], a["link"]["kind"], a["link"]["id"]) for a in board["alarms"]}
    assert ("delivery_rejected", "delivery", str(rejected.id)) in by_kind
    assert ("delivery_deferred", "delivery", str(deferred_id)) in by_kind
    assert ("host_quarantined", "host", str(host.id)) in by_kind
    assert _count(board, "delivery_deferred") == 1  # the one of yesterday is not recent
    assert _count(board, "delivery_rejected") == rejected.outcome.count("rejected")
    assert _count(board, "host_quarantined") == 1
    quarantined = next(a for a in board["alarms"] if a["kind"] == "host_quarantined")
    assert host.name in quarantined["message"] and quarantined["since"] is None


async def _delivery(inst: bootstrap.Installation, **values: Any) -> int:
    events = schema.webhook_events
    async with inst.db.begin() as conn:
        created = await conn.execute(
            events.insert()
            .values(gateway="mollie", headers={}, body=b"{}", verification="valid", **values)
            .returning(events.c.id)
        )
        return int(created.scalar_one())


# -- the order page -----------------------------------------------------------------------


async def test_attempts_show_redacted_exchanges_and_a_credentials_suggestion(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    sim.token = "rotated-token"  # our connection still sends "it-token": 401
    order_id = await place_and_pay(installation, "denied.example.com")
    assert (await finish(installation, order_id)).state == "failed"
    response = await api.get(f"/api/v1/orders/{order_id}")
    assert "it-token" not in response.text
    order = response.json()
    provision = next(p for p in order["phases"] if p["phase"] == "provision")
    assert provision["status"] == "failed"
    (attempt,) = provision["attempts"]
    assert (attempt["number"], attempt["outcome"]) == (1, "failed")
    assert attempt["duration_seconds"] is not None and attempt["duration_seconds"] >= 0
    error = attempt["error"]
    assert (error["error_class"], error["code"], error["status"]) == (
        "permanent",
        "PermanentUpstreamError",
        401,
    )
    exchange = attempt["exchanges"][-1]
    assert exchange["response"]["status"] == 401 and not exchange["omitted"]
    assert exchange["response"]["body"] == {"message": "Unauthenticated."}
    assert exchange["request"]["url"].startswith("http://solusvm.test/api/v1/")
    sent = {k.lower(): v for k, v in exchange["request"]["headers"].items()}
    assert "authorization" in sent and "it-token" not in sent["authorization"]
    suggestion = provision["suggestion"]
    assert suggestion["action"] == "check_connection"
    assert suggestion["link"] == {"kind": "connection", "id": error["upstream"]}
    assert suggestion["from_phase"] == "provision"
    allocation = next(p for p in order["phases"] if p["phase"] == "allocation")
    assert [a["outcome"] for a in allocation["attempts"]] == ["completed"]
    assert allocation["suggestion"] is None
    # existing fields stay as they were
    assert order["run"]["phase"] == "provision" and order["activity"][0]["event"] == "order_created"

    # fixed credentials, retried from the order: active, and the attempts of both tries stay
    sim.token = "it-token"
    retried = await api.post(f"/api/v1/orders/{order_id}/retry", json={})
    assert retried.status_code == 200
    assert retried.json()["state"] == "queued"
    assert (await finish(installation, order_id)).state == "completed"
    order = await _get(api, f"/api/v1/orders/{order_id}")
    provision = next(p for p in order["phases"] if p["phase"] == "provision")
    assert provision["attempts"][0]["outcome"] == "failed"
    assert provision["attempts"][-1]["outcome"] == "completed"
    assert all(p["suggestion"] is None for p in order["phases"])
    audit = schema.audit_log
    (row,) = await rows(installation, sa.select(audit).where(audit.c.action == "run.retry"))
    assert (row.actor, row.changes["order_id"]) == ("installation-token", order_id)


async def test_every_attempt_shows_its_true_duration(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    order_id = await place_and_pay(installation, "timed.example.com")
    assert (await finish(installation, order_id)).state == "completed"
    order = await _get(api, f"/api/v1/orders/{order_id}")
    tried = [(p["phase"], a) for p in order["phases"] for a in p["attempts"]]
    assert {phase for phase, _ in tried} >= {"billing", "allocation", "provision", "handoff"}
    for phase, attempt in tried:
        if phase == "billing":  # done by the payment's webhook: not timed, shown as unknown
            assert (attempt["started_at"], attempt["duration_seconds"]) == (None, None)
            continue
        started = datetime.fromisoformat(attempt["started_at"])
        finished = datetime.fromisoformat(attempt["finished_at"])
        # the end is read from the clock the start was (not the row's second-precise time)
        assert finished > started, (phase, attempt)
        assert attempt["duration_seconds"] == pytest.approx((finished - started).total_seconds())
        assert attempt["duration_seconds"] > 0, phase


async def test_no_secret_sent_upstream_reaches_the_order_page(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    order_id = await place_and_pay(installation, "sealed.example.com")
    assert (await finish(installation, order_id)).state == "completed"
    services = schema.services
    (sealed,) = await rows(
        installation,
        sa.select(services.c.root_password_sealed).where(services.c.order_id == order_id),
    )
    password = installation.vault.open(sealed.root_password_sealed)
    response = await api.get(f"/api/v1/orders/{order_id}")
    order = response.json()
    exchanges = [x for p in order["phases"] for a in p["attempts"] for x in a["exchanges"]]
    assert any(x["request"]["method"] == "POST" for x in exchanges)  # the creates were recorded
    # attempts that went on keep request lines and statuses, not what the panel answered
    assert all(x["omitted"] and x["response"]["body"] is None for x in exchanges)
    assert password not in response.text
    assert "it-token" not in response.text


async def test_transient_failures_are_attempts_and_exhaustion_suggests_a_retry(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    sim.fail_next_task("disk image corrupt on node")
    order_id = await place_and_pay(installation, "install.example.com")
    assert (await finish(installation, order_id)).state == "failed"
    skipping = await api.post(f"/api/v1/orders/{order_id}/retry", json={"from_phase": "network"})
    assert skipping.status_code == 409
    assert "would skip os_install" in skipping.json()["error"]["message"]
    order = await _get(api, f"/api/v1/orders/{order_id}")
    os_install = next(p for p in order["phases"] if p["phase"] == "os_install")
    assert os_install["attempts"][-1]["outcome"] == "failed"
    assert os_install["suggestion"]["action"] == "retry"
    assert os_install["suggestion"]["from_phase"] == "os_install"
    assert order["reallocation_refusal"].startswith("the run failed at os_install")
    # never billing, nor the allocation that completed; never past the failed phase
    assert order["retry_from"] == ["provision", "os_install"]


# -- acting on an order -------------------------------------------------------------------


async def test_reallocate_gives_the_host_back_and_provisions_again(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    sim.token = "rotated-token"
    order_id = await place_and_pay(installation, "moved.example.com")
    assert (await finish(installation, order_id)).state == "failed"
    order = await _get(api, f"/api/v1/orders/{order_id}")
    assert order["reallocation_refusal"] is None
    hosts = schema.hosts
    host_id = order["service"]["host_id"]
    (before,) = await rows(
        installation, sa.select(hosts.c.ram_mb_used).where(hosts.c.id == host_id)
    )
    assert before.ram_mb_used > 0
    # the host of the failed attempt is drained: the new allocation goes elsewhere
    await _set(installation, hosts, hosts.c.id == host_id, status="draining")

    moved = await api.post(f"/api/v1/orders/{order_id}/reallocate")
    assert moved.status_code == 200, moved.text
    assert moved.json()["state"] == "queued"
    (after,) = await rows(installation, sa.select(hosts.c.ram_mb_used).where(hosts.c.id == host_id))
    assert after.ram_mb_used == 0
    addresses = schema.ip_addresses
    assert (
        await rows(installation, sa.select(addresses).where(addresses.c.order_id == order_id)) == []
    )
    again = await api.post(f"/api/v1/orders/{order_id}/reallocate")
    assert again.status_code == 409
    assert "only a failed order" in again.json()["error"]["message"]

    sim.token = "it-token"
    assert (await finish(installation, order_id)).state == "completed"
    order = await _get(api, f"/api/v1/orders/{order_id}")
    assert order["state"] == "active" and order["service"]["host_id"] != host_id
    events = [e["event"] for e in order["activity"]]
    assert "order_reallocated" in events
    audit = schema.audit_log
    (row,) = await rows(installation, sa.select(audit).where(audit.c.action == "order.reallocate"))
    assert (row.actor, row.entity, row.entity_id) == ("installation-token", "order", str(order_id))


async def test_a_completed_allocation_is_not_retried_it_is_reallocated(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    sim.token = "rotated-token"  # fails at provision, after allocation reserved
    order_id = await place_and_pay(installation, "twice.example.com")
    assert (await finish(installation, order_id)).state == "failed"
    hosts = schema.hosts
    used = await rows(installation, sa.select(hosts.c.id, hosts.c.ram_mb_used).order_by(hosts.c.id))

    again = await api.post(f"/api/v1/orders/{order_id}/retry", json={"from_phase": "allocation"})
    assert again.status_code == 409
    assert "reserve them twice" in again.json()["error"]["message"]
    by_run = await api.post(
        f"/api/v1/runs/{(await run_of(installation, order_id)).id}/retry",
        json={"from_phase": "allocation"},
    )
    assert by_run.status_code == 409
    assert (
        await rows(installation, sa.select(hosts.c.id, hosts.c.ram_mb_used).order_by(hosts.c.id))
        == used
    )
    assert (await run_of(installation, order_id)).state == "failed"

    assert (await _get(api, f"/api/v1/orders/{order_id}"))["retry_from"] == ["provision"]

    sim.token = "it-token"  # retrying from the failed phase itself is still fine
    assert (await api.post(f"/api/v1/orders/{order_id}/retry", json={})).status_code == 200
    assert (await finish(installation, order_id)).state == "completed"
    assert (await _get(api, f"/api/v1/orders/{order_id}"))["retry_from"] == []


async def test_reallocate_is_refused_once_the_service_exists_upstream(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    sim.fail_next_task("disk image corrupt on node")
    order_id = await place_and_pay(installation, "kept.example.com")
    assert (await finish(installation, order_id)).state == "failed"
    hosts = schema.hosts
    used = await rows(installation, sa.select(hosts.c.id, hosts.c.ram_mb_used).order_by(hosts.c.id))
    refused = await api.post(f"/api/v1/orders/{order_id}/reallocate")
    assert refused.status_code == 409
    assert "os_install" in refused.json()["error"]["message"]
    assert (
        await rows(installation, sa.select(hosts.c.id, hosts.c.ram_mb_used).order_by(hosts.c.id))
        == used
    )
    assert (await run_of(installation, order_id)).state == "failed"
    unpaid = (await place_order(installation, "unpaid.example.com"))["order"]["id"]
    assert (await api.post(f"/api/v1/orders/{unpaid}/reallocate")).status_code == 409
    assert (await api.post("/api/v1/orders/999999/reallocate")).status_code == 404


async def test_cancel_and_retry_by_order(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    order_id = await place_and_pay(installation, "stop.example.com")
    not_failed = await api.post(f"/api/v1/orders/{order_id}/retry")
    assert not_failed.status_code == 409
    cancelled = await api.post(f"/api/v1/orders/{order_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json() == {
        "order_id": order_id,
        "run_id": (await run_of(installation, order_id)).id,
        "state": "cancelled",
    }
    assert (await _get(api, f"/api/v1/orders/{order_id}"))["state"] == "cancelled"
    assert (await api.post(f"/api/v1/orders/{order_id}/cancel")).status_code == 409
    unpaid = (await place_order(installation, "nopay.example.com"))["order"]["id"]
    no_run = await api.post(f"/api/v1/orders/{unpaid}/cancel")
    assert no_run.status_code == 409 and "no provisioning run" in no_run.json()["error"]["message"]
    assert (await api.post("/api/v1/orders/999999/retry")).status_code == 404
    bad_phase = await api.post(f"/api/v1/orders/{order_id}/retry", json={"from_phase": "nowhere"})
    assert bad_phase.status_code == 422
