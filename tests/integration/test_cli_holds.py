"""`fluxbilling holds list` and `holds release`, in-process on both databases."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from fluxbilling import bootstrap
from fluxbilling.billing import checkout
from fluxbilling.config import Settings
from fluxbilling.orders import service
from fluxbilling.seed import PRODUCT_SLUG, seed_catalogue
from tests.integration.test_cli import env, run_cli

__all__ = ["env"]  # the fixture, used by name

pytestmark = pytest.mark.integration


def checked_out(image_dir: Path) -> int:
    """The demo catalogue and one order whose checkout holds capacity; its id."""

    async def setup() -> int:
        inst = bootstrap.build(Settings())
        try:
            async with inst.db.begin() as conn:
                await seed_catalogue(
                    conn,
                    inst.vault,
                    solusvm_url="http://solusvm.test/api/v1",
                    solusvm_token="token",
                    image_dir=image_dir,
                    hosts=1,
                    cidr="192.0.2.0/28",
                )
            created = await service.create_order(
                inst.db,
                customer_email="ada@example.com",
                customer_name="Ada",
                product_slug=PRODUCT_SLUG,
                hostname="cli-hold.example",
            )
            await checkout.hold_capacity(inst.db, created.order.id, ttl_minutes=30)
            return created.order.id
        finally:
            await inst.close()

    return asyncio.run(setup())


def test_holds_list_and_release(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("migrate") == 0
    order_id = checked_out(tmp_path / "images")
    capsys.readouterr()

    assert run_cli("holds", "list", "--state", "held", "--json") == 0
    (hold,) = json.loads(capsys.readouterr().out)
    assert (hold["order_id"], hold["state"], hold["address"]) == (order_id, "held", "192.0.2.2")

    assert run_cli("orders", "show", str(order_id)) == 0
    assert f"checkout hold {hold['id']}: held, 2048 MB" in capsys.readouterr().out

    assert run_cli("holds", "release", str(hold["id"])) == 0
    assert f"hold {hold['id']} of order {order_id} released" in capsys.readouterr().out
    assert run_cli("holds", "list") == 0
    assert "released" in capsys.readouterr().out
    assert run_cli("holds", "release", str(hold["id"])) == 2
    assert "nothing to release" in capsys.readouterr().err
