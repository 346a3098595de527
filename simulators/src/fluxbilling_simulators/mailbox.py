"""A capturing SMTP server: real SMTP over TCP that keeps every mail it receives.

Built on aiosmtpd's thread-based `Controller`, so it serves while the test's own event
loop runs the client. Port 0 picks a free port (read it back from `.port`). Mails are
parsed with `email.policy.default` into `.messages` and, optionally, also written to a
Maildir. Recipients listed in ``reject_rcpt`` get ``550``, those in ``defer_rcpt`` get
``451`` and senders in ``reject_sender`` get ``553``, to exercise permanent and
transient failures.
"""

from __future__ import annotations

import asyncio
import mailbox
import threading
from collections.abc import Collection
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["CapturingSmtpServer"]


class _Handler:
    """aiosmtpd hooks: refuse the configured recipients, keep the rest."""

    def __init__(self, owner: CapturingSmtpServer) -> None:
        self.owner = owner

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if address in self.owner.reject_sender:
            return "553 5.7.1 Sender address rejected"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.owner.reject_rcpt:
            return "550 5.1.1 Mailbox unavailable"
        if address in self.owner.defer_rcpt:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.owner._store(raw, envelope)
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """A Controller that learns its real port when asked to bind port 0."""

    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]  # aiosmtpd lacks a hint


class CapturingSmtpServer:
    """An SMTP server on a local TCP port that records what it receives.

    Example:
        >>> with CapturingSmtpServer() as server:
        ...     port = server.port  # send mail to 127.0.0.1:port
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        maildir: Path | None = None,
        reject_rcpt: Collection[str] = (),
        defer_rcpt: Collection[str] = (),
        reject_sender: Collection[str] = (),
    ) -> None:
        """Configure the server (it listens only after `start`).

        Args:
            host: Address to bind.
            port: Port to bind; 0 picks a free one.
            maildir: Also deliver every mail into this Maildir (created if missing).
            reject_rcpt: Recipients answered with ``550`` (permanent failure).
            defer_rcpt: Recipients answered with ``451`` (transient failure).
            reject_sender: Senders answered with ``553`` at MAIL FROM (permanent).
        """
        self.host = host
        self._requested_port = port
        self.maildir = maildir
        self.reject_rcpt = frozenset(reject_rcpt)
        self.defer_rcpt = frozenset(defer_rcpt)
        self.reject_sender = frozenset(reject_sender)
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        self._controller: _Controller | None = None

    @property
    def port(self) -> int:
        """The bound port (the requested one until `start` has run)."""
        if self._controller is None:
            return self._requested_port
        return int(self._controller.port)

    def start(self) -> None:
        """Bind and serve in a background thread; return when the server answers."""
        if self._controller is not None:
            raise RuntimeError("the capturing SMTP server is already running")
        controller = _Controller(_Handler(self), hostname=self.host, port=self._requested_port)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop serving and release the port; messages stay readable."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> CapturingSmtpServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _store(self, raw: bytes, envelope: Envelope) -> None:
        # Like a local delivery agent: SMTP's CRLF line ends become the platform's LF.
        raw = raw.replace(b"\r\n", b"\n")
        parsed: Any = BytesParser(policy=policy.default).parsebytes(raw)
        with self._lock:
            self.messages.append(parsed)
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
            if self.maildir is not None:
                mailbox.Maildir(self.maildir, create=True).add(raw)
