"""Operator accounts: who is calling, and what their role lets them do.

Users with roles, argon2id password hashes, console sessions, personal API tokens and the
login rate limit; `service.Accounts` is the shell the API and the command line use.
"""

from __future__ import annotations

from fluxbilling.accounts.roles import Principal, Role
from fluxbilling.accounts.service import Accounts

__all__ = ["Accounts", "Principal", "Role"]
