"""os_install hands the panel one rendering of cloud-init, however often the phase runs.

A `$6$` hash has a random salt, so every rendering differs: the phase renders once, keeps
the documents sealed in its cursor and sends those bytes on every later attempt; the
recorded `user_data_sha256` is the hash of what the panel received. On SQLite and PostgreSQL,
against the SolusVM 2 simulator.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from typing import Any

import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling.engine.worker import Worker
from fluxbilling.orders import detail
from fluxbilling_simulators.solusvm2 import SolusVM2State
from tests.integration.support import activity, finish, make_due, place_and_pay, rows, run_of

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

CRYPT_HASH = re.compile(r"\$6\$[^$\s\"']{0,16}\$[./0-9A-Za-z]{86}")


def reinstall_tasks(sim: SolusVM2State) -> list[dict[str, Any]]:
    """Every reinstall the panel was asked for, oldest first, with what it was sent."""
    return [t for t in sim.tasks.values() if t["action"] == "vm-reinstall"]


async def recorded_hash(inst: bootstrap.Installation, order_id: int) -> str:
    order = await detail.describe_order(inst.db, order_id)
    (phase,) = [p for p in order.phases if p.phase == "os_install"]
    assert phase.status == "done"
    return str(phase.output["user_data_sha256"])


async def os_install_cursor(inst: bootstrap.Installation, order_id: int) -> Any:
    checkpoints = schema.phase_checkpoints
    (row,) = await rows(
        inst,
        sa.select(checkpoints.c.cursor).where(
            checkpoints.c.correlation_key == f"{order_id}:os_install"
        ),
    )
    return row.cursor


async def retrying_os_install(inst: bootstrap.Installation, order_id: int) -> Any:
    """Work the order until os_install failed once; its retry is not due for seconds."""
    worker = Worker(inst.store, inst.handlers, concurrency=1, rand=lambda: 0.999)
    run = await run_of(inst, order_id)
    for _ in range(200):
        await worker.drain()
        run = await run_of(inst, order_id)
        if run.last_error is not None:
            break
        await asyncio.sleep(0.02)  # the provision phase polls the panel every 0.01 s
    assert (run.state, run.phase) == ("queued", "os_install"), run.last_error
    assert run.last_error["code"] == "TransientUpstreamError"
    return run


async def test_resumed_polls_record_the_hash_of_what_the_panel_received(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    sim.faults.crash_next_action(1)  # the reinstall is started, its answer is lost
    order_id = await place_and_pay(installation, "keep1.example.com")
    await retrying_os_install(installation, order_id)
    (task,) = reinstall_tasks(sim)
    sent = task["_params"]["user_data"]

    run = await finish(installation, order_id)

    assert run.state == "completed", run.last_error
    assert len(reinstall_tasks(sim)) == 1  # the retry adopted the started reinstall
    (server,) = sim.servers.values()
    assert server["user_data"] == sent
    received = hashlib.sha256(server["user_data"].encode("utf-8")).hexdigest()
    assert await recorded_hash(installation, order_id) == received


async def test_a_retry_that_sends_again_sends_the_same_bytes(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    sim.faults.crash_next_action(1)
    order_id = await place_and_pay(installation, "keep2.example.com")
    await retrying_os_install(installation, order_id)
    (first,) = reinstall_tasks(sim)
    first["status"] = "canceled"  # someone cancelled it in the panel: the retry sends again

    run = await finish(installation, order_id)

    assert run.state == "completed", run.last_error
    first_sent, second_sent = (t["_params"]["user_data"] for t in reinstall_tasks(sim))
    assert second_sent == first_sent
    (server,) = sim.servers.values()
    assert server["user_data"] == first_sent
    received = hashlib.sha256(first_sent.encode("utf-8")).hexdigest()
    assert await recorded_hash(installation, order_id) == received
    # The hash went to the panel only: not to the activity, nor to the stored exchange.
    crypt_hash = CRYPT_HASH.search(first_sent).group(0)  # type: ignore[union-attr]
    dumped = json.dumps(
        [[e.message, e.data] for e in await activity(installation, order_id)]
        + [run.last_upstream, run.last_error],
        default=str,
    )
    assert crypt_hash not in dumped


async def test_the_kept_documents_are_sealed_at_rest(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    sim.faults.crash_next_action(1)
    order_id = await place_and_pay(installation, "keep3.example.com")
    await retrying_os_install(installation, order_id)
    (task,) = reinstall_tasks(sim)
    crypt_hash = CRYPT_HASH.search(task["_params"]["user_data"])
    assert crypt_hash is not None

    kept = await os_install_cursor(installation, order_id)

    assert sorted(kept) == ["cloud_init_sealed", "flow"]
    assert crypt_hash.group(0) not in json.dumps(kept)
    opened = json.loads(installation.vault.open(kept["cloud_init_sealed"]))
    assert opened["user_data"] == task["_params"]["user_data"]


async def test_a_flow_cursor_from_an_older_release_resumes_and_records_no_hash(
    installation: bootstrap.Installation, sim: SolusVM2State
) -> None:
    sim.faults.crash_next_action(1)
    order_id = await place_and_pay(installation, "keep4.example.com")
    await retrying_os_install(installation, order_id)
    await make_due(installation, order_id)
    worker = installation.worker(concurrency=1)
    (claim,) = await installation.store.claim(worker.worker_id)
    await worker.process(claim)  # the retry adopts the started reinstall and polls it once
    kept = await os_install_cursor(installation, order_id)
    assert kept["flow"]["node"] == "wait"
    # What a release that kept no documents stored: the reinstall flow's cursor alone.
    checkpoints = schema.phase_checkpoints
    async with installation.db.begin() as conn:
        await conn.execute(
            checkpoints.update()
            .where(checkpoints.c.correlation_key == f"{order_id}:os_install")
            .values(cursor=kept["flow"])
        )

    run = await finish(installation, order_id)

    assert run.state == "completed", run.last_error
    assert len(reinstall_tasks(sim)) == 1
    order = await detail.describe_order(installation.db, order_id)
    (phase,) = [p for p in order.phases if p.phase == "os_install"]
    assert phase.output["handed_over"] is True
    assert "user_data_sha256" not in phase.output  # unknown: never a wrong one
