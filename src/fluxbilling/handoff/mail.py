"""Mail delivery: the `Mailer` port, its SMTP adapter and its in-memory fake.

Idempotency is the caller's job (an outbox row per message); the mailer only sets the
``Message-ID`` it is given, so a message re-sent after a crash is recognisable.

SMTP failures are classified here, at the boundary:

| Signal                                               | Class                    |
|------------------------------------------------------|--------------------------|
| connection refused/reset, timeout, disconnect        | `TransientUpstreamError` |
| SMTP 4xx reply (greylisting, mailbox busy, ...)      | `TransientUpstreamError` |
| SMTP 5xx reply (unknown user, relay denied, auth)    | `PermanentUpstreamError` |
| server lacks a required extension (STARTTLS, AUTH)   | `PermanentUpstreamError` |
"""

from __future__ import annotations

import email.policy
import email.utils
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol, runtime_checkable

import aiosmtplib

from fluxbilling import errors

__all__ = ["InMemoryMailer", "Mailer", "OutgoingMessage", "SmtpMailer", "build_email"]

_UPSTREAM = "smtp"
_OPERATION = "send mail"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One plain-text mail to send.

    Attributes:
        message_id: The Message-ID, stable across re-sends (angle brackets optional).
        sender: The From address.
        to: The single recipient address.
        subject: The subject line; line breaks are folded into spaces.
        text: The plain-text body.
    """

    message_id: str
    sender: str
    to: str
    subject: str
    text: str


@runtime_checkable
class Mailer(Protocol):
    """Sends one mail; the port the handoff service depends on."""

    async def send(self, message: OutgoingMessage) -> None:
        """Send one message.

        Args:
            message: What to send.

        Raises:
            errors.TransientUpstreamError: Sending may succeed later unchanged.
            errors.PermanentUpstreamError: Sending will fail again unchanged.
        """
        ...


def build_email(message: OutgoingMessage) -> EmailMessage:
    """The RFC 5322 message for an `OutgoingMessage` (UTF-8, Message-ID kept).

    Args:
        message: What to send.

    Returns:
        The email with From, To, Subject, Date, Message-ID and a text/plain body.

    Raises:
        errors.InvalidSettings: An address or the Message-ID contains a line break.
    """
    fields = {"message_id": message.message_id, "sender": message.sender, "to": message.to}
    for name, value in fields.items():
        if "\r" in value or "\n" in value:
            raise errors.InvalidSettings(f"mail field {name!r} contains a line break")
    message_id = message.message_id.strip()
    if not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["Message-ID"] = message_id
    mail["Date"] = email.utils.formatdate(usegmt=True)
    mail["From"] = message.sender
    mail["To"] = message.to
    mail["Subject"] = " ".join(message.subject.split())
    mail.set_content(message.text)
    return mail


def _reply_error(code: int, text: str) -> errors.UpstreamError:
    cls: type[errors.UpstreamError] = (
        errors.TransientUpstreamError if code < 500 else errors.PermanentUpstreamError
    )
    return cls(
        f"smtp: send mail failed with {code} {text}".strip(),
        upstream=_UPSTREAM,
        operation=_OPERATION,
        status=code,
    )


def _classify(exc: aiosmtplib.SMTPException | OSError) -> errors.UpstreamError:
    """Map an aiosmtplib or socket failure into the taxonomy."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        # One recipient per message: its reply decides.
        refused = exc.recipients[0]
        return _reply_error(refused.code, refused.message)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 400:
        return _reply_error(exc.code, exc.message)
    # The bare base class is only raised for capability mismatches (no STARTTLS, no AUTH):
    # configuration problems that retrying cannot fix.
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or type(exc) is aiosmtplib.SMTPException:
        return errors.PermanentUpstreamError(
            f"smtp: {exc}", upstream=_UPSTREAM, operation=_OPERATION
        )
    return errors.TransientUpstreamError(
        f"smtp: send mail failed: {type(exc).__name__}: {exc}",
        upstream=_UPSTREAM,
        operation=_OPERATION,
    )


class SmtpMailer:
    """Sends mail through an SMTP server with aiosmtplib, one connection per message.

    Example:
        >>> mailer = SmtpMailer("127.0.0.1", 2525, timeout=10)
    """

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        *,
        local_hostname: str | None = None,
    ) -> None:
        """Configure the relay.

        Args:
            host: SMTP server name or address.
            port: SMTP port.
            timeout: Seconds for connecting and for each command.
            username: Login name, if the relay requires AUTH.
            password: Login password.
            starttls: Require STARTTLS (fails permanently if the server lacks it).
            local_hostname: The EHLO name; the machine's FQDN if None.
        """
        self.host = host
        self.port = port
        self.timeout = timeout
        self.username = username
        self._password = password
        self.starttls = starttls
        self.local_hostname = local_hostname

    def __repr__(self) -> str:
        return f"SmtpMailer(host={self.host!r}, port={self.port}, username={self.username!r})"

    async def send(self, message: OutgoingMessage) -> None:
        """Send one message (see `Mailer.send`)."""
        mail = build_email(message)
        try:
            await aiosmtplib.send(
                mail,
                sender=message.sender,
                recipients=[message.to],
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self._password,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                start_tls=self.starttls,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise _classify(exc) from exc


@dataclass
class InMemoryMailer:
    """A `Mailer` fake that records what it was asked to send.

    Attributes:
        sent: Every message successfully "sent", in order.
        failures: Errors to raise, one per `send` call, before recording resumes.
    """

    sent: list[OutgoingMessage] = field(default_factory=list)
    failures: list[errors.FluxError] = field(default_factory=list)

    async def send(self, message: OutgoingMessage) -> None:
        """Record the message, or raise the next queued failure (see `Mailer.send`)."""
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
