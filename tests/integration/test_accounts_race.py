"""Two admins demoting each other at the same moment leave one admin, not none (PostgreSQL:
SQLite has one writer at a time)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from fluxbilling import bootstrap, errors
from fluxbilling.accounts import users
from fluxbilling.accounts.roles import Role
from tests.integration.accounts import CHEAP_HASHING, make_user

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return CHEAP_HASHING


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    installation: bootstrap.Installation,
) -> None:
    db = installation.db
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: the race needs row locks (PostgreSQL)")
    ada = await make_user(installation, "ada", Role.ADMIN)
    bob = await make_user(installation, "bob", Role.ADMIN)
    async with db.begin() as first:
        # Ada is demoted and her transaction is still open when Bob's demotion starts.
        await users.update(first, ada.id, role=Role.OPERATOR, disabled=None, now=NOW)

        async def demote_bob() -> None:
            async with db.begin() as second:
                await users.update(second, bob.id, role=Role.VIEWER, disabled=None, now=NOW)

        racing = asyncio.create_task(demote_bob())
        await asyncio.sleep(0.5)
        assert not racing.done(), "the second demotion must wait for the first"
    with pytest.raises(errors.Conflict, match="bob is the last enabled admin"):
        await racing
    async with db.connect() as conn:
        roles = {u.username: u.role for u in await users.list_users(conn)}
    assert (roles["ada"], roles["bob"]) == (Role.OPERATOR, Role.ADMIN)
