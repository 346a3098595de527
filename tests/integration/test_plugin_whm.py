"""The shipped cPanel & WHM plugin through the whole pipeline and every lifecycle action.

Runs on SQLite and PostgreSQL against the in-package WHM simulator (`whm_sim`, served at
`PANEL_URLS["whm"]`): a paid order becomes a cPanel account, then suspend, unsuspend, resize,
reset_password, console, stats and terminate go through the API and the engine. Idempotency
and failure handling: a createacct that answers 503 after creating, a spurious "already
exists", a server at its account limit (the run waits for capacity) and an unknown package
(the run fails with WHM's reason).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling.drivers.upstream import ExchangeRecorder
from fluxbilling.engine.outcome import Done
from fluxbilling.handoff.mail import InMemoryMailer
from fluxbilling.orders import detail
from fluxbilling.orders.phases.operations import account_username
from fluxbilling.plugins import run_flow
from fluxbilling_simulators.whm import WhmState
from tests.integration.conftest import PANEL_URLS
from tests.integration.support import (
    active_service,
    activity,
    add_provider,
    drain,
    finish,
    make_due,
    place_and_pay,
    rows,
    run_action,
    run_of,
    service_of,
)

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

MB = 1024 * 1024


async def whm_product(inst: bootstrap.Installation, **options: Any) -> str:
    """Seed the WHM provider (options override the product's); its product slug."""
    return await add_provider(inst, "whm", PANEL_URLS["whm"], **options)


async def whm_order(inst: bootstrap.Installation, domain: str, **options: Any) -> int:
    """Place and pay an order for a newly seeded WHM product (see `whm_product`)."""
    return await place_and_pay(inst, domain, await whm_product(inst, **options))


async def active_account(inst: bootstrap.Installation, domain: str) -> tuple[Any, str]:
    """A provisioned, active WHM service and its cPanel username."""
    service = await active_service(inst, domain, await whm_product(inst))
    return service, account_username(service.order_id)


async def password_of(inst: bootstrap.Installation, service_id: int) -> str:
    (sealed,) = await rows(
        inst,
        sa.select(schema.services.c.root_password_sealed).where(schema.services.c.id == service_id),
    )
    return inst.vault.open(sealed[0])


async def test_a_paid_order_becomes_an_active_cpanel_account(
    installation: bootstrap.Installation, whm_sim: WhmState, mailer: InMemoryMailer
) -> None:
    order_id = await whm_order(installation, "shop.example.com")
    run = await finish(installation, order_id)
    assert run.state == "completed", run.last_error

    order = await detail.describe_order(installation.db, order_id)
    assert order.state == "active"
    assert [p.status for p in order.phases] == ["done"] * 6
    username = account_username(order_id)
    account = whm_sim.accounts[username]
    assert (account["domain"], account["plan"], account["email"]) == (
        "shop.example.com",
        "starter",
        "ada@example.com",
    )
    assert (account["suspended"], account["ip"]) == (0, whm_sim.shared_ip)
    service = await service_of(installation, order_id)
    password = await password_of(installation, service.id)
    assert whm_sim.check_password(username, password)

    assert (service.status, service.external_id) == ("active", username)
    data = service.service_data
    assert {k: data[k] for k in ("username", "domain", "ip", "package", "panel_url")} == {
        "username": username,
        "domain": "shop.example.com",
        "ip": "192.0.2.10",
        "package": "starter",
        "panel_url": "https://shop.example.com:2083/",
    }
    assert data["network"]["address"] == "192.0.2.10"
    assert data["network"]["source"] == "provider"

    events = {e.event: e for e in await activity(installation, order_id)}
    assert events["os_install_recorded"].message.startswith("no OS install")
    assert events["os_install_recorded"].data == {"mode": "none"}
    assert events["address_recorded"].message == "provider address 192.0.2.10 recorded"
    assert "rdns_skipped" in events
    assert "rdns_published" not in events
    assert "the provider assigns the address" in events["capacity_reserved"].message

    (mail,) = mailer.sent
    assert mail.subject == f"Your hosting account for shop.example.com is ready (order {order_id})"
    assert f"Username:      {username}\n" in mail.text
    assert f"Password:      {password}\n" in mail.text
    assert "Server IP:     192.0.2.10" in mail.text
    assert "https://shop.example.com:2083/" in mail.text
    (outbox,) = await rows(installation, sa.select(schema.outgoing_mail))
    assert outbox.status == "sent"
    assert "Password:      ***\n" in outbox.body_masked
    assert password not in outbox.body_masked
    assert f"Username:      {username}\n" in outbox.body_masked


async def test_suspend_with_and_without_a_reason_then_unsuspend(
    installation: bootstrap.Installation, api: httpx.AsyncClient, whm_sim: WhmState
) -> None:
    service, username = await active_account(installation, "suspend.example.com")

    done = await run_action(installation, api, service.id, "suspend", reason="invoice overdue")
    assert done["state"] == "completed", done["error"]
    assert done["result"] == {"suspended": True}
    account = whm_sim.accounts[username]
    assert (account["suspended"], account["suspendreason"]) == (1, "invoice overdue")
    [listed] = whm_sim.suspended()
    assert (listed["user"], listed["reason"]) == (username, "invoice overdue")
    row = await service_of(installation, service.order_id)
    assert (row.status, row.service_data["suspended"]) == ("suspended", True)

    done = await run_action(installation, api, service.id, "unsuspend")
    assert done["state"] == "completed", done["error"]
    assert whm_sim.accounts[username]["suspended"] == 0
    row = await service_of(installation, service.order_id)
    assert (row.status, row.service_data["suspended"]) == ("active", False)

    done = await run_action(installation, api, service.id, "suspend")
    assert done["state"] == "completed", done["error"]
    assert whm_sim.accounts[username]["suspendreason"] == "suspended by billing"


async def test_resize_changes_the_package_and_an_unknown_one_fails_with_whms_reason(
    installation: bootstrap.Installation, api: httpx.AsyncClient, whm_sim: WhmState
) -> None:
    service, username = await active_account(installation, "resize.example.com")

    done = await run_action(
        installation, api, service.id, "resize", params={"options": {"package": "business"}}
    )
    assert done["state"] == "completed", done["error"]
    assert whm_sim.accounts[username]["plan"] == "business"
    assert whm_sim.accounts[username]["disklimit"] == "10240M"
    row = await service_of(installation, service.order_id)
    assert row.status == "active"
    assert row.service_data["package"] == "business"
    assert row.service_data["plan_options"] == {"package": "business"}

    failed = await run_action(
        installation, api, service.id, "resize", params={"options": {"package": "gold"}}
    )
    assert failed["state"] == "failed"
    assert failed["error"]["code"] == "PermanentUpstreamError"
    assert (
        "WHM refused changepackage: The package “gold” does not exist."
        in (failed["error"]["message"])
    )
    assert whm_sim.accounts[username]["plan"] == "business"
    assert (await service_of(installation, service.order_id)).status == "active"


async def test_reset_password_changes_it_at_whm_and_never_shows_it(
    installation: bootstrap.Installation, api: httpx.AsyncClient, whm_sim: WhmState
) -> None:
    service, username = await active_account(installation, "password.example.com")
    old = await password_of(installation, service.id)
    whm_sim.faults.fail_next(1, 503)  # one failed attempt, so that last_upstream is kept

    done = await run_action(installation, api, service.id, "reset_password")
    assert done["state"] == "completed", done["error"]
    assert done["attempt"] == 1
    assert done["result"] == {"services": ["system", "ftp", "mail", "mySQL"]}
    new = await password_of(installation, service.id)
    assert new != old
    assert whm_sim.check_password(username, new)
    assert not whm_sim.check_password(username, old)

    (run,) = await rows(
        installation, sa.select(schema.runs).where(schema.runs.c.id == done["run_id"])
    )
    assert run.last_upstream["operation"] == "reset_password.passwd"
    assert run.last_upstream["response"]["status"] == 503
    request = run.last_upstream["request"]
    assert request["url"] == "http://whm.test/json-api/passwd?api.version=1"
    assert (request["body"]["user"], request["body"]["password"]) == (username, "***")
    runs = await rows(
        installation, sa.select(schema.runs).where(schema.runs.c.order_id == service.order_id)
    )
    order = (await api.get(f"/api/v1/orders/{service.order_id}")).json()
    listed = (await api.get(f"/api/v1/services/{service.id}/actions")).json()
    action = (await api.get(f"/api/v1/actions/{done['id']}")).json()
    dumped = json.dumps(
        [[e.event, e.message, e.data] for e in await activity(installation, service.order_id)]
        + [[r.last_upstream, r.last_error, r.wait_reason] for r in runs]
        + [order, listed, action],
        default=str,
    )
    assert "reset_password completed" in dumped
    for secret in (new, old):
        assert secret not in dumped


async def test_console_returns_a_one_time_cpanel_login_url(
    installation: bootstrap.Installation, api: httpx.AsyncClient, whm_sim: WhmState
) -> None:
    service, username = await active_account(installation, "console.example.com")

    done = await run_action(installation, api, service.id, "console")
    assert done["state"] == "completed", done["error"]
    [session] = whm_sim.sessions
    assert (session["user"], session["service"]) == (username, "cpaneld")
    assert done["result"] == {"url": session["url"], "expires": session["expires"]}
    assert done["result"]["url"].startswith("https://whm.sim.test:2083/cpsess")
    logged = json.dumps(
        [[e.message, e.data] for e in await activity(installation, service.order_id)]
    )
    assert "console completed" in logged
    assert session["session"] not in logged  # the login token stays on the action only


async def test_stats_report_disk_and_bandwidth(
    installation: bootstrap.Installation, api: httpx.AsyncClient, whm_sim: WhmState
) -> None:
    service, username = await active_account(installation, "stats.example.com")
    whm_sim.record_usage(username, disk_mb=150, bw_bytes=123_456_789)
    now = whm_sim.clock()

    done = await run_action(installation, api, service.id, "stats")
    assert done["state"] == "completed", done["error"]
    assert done["result"] == {
        "disk_used": "150M",
        "disk_limit": "1024M",
        "bandwidth_bytes": 123_456_789,
        "bandwidth_limit_bytes": 10240 * MB,
        "month": now.month,
        "year": now.year,
        "suspended": 0,
    }


async def test_terminate_removes_the_account_and_a_rerun_finds_it_already_gone(
    installation: bootstrap.Installation, api: httpx.AsyncClient, whm_sim: WhmState
) -> None:
    service, username = await active_account(installation, "bye.example.com")

    done = await run_action(installation, api, service.id, "terminate")
    assert done["state"] == "completed", done["error"]
    assert done["result"] == {"terminated": True, "already_gone": False}
    assert username not in whm_sim.accounts
    row = await service_of(installation, service.order_id)
    assert row.status == "terminated"

    # The same flow again (a retry after a lost answer would do this): nothing to remove.
    plugin = await installation.plugins.get("whm")
    client = await installation.connections.client("whm", ExchangeRecorder())
    try:
        rerun = await run_flow(
            plugin,
            "terminate",
            {
                "service": dict(row.service_data),
                "account": {"username": username},
                "correlation_id": "terminate-again",
            },
            lambda name: client,
            None,
            now=datetime.now(UTC),
        )
    finally:
        await client.aclose()
    assert isinstance(rerun, Done)
    assert rerun.output["result"] == {"terminated": True, "already_gone": True}
    assert "remove" not in rerun.output["outputs"]


async def test_terminating_an_account_removed_in_whm_completes(
    installation: bootstrap.Installation, api: httpx.AsyncClient, whm_sim: WhmState
) -> None:
    service, username = await active_account(installation, "gone.example.com")
    whm_sim.remove(username)  # an admin removed it by hand

    done = await run_action(installation, api, service.id, "terminate")
    assert done["state"] == "completed", done["error"]
    assert done["result"] == {"terminated": True, "already_gone": True}
    assert (await service_of(installation, service.order_id)).status == "terminated"


async def test_a_createacct_that_answers_503_after_creating_is_adopted(
    installation: bootstrap.Installation, whm_sim: WhmState
) -> None:
    whm_sim.faults.crash_next_create()
    order_id = await whm_order(installation, "crash.example.com")
    run = await finish(installation, order_id)
    assert run.state == "completed", run.last_error

    username = account_username(order_id)
    assert list(whm_sim.accounts) == [username]
    password = await password_of(installation, (await service_of(installation, order_id)).id)
    assert whm_sim.check_password(username, password)  # the account the crashed call made
    retries = [e for e in await activity(installation, order_id) if e.event == "phase_retry"]
    assert [(e.phase, e.data["error"]["code"]) for e in retries] == [
        ("provision", "TransientUpstreamError")
    ]
    assert "HTTP 503" in retries[0].data["error"]["message"]
    assert run.last_upstream["operation"] == "provision.create"
    assert run.last_upstream["request"]["body"]["password"] == "***"
    dumped = json.dumps(
        [[e.message, e.data] for e in await activity(installation, order_id)]
        + [run.last_upstream, run.last_error],
        default=str,
    )
    assert password not in dumped


async def test_a_spurious_already_exists_is_rechecked_and_retried(
    installation: bootstrap.Installation, whm_sim: WhmState
) -> None:
    whm_sim.faults.exists_next()  # "already exists", but nothing was created
    order_id = await whm_order(installation, "exists.example.com")
    run = await finish(installation, order_id)
    assert run.state == "completed", run.last_error

    username = account_username(order_id)
    assert list(whm_sim.accounts) == [username]
    assert whm_sim.accounts[username]["domain"] == "exists.example.com"
    retries = [e for e in await activity(installation, order_id) if e.event == "phase_retry"]
    assert len(retries) == 1
    error = retries[0].data["error"]
    assert error["code"] == "TransientUpstreamError"
    assert error["message"] == (
        "whm: provision.taken: createacct answered 'Sorry, a passwd entry for that username "
        f"already exists.', yet WHM lists neither the account {username} for "
        "exists.example.com nor another owner of the domain (an earlier createacct may still "
        "be running): trying again"
    )


async def test_a_full_server_parks_the_run_for_capacity(
    installation: bootstrap.Installation, whm_sim: WhmState
) -> None:
    whm_sim.max_accounts = 0
    order_id = await whm_order(installation, "full.example.com")
    await drain(installation)

    run = await run_of(installation, order_id)
    assert (run.state, run.phase) == ("queued", "provision")
    assert run.wait_reason.startswith("no capacity: ")
    assert "reached its account creation limit of 0 accounts" in run.wait_reason
    assert run.last_error["code"] == "CapacityExhausted"
    assert whm_sim.accounts == {}
    order = await detail.describe_order(installation.db, order_id)
    assert order.state != "failed"
    parked = [e for e in await activity(installation, order_id) if e.event == "phase_parked"]
    assert len(parked) == 1

    whm_sim.max_accounts = None
    await make_due(installation, order_id)
    assert (await finish(installation, order_id)).state == "completed"
    assert list(whm_sim.accounts) == [account_username(order_id)]


async def test_an_unknown_package_fails_the_run_with_whms_reason(
    installation: bootstrap.Installation, whm_sim: WhmState
) -> None:
    order_id = await whm_order(installation, "nope.example.com", package="nope")
    await drain(installation)

    run = await run_of(installation, order_id)
    assert (run.state, run.phase) == ("failed", "provision")
    assert run.last_error["code"] == "PermanentUpstreamError"
    assert run.last_error["message"] == (
        "whm: provision.create: WHM refused createacct: The package “nope” does not exist."
    )
    assert run.last_upstream["response"]["body"]["metadata"]["result"] == 0
    assert whm_sim.accounts == {}
    order = await detail.describe_order(installation.db, order_id)
    assert order.state == "failed"
