"""Billing: turning payment-gateway notifications into payment facts.

Gateway modules are pure: they verify, parse and classify raw webhook bytes with an
explicit `now`; storing deliveries and moving invoices is the service layer's job.
"""

from __future__ import annotations

from fluxbilling.billing import stripe

__all__ = ["stripe"]
