"""CoinGate: token-checked callbacks in, re-fetched orders out (`adapter.CoinGateGateway`)."""

from __future__ import annotations

from fluxbilling.billing.gateways.coingate.adapter import CoinGateGateway, connect

__all__ = ["CoinGateGateway", "connect"]
