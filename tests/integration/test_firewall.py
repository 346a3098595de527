"""The firewall baseline end to end, on SQLite and PostgreSQL: a product's policy through the
API (bad fields named), rendered for the order's own address into the cloud-init user-data
the panel receives (SolusVM 2 simulator), and the activity saying where it was enforced."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling_simulators.solusvm2 import SolusVM2State
from tests.integration.support import activity, finish, place_and_pay, rows, service_of
from tests.integration.test_api_catalogue import PRODUCT

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def _problems(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 422, answer.text
    return {p["path"]: p["message"] for p in answer.json()["error"]["details"]["problems"]}


async def _product_id(api: httpx.AsyncClient, slug: str) -> int:
    listed = (await api.get("/api/v1/products")).json()["items"]
    (product,) = [p for p in listed if p["slug"] == slug]
    return int(product["id"])


async def test_a_products_policy_is_checked_field_by_field_and_stored_canonical(
    api: httpx.AsyncClient,
) -> None:
    bad: dict[str, Any] = {
        "open_ports": ["tcp/22", "tcp/22; flush ruleset", "tcp/70000"],
        "icmp_per_second": 0,
        "flush": True,
    }
    problems = _problems(await api.post("/api/v1/products", json={**PRODUCT, "firewall": bad}))
    assert set(problems) == {
        "body.firewall.open_ports.1",
        "body.firewall.icmp_per_second",
        "body.firewall.flush",
    }
    out_of_range = {"open_ports": ["tcp/70000"]}
    problems = _problems(
        await api.post("/api/v1/products", json={**PRODUCT, "firewall": out_of_range})
    )
    assert problems == {"firewall.open_ports[0]": "'tcp/70000': ports are 1-65535"}

    created = await api.post(
        "/api/v1/products",
        json={**PRODUCT, "firewall": {"open_ports": ["udp/51820", "tcp/443"]}},
    )
    assert created.status_code == 201, created.text
    assert created.json()["firewall"] == {
        "enabled": True,
        "open_ports": ["tcp/443", "udp/51820"],
        "closed_ports": [],
        "block_smtp": True,
        "icmp_per_second": 10,
        "new_connections_per_minute": 120,
        "anti_spoofing": True,
    }
    url = f"/api/v1/products/{created.json()['id']}"
    changed = await api.patch(url, json={"firewall": {"block_smtp": False}})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["firewall"]["block_smtp"], changed.json()["firewall"]["open_ports"]) == (
        False,
        [],
    )
    reset = await api.patch(url, json={"firewall": None})
    assert reset.json()["firewall"] is None


async def test_the_orders_cloud_init_carries_its_ruleset_and_the_activity_says_where(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    product = await _product_id(api, "vps-2g")
    policy = {"open_ports": ["tcp/443"], "new_connections_per_minute": 30}
    assert (await api.patch(f"/api/v1/products/{product}", json={"firewall": policy})).is_success

    order_id = await place_and_pay(installation, "walled.example.com")
    run = await finish(installation, order_id)
    assert run.state == "completed", run.last_error

    addresses = schema.ip_addresses
    (lease,) = await rows(
        installation, sa.select(addresses).where(addresses.c.order_id == order_id)
    )
    (server,) = sim.servers.values()
    user_data = yaml.safe_load(server["user_data"])
    (conf,) = [f for f in user_data["write_files"] if f["path"] == "/etc/nftables.conf"]
    ruleset = conf["content"]
    assert f"ip saddr != {{ {lease.address} }} drop" in ruleset
    assert "tcp dport { 22, 443 } accept" in ruleset
    assert "limit rate over 30/minute" in ruleset
    assert "tcp dport 25 reject" in ruleset
    assert user_data["runcmd"][0] == ["nft", "-f", "/etc/nftables.conf"]

    digest = hashlib.sha256(ruleset.encode("utf-8")).hexdigest()
    (applied,) = [
        e for e in await activity(installation, order_id) if e.event == "firewall_applied"
    ]
    assert applied.message == f"firewall baseline applied by cloud-init (sha256 {digest})"
    assert applied.data == {"enforced_by": "cloud-init", "sha256": digest}
    service = await service_of(installation, order_id)
    assert service.service_data["network"]["firewall"] == applied.data


async def test_a_product_with_its_firewall_off_says_so(
    installation: bootstrap.Installation, api: httpx.AsyncClient, sim: SolusVM2State
) -> None:
    product = await _product_id(api, "vps-2g")
    off = {"firewall": {"enabled": False}}
    assert (await api.patch(f"/api/v1/products/{product}", json=off)).is_success

    order_id = await place_and_pay(installation, "open.example.com")
    assert (await finish(installation, order_id)).state == "completed"

    (server,) = sim.servers.values()
    assert "nftables" not in server["user_data"]
    events = [e.event for e in await activity(installation, order_id)]
    assert "firewall_not_applied" in events and "firewall_applied" not in events
