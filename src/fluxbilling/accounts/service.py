"""The accounts service: sign-in, sessions and tokens as credentials, and user management.

The shell around the pure decisions of `sessions` (is this session valid now) and
`throttle` (may this login be tried now): it loads rows, asks them, stores the outcome and
writes the audit row of every change in the change's own transaction. Time comes from
`clock`, so tests can move it.

```
login        throttle -> verify the password (a dummy hash for unknown users) -> attempt
             recorded -> session opened | NotAuthenticated (one answer for every failure)
credentials  session id -> Principal (+ the session's CSRF digest) | None
             fbt_ token -> Principal | None
changes      users (create, role/disabled, password reset or change), tokens (create,
             revoke); a role change, a disable or a new password revokes the user's sessions
```
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling import audit, errors
from fluxbilling.accounts import credentials, sessions, throttle, tokens, users
from fluxbilling.accounts.passwords import Passwords
from fluxbilling.accounts.roles import Principal, Role
from fluxbilling.db import Database

__all__ = ["Accounts", "Login", "SessionAuth", "utcnow"]


def utcnow() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Login:
    """A successful sign-in: the user and the new session's cookie values."""

    user: users.User
    session: sessions.NewSession


@dataclass(frozen=True, slots=True)
class SessionAuth:
    """Who a valid session cookie belongs to, which session it is and its CSRF digest."""

    principal: Principal
    session_row_id: int
    csrf_hash: str


def _needs_user(actor: Principal) -> int:
    if actor.user_id is None:
        raise errors.Conflict(
            f"{actor.name} is not a user: sign in as one (or use /api/v1/users/{{id}})"
        )
    return actor.user_id


