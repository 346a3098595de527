"""Helpers for integration tests: place an order and pay it through the real code paths,
provision it, and request lifecycle actions through the operator API."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import httpx
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.billing.gateways.stripe import verify as stripe_verify
from fluxbilling.billing.webhooks import Ingested
from fluxbilling.db import schema
from fluxbilling.orders import service
from fluxbilling.plugins import load_plugin_file
from fluxbilling.plugins_builtin import builtin_plugin_paths
from fluxbilling.seed import PRODUCT_SLUG, PROVIDERS, seed_provider
from fluxbilling_simulators import stripe as stripe_sim

SIMULATOR_NETWORKS = ["127.0.0.1/32"]
"""The simulators' connections' allowance: the test resolver puts every simulator on loopback,
so they pass the upstream address policy only through the explicit allow an admin would give."""


async def place_order(
    inst: bootstrap.Installation, hostname: str, product: str = PRODUCT_SLUG
) -> dict[str, Any]:
    """A new order and its unpaid invoice, as the API answers them (JSON-like)."""
    created = await service.create_order(
        inst.db,
        customer_email="ada@example.com",
        customer_name="Ada Lovelace",
        product_slug=product,
        hostname=hostname,
    )
    return dataclasses.asdict(created)


async def pay(inst: bootstrap.Installation, invoice: dict[str, Any], **overrides: Any) -> Ingested:
    body = stripe_sim.checkout_completed(
        invoice["id"],
        overrides.pop("amount", invoice["amount_minor"]),
        overrides.pop("currency", invoice["currency"]),
        **overrides,
    )
    now = int(time.time())
    headers = {"Stripe-Signature": stripe_verify.sign(body, inst.stripe_secrets[0], now)}
    endpoint = inst.stripe_endpoint()
    return await endpoint.ingest(body, headers, remote="127.0.0.1", now=now)


async def place_and_pay(
    inst: bootstrap.Installation, hostname: str, product: str = PRODUCT_SLUG
) -> int:
    created = await place_order(inst, hostname, product)
    result = await pay(inst, created["invoice"])
    assert result.outcome == "processed", result
    return int(created["order"]["id"])


async def add_provider(
    inst: bootstrap.Installation, provider: str, base_url: str, **options: Any
) -> str:
    """Seed one more shipped provider (`seed.PROVIDERS`) in the demo location; its product slug."""
    async with inst.db.begin() as conn:
        location_id = (
            await conn.execute(
                sa.select(schema.locations.c.id).where(schema.locations.c.code == "ams1")
            )
        ).scalar_one()
        image_id = (
            await conn.execute(
                sa.select(schema.images.c.id).where(schema.images.c.slug == "debian-12")
            )
        ).scalar_one()
        await seed_provider(
            conn,
            inst.vault,
            provider,
            base_url=base_url,
            location_id=location_id,
            image_id=image_id,
            poll_interval=0.01,
            options=options or None,
            allowed_networks=SIMULATOR_NETWORKS,
        )
    return PROVIDERS[provider].product_slug


async def rows(inst: bootstrap.Installation, query: Any) -> list[Any]:
    async with inst.db.connect() as conn:
        return list((await conn.execute(query)).all())


async def activity(inst: bootstrap.Installation, order_id: int) -> list[Any]:
    log = schema.activity_log
    return await rows(inst, sa.select(log).where(log.c.order_id == order_id).order_by(log.c.id))


async def run_of(inst: bootstrap.Installation, order_id: int) -> Any:
    runs = schema.runs
    (run,) = await rows(
        inst, sa.select(runs).where(runs.c.order_id == order_id, runs.c.kind == "provision")
    )
    return run


async def make_due(inst: bootstrap.Installation, order_id: int) -> None:
    """Pretend time passed: the run's next attempt is due now."""
    async with inst.db.begin() as conn:
        await conn.execute(
            schema.runs.update()
            .where(schema.runs.c.order_id == order_id)
            .values(next_run_at=inst.db.now(-1))
        )


async def poll_every(inst: bootstrap.Installation, seconds: float) -> None:
    """Every product's plugin waits `seconds` between status checks. An hour keeps an order in
    flight at its first wait however slow the machine is (`make_due` moves it on)."""
    async with inst.db.begin() as conn:
        for product in (await conn.execute(sa.select(schema.products))).all():
            await conn.execute(
                schema.products.update()
                .where(schema.products.c.id == product.id)
                .values(options={**product.options, "poll_interval": seconds})
            )


