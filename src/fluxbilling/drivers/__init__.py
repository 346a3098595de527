"""Drivers: the upstream error boundary (`upstream`), connections and redaction every driver shares."""

from __future__ import annotations

__all__: list[str] = []