@dataclass
class Accounts:
    """Operator accounts of one installation."""

    db: Database
    passwords: Passwords
    session_policy: sessions.SessionPolicy
    login_policy: throttle.LoginPolicy
    clock: Callable[[], datetime] = field(default=utcnow)

    # -- signing in -----------------------------------------------------------------------

    async def login(self, username: str, password: str, client: str) -> Login:
        """Check a username and password and open a session.

        Raises:
            errors.TooManyAttempts: too many recent failures for this username or client
                address, or too many logins waiting for a password hash.
            errors.NotAuthenticated: unknown user, wrong password or disabled user (one
                answer for all three).
        """
        name, client = username.strip().lower()[:64], client[:64]
        if self.passwords.busy:
            raise errors.TooManyAttempts("too many logins at once", retry_after=1)
        await self._throttle(name, client)
        async with self.db.connect() as conn:
            found = await users.by_username(conn, name)
        ok = await self.passwords.verify(found[1] if found else None, password)
        user = found[0] if found and ok and not found[0].disabled else None
        rehash = None
        if user is not None and found and self.passwords.needs_rehash(found[1]):
            rehash = await self.passwords.hash(password)
        now = self.clock()
        async with self.db.begin() as conn:
            await throttle.record(
                conn, username=name, client=client, succeeded=user is not None, at=now
            )
            await throttle.prune(conn, now - self.login_policy.window)
            session = None
            if user is None:
                await audit.record(
                    conn,
                    actor="anonymous",
                    action="user.login_failed",
                    entity="user",
                    entity_id=found[0].id if found else None,
                    changes={"username": name, "client": client},
                )
            else:
                if rehash is not None:
                    await users.set_password(conn, user.id, rehash, now)
                session = await self._open_session(conn, user, client, now)
        if user is None or session is None:
            raise errors.NotAuthenticated("wrong username or password")
        return Login(user, session)

    async def _open_session(
        self, conn: AsyncConnection, user: users.User, client: str, now: datetime
    ) -> sessions.NewSession:
        await sessions.prune(conn, user.id, now - self.session_policy.lifetime)
        session = await sessions.open_session(conn, user.id, now)
        await audit.record(
            conn,
            actor=user.username,
            action="user.login",
            entity="user",
            entity_id=user.id,
            changes={"client": client, "session": session.row_id},
        )
        return session

    async def _throttle(self, name: str, client: str) -> None:
        now = self.clock()
        async with self.db.connect() as conn:
            recent = await throttle.recent_failures(
                conn, username=name, client=client, now=now, policy=self.login_policy
            )
        wait = throttle.wait_seconds(recent, now, self.login_policy)
        if wait is not None:
            raise errors.TooManyAttempts(
                f"too many failed logins; try again in {wait} s", retry_after=wait
            )

    async def logout(self, actor: Principal, session_row_id: int) -> None:
        """End the caller's session."""
        now = self.clock()
        async with self.db.begin() as conn:
            await sessions.revoke(conn, session_row_id, now)
            await audit.record(
                conn,
                actor=actor.name,
                action="user.logout",
                entity="user",
                entity_id=actor.user_id,
                changes={"session": session_row_id},
            )

    # -- credentials ----------------------------------------------------------------------

    async def by_session(self, session_id: str) -> SessionAuth | None:
        """The principal of a session cookie, or None when it is unknown or no longer valid."""
        now = self.clock()
        async with self.db.connect() as conn:
            row = await sessions.find(conn, session_id)
        if row is None or row.disabled:
            return None
        verdict = sessions.verdict(
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            revoked_at=row.revoked_at,
            now=now,
            policy=self.session_policy,
        )
        if verdict is not sessions.Verdict.VALID:
            return None
        if sessions.needs_touch(row.last_seen_at, now):
            async with self.db.begin() as conn:
                await sessions.touch(conn, row.id, now)
        principal = Principal(name=row.username, role=Role(row.role), user_id=row.user_id)
        return SessionAuth(principal, row.id, row.csrf_hash)

    async def by_token(self, token: str) -> Principal | None:
        """The principal of a personal API token, or None when unknown, revoked or expired."""
        if not token.startswith(credentials.TOKEN_PREFIX):
            return None
        now = self.clock()
        async with self.db.connect() as conn:
            row = await tokens.find(conn, token)
        if row is None or row.disabled:
            return None
        if not tokens.usable(expires_at=row.expires_at, revoked_at=row.revoked_at, now=now):
            return None
        if tokens.needs_mark(row.last_used_at, now):
            async with self.db.begin() as conn:
                await tokens.mark_used(conn, row.id, now)
        return Principal(name=row.username, role=Role(row.role), user_id=row.user_id)

    # -- users ----------------------------------------------------------------------------

    async def list_users(self) -> list[users.User]:
        """Every user, by username."""
        async with self.db.connect() as conn:
            return await users.list_users(conn)

    async def get_user(self, user_id: int) -> users.User:
        """One user. Raises errors.NotFound."""
        async with self.db.connect() as conn:
            return await users.get(conn, user_id)

    async def user_named(self, username: str) -> users.User:
        """The user named `username` (matched without case). Raises errors.NotFound."""
        async with self.db.connect() as conn:
            found = await users.by_username(conn, username.strip().lower())
        if found is None:
            raise errors.NotFound(f"no user named {username!r}", username=username[:64])
        return found[0]

    async def create_user(
        self, actor: Principal, *, username: str, role: Role, password: str | None
    ) -> tuple[users.User, str | None]:
        """Create a user; returns it and the generated password when none was given.

        Raises:
            errors.InvalidSettings: the username or password is not allowed.
            errors.Conflict: the username is taken.
        """
        users.check_username(username)
        generated = None if password is not None else credentials.generate_password()
        chosen = password if password is not None else generated
        assert chosen is not None  # noqa: S101 - one of the two is set
        users.check_password(chosen)
        hashed = await self.passwords.hash(chosen)
        async with self.db.begin() as conn:
            user = await users.create(
                conn, username=username, role=role, hashed=hashed, now=self.clock()
            )
            await audit.record(
                conn,
                actor=actor.name,
                action="user.create",
                entity="user",
                entity_id=user.id,
                changes={"username": username, "role": str(role)},
            )
        return user, generated

    async def update_user(
        self, actor: Principal, user_id: int, *, role: Role | None, disabled: bool | None
    ) -> users.User:
        """Change a user's role or disabled flag; either revokes their sessions.

        Raises:
            errors.NotFound: no such user.
            errors.Conflict: it would leave no enabled admin.
        """
        now = self.clock()
        async with self.db.begin() as conn:
            user, changes = await users.update(conn, user_id, role=role, disabled=disabled, now=now)
            if changes:
                revoked = await sessions.revoke_all(conn, user_id, now)
                await audit.record(
                    conn,
                    actor=actor.name,
                    action="user.update",
                    entity="user",
                    entity_id=user_id,
                    changes={**changes, "sessions_revoked": revoked},
                )
        return user

    async def reset_password(self, actor: Principal, user_id: int) -> tuple[users.User, str]:
        """Give a user a new generated password (returned once) and end their sessions.

        Raises:
            errors.NotFound: no such user.
        """
        password = credentials.generate_password()
        await self.get_user(user_id)
        hashed = await self.passwords.hash(password)
        user = await self._store_password(actor, user_id, hashed, "user.password_reset")
        return user, password

    async def change_password(
        self, actor: Principal, *, current: str, new: str, client: str, keep_session: bool
    ) -> sessions.NewSession | None:
        """Change the caller's own password; every session of theirs ends.

        Args:
            actor: the signed-in user.
            current: their current password (checked, and counted by the login rate limit
                when wrong).
            new: the new password.
            client: the caller's address (for the rate limit).
            keep_session: open a new session for the caller (they signed in by cookie).

        Returns:
            The new session, when `keep_session`.

        Raises:
            errors.Conflict: the caller is the installation token, not a user.
            errors.TooManyAttempts: too many recent failures.
            errors.InvalidSettings: the current password is wrong or the new one too short.
        """
        user_id = _needs_user(actor)
        users.check_password(new, path="new_password")
        await self._throttle(actor.name, client[:64])
        async with self.db.connect() as conn:
            stored = await users.password_hash(conn, user_id)
        if not await self.passwords.verify(stored, current):
            async with self.db.begin() as conn:
                await throttle.record(
                    conn, username=actor.name, client=client[:64], succeeded=False, at=self.clock()
                )
            raise errors.InvalidSettings(
                "the current password is wrong",
                problems=[{"path": "current_password", "message": "wrong password"}],
            )
        hashed = await self.passwords.hash(new)
        await self._store_password(actor, user_id, hashed, "user.password_change")
        if not keep_session:
            return None
        async with self.db.begin() as conn:
            return await sessions.open_session(conn, user_id, self.clock())

    async def _store_password(
        self, actor: Principal, user_id: int, hashed: str, action: str
    ) -> users.User:
        now = self.clock()
        async with self.db.begin() as conn:
            user = await users.set_password(conn, user_id, hashed, now)
            revoked = await sessions.revoke_all(conn, user_id, now)
            await audit.record(
                conn,
                actor=actor.name,
                action=action,
                entity="user",
                entity_id=user_id,
                changes={"changed": "password", "sessions_revoked": revoked},
            )
        return user

    # -- tokens ---------------------------------------------------------------------------

    def own_user_id(self, actor: Principal) -> int:
        """The caller's user id. Raises errors.Conflict for the installation token."""
        return _needs_user(actor)

    async def list_tokens(self, user_id: int) -> list[tokens.TokenInfo]:
        """A user's tokens, newest first. Raises errors.NotFound for an unknown user."""
        async with self.db.connect() as conn:
            await users.get(conn, user_id)
            return await tokens.list_tokens(conn, user_id)

    async def create_token(
        self, actor: Principal, user_id: int, *, name: str, expires_in_days: int | None
    ) -> tuple[tokens.TokenInfo, str]:
        """Create a token for `user_id`; returns it and the token itself (shown once).

        Raises:
            errors.NotFound: no such user.
        """
        now = self.clock()
        expires_at = None if expires_in_days is None else now + timedelta(days=expires_in_days)
        async with self.db.begin() as conn:
            user = await users.get(conn, user_id)
            info, token = await tokens.create(
                conn, user_id=user_id, name=name, expires_at=expires_at, now=now
            )
            await audit.record(
                conn,
                actor=actor.name,
                action="api_token.create",
                entity="api_token",
                entity_id=info.id,
                changes=_token_facts(user, info),
            )
        return info, token

    async def revoke_token(self, actor: Principal, user_id: int, token_id: int) -> None:
        """Revoke one of a user's tokens. Raises errors.NotFound."""
        async with self.db.begin() as conn:
            user = await users.get(conn, user_id)
            info = await tokens.revoke(conn, user_id=user_id, token_id=token_id, now=self.clock())
            await audit.record(
                conn,
                actor=actor.name,
                action="api_token.revoke",
                entity="api_token",
                entity_id=token_id,
                changes=_token_facts(user, info),
            )


def _token_facts(user: users.User, info: tokens.TokenInfo) -> dict[str, Any]:
    return {
        "user": user.username,
        "name": info.name,
        "prefix": info.prefix,
        "expires_at": None if info.expires_at is None else info.expires_at.isoformat(),
    }
