"""PayPal: signed webhook events in, orders out and captured (`adapter.PayPalGateway`)."""

from __future__ import annotations

from fluxbilling.billing.gateways.paypal.adapter import PayPalGateway, connect

__all__ = ["PayPalGateway", "connect"]
