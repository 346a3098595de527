"""An order in memory, and the phases' ports around it: the fakes of `fluxbilling.testing`.

`Rig(view)` holds one order (`order_view` builds it), a `FakeDriver` registered as the
order's driver, the in-memory store, mailer, rDNS and image verifier, and the `PhaseDeps`
that wire them, so a test builds a phase with `rig.deps` and asserts on the fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fluxbilling.drivers.registry import DriverRegistry
from fluxbilling.handoff.mail import InMemoryMailer
from fluxbilling.orders.phases.deps import DcimDeps, PhaseDeps
from fluxbilling.orders.view import OrderView
from fluxbilling.testing import FakeDriver, FakeImageVerifier, InMemoryPhaseStore, InMemoryRdns
from fluxbilling.vault import Vault, generate_key

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
ORDER_ID = 7
SERVICE_ID = 11
IMAGE_URL = "https://images.example.net/debian-12.qcow2"
IMAGE_SHA256 = "ab" * 32


def order_view(
    *,
    service_type: str = "vps",
    ours: bool = True,
    with_image: bool = True,
    service_status: str = "allocated",
    order_state: str = "provisioning",
    options: dict[str, Any] | None = None,
    service_data: dict[str, Any] | None = None,
    password_delivery: str = "mail",  # noqa: S107 - a delivery mode, not a password
) -> OrderView:
    """Order 7 of Ada for a `vps-2g` (driver `fake`), service 11 on hv-ams1-01.

    `ours` gives it 192.0.2.10 from our IPAM; otherwise the provider assigns the address.
    """
    product = {
        "id": 5,
        "slug": "vps-2g",
        "service_type": service_type,
        "plugin_slug": "fake",
        "ram_mb": 2048,
        "vcpus": 2,
        "disk_gb": 40,
        "options": {"plan_id": 3} if options is None else options,
        "password_delivery": password_delivery,
    }
    image = {
        "id": 4,
        "slug": "debian-12",
        "name": "Debian 12",
        "sha256": IMAGE_SHA256,
        "source_url": IMAGE_URL,
        "status": "active",
        "user_data_template": None,
    }
    address = {"id": 31, "address": "192.0.2.10", "order_id": ORDER_ID, "state": "leased"}
    return OrderView(
        order={"id": ORDER_ID, "hostname": "web1.example.net", "state": order_state},
        customer={"id": 3, "name": "Ada Lovelace", "email": "ada@example.net"},
        product=product,
        image=image if with_image else {},
        connection={
            "id": 2,
            "name": "acme-main",
            "type": "acme",
            "base_url": "https://panel.example.net/api/v1",
        },
        location={"id": 1, "code": "ams1"},
        service={
            "id": SERVICE_ID,
            "order_id": ORDER_ID,
            "status": service_status,
            "service_data": dict(service_data or {}),
            "plugin_slug": None,
            "plugin_version": None,
            "root_password_sealed": None,
            "external_id": None,
        },
        host={"id": 21, "name": "hv-ams1-01", "external_ref": "node-1"},
        address=address if ours else {},
        subnet=(
            {"cidr": "192.0.2.0/24", "gateway": "192.0.2.1", "dns_servers": ["192.0.2.53"]}
            if ours
            else {}
        ),
        leases=[address] if ours else [],
    )


@dataclass
class Rig:
    """One order and every port of the phases, faked."""

    view: OrderView = field(default_factory=order_view)
    driver: FakeDriver = field(default_factory=lambda: FakeDriver("fake", connection_type="acme"))
    vault: Vault = field(default_factory=lambda: Vault(generate_key()))
    mailer: InMemoryMailer = field(default_factory=InMemoryMailer)
    rdns: InMemoryRdns = field(default_factory=InMemoryRdns)
    images: FakeImageVerifier = field(default_factory=FakeImageVerifier)
    dcim: DcimDeps | None = None

    def __post_init__(self) -> None:
        self.store = InMemoryPhaseStore(self.view)
        self.drivers = DriverRegistry()
        self.drivers.register(self.driver)

    @property
    def deps(self) -> PhaseDeps:
        """The phases' ports over these fakes."""
        return PhaseDeps(
            store=self.store,
            drivers=self.drivers,
            vault=self.vault,
            rdns=self.rdns,
            mailer=self.mailer,
            mail_from="hello@hosting.example",
            verify_image=self.images,
            public_url="https://billing.example.net/",
            reveal_link_hours=72,
            dcim=self.dcim,
        )

    @property
    def service(self) -> dict[str, Any]:
        """The service as the store keeps it now."""
        return self.store.service(SERVICE_ID)

    def seal_password(self, password: str = "correct-horse-battery") -> str:  # noqa: S107
        """Give the service a sealed root password, as the provision phase would."""
        self.service["root_password_sealed"] = self.vault.seal(password)
        return password
