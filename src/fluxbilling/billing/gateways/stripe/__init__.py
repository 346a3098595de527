"""Stripe: signed events in, Checkout Sessions out (`adapter.StripeGateway`)."""

from __future__ import annotations

from fluxbilling.billing.gateways.stripe.adapter import StripeGateway

__all__ = ["StripeGateway"]
