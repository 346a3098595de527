"""Handoff: telling the customer their service is ready (templates and mail)."""

from __future__ import annotations

from fluxbilling.handoff import mail, reveal, templates

__all__ = ["mail", "reveal", "templates"]
