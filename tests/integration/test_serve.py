"""`fluxbilling serve` in-process: API and worker in one loop, plugin folder hot-loading, clean stop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling.plugins import load_plugin_file
from fluxbilling.plugins_builtin import builtin_plugin_paths
from fluxbilling.server import run_serve
from fluxbilling_simulators import stripe as stripe_sim
from tests.integration.support import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_serve_takes_an_order_to_active_and_hot_loads_plugins(
    installation: bootstrap.Installation, tmp_path: Path
) -> None:
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(
        run_serve(
            installation, host="127.0.0.1", port=0, plugin_dir=plugin_dir, stop=stop, ready=ready
        )
    )
    try:
        url = await asyncio.wait_for(ready, 30)
        headers = {"Authorization": f"Bearer {installation.api_token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            created = (
                await client.post(
                    "/api/v1/orders",
                    json={
                        "customer": {"email": "linus@example.com", "name": "Linus"},
                        "product": "vps-2g",
                        "hostname": "served.example.com",
                    },
                )
            ).json()
            invoice = created["invoice"]
            body = stripe_sim.checkout_completed(
                invoice["id"], invoice["amount_minor"], invoice["currency"]
            )
            delivered = await stripe_sim.deliver(
                client, f"{url}/webhooks/stripe", body, installation.stripe_secrets[0]
            )
            assert delivered.json()["outcome"] == "processed"
            order_url = f"/api/v1/orders/{created['order']['id']}"
            for _ in range(300):
                if (await client.get(order_url)).json()["state"] == "active":
                    break
                await asyncio.sleep(0.05)
            assert (await client.get(order_url)).json()["state"] == "active"

        document = load_plugin_file(
            next(p for p in builtin_plugin_paths() if p.name == "solusvm2.json")
        )
        document["plugin"]["slug"] = "acme-panel"
        (plugin_dir / "acme.json").write_text(json.dumps(document))
        table = schema.plugin_versions
        for _ in range(100):
            if await rows(
                installation, sa.select(table.c.version).where(table.c.slug == "acme-panel")
            ):
                break
            await asyncio.sleep(0.1)
        assert [
            r.version
            for r in await rows(
                installation, sa.select(table.c.version).where(table.c.slug == "acme-panel")
            )
        ] == [1]
    finally:
        stop.set()
        await asyncio.wait_for(serving, 30)
