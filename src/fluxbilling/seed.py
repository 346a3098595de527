"""A ready catalogue for the demo, the tests and the benchmarks: a location, three hosts, a subnet,
an OS image (a real file with its sha256), a VPS product and the SolusVM 2 connection."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.db import schema
from fluxbilling.drivers.connections import create_connection
from fluxbilling.jsontypes import JsonObject
from fluxbilling.vault import Vault

__all__ = [
    "PRODUCT_SLUG",
    "PROVIDERS",
    "Catalogue",
    "ProviderSeed",
    "seed_catalogue",
    "seed_provider",
    "write_demo_image",
]

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


async def _insert(conn: AsyncConnection, table: sa.Table, **values: Any) -> int:
    """Insert one row; its id."""
    return int(
        (await conn.execute(table.insert().values(**values).returning(table.c.id))).scalar_one()
    )


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
    allowed_networks: Sequence[str] = (),
) -> Catalogue:
    """Insert the catalogue inside the caller's transaction.

    `allowed_networks` is the SolusVM 2 connection's allowance for the upstream address
    policy: a simulator on loopback needs it (e.g. `["127.0.0.1/32"]`), recorded as set by
    `seed`, exactly as an admin would allow a panel on a private network.
    """
    location_id = await _insert(conn, schema.locations, code="ams1", name="Amsterdam 1")
    prefix = cidr.rsplit(".", 1)[0]
    subnet_id = await _insert(
        conn,
        schema.subnets,
        location_id=location_id,
        cidr=cidr,
        gateway=f"{prefix}.1",
        dns_servers=[f"{prefix}.53"],
        reverse_zone=".".join(reversed(prefix.split("."))) + ".in-addr.arpa",
    )
    connection_id = await create_connection(
        conn,
        vault,
        name="solusvm2",
        type="solusvm2",
        base_url=solusvm_url,
        secrets={"api_token": solusvm_token},
        settings={"auth": {"scheme": "bearer", "secret": "api_token"}},
        allowed_networks=allowed_networks,
        actor="seed",
    )
    host_ids = []
    for n in range(1, hosts + 1):
        host_ids.append(
            await _insert(
                conn,
                schema.hosts,
                location_id=location_id,
                subnet_id=subnet_id,
                connection_id=connection_id,
                name=f"kvm-ams1-{n:02d}",
                external_ref=str(n),
                ram_mb_total=host_ram_mb,
                vcpus_total=host_ram_mb // 1024,
                disk_gb_total=host_ram_mb // 64,
            )
        )
    path, digest = write_demo_image(image_dir)
    image_id = await _insert(
        conn,
        schema.images,
        slug="debian-12",
        name="Debian 12 (bookworm)",
        os_family="linux",
        source_url=path.resolve().as_uri(),
        sha256=digest,
        external_ref="21",
    )
    product_id = await _insert(
        conn,
        schema.products,
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
    return Catalogue(location_id, subnet_id, tuple(host_ids), image_id, connection_id, product_id)


async def seed_bare_product(conn: AsyncConnection, *, slug: str = "bare") -> tuple[int, int]:
    """A customer and a product with placeholder neighbours, for engine tests and benchmarks
    whose phases do nothing (no host, subnet or real image); returns `(customer_id, product_id)`."""

    location = await _insert(conn, schema.locations, code=slug, name=slug)
    customer = await _insert(conn, schema.customers, email=f"{slug}@example.com", name=slug)
    image = await _insert(
        conn,
        schema.images,
        slug=slug,
        name=slug,
        os_family="linux",
        source_url=f"file:///{slug}",
        sha256="0" * 64,
    )
    connection = await _insert(
        conn,
        schema.connections,
        name=slug,
        type="noop",
        base_url="http://noop.invalid",
        settings={},
        secrets_sealed="",
    )
    product = await _insert(
        conn,
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


@dataclass(frozen=True, slots=True)
class ProviderSeed:
    """How the demo and the tests set up one provider: its connection, nodes and a product."""

    plugin: str
    connection_type: str
    service_type: str
    product_slug: str
    product_name: str
    secrets: dict[str, str]
    options: JsonObject
    image_ref: str | None
    ram_mb: int
    vcpus: int
    disk_gb: int
    price_minor: int
    nodes: tuple[tuple[str, int, int, int], ...]
    """(name, RAM MB, vCPUs, disk GB) of each panel node we track capacity for."""


PROVIDERS: dict[str, ProviderSeed] = {
    "virtualizor": ProviderSeed(
        plugin="virtualizor",
        connection_type="virtualizor",
        service_type="vps",
        product_slug="vps-virtualizor-1g",
        product_name="KVM VPS 1 GB (Virtualizor)",
        secrets={"api_key": "sim-key", "api_pass": "sim-pass"},
        options={"plan_id": 1, "addressing": "provider"},
        image_ref="111",
        ram_mb=1024,
        vcpus=1,
        disk_gb=20,
        price_minor=600,
        nodes=(("virtualizor-localhost", 8192, 8, 200), ("virtualizor-node-2", 4096, 4, 100)),
    ),
    "pterodactyl": ProviderSeed(
        plugin="pterodactyl",
        connection_type="pterodactyl",
        service_type="game",
        product_slug="game-minecraft-2g",
        product_name="Minecraft server 2 GB (Pterodactyl)",
        secrets={"application_key": "ptla_sim", "client_key": "ptlc_sim"},
        options={
            "egg": 1,  # Paper (nest 1 Minecraft) in the simulator's seeded world
            "docker_image": "ghcr.io/pterodactyl/yolks:java_17",
            "startup": "java -Xms128M -Xmx{{SERVER_MEMORY}}M -jar {{SERVER_JARFILE}}",
            "environment": {
                "SERVER_JARFILE": "server.jar",
                "MINECRAFT_VERSION": "latest",
                "BUILD_NUMBER": "latest",
            },
            "locations": [1],  # ams1, the location of wings-ams1-01 below
            "memory": 2048,
            "swap": 0,
            "disk": 10240,
            "io": 500,
            "cpu": 200,
            "databases": 1,
            "allocations": 1,
            "backups": 2,
        },
        image_ref=None,
        ram_mb=2048,
        vcpus=2,
        disk_gb=10,
        price_minor=800,
        nodes=(("wings-ams1-01", 16384, 8, 500),),
    ),
    "whm": ProviderSeed(
        plugin="whm",
        connection_type="whm",
        service_type="shared",
        product_slug="hosting-starter",
        product_name="Web hosting Starter (cPanel)",
        secrets={"api_token": "sim-token"},
        options={"package": "starter"},
        image_ref=None,
        ram_mb=0,
        vcpus=0,
        disk_gb=1,
        price_minor=300,
        nodes=(("cpanel-ams1-01", 0, 0, 500),),
    ),
}
"""The other shipped plugins, set up against their simulators' default credentials."""


