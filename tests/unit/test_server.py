"""A background task of `serve` (worker, reconciler, plugin watcher) that dies says so at once."""

from __future__ import annotations

import asyncio
import logging

import pytest

from fluxbilling import server

pytestmark = pytest.mark.anyio


async def test_a_failed_background_task_is_logged_when_it_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def worker() -> None:
        raise RuntimeError("boom")

    task = server._background(worker(), "worker")
    await asyncio.wait({task})
    await asyncio.sleep(0)  # done callbacks run on the next loop iteration

    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "worker stopped by an error"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
