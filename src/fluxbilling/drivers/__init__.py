"""Drivers: the upstream error boundary (`upstream`) and the connections every driver shares."""

from __future__ import annotations

__all__: list[str] = []
