"""Drivers: the upstream error boundary, connections and redaction shared by every driver."""

from __future__ import annotations

from fluxbilling.drivers import connections, redaction, upstream

__all__ = ["connections", "redaction", "upstream"]
