"""The catalogue at the API: locations, racks, subnets, hosts, ports, cables, images, products
and customers.

Each entity's body names other entries by natural key, as `catalogue.yaml` does (a host
names its location's `code`); its answer adds the `id` the routes take (`api.crud`). The
create models are also what `fluxbilling catalogue apply` reads each YAML entry with, so a
file and a request are checked alike: the field rules here (types, lengths, one line), then
the entity's own checks (`catalogue.<entity>.check`) and references.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Optional

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import EmailStr, Field, StringConstraints, ValidationError, create_model

from fluxbilling.accounts.roles import Role
from fluxbilling.allocation.choice import Strategy
from fluxbilling.allocation.placement import HostStatus
from fluxbilling.api.crud import Entity, Filter, problems_of, router
from fluxbilling.api.fields import ONE_LINE, JsonObject, RequestBody, Text, Version
from fluxbilling.api.rows import Row
from fluxbilling.bootstrap import Installation
from fluxbilling.catalogue import (
    cables,
    customers,
    document,
    hosts,
    images,
    locations,
    ports,
    products,
    racks,
    records,
    subnets,
)
from fluxbilling.catalogue.images import ImageStatus, OsFamily
from fluxbilling.catalogue.products import PasswordDelivery, ServiceType
from fluxbilling.db import schema
from fluxbilling.network import firewall
from fluxbilling.network.ipam import PoolKind
from fluxbilling.orders.actions import RefundPolicy

__all__ = [
    "ENTITIES",
    "CableIn",
    "CustomerIn",
    "FirewallIn",
    "HostIn",
    "ImageIn",
    "LocationIn",
    "PortIn",
    "ProductIn",
    "RackIn",
    "SubnetIn",
    "read_document",
    "routers",
]

Int32 = Annotated[int, Field(ge=0, le=2**31 - 1)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=64), ONE_LINE]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=100), ONE_LINE]
HostName = Annotated[str, StringConstraints(min_length=1, max_length=200), ONE_LINE]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), ONE_LINE]
Address = Annotated[str, StringConstraints(max_length=64), ONE_LINE]
Labels = Annotated[list[Key], Field(max_length=256)]


class LocationIn(RequestBody):
    """A location: where hosts stand and products are sold."""

    code: Key = Field(description="the natural key, e.g. `ams1`")
    name: Name = Field(description="e.g. Amsterdam 1")


class RackIn(RequestBody):
    """A rack of a location (the location is the DCIM site)."""

    name: Key = Field(description="the natural key, e.g. `ams1-r01`")
    location: Key = Field(description="the location's code")
    units: Annotated[int, Field(ge=1, le=racks.MAX_UNITS)] = Field(
        42, description="its height in rack units"
    )


class SubnetIn(RequestBody):
    """An address pool of a location."""

    cidr: Address = Field(description="the network, e.g. `192.0.2.0/24` (the natural key)")
    location: Key = Field(description="the location's code")
    gateway: Address = Field(description="inside the network; not its network/broadcast address")
    dns_servers: list[Address] = Field(
        min_length=1, max_length=8, description="resolvers, in order"
    )
    reverse_zone: Annotated[str, StringConstraints(max_length=255), ONE_LINE] | None = Field(
        None, description="null: derived from the network (classful)"
    )
    kind: PoolKind = Field(
        PoolKind.ADDRESSES,
        description="`addresses`: one address per service; `routed`: a prefix per service",
    )
    lease_prefix_len: Annotated[int, Field(ge=1, le=128)] | None = Field(
        None, description="`routed` only: the length of one lease, e.g. 64"
    )
    reserved: list[Address] = Field(
        default_factory=list,
        max_length=64,
        description="never handed out: addresses, `a-b` ranges, prefixes",
    )
    cooldown_seconds: Int32 = Field(
        3600, description="a released lease waits this long before another order gets it"
    )
    vlan_id: int | None = Field(
        None,
        ge=1,
        le=4094,
        description="the VLAN its addresses live on: a service's host port is moved to it by "
        "a switch-port job (null: none)",
    )
    host: HostName | None = Field(
        None, description="the one host it serves (null: every host of its location)"
    )


class StoragePoolIn(RequestBody):
    """A storage pool of a host."""

    name: Key = Field(description="unique on the host, e.g. `nvme0`")
    type: Annotated[str, StringConstraints(min_length=1, max_length=32), ONE_LINE] = Field(
        description="what products ask for: `ssd`, `nvme`, `hdd`, ..."
    )
    total_gb: Int32 = Field(description="its size, GB")
    overcommit_percent: Annotated[int, Field(ge=100, le=1000)] = Field(
        100, description="how much of its size it may promise (150 = 1.5x)"
    )


class HostIn(RequestBody):
    """A host (or panel node) services are placed on."""

    name: HostName = Field(description="the natural key, e.g. `kvm-ams1-01`")
    location: Key = Field(description="the location's code")
    ram_mb: Int32 = Field(description="total RAM, MB")
    vcpus: Int32 = Field(description="total vCPUs")
    disk_gb: Int32 = Field(description="total disk, GB")
    subnet: Address | None = Field(
        None, description="the cidr of the subnet its services draw addresses from"
    )
    connection: Annotated[str, StringConstraints(max_length=100), ONE_LINE] | None = Field(
        None, description="the name of its panel's connection"
    )
    status: HostStatus = Field(
        HostStatus.ACTIVE,
        description="active takes new services; draining and quarantined keep theirs",
    )
    external_ref: Annotated[str, StringConstraints(max_length=200), ONE_LINE] | None = Field(
        None, description="the panel's id for it"
    )
    switch_port: Annotated[str, StringConstraints(max_length=200), ONE_LINE] | None = Field(
        None,
        description="the switch port it hangs off, by its name on the switch (null: not "
        "moved by switch-port jobs)",
    )
    rack: Key | None = Field(None, description="the name of the rack it stands in")
    rack_position: Annotated[int, Field(ge=1, le=racks.MAX_UNITS)] | None = Field(
        None, description="its lowest rack unit (needs rack)"
    )

    region: Key | None = Field(None, description="its region (products may require one)")
    cpu_model: Name | None = Field(None, description="its CPU model, e.g. `AMD EPYC 9454P`")
    cpu_flags: Labels = Field(default_factory=list, description="its CPU flags, e.g. `avx2`")
    tags: Labels = Field(default_factory=list, description="labels products may require")
    nic_mbps: Int32 = Field(0, description="NIC capacity, Mbit/s (0: none to reserve)")
    storage_pools: Annotated[list[StoragePoolIn], Field(max_length=64)] = Field(
        default_factory=list,
        description="its storage pools (none: disks go on `disk_gb`); a pool left out is "
        "removed, refused while it holds reserved disk",
    )


class PortIn(RequestBody):
    """A network port of a host, or of a device we only name (a switch)."""

    port: Annotated[str, StringConstraints(min_length=3, max_length=200), ONE_LINE] = Field(
        description="the natural key, `<host or device>/<name>`, e.g. `kvm-ams1-01/eth0`"
    )
    kind: Annotated[str, StringConstraints(min_length=1, max_length=32), ONE_LINE] = Field(
        description="the interface type, as NetBox names them: `1000base-t`, `virtual`, ..."
    )
    host: HostName | None = Field(None, description="the host that has it")
    device: Annotated[str, StringConstraints(max_length=100), ONE_LINE] | None = Field(
        None, description="the device that has it, when it is no host of ours (a switch)"
    )
    mac: Annotated[str, StringConstraints(max_length=17), ONE_LINE] | None = Field(
        None, description="e.g. 52:54:00:12:34:56"
    )
    speed_mbps: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(
        None, description="in Mbit/s"
    )


class CableIn(RequestBody):
    """A cable joining two ports."""

    label: Key = Field(description="the natural key, as printed on it")
    a: Annotated[str, StringConstraints(min_length=3, max_length=200), ONE_LINE] = Field(
        description="one end: a port's key"
    )
    b: Annotated[str, StringConstraints(min_length=3, max_length=200), ONE_LINE] = Field(
        description="the other end: a port's key"
    )


class ImageIn(RequestBody):
    """An OS image with the digest its bytes must have."""

    slug: Slug = Field(description="the natural key, e.g. `debian-12`")
    name: Name
    os_family: OsFamily
    source_url: Annotated[str, StringConstraints(max_length=1000)] = Field(
        description="http(s) URL (no credentials, query or fragment) or file:///absolute/path"
    )
    sha256: Annotated[str, StringConstraints(max_length=128), ONE_LINE] | None = Field(
        None, description="64 hex digits; this or sha512 is required"
    )
    sha512: Annotated[str, StringConstraints(max_length=128), ONE_LINE] | None = Field(
        None, description="128 hex digits"
    )
    status: ImageStatus = Field(
        ImageStatus.ACTIVE, description="quarantined when its bytes did not match"
    )
    external_ref: Annotated[str, StringConstraints(max_length=200), ONE_LINE] | None = Field(
        None, description="the panel's id for it (a template id)"
    )
    user_data_template: Annotated[Text, StringConstraints(max_length=65536)] | None = Field(
        None,
        description="cloud-init addition: `#cloud-config` (without our keys) or a `#!` "
        "script; a sandboxed template over {hostname, order.id, image}",
    )


_DEFAULT_POLICY = firewall.FirewallPolicy()
PortText = Annotated[str, StringConstraints(max_length=16, pattern=firewall.PORT_PATTERN)]
Rate = Annotated[int, Field(ge=1, le=1_000_000)]


class FirewallIn(RequestBody):
    """A product's firewall policy; omitted fields take their defaults (`network.firewall`)."""

    enabled: bool = Field(_DEFAULT_POLICY.enabled, description="false: no baseline at all")
    open_ports: list[PortText] = Field(
        default_factory=list,
        max_length=256,
        description="ports opened besides the service type's, e.g. `tcp/8080`, `udp/27015-27030`",
    )
    closed_ports: list[PortText] = Field(
        default_factory=list, max_length=256, description="of the service type's ports, closed"
    )
    block_smtp: bool = Field(_DEFAULT_POLICY.block_smtp, description="reject outbound TCP 25")
    icmp_per_second: Rate | None = Field(
        _DEFAULT_POLICY.icmp_per_second, description="ICMP accepted per second (null: unlimited)"
    )
    new_connections_per_minute: Rate | None = Field(
        _DEFAULT_POLICY.new_connections_per_minute,
        description="new inbound connections per source address (null: unlimited)",
    )
    anti_spoofing: bool = Field(
        _DEFAULT_POLICY.anti_spoofing,
        description="the service sends only from its own IPv4 and IPv6 addresses",
    )


