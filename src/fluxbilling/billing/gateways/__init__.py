"""One adapter per payment gateway, each implementing `billing.gateway.Gateway`."""

from __future__ import annotations

__all__: list[str] = []
