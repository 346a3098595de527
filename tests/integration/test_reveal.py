"""Revealing a root password: to an operator through the API, and once through the link that
the welcome mail carries instead of the password (SQLite and PostgreSQL, real SMTP)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.accounts.roles import Principal, Role
from fluxbilling.api import auth, create_app
from fluxbilling.db import schema
from fluxbilling.handoff import reveal
from fluxbilling.handoff.mail import SmtpMailer
from fluxbilling.seed import PRODUCT_SLUG
from fluxbilling_simulators.mailbox import CapturingSmtpServer
from tests.httpsupport import asgi_client
from tests.integration.conftest import PANEL_URLS
from tests.integration.support import active_service, activity, add_provider, rows, run_action

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

PUBLIC_URL = "https://billing.example.net"
LINK = re.compile(re.escape(PUBLIC_URL) + r"/reveal/(\S+)")
FROM_THE_PAGE = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}
"""What a browser sends with the page's form: no referrer policy makes the Origin `null`."""


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"public_url": PUBLIC_URL, "reveal_link_hours": 24}


@pytest.fixture
def smtp() -> Iterator[CapturingSmtpServer]:
    with CapturingSmtpServer() as server:
        yield server


@pytest.fixture
def mailer(smtp: CapturingSmtpServer) -> SmtpMailer:
    """The installation mails through real SMTP to the capturing server."""
    return SmtpMailer("127.0.0.1", smtp.port, timeout=10, local_hostname="test.local")