class ProductIn(RequestBody):
    """What a customer orders, and how it is provisioned."""

    slug: Slug = Field(description="the natural key, e.g. `vps-2g`")
    name: Name
    service_type: ServiceType
    location: Key = Field(description="the location's code")
    connection: Annotated[str, StringConstraints(min_length=1, max_length=100), ONE_LINE] = Field(
        description="the connection's name (its type must be the plugin's)"
    )
    plugin: Slug = Field(description="the plugin's slug")
    plugin_version: Version | None = Field(
        None, description="the version new services pin; null: the newest at provisioning"
    )
    image: Slug | None = Field(None, description="the OS image's slug")
    options: JsonObject = Field(
        default_factory=dict, description="must fit the plugin's settings schema"
    )
    ram_mb: Int32
    vcpus: Int32
    disk_gb: Int32
    price_minor: int = Field(ge=0, le=2**63 - 1, description="in minor units (cents)")
    currency: Annotated[str, StringConstraints(max_length=3), ONE_LINE] = Field(
        description="ISO 4217, e.g. EUR"
    )
    refund_policy: RefundPolicy = Field(
        RefundPolicy.SUSPEND, description="what a full refund or a chargeback does"
    )
    alarm_after_minutes: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(
        None, description="a paid order not active after this is an alarm (null: default)"
    )
    password_delivery: PasswordDelivery = Field(
        PasswordDelivery.MAIL, description="the password in the welcome mail, or a reveal link"
    )
    firewall: FirewallIn | None = Field(
        None, description="the firewall baseline of its services (null: the defaults)"
    )
    cpu_flags: Labels = Field(default_factory=list, description="CPU flags a host must have")
    cpu_model: Name | None = Field(None, description="the CPU model a host must have")
    storage_type: Annotated[str, StringConstraints(max_length=32), ONE_LINE] | None = Field(
        None, description="the storage pool type its disk goes on (`ssd`, `nvme`, ...)"
    )
    region: Key | None = Field(None, description="the region a host must be in")
    host_tags: Labels = Field(default_factory=list, description="tags a host must carry")
    nic_mbps: Int32 = Field(0, description="NIC bandwidth reserved on the host, Mbit/s")
    max_per_host: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(
        None, description="anti-affinity: at most this many services of one customer per host"
    )
    placement_strategy: Strategy = Field(
        Strategy.SPREAD, description="spread (most free RAM first) or fill (least first)"
    )
    ipv4_address: bool = Field(True, description="its services get an IPv4 address")
    ipv6_address: bool = Field(False, description="its services get an IPv6 address")
    ipv6_routed: bool = Field(False, description="its services get a routed IPv6 prefix")