async def drain(inst: bootstrap.Installation, *, rounds: int = 200) -> None:
    """Work until nothing is due, following short Pending waits (poll intervals are tiny here)."""
    worker = inst.worker(concurrency=8)
    idle = 0
    for _ in range(rounds):
        if await worker.drain() == 0:
            idle += 1
            if idle > 3:
                return
            await _sleep()
        else:
            idle = 0


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.05)


async def finish(inst: bootstrap.Installation, order_id: int, *, attempts: int = 10) -> Any:
    """Drain, making backed-off retries due at once, until the run completes or stops."""
    for _ in range(attempts):
        await drain(inst)
        run = await run_of(inst, order_id)
        if run.state in ("completed", "failed", "cancelled"):
            return run
        await make_due(inst, order_id)
    return await run_of(inst, order_id)


async def service_of(inst: bootstrap.Installation, order_id: int) -> Any:
    """The service row of an order (there is at most one)."""
    services = schema.services
    (row,) = await rows(inst, sa.select(services).where(services.c.order_id == order_id))
    return row


async def active_service(
    inst: bootstrap.Installation, hostname: str, product: str = PRODUCT_SLUG
) -> Any:
    """Place and pay an order, work its provision run to completion; the new service row."""
    order_id = await place_and_pay(inst, hostname, product)
    run = await finish(inst, order_id)
    assert run.state == "completed", run.last_error
    return await service_of(inst, order_id)


async def request_action(
    api: httpx.AsyncClient, service_id: int, verb: str, **body: Any
) -> httpx.Response:
    """POST a lifecycle action request: `headers=` are sent as headers, the rest as the body."""
    headers = body.pop("headers", {})
    return await api.post(
        f"/api/v1/services/{service_id}/actions/{verb}", json=body, headers=headers
    )


async def queue_action(
    api: httpx.AsyncClient, service_id: int, verb: str, **body: Any
) -> dict[str, Any]:
    """Request an action that the API must accept (202); the queued action."""
    queued = await request_action(api, service_id, verb, **body)
    assert queued.status_code == 202, queued.text
    action: dict[str, Any] = queued.json()
    return action


async def settle(
    inst: bootstrap.Installation, api: httpx.AsyncClient, action: int | Mapping[str, Any]
) -> dict[str, Any]:
    """Drain the worker once, then read the action (or the action with this id) back."""
    action_id = action if isinstance(action, int) else action["id"]
    await drain(inst)
    found: dict[str, Any] = (await api.get(f"/api/v1/actions/{action_id}")).json()
    return found


async def settle_retrying(
    inst: bootstrap.Installation,
    api: httpx.AsyncClient,
    action: int | Mapping[str, Any],
    *,
    rounds: int = 10,
) -> dict[str, Any]:
    """`settle` until the action is no longer queued or running, making a node retry's
    back-off due at once (without waiting) between rounds."""
    found = await settle(inst, api, action)
    for _ in range(rounds - 1):
        if found["state"] not in ("queued", "running"):
            break
        await make_due(inst, found["order_id"])
        found = await settle(inst, api, action)
    return found


async def run_action(
    inst: bootstrap.Installation, api: httpx.AsyncClient, service_id: int, verb: str, **body: Any
) -> dict[str, Any]:
    """Request an action through the API and work until it is no longer queued or running."""
    return await settle_retrying(inst, api, await queue_action(api, service_id, verb, **body))


async def every_page(api: httpx.AsyncClient, path: str, *, limit: int) -> list[int]:
    """The ids of every row of a cursor-paged list, following `next_cursor` page by page."""
    seen: list[int] = []
    cursor = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        answer = await api.get(path, params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["items"]) <= limit
        seen += [row["id"] for row in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError(f"{path} did not end after 100 pages")


async def assert_refused_filter(
    api: httpx.AsyncClient, path: str, params: Mapping[str, Any], needle: str
) -> None:
    """A list asked with a bad filter answers 422 naming it."""
    answer = await api.get(path, params=dict(params))
    assert answer.status_code == 422, answer.text
    assert needle in answer.json()["error"]["message"]


async def register_solusvm2_without_suspend(inst: bootstrap.Installation) -> None:
    """Register a new solusvm2 version that declares no canSuspend (and has no suspend flows)."""
    [path] = [p for p in builtin_plugin_paths() if p.name == "solusvm2.json"]
    document = load_plugin_file(path)
    document["plugin"]["capabilities"]["canSuspend"] = False
    document["flows"].pop("suspend")
    document["flows"].pop("unsuspend")
    await inst.plugins.register(document, source="test")


async def get_json(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    """GET `path` with `params`, which must answer 200; its JSON."""
    answer = await api.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()
