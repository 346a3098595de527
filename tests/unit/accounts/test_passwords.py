from __future__ import annotations

import asyncio
import threading

import pytest

from fluxbilling.accounts import passwords as passwords_module
from fluxbilling.accounts.passwords import Passwords

pytestmark = pytest.mark.anyio


def _cheap(concurrency: int = 2) -> Passwords:
    return Passwords(time_cost=1, memory_kib=64, concurrency=concurrency)


async def test_a_hash_is_argon2id_and_verifies_only_its_password() -> None:
    hasher = _cheap()
    stored = await hasher.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert await hasher.verify(stored, "correct horse battery")
    assert not await hasher.verify(stored, "correct horse battery!")
    assert not await hasher.verify("not a hash", "anything")


async def test_an_unknown_user_costs_a_verification_and_fails() -> None:
    hasher = _cheap()
    assert not await hasher.verify(None, "no such user")
    assert not await hasher.verify(None, "")


async def test_changed_parameters_ask_for_a_rehash() -> None:
    old = await _cheap().hash("a password of mine")
    assert not _cheap().needs_rehash(old)
    assert Passwords(time_cost=2, memory_kib=64, concurrency=1).needs_rehash(old)


async def test_at_most_concurrency_hashes_run_at_once_and_a_long_queue_is_busy() -> None:
    hasher = _cheap(concurrency=1)
    release = threading.Event()
    running: list[int] = []

    def block(n: int) -> int:
        running.append(n)
        release.wait(5)
        return n

    limit = passwords_module.MAX_WAITING_PER_SLOT
    tasks = [asyncio.create_task(hasher._run(block, n)) for n in range(limit + 1)]
    for _ in range(100):
        await asyncio.sleep(0.01)
        if running:
            break
    assert running == [0]
    assert hasher.busy  # one hashing, `limit` waiting
    release.set()
    assert await asyncio.gather(*tasks) == list(range(limit + 1))
    assert not hasher.busy
