"""Structured logs: one event per line, `key=value` context (run, order, phase), secrets masked.

```
2026-11-26T09:30:20.123Z INFO  fluxbilling.engine.worker phase completed run=12 order=7 phase=provision
```
Context travels in `extra={...}`; every known secret (installation key, API token, webhook
secrets, connection credentials as they are opened) is masked in the final line by a filter
on the handler, so even a careless message cannot leak one.
"""

from __future__ import annotations

import logging
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from fluxbilling.drivers.redaction import Redactor

__all__ = ["CONTEXT_KEYS", "KeyValueFormatter", "RedactingFilter", "configure", "register_secret"]

CONTEXT_KEYS = ("run", "order", "phase", "attempt", "worker", "upstream", "status", "delay")

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(*values: str | None) -> None:
    """Mask these values in every log line from now on."""
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= 4)


class RedactingFilter(logging.Filter):
    """Replaces registered secrets in the rendered message (and its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render, mask, and keep the record."""
        with _lock:
            redactor = Redactor(_secrets)
        record.msg = redactor.text(record.getMessage())
        record.args = None
        return True


class KeyValueFormatter(logging.Formatter):
    """`<UTC time> <LEVEL> <logger> <message> key=value ...` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """One line per event; exceptions follow on indented lines."""
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        parts = [f"{when}Z", f"{record.levelname:<5}", record.name, record.getMessage()]
        for key in CONTEXT_KEYS:
            value: Any = record.__dict__.get(key)
            if value is not None:
                parts.append(f"{key}={value}")
        line = " ".join(parts)
        if record.exc_info:
            line += "\n  " + self.formatException(record.exc_info).replace("\n", "\n  ")
        return line


def configure(level: int = logging.INFO) -> None:
    """Install the formatter and the redacting filter on the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_fluxbilling", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(RedactingFilter())
    handler._fluxbilling = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "mail.log", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
