"""OS images: what a VPS is installed from, with the digest its bytes must have.

The checks, pure:

| field                 | rule                                                            |
|-----------------------|-----------------------------------------------------------------|
| `source_url`          | `http(s)://` by the rules of a connection's base URL (no        |
|                       | credentials, query, fragment, spaces or line breaks; an address |
|                       | literal must pass the upstream address policy), or              |
|                       | `file:///absolute/path` (a file on the FluxBilling host)        |
| `sha256`, `sha512`    | at least one; 64 and 128 hex digits, stored lower case          |
| `user_data_template`  | renders in the template sandbox with an example context, and    |
|                       | what it renders passes cloud-init's rules (`#cloud-config`      |
|                       | without our keys, or a `#!` script)                             |

The digest is checked against the bytes before every install (a mismatch quarantines the
image). An image is used by the products that install it and cannot be deleted while any
does; changing it affects installs from then on, never a running service.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from fluxbilling import errors
from fluxbilling.catalogue import rules
from fluxbilling.catalogue.records import Kind, Names, Problem, counted, problem
from fluxbilling.db import schema
from fluxbilling.drivers.connection_types import base_url_problem
from fluxbilling.handoff import templates
from fluxbilling.images import cloudinit, passwords

__all__ = [
    "KIND",
    "TEMPLATE_EXAMPLE_CONTEXT",
    "ImageSpec",
    "ImageStatus",
    "OsFamily",
    "check",
    "source_problem",
    "template_problem",
]

_HEX = {"sha256": re.compile(r"[0-9a-fA-F]{64}"), "sha512": re.compile(r"[0-9a-fA-F]{128}")}

TEMPLATE_EXAMPLE_CONTEXT = {
    "hostname": "vps1.example.net",
    "order": {"id": 42},
    "image": "debian-12",
}
"""What a user-data template is checked with: the context the install phase renders it with."""


class OsFamily(StrEnum):
    """The kind of operating system on an image."""

    LINUX = "linux"
    BSD = "bsd"
    WINDOWS = "windows"


class ImageStatus(StrEnum):
    """Whether an image may be installed (the `images.status` column)."""

    ACTIVE = "active"
    """Installed when a product names it."""
    QUARANTINED = "quarantined"
    """Refused: its bytes did not match the digest (set by the install phase)."""


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """An image as an operator states it.

    Attributes:
        slug: the natural key (`debian-12`).
        name: shown to operators and customers.
        os_family: the kind of OS.
        source_url: where its bytes are (see the module docstring).
        sha256: the expected SHA-256 (hex); `sha512` likewise; at least one.
        status: active, or quarantined (set it back to active once the source is fixed).
        external_ref: the panel's id for it (a template id).
        user_data_template: the operator's cloud-init addition (a sandboxed template).
    """

    slug: str
    name: str
    os_family: OsFamily
    source_url: str
    sha256: str | None = None
    sha512: str | None = None
    status: ImageStatus = ImageStatus.ACTIVE
    external_ref: str | None = None
    user_data_template: str | None = None


def source_problem(url: str) -> str | None:
    """What is wrong with an image's source URL, or None.

    Examples:
        >>> source_problem("https://cloud.debian.org/images/debian-12.qcow2")
        >>> source_problem("file:///var/lib/images/debian-12.qcow2")
        >>> source_problem("ftp://mirror.example/debian.qcow2")
        'must be an http(s) URL or file:///absolute/path'
    """
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        return base_url_problem(url)
    if scheme != "file":
        return "must be an http(s) URL or file:///absolute/path"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return "must not contain spaces or control characters (such as a line break)"
    parts = urlsplit(url)
    if parts.netloc or not parts.path.startswith("/") or parts.query or parts.fragment:
        return "a file URL must be file:///absolute/path, without host, query or fragment"
    return None


@functools.cache
def _example_hash() -> str:
    return passwords.sha512_crypt("example", "example")


def template_problem(source: str) -> str | None:
    """What is wrong with a user-data template, or None (see the module docstring).

    Examples:
        >>> template_problem("#cloud-config\\npackages: [htop]\\n")
        >>> template_problem("#cloud-config\\nhostname: {{hostname}}\\n")
        'operator cloud-config repeats keys FluxBilling sets: hostname'
    """
    try:
        rendered = templates.compile_template(source).render(TEMPLATE_EXAMPLE_CONTEXT, escape=False)
        cloudinit.render(
            cloudinit.CloudInitSpec(
                hostname="vps1",
                fqdn="vps1.example.net",
                instance_id="fluxbilling-42",
                address=ipaddress.IPv4Interface("192.0.2.10/24"),
                gateway=ipaddress.IPv4Address("192.0.2.1"),
                dns_servers=(ipaddress.IPv4Address("192.0.2.53"),),
                root_password_hash=_example_hash(),
                extra_user_data=rendered,
            )
        )
    except errors.InvalidSettings as exc:
        return exc.message
    return None


def check(spec: ImageSpec) -> list[Problem]:
    """The problems of `spec` (pure; see the module docstring)."""
    problems = rules.key("slug", spec.slug) + rules.name("name", spec.name)
    source = source_problem(spec.source_url)
    if source is not None:
        problems.append(problem("source_url", source))
    digests = {"sha256": spec.sha256, "sha512": spec.sha512}
    if not any(digests.values()):
        problems.append(problem("sha256", "give the expected sha256 or sha512 of the image"))
    for field, value in digests.items():
        if value is not None and not _HEX[field].fullmatch(value):
            digits = _HEX[field].pattern.split("{")[1].rstrip("}")
            problems.append(problem(field, f"must be {digits} hexadecimal digits"))
    if spec.external_ref is not None:
        problems += rules.name("external_ref", spec.external_ref)
    if spec.user_data_template:
        template = template_problem(spec.user_data_template)
        if template is not None:
            problems.append(problem("user_data_template", template))
    return problems


def _normalise(spec: ImageSpec) -> ImageSpec:
    return replace(
        spec,
        sha256=spec.sha256.lower() if spec.sha256 else None,
        sha512=spec.sha512.lower() if spec.sha512 else None,
        user_data_template=spec.user_data_template or None,
    )


async def _values(_names: Names, spec: ImageSpec) -> dict[str, Any]:
    return {
        "slug": spec.slug,
        "name": spec.name,
        "os_family": str(spec.os_family),
        "source_url": spec.source_url,
        "sha256": spec.sha256,
        "sha512": spec.sha512,
        "status": str(spec.status),
        "external_ref": spec.external_ref,
        "user_data_template": spec.user_data_template,
    }


async def _spec(_names: Names, row: Any) -> ImageSpec:
    return ImageSpec(
        slug=row.slug,
        name=row.name,
        os_family=OsFamily(row.os_family),
        source_url=row.source_url,
        sha256=row.sha256,
        sha512=row.sha512,
        status=ImageStatus(row.status),
        external_ref=row.external_ref,
        user_data_template=row.user_data_template,
    )


KIND: Kind[ImageSpec] = Kind(
    entity="image",
    table=schema.images,
    key="slug",
    check=check,
    normalise=_normalise,
    to_values=_values,
    to_spec=_spec,
    users=counted((schema.products.c.image_id, "product")),
    uses="is used by",
)
"""Images, for `records`."""
