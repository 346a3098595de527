"""Mollie: pings and signed events in, re-fetched payments out (`adapter.MollieGateway`)."""

from __future__ import annotations

from fluxbilling.billing.gateways.mollie.adapter import MollieGateway, connect

__all__ = ["MollieGateway", "connect"]
