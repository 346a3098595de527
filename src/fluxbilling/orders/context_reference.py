"""The run context a plugin's flows see, as a reference: every variable with an example value.

`EXAMPLE` is one complete context (order 42, a VPS on our own address, in the provision
phase, plus what only some verbs get), `KEYS` says what each top-level key is and when it
is there, `NOTES` explains the variables whose meaning is not obvious from their name. The
guide's table (docs/plugins.md, "The run context") is generated from them:

    python -m fluxbilling.orders.context_reference > /tmp/table.md

and a test keeps both honest: the guide holds exactly `markdown()`, and the variables of
`EXAMPLE` are exactly those `operations.flow_context` builds from a view with every column
of the tables it reads (a new column cannot reach flows undocumented).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["EXAMPLE", "FREE_FORM", "KEYS", "NOTES", "main", "markdown", "variables"]

_PASSWORD = "bR7-kq2Vx9mPz4Lw"  # noqa: S105 - an example in the docs, not a credential

EXAMPLE: dict[str, Any] = {
    "order": {
        "id": 42,
        "customer_id": 3,
        "product_id": 5,
        "hostname": "vps-42.example.net",
        "state": "provisioning",
        "created_at": "2026-03-01T09:30:00+00:00",
        "updated_at": "2026-03-01T09:31:12+00:00",
    },
    "customer": {
        "id": 3,
        "email": "ada@example.org",
        "name": "Ada Lovelace",
        "created_at": "2026-02-11T17:02:45+00:00",
    },
    "product": {
        "id": 5,
        "slug": "acme-vps-2g",
        "name": "VPS 2 GB",
        "service_type": "vps",
        "location_id": 1,
        "image_id": 4,
        "connection_id": 2,
        "plugin_slug": "acmepanel",
        "plugin_version": None,
        "ram_mb": 2048,
        "vcpus": 1,
        "disk_gb": 40,
        "price_minor": 900,
        "currency": "EUR",
        "options": {"plan": "small-2g", "region": "eu-1"},
        "alarm_after_minutes": 30,
        "password_delivery": "mail",
        "firewall": None,
        "cpu_flags": ["avx2"],
        "cpu_model": None,
        "storage_type": "ssd",
        "region": None,
        "host_tags": [],
        "nic_mbps": 100,
        "max_per_host": None,
        "placement_strategy": "spread",
        "ipv4_address": True,
        "ipv6_address": False,
        "ipv6_routed": True,
    },
    "options": {"plan": "small-2g", "region": "eu-1"},
    "settings": {"plan": "small-2g", "region": "eu-1"},
    "image": {
        "id": 4,
        "slug": "debian-12",
        "name": "Debian 12",
        "os_family": "debian",
        "source_url": "https://images.example.net/debian-12.qcow2",
        "sha256": "9f2c...e41a",
        "sha512": None,
        "status": "active",
        "external_ref": "debian-12",
        "user_data_template": None,
    },
    "location": {"id": 1, "code": "ams1", "name": "Amsterdam 1"},
    "connection": {
        "name": "acme-eu",
        "type": "http",
        "base_url": "https://panel.acme.example/api/v2/",
        "origin": "https://panel.acme.example",
        "host": "panel.acme.example",
    },
    "service": {"external_id": "i-81"},
    "allocation": {
        "address": "192.0.2.10",
        "gateway": "192.0.2.1",
        "cidr": "192.0.2.0/24",
        "host": "hv-ams1-01",
        "host_ref": "node-7",
    },
    "account": {"username": "fb000016"},
    "credentials": {"password": _PASSWORD, "root_password": _PASSWORD},
    "correlation_id": "42:provision",
    "cloud_init": {
        "user_data": "#cloud-config\nhostname: vps-42\n...",
        "meta_data": "instance-id: fb-42\nlocal-hostname: vps-42\n",
        "network_config": "version: 2\nethernets: ...",
    },
    "action": {"verb": "suspend", "params": {}, "reason": "unpaid invoice 1007"},
}
"""One complete run context (every key, though no single run has them all)."""

FREE_FORM = frozenset({"options", "settings", "service", "product.options", "action.params"})
"""Objects whose keys are the operator's or the plugin's, not ours: listed as a whole."""

KEYS: dict[str, str] = {
    "order": "the order",
    "customer": "who ordered",
    "product": "the product ordered (a row of the catalogue)",
    "options": "the product's options (`{}` when it has none); in a `resize` action, with "
    "`action.params.options` laid over them",
    "settings": "the same object as `options`: the values the plugin's `settings` schema describes",
    "image": "the product's OS image; `{}` when it has none (usual for `shared` and `game`)",
    "location": "the product's location",
    "connection": "the product's connection, without secrets",
    "service": "the data stored on the service so far: what `set_service_data` stored, plus "
    "what the pipeline adds (`network`, `os`, `firewall`, `plan_options`); `{}` before "
    "provisioning",
    "allocation": "what the allocation phase reserved",
    "account": "a panel account name for the order",
    "credentials": "the service's password, generated and sealed when the provision phase "
    "first runs and the same on every retry. Only in the provision phase, in the os_install "
    "phase's `reinstall`, in a `reinstall` action (the service's password) and in a "
    "`reset_password` action (the new password); redacted from everything recorded",
    "correlation_id": "the stable key of this phase of this order "
    "([correlation ids](#correlation-ids-and-lookup-before-create)): `<order id>:provision`, "
    "`<order id>:os_install`, `<order id>:action:<run id>`",
    "cloud_init": "our cloud-init documents: for `reinstall` in the os_install phase, and in a "
    "`reinstall` action for a service on an address from our IPAM whose product has an image",
    "action": "only in [lifecycle actions](#lifecycle-actions)",
}
"""What each top-level key is, and when it is there."""

NOTES: dict[str, str] = {
    "order.hostname": "the hostname the customer ordered (also the domain of a `shared` account)",
    "order.state": "the order's state when the phase started",
    "product.options": "the product's options as stored; prefer `options`",
    "product.firewall": "the product's firewall policy (`network.firewall`; null: the "
    "defaults), for a plugin that applies it on its panel",
    "product.price_minor": "the price in minor units (cents)",
    "image.sha256": "the expected SHA-256 of the image (shortened here); null when only a "
    "SHA-512 is known",
    "image.sha512": "the expected SHA-512 of the image, or null",
    "product.plugin_version": "the plugin version the product is pinned to; null: the newest",
    "image.external_ref": "the panel's own id or name for the image",
    "product.cpu_flags": "CPU flags a host must have (placement)",
    "product.cpu_model": "the CPU model a host must have, or null (placement)",
    "product.storage_type": "the storage pool type the disk goes on (`ssd`, `nvme`, ...), or null",
    "product.region": "the region a host must be in, or null (placement)",
    "product.host_tags": "tags a host must carry (placement)",
    "product.nic_mbps": "NIC bandwidth reserved on the host, Mbit/s (0: none)",
    "product.max_per_host": "at most this many services of one customer on one host, or null",
    "product.placement_strategy": "`spread` (most free RAM first) or `fill` (least first)",
    "image.user_data_template": "the image's own cloud-init user data template, or null",
    "connection.origin": "scheme, host and port of `base_url`, for building URLs",
    "connection.host": "the host name of `base_url`",
    "allocation.address": "the service's IPv4 address from our IPAM; null when the "
    "[provider picks the address](#addressing-who-picks-the-address)",
    "allocation.gateway": "the subnet's gateway; null when the provider picks the address",
    "allocation.cidr": "the **subnet** the address is in, in CIDR notation (network "
    "address / prefix length), not the address; null when the provider picks the address. "
    "Its prefix length is `{{allocation.cidr | prefixlen}}` (`24`), its netmask "
    "`{{allocation.cidr | netmask}}` (`255.255.255.0`), and the address with its length "
    "`{{allocation.address}}/{{allocation.cidr | prefixlen}}` (`192.0.2.10/24`)",
    "allocation.host": "the name of the host allocation chose (a host of the product's connection)",
    "allocation.host_ref": "that host's `external_ref`: the panel's id for that node",
    "account.username": "`fb` + the order id in base 36 padded to 6 characters (order 42: "
    "`fb000016`); the same on every retry, valid for cPanel, Pterodactyl and Virtualizor",
    "credentials.root_password": "the same value as `password`",
    "action.verb": "the lifecycle verb requested",
    "action.params": "the request's parameters (`{}` by default)",
    "action.reason": "the reason given with the request, or null",
}
"""What a variable means, where its name does not say it all."""


def variables(value: Any = None, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every variable of `value` (default: `EXAMPLE`) as `(dotted path, example value)`.

    Objects are descended into, except the `FREE_FORM` ones, which are variables themselves.

    Example:
        >>> dict(variables({"a": {"b": 1}, "options": {"x": 2}}))
        {'a': {'b': 1}, 'a.b': 1, 'options': {'x': 2}}
    """
    for key, item in (EXAMPLE if value is None else value).items():
        path = f"{prefix}{key}"
        yield path, item
        if isinstance(item, dict) and path not in FREE_FORM:
            yield from variables(item, f"{path}.")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "\\n")


def _example(value: Any) -> str:
    if (
        isinstance(value, dict)
        and value
        and not all(isinstance(v, str | int | float | bool | type(None)) for v in value.values())
    ):
        return ""
    return "`" + _cell(json.dumps(value, ensure_ascii=False)) + "`"


def markdown() -> str:
    """The guide's table of every context variable, with an example value and its meaning."""
    lines = [
        "| variable | example | what |",
        "|---|---|---|",
    ]
    for path, value in variables():
        top = "." not in path
        what = KEYS[path] if top else NOTES.get(path, "")
        name = f"**`{path}`**" if top else f"`{path}`"
        shown = "" if top and isinstance(value, dict) and path not in FREE_FORM else _example(value)
        lines.append(f"| {name} | {shown} | {_cell(what)} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Print the table (`python -m fluxbilling.orders.context_reference`)."""
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
