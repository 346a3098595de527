"""Wake-ups and shutdown: NOTIFY wakes an idle PostgreSQL worker long before its polling interval;
SIGTERM stops a worker process gracefully."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from fluxbilling.db import Database, schema
from fluxbilling.engine.wakeup import PgListener, Wakeup
from fluxbilling.engine.worker import Worker
from fluxbilling.vault import generate_key
from tests.integration.test_engine import handlers, run_store, seed_order

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_notify_wakes_an_idle_worker_long_before_its_polling_interval(
    db: Database, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite wakes in-process (next test)")
    wakeup = Wakeup()
    listener = PgListener(
        db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False), wakeup
    )
    await listener.start()
    worker = Worker(run_store(db), handlers(), poll_interval=3600, wakeup=wakeup)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.sleep(0.3)  # the worker found nothing and sleeps for an hour
        (order_id,) = await seed_order(db)  # enqueue commits a NOTIFY
        await asyncio.wait_for(_completed(db, order_id), timeout=20)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await listener.stop()


async def test_an_in_process_notify_wakes_the_worker(db: Database) -> None:
    wakeup = Wakeup()
    worker = Worker(run_store(db), handlers(), poll_interval=3600, wakeup=wakeup)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.sleep(0.3)
        (order_id,) = await seed_order(db)
        wakeup.notify()
        await asyncio.wait_for(_completed(db, order_id), timeout=20)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def _completed(db: Database, order_id: int) -> None:
    while True:
        async with db.connect() as conn:
            state = (
                await conn.execute(
                    sa.select(schema.runs.c.state).where(schema.runs.c.order_id == order_id)
                )
            ).scalar()
        if state == "completed":
            return
        await asyncio.sleep(0.05)


async def test_sigterm_stops_a_worker_process_gracefully(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "FLUXBILLING_DATABASE_URL": database_url,
        "FLUXBILLING_SECRET_KEY": generate_key(),
        "FLUXBILLING_API_TOKEN": "t",
        "FLUXBILLING_STRIPE_WEBHOOK_SECRET": "whsec_t",
        "FLUXBILLING_STATE_DIR": str(tmp_path),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "fluxbilling.cli", "worker"], env=env, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        states: list[str] = []
        while time.monotonic() < deadline:
            async with db.connect() as conn:
                states = list(
                    (await conn.execute(sa.select(schema.workers.c.state))).scalars().all()
                )
            if states == ["running"]:
                break
            await asyncio.sleep(0.1)
        assert states == ["running"]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
        async with db.connect() as conn:
            assert (await conn.execute(sa.select(schema.workers.c.state))).scalar_one() == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
        assert proc.stderr is not None
        proc.stderr.close()