async def seed_provider(
    conn: AsyncConnection,
    vault: Vault,
    provider: str,
    *,
    base_url: str,
    location_id: int,
    image_id: int | None = None,
    poll_interval: float = 1.0,
    secrets: dict[str, str] | None = None,
    options: JsonObject | None = None,
    allowed_networks: Sequence[str] = (),
) -> int:
    """Add one provider of `PROVIDERS` (connection, nodes, product) in an existing location.

    Args:
        conn: the caller's transaction.
        vault: seals the connection's secrets.
        provider: a key of `PROVIDERS`.
        base_url: where the panel (or its simulator) answers.
        location_id: the location of its nodes and product.
        image_id: the OS image of VPS products (its `external_ref` is the panel's template).
        poll_interval: the plugin's seconds between status checks.
        secrets: overrides the simulator's default credentials.
        options: merged over the product's default options.
        allowed_networks: the connection's allowance for the upstream address policy (a
            simulator on loopback needs one; recorded as set by `seed`).

    Returns:
        The product id.
    """
    seed = PROVIDERS[provider]
    connection_id = await create_connection(
        conn,
        vault,
        name=provider,
        type=seed.connection_type,
        base_url=base_url,
        secrets=secrets or seed.secrets,
        allowed_networks=allowed_networks,
        actor="seed",
    )
    for name, ram, vcpus, disk in seed.nodes:
        await conn.execute(
            schema.hosts.insert().values(
                location_id=location_id,
                connection_id=connection_id,
                name=name,
                ram_mb_total=ram,
                vcpus_total=vcpus,
                disk_gb_total=disk,
            )
        )
    if seed.image_ref is not None and image_id is not None:
        image_row = (
            await conn.execute(sa.select(schema.images).where(schema.images.c.id == image_id))
        ).one()
        image_id = await _insert(
            conn,
            schema.images,
            slug=f"{image_row.slug}-{provider}",
            name=image_row.name,
            os_family=image_row.os_family,
            source_url=image_row.source_url,
            sha256=image_row.sha256,
            external_ref=seed.image_ref,
        )
    return await _insert(
        conn,
        schema.products,
        slug=seed.product_slug,
        name=seed.product_name,
        service_type=seed.service_type,
        location_id=location_id,
        image_id=image_id if seed.image_ref is not None else None,
        connection_id=connection_id,
        plugin_slug=seed.plugin,
        ram_mb=seed.ram_mb,
        vcpus=seed.vcpus,
        disk_gb=seed.disk_gb,
        price_minor=seed.price_minor,
        currency="EUR",
        options={**seed.options, "poll_interval": poll_interval, **(options or {})},
    )
