"""SMTP delivery over real TCP to the capturing server, and failure classification."""

from __future__ import annotations

import mailbox
import socket
from collections.abc import Iterator
from pathlib import Path

import aiosmtplib
import pytest

from fluxbilling import errors
from fluxbilling.handoff import mail
from fluxbilling_simulators.mailbox import CapturingSmtpServer

REJECTED = "nobody@example.net"
DEFERRED = "busy@example.net"
BANNED_SENDER = "spammer@example.net"


def message(to: str = "ada@example.net", **overrides: str) -> mail.OutgoingMessage:
    fields = {
        "message_id": "order-42.welcome@fluxbilling.test",
        "sender": "noreply@example.net",
        "to": to,
        "subject": "Your server vps42.example.net is ready",
        "text": "Hello Ada,\nyour server is ready. Passwort: \u00e4\u00f6\u00fc\n",
    }
    fields.update(overrides)
    return mail.OutgoingMessage(**fields)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[CapturingSmtpServer]:
    with CapturingSmtpServer(
        maildir=tmp_path / "Maildir",
        reject_rcpt=[REJECTED],
        defer_rcpt=[DEFERRED],
        reject_sender=[BANNED_SENDER],
    ) as server:
        yield server


def mailer_for(server: CapturingSmtpServer) -> mail.SmtpMailer:
    return mail.SmtpMailer("127.0.0.1", server.port, timeout=5, local_hostname="test.local")


@pytest.mark.anyio
async def test_smtp_mailer_delivers_over_tcp(
    smtp_server: CapturingSmtpServer, tmp_path: Path
) -> None:
    assert smtp_server.port > 0
    await mailer_for(smtp_server).send(message())

    [received] = smtp_server.messages
    assert received["Message-ID"] == "<order-42.welcome@fluxbilling.test>"
    assert received["From"] == "noreply@example.net"
    assert received["To"] == "ada@example.net"
    assert received["Subject"] == "Your server vps42.example.net is ready"
    assert received["Date"]
    body = received.get_body(("plain",))
    assert body is not None
    assert body.get_content() == "Hello Ada,\nyour server is ready. Passwort: \u00e4\u00f6\u00fc\n"
    assert smtp_server.envelopes == [("noreply@example.net", ["ada@example.net"])]
    [stored] = list(mailbox.Maildir(tmp_path / "Maildir", create=False))
    assert stored["Message-ID"] == "<order-42.welcome@fluxbilling.test>"


@pytest.mark.anyio
async def test_resending_keeps_the_same_message_id(smtp_server: CapturingSmtpServer) -> None:
    mailer = mailer_for(smtp_server)
    await mailer.send(message(message_id="<abc@x>"))
    await mailer.send(message(message_id="<abc@x>"))
    assert [m["Message-ID"] for m in smtp_server.messages] == ["<abc@x>", "<abc@x>"]


@pytest.mark.anyio
async def test_rejected_recipient_is_permanent(smtp_server: CapturingSmtpServer) -> None:
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await mailer_for(smtp_server).send(message(to=REJECTED))
    assert (info.value.upstream, info.value.operation, info.value.status) == (
        "smtp",
        "send mail",
        550,
    )
    assert isinstance(info.value.__cause__, aiosmtplib.SMTPException)
    assert smtp_server.messages == []


@pytest.mark.anyio
async def test_deferred_recipient_is_transient(smtp_server: CapturingSmtpServer) -> None:
    with pytest.raises(errors.TransientUpstreamError) as info:
        await mailer_for(smtp_server).send(message(to=DEFERRED))
    assert info.value.status == 451


@pytest.mark.anyio
async def test_rejected_sender_is_permanent(smtp_server: CapturingSmtpServer) -> None:
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await mailer_for(smtp_server).send(message(sender=BANNED_SENDER))
    assert info.value.status == 553
    assert "Sender address rejected" in info.value.message


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.anyio
async def test_refused_connection_is_transient() -> None:
    mailer = mail.SmtpMailer("127.0.0.1", free_port(), timeout=5, local_hostname="test.local")
    with pytest.raises(errors.TransientUpstreamError) as info:
        await mailer.send(message())
    assert info.value.upstream == "smtp"
    assert info.value.status is None


@pytest.mark.anyio
async def test_timeout_is_transient() -> None:
    # A listening socket that never greets: the client times out waiting for 220.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        mailer = mail.SmtpMailer("127.0.0.1", port, timeout=0.2, local_hostname="test.local")
        with pytest.raises(errors.TransientUpstreamError):
            await mailer.send(message())


@pytest.mark.anyio
async def test_required_starttls_missing_is_permanent(smtp_server: CapturingSmtpServer) -> None:
    mailer = mail.SmtpMailer(
        "127.0.0.1", smtp_server.port, timeout=5, starttls=True, local_hostname="test.local"
    )
    with pytest.raises(errors.PermanentUpstreamError):
        await mailer.send(message())


@pytest.mark.anyio
async def test_auth_rejected_is_permanent(smtp_server: CapturingSmtpServer) -> None:
    # The capturing server offers no AUTH at all; asking for it cannot succeed later.
    mailer = mail.SmtpMailer(
        "127.0.0.1",
        smtp_server.port,
        timeout=5,
        username="u",
        password="p",
        local_hostname="test.local",
    )
    with pytest.raises(errors.PermanentUpstreamError):
        await mailer.send(message())
    assert "'p'" not in repr(mailer)


def test_build_email_wraps_the_message_id_and_folds_the_subject() -> None:
    built = mail.build_email(message(message_id="x@y", subject="Ready\n  now"))
    assert built["Message-ID"] == "<x@y>"
    assert built["Subject"] == "Ready now"


@pytest.mark.parametrize("field", ["message_id", "sender", "to"])
def test_build_email_refuses_header_injection(field: str) -> None:
    with pytest.raises(errors.InvalidSettings, match=field):
        mail.build_email(message(**{field: "a@b\r\nBcc: victim@example.net"}))


@pytest.mark.anyio
async def test_in_memory_mailer_records_and_fails_on_demand() -> None:
    fake = mail.InMemoryMailer(failures=[errors.TransientUpstreamError(upstream="smtp")])
    assert isinstance(fake, mail.Mailer)
    with pytest.raises(errors.TransientUpstreamError):
        await fake.send(message())
    await fake.send(message())
    assert fake.sent == [message()]


def test_smtp_mailer_satisfies_the_port() -> None:
    assert isinstance(mail.SmtpMailer("h", 25, timeout=1), mail.Mailer)


def test_capturing_server_lifecycle() -> None:
    server = CapturingSmtpServer(port=0)
    assert server.port == 0
    server.start()
    try:
        with pytest.raises(RuntimeError):
            server.start()
        assert server.port > 0
    finally:
        server.stop()
    server.stop()  # idempotent
    assert server.port == 0


@pytest.mark.anyio
async def test_capturing_server_on_a_given_port_without_maildir() -> None:
    port = free_port()
    with CapturingSmtpServer(port=port) as server:
        assert server.port == port
        await mailer_for(server).send(message())
    assert len(server.messages) == 1
    assert server.maildir is None