@pytest.fixture
async def customer(installation: bootstrap.Installation) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without credentials, reaching the installation at its public URL."""
    async with asgi_client(create_app(installation), PUBLIC_URL) as client:
        yield client


async def deliver_by_link(inst: bootstrap.Installation, product: str) -> None:
    products = schema.products
    async with inst.db.begin() as conn:
        await conn.execute(
            products.update()
            .where(products.c.slug == product)
            .values(password_delivery="reveal_link")
        )


def password_of(inst: bootstrap.Installation, service: Any) -> str:
    return inst.vault.open(service.root_password_sealed)


def welcome_text(smtp: CapturingSmtpServer) -> str:
    [message] = smtp.messages
    body = message.get_body(("plain",))
    assert body is not None
    text: str = body.get_content()
    return text


async def linked_service(
    inst: bootstrap.Installation, smtp: CapturingSmtpServer, product: str = PRODUCT_SLUG
) -> tuple[Any, str]:
    """An active service whose welcome mail carried a reveal link; the service and the token."""
    await deliver_by_link(inst, product)
    service = await active_service(inst, "web1.example.com", product)
    [token] = LINK.findall(welcome_text(smtp))
    return service, token


async def audit_rows(inst: bootstrap.Installation) -> list[Any]:
    """The audit rows of password reveals (other changes are audited too)."""
    log = schema.audit_log
    return await rows(
        inst,
        sa.select(log).where(log.c.action == "service.password_reveal").order_by(log.c.id),
    )


def server_log(caplog: pytest.LogCaptureFixture) -> str:
    """Every line logged at any level, but by the test's own HTTP client (the customer's
    browser, which knows the link) and SMTP server (the customer's mailbox)."""
    theirs = ("httpx", "httpcore", "mail.log")
    lines = [
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith(theirs)
    ]
    assert any("password_reveal" in line for line in lines)  # the capture works
    return "\n".join(lines)


def everything_said(audits: list[Any], activities: list[Any]) -> str:
    return repr([a._mapping for a in audits]) + repr([a._mapping for a in activities])


# --- the operator asks --------------------------------------------------------------------


async def test_an_operator_sees_the_password_once_per_request_and_it_is_written_down(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = await active_service(installation, "web1.example.com")
    password = password_of(installation, service)
    caplog.set_level(logging.DEBUG)  # from here on: the welcome mail carried the password

    answer = await api.post(f"/api/v1/services/{service.id}/password/reveal")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"service_id": service.id, "password": password}
    assert answer.headers["cache-control"] == "no-store"
    [audit] = await audit_rows(installation)
    assert (audit.actor, audit.action, audit.entity, audit.entity_id) == (
        "installation-token",
        "service.password_reveal",
        "service",
        str(service.id),
    )
    assert audit.changes == {"via": "api"}
    revealed = [
        a
        for a in await activity(installation, service.order_id)
        if a.event == ("password_revealed")
    ]
    assert [a.message for a in revealed] == ["root password revealed to installation-token"]
    assert password not in everything_said([audit], await activity(installation, service.order_id))
    assert password not in server_log(caplog)

    again = await api.post(f"/api/v1/services/{service.id}/password/reveal")
    assert again.json()["password"] == password
    assert len(await audit_rows(installation)) == 2  # every reveal is written down


async def test_a_viewer_is_refused_and_nothing_is_written(
    installation: bootstrap.Installation,
) -> None:
    service = await active_service(installation, "web1.example.com")
    app = create_app(installation)
    app.dependency_overrides[auth.authenticate] = lambda: Principal("vera", Role.VIEWER)
    async with asgi_client(app, "http://api.test") as viewer:
        refused = await viewer.post(f"/api/v1/services/{service.id}/password/reveal")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "this needs the operator role"
    assert password_of(installation, service) not in refused.text
    assert await audit_rows(installation) == []


async def test_an_operator_account_may_and_its_name_is_the_actor(
    installation: bootstrap.Installation,
) -> None:
    service = await active_service(installation, "web1.example.com")
    app = create_app(installation)
    app.dependency_overrides[auth.authenticate] = lambda: Principal("olga", Role.OPERATOR, 4)
    async with asgi_client(app, "http://api.test") as operator:
        answer = await operator.post(f"/api/v1/services/{service.id}/password/reveal")
    assert answer.status_code == 200
    [audit] = await audit_rows(installation)
    assert audit.actor == "olga"


async def test_no_credential_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/services/1/password/reveal")).status_code == 401


async def test_unknown_terminated_and_passwordless_services_are_refused(
    installation: bootstrap.Installation, api: httpx.AsyncClient
) -> None:
    unknown = await api.post("/api/v1/services/999999/password/reveal")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "NotFound"

    managed = await active_service(installation, "web1.example.com")
    async with installation.db.begin() as conn:
        await conn.execute(
            schema.services.update()
            .where(schema.services.c.id == managed.id)
            .values(root_password_sealed=None)
        )
    refused = await api.post(f"/api/v1/services/{managed.id}/password/reveal")
    assert refused.status_code == 409
    assert "no root password kept by us" in refused.json()["error"]["message"]

    gone = await active_service(installation, "web2.example.com")
    assert (await run_action(installation, api, gone.id, "terminate"))["state"] == "completed"
    terminated = await api.post(f"/api/v1/services/{gone.id}/password/reveal")
    assert terminated.status_code == 409
    assert "terminated" in terminated.json()["error"]["message"]
    assert await audit_rows(installation) == []


# --- the welcome mail's link ----------------------------------------------------------------


async def test_under_reveal_link_the_mail_received_over_smtp_has_a_link_and_no_password(
    installation: bootstrap.Installation, smtp: CapturingSmtpServer
) -> None:
    service, token = await linked_service(installation, smtp)
    text = welcome_text(smtp)
    assert password_of(installation, service) not in text
    assert "expires after 24 hours" in text
    assert reveal.well_formed(token)
    [link] = await rows(installation, sa.select(schema.reveal_links))
    assert link.service_id == service.id
    assert link.token_hash == reveal.token_hash(token)
    assert (link.used_at, link.revoked_at) == (None, None)
    hours = (link.expires_at - link.created_at).total_seconds() / 3600
    assert 23.9 < hours < 24.1
    [outbox] = await rows(installation, sa.select(schema.outgoing_mail))
    assert token not in outbox.body_masked
    assert password_of(installation, service) not in outbox.body_masked
    stored = repr(await rows(installation, sa.select(schema.activity_log)))
    assert token not in stored


async def test_under_mail_the_mail_received_over_smtp_has_the_password(
    installation: bootstrap.Installation, smtp: CapturingSmtpServer
) -> None:
    service = await active_service(installation, "web1.example.com")
    text = welcome_text(smtp)
    assert f"Password: {password_of(installation, service)}" in text
    assert "/reveal/" not in text
    assert await rows(installation, sa.select(schema.reveal_links)) == []


async def test_get_does_not_spend_the_link_and_the_button_shows_the_password_once(
    installation: bootstrap.Installation,
    smtp: CapturingSmtpServer,
    customer: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, token = await linked_service(installation, smtp)
    password = password_of(installation, service)
    caplog.set_level(logging.DEBUG)  # from here on: the test's SMTP server logs what it got

    for _ in range(3):  # the customer, a mail scanner, a link preview
        page = await customer.get(f"/reveal/{token}")
        assert page.status_code == 200
        assert '<form method="post">' in page.text
        assert password not in page.text
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

    shown = await customer.post(f"/reveal/{token}", headers=FROM_THE_PAGE)
    assert shown.status_code == 200
    assert f"<code>{password}</code>" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert shown.headers["content-security-policy"].startswith("default-src 'none';")

    second = await customer.post(f"/reveal/{token}", headers=FROM_THE_PAGE)
    assert second.status_code == 404
    assert password not in second.text
    assert (await customer.get(f"/reveal/{token}")).status_code == 404

    [audit] = await audit_rows(installation)
    assert (audit.actor, audit.action, audit.entity_id) == (
        reveal.LINK_ACTOR,
        "service.password_reveal",
        str(service.id),
    )
    [link] = await rows(installation, sa.select(schema.reveal_links))
    assert audit.changes == {"via": "reveal_link", "link_id": link.id}
    assert link.used_at is not None
    events = [a.event for a in await activity(installation, service.order_id)]
    assert events.count("password_revealed") == 1
    said = everything_said([audit], await activity(installation, service.order_id))
    assert password not in said and token not in said
    logged = server_log(caplog)
    assert password not in logged and token not in logged


async def test_used_expired_revoked_and_unknown_links_get_the_same_neutral_page(
    installation: bootstrap.Installation,
    smtp: CapturingSmtpServer,
    customer: httpx.AsyncClient,
) -> None:
    _, token = await linked_service(installation, smtp)
    assert (await customer.post(f"/reveal/{token}", headers=FROM_THE_PAGE)).status_code == 200
    used = await customer.post(f"/reveal/{token}", headers=FROM_THE_PAGE)

    unknown_token = reveal.new_token()
    expired_token = reveal.new_token()
    revoked_token = reveal.new_token()
    links = schema.reveal_links
    async with installation.db.begin() as conn:
        service_id = (await conn.execute(sa.select(links.c.service_id))).scalar_one()
        await conn.execute(
            links.insert().values(
                service_id=service_id,
                token_hash=reveal.token_hash(expired_token),
                expires_at=installation.db.now(-1),
            )
        )
        await conn.execute(
            links.insert().values(
                service_id=service_id,
                token_hash=reveal.token_hash(revoked_token),
                expires_at=installation.db.now(3600),
                revoked_at=installation.db.now(),
            )
        )

    answers = [used]
    for dead in (unknown_token, expired_token, revoked_token, "x", "a/b", "%00"):
        answers.append(await customer.get(f"/reveal/{dead}"))
        answers.append(await customer.post(f"/reveal/{dead}", headers=FROM_THE_PAGE))
    assert {(a.status_code, a.text) for a in answers} == {(404, used.text)}
    assert all(a.headers["cache-control"] == "no-store" for a in answers)
    assert len(await audit_rows(installation)) == 1


async def test_a_post_from_elsewhere_is_refused_and_spends_nothing(
    installation: bootstrap.Installation,
    smtp: CapturingSmtpServer,
    customer: httpx.AsyncClient,
) -> None:
    _, token = await linked_service(installation, smtp)
    for headers in (
        {},  # no browser said where it came from
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "same-site", "Origin": PUBLIC_URL},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ):
        refused = await customer.post(f"/reveal/{token}", headers=headers)
        assert refused.status_code == 403, headers
    assert (await customer.get(f"/reveal/{token}")).status_code == 200
    by_origin = await customer.post(f"/reveal/{token}", headers={"Origin": PUBLIC_URL})
    assert by_origin.status_code == 200  # a browser without Sec-Fetch-Site, from our page


async def test_two_racing_posts_reveal_the_password_once(
    installation: bootstrap.Installation,
    smtp: CapturingSmtpServer,
    customer: httpx.AsyncClient,
) -> None:
    service, token = await linked_service(installation, smtp)
    answers = await asyncio.gather(
        *(customer.post(f"/reveal/{token}", headers=FROM_THE_PAGE) for _ in range(4))
    )
    assert sorted(a.status_code for a in answers) == [200, 404, 404, 404]
    assert len(await audit_rows(installation)) == 1
    events = [a.event for a in await activity(installation, service.order_id)]
    assert events.count("password_revealed") == 1


async def test_a_password_reset_revokes_the_link(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    smtp: CapturingSmtpServer,
    customer: httpx.AsyncClient,
) -> None:
    # SolusVM 2 cannot reset passwords; Virtualizor can.
    product = await add_provider(installation, "virtualizor", PANEL_URLS["virtualizor"])
    service, token = await linked_service(installation, smtp, product)
    old = password_of(installation, service)
    assert (await run_action(installation, api, service.id, "reset_password"))[
        "state"
    ] == "completed"

    assert (await customer.get(f"/reveal/{token}")).status_code == 404
    assert (await customer.post(f"/reveal/{token}", headers=FROM_THE_PAGE)).status_code == 404
    [link] = await rows(installation, sa.select(schema.reveal_links))
    assert link.revoked_at is not None and link.used_at is None
    events = [a.event for a in await activity(installation, service.order_id)]
    assert "reveal_links_revoked" in events
    new = (await api.post(f"/api/v1/services/{service.id}/password/reveal")).json()["password"]
    assert new != old


async def test_a_terminated_services_link_is_dead(
    installation: bootstrap.Installation,
    api: httpx.AsyncClient,
    smtp: CapturingSmtpServer,
    customer: httpx.AsyncClient,
) -> None:
    service, token = await linked_service(installation, smtp)
    assert (await run_action(installation, api, service.id, "terminate"))["state"] == "completed"
    assert (await customer.get(f"/reveal/{token}")).status_code == 404
    assert (await customer.post(f"/reveal/{token}", headers=FROM_THE_PAGE)).status_code == 404
    assert await audit_rows(installation) == []
