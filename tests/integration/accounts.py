"""Helpers for tests of operator accounts: users with tokens, cheap hashing, a movable clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.accounts import Role
from fluxbilling.accounts.roles import INSTALLATION_TOKEN
from fluxbilling.db import schema

CHEAP_HASHING: dict[str, Any] = {"password_hash_time_cost": 1, "password_hash_memory_kib": 64}
"""Settings that make argon2id cheap: the tests count logins, not hashing cost."""


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass(frozen=True)
class Account:
    """A user made for a test: their id, password and a personal API token."""

    id: int
    username: str
    role: Role
    password: str
    token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_user(inst: bootstrap.Installation, username: str, role: Role) -> Account:
    """A user of `role` with a generated password and a token, made as the installation token."""
    accounts = inst.accounts
    user, password = await accounts.create_user(
        INSTALLATION_TOKEN, username=username, role=role, password=None
    )
    assert password is not None
    _info, token = await accounts.create_token(
        INSTALLATION_TOKEN, user.id, name="tests", expires_in_days=None
    )
    return Account(user.id, username, role, password, token)


async def audit_rows(inst: bootstrap.Installation, action: str | None = None) -> list[Any]:
    """The audit log, oldest first (of one action when given)."""
    table = schema.audit_log
    query = sa.select(table).order_by(table.c.id)
    if action is not None:
        query = query.where(table.c.action == action)
    async with inst.db.connect() as conn:
        return list((await conn.execute(query)).all())
