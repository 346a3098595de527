"""Waiting out our own database (`when_available`, `wait_after`) with the one retry policy."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from fluxbilling.engine.outage import DATABASE_TROUBLE, wait_after, when_available
from fluxbilling.engine.policy import RetryPolicy
from tests.unit.db.test_database import pg

pytestmark = pytest.mark.anyio

QUICK = RetryPolicy(
    max_attempts=None, deadline=None, base=timedelta(milliseconds=10), cap=timedelta(seconds=1)
)


@pytest.mark.parametrize(
    ("failures", "rand", "seconds"),
    [
        (1, 0.0, 0.25),  # half of each wait is jitter
        (1, 0.5, 0.375),
        (2, 0.0, 0.5),
        (5, 0.0, 4.0),
        (6, 0.0, 5.0),  # capped at 10 s
        (6, 0.999, 9.995),
        (60, 0.0, 5.0),
    ],
)
def test_database_trouble_backs_off_half_jittered_up_to_ten_seconds(
    failures: int, rand: float, seconds: float
) -> None:
    assert wait_after(failures, DATABASE_TROUBLE, rand) == pytest.approx(seconds)


def test_database_trouble_never_gives_up() -> None:
    assert DATABASE_TROUBLE.max_attempts is None
    assert DATABASE_TROUBLE.deadline is None


async def test_when_available_retries_until_the_database_answers() -> None:
    attempts = []

    async def step() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise pg("57P03")

    assert await when_available(step, stop=asyncio.Event(), what="start-up", policy=QUICK)
    assert len(attempts) == 3


async def test_when_available_lets_a_real_error_through() -> None:
    async def step() -> None:
        raise pg("42P01")

    with pytest.raises(sa.exc.DBAPIError):
        await when_available(step, stop=asyncio.Event(), what="start-up", policy=QUICK)


async def test_when_available_gives_up_once_stopped() -> None:
    stop = asyncio.Event()
    attempts = []

    async def step() -> None:
        attempts.append(1)
        stop.set()
        raise pg("08001")

    assert not await when_available(step, stop=stop, what="start-up")
    assert len(attempts) == 1
