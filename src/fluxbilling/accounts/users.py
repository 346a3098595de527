"""Operator accounts: the `users` rows (username, role, password hash, disabled).

A user's last sign-in is read from the audit log (its `user.login` rows), which records
every successful login already: no second copy of that fact to keep in step.

Usernames are lower-case (`USERNAME_PATTERN`); logins lower-case what is typed. The last
enabled admin can be neither demoted nor disabled, so an installation always has someone
who can manage accounts (the installation token aside).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import errors
from fluxbilling.accounts.roles import INSTALLATION_TOKEN, Role
from fluxbilling.db import schema

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "USERNAME_PATTERN",
    "User",
    "by_username",
    "check_password",
    "check_username",
    "create",
    "get",
    "list_users",
    "password_hash",
    "set_password",
    "update",
]

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._@-]{0,63}$"
"""Lower-case letters, digits and `. _ @ -`; 1 to 64 characters, not starting with a sign."""

MIN_PASSWORD = 12
"""The shortest password a person may choose (generated ones are 24 characters)."""
MAX_PASSWORD = 1024
"""The longest password accepted (hashing cost must stay bounded)."""

_users = schema.users
_audit = schema.audit_log
_USERNAME = re.compile(USERNAME_PATTERN)


@dataclass(frozen=True, slots=True)
class User:
    """An operator account as shown (never its password hash)."""

    id: int
    username: str
    role: Role
    disabled: bool
    created_at: datetime
    updated_at: datetime
    password_changed_at: datetime
    last_login_at: datetime | None = None


def check_username(username: str) -> None:
    """Raises errors.InvalidSettings unless `username` may name a new user."""
    if not _USERNAME.fullmatch(username):
        raise errors.InvalidSettings(
            "a username is 1 to 64 lower-case letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit",
            problems=[{"path": "username", "message": "invalid username"}],
        )
    if username == INSTALLATION_TOKEN.name:
        raise errors.InvalidSettings(
            f"{username!r} is reserved for the installation's API token",
            problems=[{"path": "username", "message": "reserved name"}],
        )


def check_password(password: str, *, path: str = "password") -> None:
    """Raises errors.InvalidSettings unless `password` is long enough and one line."""
    problem = None
    if len(password) < MIN_PASSWORD:
        problem = f"at least {MIN_PASSWORD} characters"
    elif len(password) > MAX_PASSWORD:
        problem = f"at most {MAX_PASSWORD} characters"
    elif any(char in password for char in "\x00\r\n"):
        problem = "no NUL or line breaks"
    if problem is not None:
        raise errors.InvalidSettings(
            f"a password needs {problem}", problems=[{"path": path, "message": problem}]
        )


def _user(row: Any, last_login_at: datetime | None = None) -> User:
    return User(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        disabled=row.disabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
        password_changed_at=row.password_changed_at,
        last_login_at=last_login_at,
    )


def _logins() -> Any:
    """The `user.login` audit rows' latest time by user id (as the audit log keeps it, text)."""
    return (
        sa.select(_audit.c.entity_id, sa.func.max(_audit.c.created_at).label("at"))
        .where(_audit.c.entity == "user", _audit.c.action == "user.login")
        .group_by(_audit.c.entity_id)
    )


async def _last_login(conn: AsyncConnection, user_id: int) -> datetime | None:
    query = _logins().where(_audit.c.entity_id == str(user_id))
    row = (await conn.execute(query)).first()
    return None if row is None else row.at


async def create(
    conn: AsyncConnection, *, username: str, role: Role, hashed: str, now: datetime
) -> User:
    """Store a new user.

    Raises:
        errors.InvalidSettings: the username is not allowed.
        errors.Conflict: the username is taken.
    """
    check_username(username)
    taken = await conn.execute(sa.select(_users.c.id).where(_users.c.username == username))
    if taken.first() is not None:
        raise errors.Conflict(f"a user named {username!r} exists", username=username)
    try:
        async with conn.begin_nested():
            row = (
                await conn.execute(
                    _users.insert()
                    .values(
                        username=username,
                        role=role,
                        password_hash=hashed,
                        created_at=now,
                        updated_at=now,
                        password_changed_at=now,
                    )
                    .returning(*_users.c)
                )
            ).one()
    except sa.exc.IntegrityError as exc:  # created by a concurrent request meanwhile
        raise errors.Conflict(f"a user named {username!r} exists", username=username) from exc
    return _user(row)


