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
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from fluxbilling.redaction import Redactor

__all__ = [
    "CONTEXT_KEYS",
    "RECENT_SECRETS",
    "KeyValueFormatter",
    "RedactingFilter",
    "configure",
    "register_secret",
]

CONTEXT_KEYS = ("run", "order", "phase", "attempt", "worker", "upstream", "status", "delay")

#: Per-order secrets (root passwords) kept for masking: the most recently used ones. Older
#: orders' flows register theirs again when they run (an action), so a long-running worker
#: neither grows without bound nor slows every log line down.
RECENT_SECRETS = 10_000

_lock = threading.Lock()
_permanent: set[str] = set()
_recent: OrderedDict[str, None] = OrderedDict()
_redactor = Redactor()
_stale = False


def register_secret(*values: str | None, recent: bool = False) -> None:
    """Mask these values in every log line from now on.

    Args:
        values: the secrets (None, empty and very short values are ignored).
        recent: per-order secrets (a root password): only the `RECENT_SECRETS` most recently
            registered are kept; installation and connection secrets are kept for good.
    """
    global _stale
    with _lock:
        for value in values:
            if not value or len(value) < 4:
                continue
            if not recent:
                _permanent.add(value)
                _recent.pop(value, None)
            elif value not in _permanent:
                _recent[value] = None
                _recent.move_to_end(value)
                while len(_recent) > RECENT_SECRETS:
                    _recent.popitem(last=False)
        _stale = True


def _current() -> Redactor:
    global _redactor, _stale
    with _lock:
        if _stale:
            _redactor = Redactor([*_permanent, *_recent])
            _stale = False
        return _redactor


class RedactingFilter(logging.Filter):
    """Replaces registered secrets in the rendered message (and its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render, mask, and keep the record."""
        record.msg = _current().text(record.getMessage())
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