class CustomerIn(RequestBody):
    """Who orders."""

    email: Annotated[EmailStr, StringConstraints(max_length=320)] = Field(
        description="the natural key (stored lower case)"
    )
    name: Name


def _optional(model: type[RequestBody]) -> type[RequestBody]:
    """The change model of `model`: the same fields, each optional (omitted: unchanged)."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        clone = copy.copy(info)
        clone.default, clone.default_factory = None, None
        fields[name] = (Optional[info.annotation], clone)  # noqa: UP045 - a runtime type
    return create_model(
        model.__name__.removesuffix("In") + "Patch",
        __base__=RequestBody,
        __doc__=f"Changes to a {model.__name__.removesuffix('In').lower()}; omitted fields stay.",
        **fields,
    )


def _answer(model: type[RequestBody], **extra: Any) -> type[Row]:
    """The answer model of `model`: its `id` and fields (and `extra` ones)."""
    fields: dict[str, Any] = {"id": (int, ...)}
    for name, info in model.model_fields.items():
        shown = str if info.annotation is EmailStr else info.annotation
        fields[name] = (shown, Field(description=info.description))
    return create_model(
        model.__name__.removesuffix("In") + "Out",
        __base__=Row,
        __doc__=model.__doc__,
        **fields,
        **extra,
    )


def _by_code(column: sa.Column[Any]) -> Any:
    def where(code: str) -> sa.ColumnElement[bool]:
        table = schema.locations
        return column == sa.select(table.c.id).where(table.c.code == code).scalar_subquery()

    return where


def _kind(section: str) -> Callable[[Installation], records.Kind[Any]]:
    def of(installation: Installation) -> records.Kind[Any]:
        return document.kinds(installation.drivers)[section]

    return of


def _used(row: Any) -> dict[str, Any]:
    return {
        "ram_mb_used": row.ram_mb_used,
        "vcpus_used": row.vcpus_used,
        "disk_gb_used": row.disk_gb_used,
        "nic_mbps_used": row.nic_mbps_used,
        "consecutive_failures": row.consecutive_failures,
        "quarantine_reason": row.quarantine_reason,
    }


def _host_spec(**fields: Any) -> hosts.HostSpec:
    pools = tuple(hosts.PoolSpec(**p) for p in fields.pop("storage_pools", ()))
    flags, tags = tuple(fields.pop("cpu_flags", ())), tuple(fields.pop("tags", ()))
    return hosts.HostSpec(**fields, cpu_flags=flags, tags=tags, storage_pools=pools)


def _product_spec(**fields: Any) -> products.ProductSpec:
    flags, tags = tuple(fields.pop("cpu_flags", ())), tuple(fields.pop("host_tags", ()))
    return products.ProductSpec(**fields, cpu_flags=flags, host_tags=tags)


ENTITIES: tuple[Entity[Any], ...] = (
    Entity(
        path="locations",
        title="location",
        kind=_kind("locations"),
        spec=locations.LocationSpec,
        body=LocationIn,
        patch=_optional(LocationIn),
        out=_answer(LocationIn),
    ),
    Entity(
        path="racks",
        title="rack",
        kind=_kind("racks"),
        spec=racks.RackSpec,
        body=RackIn,
        patch=_optional(RackIn),
        out=_answer(RackIn),
        filters=(Filter("location", Key, _by_code(schema.racks.c.location_id)),),
    ),
    Entity(
        path="subnets",
        title="subnet",
        kind=_kind("subnets"),
        spec=lambda **f: subnets.SubnetSpec(
            **{**f, "dns_servers": tuple(f["dns_servers"]), "reserved": tuple(f["reserved"])}
        ),
        body=SubnetIn,
        patch=_optional(SubnetIn),
        out=_answer(SubnetIn),
        filters=(Filter("location", Key, _by_code(schema.subnets.c.location_id)),),
    ),
    Entity(
        path="hosts",
        title="host",
        kind=_kind("hosts"),
        spec=_host_spec,
        body=HostIn,
        patch=_optional(HostIn),
        out=_answer(
            HostIn,
            ram_mb_used=(int, Field(description="RAM reserved by its services, MB")),
            vcpus_used=(int, Field(description="vCPUs reserved by its services")),
            disk_gb_used=(int, Field(description="disk reserved by its services, GB")),
            nic_mbps_used=(int, Field(description="NIC bandwidth reserved, Mbit/s")),
            consecutive_failures=(
                int,
                Field(description="provision failures in a row on it (reset by a success)"),
            ),
            quarantine_reason=(
                str | None,
                Field(description="why it was quarantined by its failures (None: it was not)"),
            ),
        ),
        filters=(
            Filter("location", Key, _by_code(schema.hosts.c.location_id)),
            Filter("status", HostStatus, lambda v: schema.hosts.c.status == str(v)),
        ),
        extras=_used,
    ),
    Entity(
        path="ports",
        title="port",
        kind=_kind("ports"),
        spec=ports.PortSpec,
        body=PortIn,
        patch=_optional(PortIn),
        out=_answer(PortIn),
        filters=(
            Filter(
                "host",
                HostName,
                lambda v: (
                    schema.ports.c.host_id
                    == sa.select(schema.hosts.c.id)
                    .where(schema.hosts.c.name == v)
                    .scalar_subquery()
                ),
            ),
        ),
    ),
    Entity(
        path="cables",
        title="cable",
        kind=_kind("cables"),
        spec=cables.CableSpec,
        body=CableIn,
        patch=_optional(CableIn),
        out=_answer(CableIn),
    ),
    Entity(
        path="images",
        title="image",
        kind=_kind("images"),
        spec=images.ImageSpec,
        body=ImageIn,
        patch=_optional(ImageIn),
        out=_answer(ImageIn),
        filters=(Filter("status", ImageStatus, lambda v: schema.images.c.status == str(v)),),
    ),
    Entity(
        path="products",
        title="product",
        kind=_kind("products"),
        spec=_product_spec,
        body=ProductIn,
        patch=_optional(ProductIn),
        out=_answer(ProductIn),
        filters=(
            Filter("location", Key, _by_code(schema.products.c.location_id)),
            Filter("plugin", Slug, lambda v: schema.products.c.plugin_slug == v),
        ),
    ),
    Entity(
        path="customers",
        title="customer",
        kind=_kind("customers"),
        spec=customers.CustomerSpec,
        body=CustomerIn,
        patch=_optional(CustomerIn),
        out=_answer(CustomerIn),
        writer=Role.OPERATOR,
        filters=(
            Filter(
                "email",
                Annotated[str, StringConstraints(max_length=320), ONE_LINE],
                lambda v: schema.customers.c.email == str(v).lower(),
            ),
        ),
    ),
)
"""Every catalogue entity, in the order references allow creating them."""


def read_document(data: Any) -> dict[str, list[document.Entry]]:
    """The entries of a catalogue document (parsed YAML), checked by the create models.

    Raises:
        errors.InvalidSettings: the document is not a mapping of known sections holding
            lists of mappings, or an entry breaks its model; each problem names its place
            in the file (`hosts[2].ram_mb`).
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        records.reject(
            "catalogue", [records.problem("(document)", "must be a mapping of sections")]
        )
    sections = {entity.path: entity for entity in ENTITIES}
    problems: list[records.Problem] = []
    result: dict[str, list[document.Entry]] = {}
    for section, items in data.items():
        entity = sections.get(str(section))
        if entity is None:
            known = ", ".join(sections)
            problems.append(records.problem(str(section), f"is not a section ({known})"))
            continue
        if not isinstance(items, Sequence) or isinstance(items, str):
            problems.append(records.problem(str(section), "must be a list of entries"))
            continue
        result[entity.path] = []
        for index, item in enumerate(items):
            where = f"{section}[{index}]"
            try:
                body = entity.body.model_validate(item)
            except ValidationError as exc:
                problems += problems_of(exc, where)
                continue
            result[entity.path].append(
                document.Entry(entity.path, index, entity.spec(**body.model_dump()))
            )
    records.reject("catalogue", problems)
    return result


@functools.cache
def routers() -> tuple[APIRouter, ...]:
    """The routes of every entity, made once per process (they hold no installation: each
    request finds its own; making their models takes a while)."""
    return tuple(router(entity) for entity in ENTITIES)
