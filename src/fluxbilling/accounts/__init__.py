"""Operator accounts: who is calling, and what their role lets them do."""

from __future__ import annotations

from fluxbilling.accounts.roles import Principal, Role

__all__ = ["Principal", "Role"]
