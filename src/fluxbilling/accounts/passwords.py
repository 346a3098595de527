"""Password hashing with argon2id, off the event loop and a few at a time.

A hash costs tens of milliseconds of CPU and tens of MiB of memory on purpose. It runs in a
worker thread so the event loop (which also runs the provisioning worker) keeps serving,
and at most `concurrency` run at once, so a flood of logins queues here instead of eating
every core. `busy` tells the login route that the queue is long enough to refuse more.

An unknown username still costs one verification (against a dummy hash), so the time of
the answer does not tell whether the user exists.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, Final, TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["MAX_WAITING_PER_SLOT", "Passwords"]

T = TypeVar("T")

MAX_WAITING_PER_SLOT: Final = 16
"""Hashes that may wait per concurrent slot before `busy` says so."""


class Passwords:
    """Hashes and verifies passwords (argon2id, parameters of `argon2-cffi`'s PasswordHasher)."""

    def __init__(self, *, time_cost: int, memory_kib: int, concurrency: int) -> None:
        """Args:
        time_cost: argon2 passes.
        memory_kib: argon2 memory per hash, in KiB.
        concurrency: hashes computed at once.
        """
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=argon2.Type.ID
        )
        self._concurrency = concurrency
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._waiting = 0
        self._dummy: str | None = None

    @property
    def busy(self) -> bool:
        """Whether so many hashes wait already that a new login should be refused."""
        return self._waiting >= self._concurrency * MAX_WAITING_PER_SLOT

    async def hash(self, password: str) -> str:
        """The argon2id hash of `password` (a PHC string with its salt and parameters)."""
        return await self._run(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches the `stored` hash; None (no such user) costs the same."""
        if stored is None:
            if self._dummy is None:
                self._dummy = await self.hash("no such user")
            await self._run(_check, self._hasher, self._dummy, password)
            return False
        return await self._run(_check, self._hasher, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        """Whether `stored` was hashed with other parameters than today's (rehash on login)."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:  # pragma: no cover - only our own hashes are stored
            return True

    async def _run(self, function: Callable[..., T], /, *args: Any) -> T:
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self._concurrency)
        self._waiting += 1
        try:
            await slots.acquire()
        finally:
            self._waiting -= 1
        try:
            # A caller cancelled meanwhile leaves the thread to finish: the work is bounded.
            return await asyncio.to_thread(function, *args)
        finally:
            slots.release()


def _check(hasher: argon2.PasswordHasher, stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