async def _row(conn: AsyncConnection, user_id: int, *, lock: bool = False) -> Any:
    query = sa.select(_users).where(_users.c.id == user_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise errors.NotFound(f"no user {user_id}", user_id=user_id)
    return row


async def get(conn: AsyncConnection, user_id: int) -> User:
    """One user, with their last sign-in. Raises errors.NotFound."""
    row = await _row(conn, user_id)
    return _user(row, await _last_login(conn, user_id))


async def password_hash(conn: AsyncConnection, user_id: int) -> str:
    """A user's stored password hash. Raises errors.NotFound."""
    return str((await _row(conn, user_id)).password_hash)


async def by_username(conn: AsyncConnection, username: str) -> tuple[User, str] | None:
    """The user named `username` and their password hash, or None."""
    row = (await conn.execute(sa.select(_users).where(_users.c.username == username))).first()
    return None if row is None else (_user(row), str(row.password_hash))


async def list_users(conn: AsyncConnection) -> list[User]:
    """Every user, by username, with their last sign-in."""
    logins = {row.entity_id: row.at for row in await conn.execute(_logins())}
    rows = await conn.execute(sa.select(_users).order_by(_users.c.username))
    return [_user(row, logins.get(str(row.id))) for row in rows]


async def _lock_admins(conn: AsyncConnection) -> None:
    """Lock every enabled admin's row, in id order, before a change that may remove one.

    Two admins demoting each other at once would each lock only their target, each count the
    other as still enabled, and both succeed: no admin left. Locking the whole set in one
    order makes the second wait for the first and count again afterwards (PostgreSQL reads
    the rows it waited for as committed). SQLite has one writer at a time already.
    """
    if conn.dialect.name == "postgresql":
        enabled = sa.and_(_users.c.role == Role.ADMIN, sa.not_(_users.c.disabled))
        await conn.execute(
            sa.select(_users.c.id).where(enabled).order_by(_users.c.id).with_for_update()
        )


async def _other_admins(conn: AsyncConnection, user_id: int) -> int:
    query = sa.select(sa.func.count()).where(
        _users.c.role == Role.ADMIN, sa.not_(_users.c.disabled), _users.c.id != user_id
    )
    return int((await conn.execute(query)).scalar_one())


async def update(
    conn: AsyncConnection,
    user_id: int,
    *,
    role: Role | None,
    disabled: bool | None,
    now: datetime,
) -> tuple[User, dict[str, Any]]:
    """Change a user's role or disabled flag; returns the user and what changed.

    Raises:
        errors.NotFound: no such user.
        errors.Conflict: it would leave no enabled admin.
    """
    if role not in (None, Role.ADMIN) or disabled:
        await _lock_admins(conn)  # before the target's own lock: one order for everyone
    row = await _row(conn, user_id, lock=True)
    changes: dict[str, Any] = {}
    if role is not None and role != row.role:
        changes["role"] = {"from": row.role, "to": str(role)}
    if disabled is not None and disabled != row.disabled:
        changes["disabled"] = {"from": row.disabled, "to": disabled}
    stays_admin = (role or row.role) == Role.ADMIN and not (
        row.disabled if disabled is None else disabled
    )
    was_admin = row.role == Role.ADMIN and not row.disabled
    if was_admin and not stays_admin and await _other_admins(conn, user_id) == 0:
        raise errors.Conflict(
            f"{row.username} is the last enabled admin; make another user admin first",
            user_id=user_id,
        )
    if changes:
        await conn.execute(
            _users.update()
            .where(_users.c.id == user_id)
            .values(
                role=role or row.role,
                disabled=row.disabled if disabled is None else disabled,
                updated_at=now,
            )
        )
    return await get(conn, user_id), changes


async def set_password(conn: AsyncConnection, user_id: int, hashed: str, now: datetime) -> User:
    """Replace a user's password hash. Raises errors.NotFound."""
    await _row(conn, user_id, lock=True)
    await conn.execute(
        _users.update()
        .where(_users.c.id == user_id)
        .values(password_hash=hashed, password_changed_at=now, updated_at=now)
    )
    return await get(conn, user_id)
