"""A ready catalogue for the demo, the tests and the benchmarks: a location, three hosts, a subnet,
an OS image (a real file with its sha256), a VPS product and the SolusVM 2 connection."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.db import schema
from fluxbilling.drivers.connections import create_connection
from fluxbilling.vault import Vault

__all__ = ["PRODUCT_SLUG", "Catalogue", "seed_catalogue", "write_demo_image"]

PRODUCT_SLUG = "vps-2g"


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Ids of what was seeded."""

    location_id: int
    subnet_id: int
    host_ids: tuple[int, ...]
    image_id: int
    connection_id: int
    product_id: int


def write_demo_image(directory: Path, size: int = 1 << 20) -> tuple[Path, str]:
    """A deterministic stand-in disk image (1 MiB by default) and its sha256."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "debian-12-genericcloud-amd64.qcow2"
    block = hashlib.sha256(b"fluxbilling demo image").digest() * 32
    data = (block * (size // len(block) + 1))[:size]
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


async def seed_catalogue(
    conn: AsyncConnection,
    vault: Vault,
    *,
    solusvm_url: str,
    solusvm_token: str,
    image_dir: Path,
    hosts: int = 3,
    host_ram_mb: int = 65536,
    cidr: str = "192.0.2.0/24",
    poll_interval: float = 1.0,
) -> Catalogue:
    """Insert the catalogue inside the caller's transaction."""
    location_id = (
        await conn.execute(
            schema.locations.insert()
            .values(code="ams1", name="Amsterdam 1")
            .returning(schema.locations.c.id)
        )
    ).scalar_one()
    prefix = cidr.rsplit(".", 1)[0]
    subnet_id = (
        await conn.execute(
            schema.subnets.insert()
            .values(
                location_id=location_id,
                cidr=cidr,
                gateway=f"{prefix}.1",
                dns_servers=[f"{prefix}.53"],
                reverse_zone=".".join(reversed(prefix.split("."))) + ".in-addr.arpa",
            )
            .returning(schema.subnets.c.id)
        )
    ).scalar_one()
    host_ids = []
    for n in range(1, hosts + 1):
        host_ids.append(
            (
                await conn.execute(
                    schema.hosts.insert()
                    .values(
                        location_id=location_id,
                        subnet_id=subnet_id,
                        name=f"kvm-ams1-{n:02d}",
                        external_ref=str(n),
                        ram_mb_total=host_ram_mb,
                        vcpus_total=host_ram_mb // 1024,
                        disk_gb_total=host_ram_mb // 64,
                    )
                    .returning(schema.hosts.c.id)
                )
            ).scalar_one()
        )
    path, digest = write_demo_image(image_dir)
    image_id = (
        await conn.execute(
            schema.images.insert()
            .values(
                slug="debian-12",
                name="Debian 12 (bookworm)",
                os_family="linux",
                source_url=path.resolve().as_uri(),
                sha256=digest,
                external_ref="21",
            )
            .returning(schema.images.c.id)
        )
    ).scalar_one()
    connection_id = await create_connection(
        conn,
        vault,
        name="solusvm2",
        type="solusvm2",
        base_url=solusvm_url,
        secrets={"api_token": solusvm_token},
        settings={"auth": {"scheme": "bearer", "secret": "api_token"}},
    )
    product_id = (
        await conn.execute(
            schema.products.insert()
            .values(
                slug=PRODUCT_SLUG,
                name="VPS 2 GB",
                service_type="vps",
                location_id=location_id,
                image_id=image_id,
                connection_id=connection_id,
                plugin_slug="solusvm2",
                ram_mb=2048,
                vcpus=2,
                disk_gb=40,
                price_minor=1200,
                currency="EUR",
                options={"plan_id": 2, "location_id": 1, "poll_interval": poll_interval},
            )
            .returning(schema.products.c.id)
        )
    ).scalar_one()
    return Catalogue(location_id, subnet_id, tuple(host_ids), image_id, connection_id, product_id)


async def seed_bare_product(conn: AsyncConnection, *, slug: str = "bare") -> tuple[int, int]:
    """A customer and a product with placeholder neighbours, for engine tests and benchmarks
    whose phases do nothing (no host, subnet or real image); returns `(customer_id, product_id)`."""

    async def insert(table: sa.Table, **values: Any) -> int:
        return int(
            (await conn.execute(table.insert().values(**values).returning(table.c.id))).scalar_one()
        )

    location = await insert(schema.locations, code=slug, name=slug)
    customer = await insert(schema.customers, email=f"{slug}@example.com", name=slug)
    image = await insert(
        schema.images,
        slug=slug,
        name=slug,
        os_family="linux",
        source_url=f"file:///{slug}",
        sha256="0" * 64,
    )
    connection = await insert(
        schema.connections,
        name=slug,
        type="noop",
        base_url="http://noop.invalid",
        settings={},
        secrets_sealed="",
    )
    product = await insert(
        schema.products,
        slug=slug,
        name=slug,
        service_type="vps",
        location_id=location,
        image_id=image,
        connection_id=connection,
        plugin_slug="noop",
        ram_mb=1,
        vcpus=1,
        disk_gb=1,
        price_minor=100,
        currency="EUR",
        options={},
    )
    return customer, product
