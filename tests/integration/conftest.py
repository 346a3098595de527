"""Integration fixtures: every test runs on SQLite and on the real local PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from fluxbilling import bootstrap
from fluxbilling.api import create_app
from fluxbilling.config import Settings
from fluxbilling.db import Database
from fluxbilling.drivers.address_guard import StaticResolver
from fluxbilling.handoff.mail import InMemoryMailer
from fluxbilling.network.dcim_sync import DcimSync
from fluxbilling.network.switchport import SwitchPortBackend
from fluxbilling.seed import seed_catalogue
from fluxbilling.vault import generate_key
from fluxbilling_simulators import pterodactyl, solusvm2, virtualizor, whm
from fluxbilling_simulators._paypal_state import new_key
from tests import dbsupport
from tests.httpsupport import asgi_client
from tests.integration.payments import PaymentSims
from tests.integration.support import SIMULATOR_NETWORKS

pytestmark = pytest.mark.integration

API_TOKEN = "test-api-token"
"""The operator API token of the `installation` fixture."""


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dbsupport.create_sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def pg_test_url() -> Iterator[str]:
    name = f"fluxbilling_test_{os.getpid()}"
    url = dbsupport.create_pg_database(name)
    yield url
    dbsupport.drop_pg_database(name)


@pytest.fixture(params=dbsupport.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        return dbsupport.copy_sqlite(template, tmp_path / "test.db")
    return str(request.getfixturevalue("pg_test_url"))


@pytest.fixture
async def db(database_url: str, backend: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    if backend == "postgresql":
        await dbsupport.truncate_all(database)
    yield database
    await database.dispose()


@pytest.fixture
def sim() -> solusvm2.SolusVM2State:
    """The SolusVM 2 simulator's state (served in-process through an ASGI transport)."""
    return solusvm2.SolusVM2State(token="it-token", polls_until_started=1)


@pytest.fixture
def virtualizor_sim() -> virtualizor.VirtualizorState:
    """The Virtualizor simulator, served at http://virtualizor.test/ (tasks finish fast)."""
    return virtualizor.VirtualizorState(polls_until_ready=1)


@pytest.fixture
def pterodactyl_sim() -> pterodactyl.PterodactylState:
    """The Pterodactyl simulator, served at http://pterodactyl.test/api/."""
    return pterodactyl.PterodactylState(polls_until_installed=1)


@pytest.fixture
def whm_sim() -> whm.WhmState:
    """The cPanel & WHM simulator, served at http://whm.test/json-api/."""
    return whm.WhmState()


PANEL_URLS = {
    "virtualizor": "http://virtualizor.test/",
    "pterodactyl": "http://pterodactyl.test/api/",
    "whm": "http://whm.test/json-api/",
}
"""Where each simulated panel answers; `seed.seed_provider(..., base_url=PANEL_URLS[p])`."""


@pytest.fixture(scope="session")
def paypal_key() -> rsa.RSAPrivateKey:
    """One signing key for every test's PayPal simulator (RSA keys are slow to make)."""
    return new_key()


@pytest.fixture
def payments(paypal_key: rsa.RSAPrivateKey) -> PaymentSims:
    """The four payment gateway simulators; the `installation` is configured for all of them."""
    return PaymentSims(paypal_key)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """More `installation` settings; a test module overrides this fixture to change them."""
    return {}


@pytest.fixture
def switch_ports() -> SwitchPortBackend | None:
    """The switch the `installation` moves ports on (None: the one its settings name, or none);
    a test module overrides this fixture with an `InMemorySwitchPorts`."""
    return None


@pytest.fixture
def dcim_sync() -> DcimSync | None:
    """The inventory system of the `installation` (a test module overrides this fixture)."""
    return None


@pytest.fixture
def mailer() -> InMemoryMailer:
    return InMemoryMailer()


@pytest.fixture
async def installation(
    database_url: str,
    backend: str,
    tmp_path: Path,
    sim: solusvm2.SolusVM2State,
    virtualizor_sim: virtualizor.VirtualizorState,
    pterodactyl_sim: pterodactyl.PterodactylState,
    whm_sim: whm.WhmState,
    payments: PaymentSims,
    settings_overrides: dict[str, Any],
    mailer: InMemoryMailer,
    switch_ports: SwitchPortBackend | None,
    dcim_sync: DcimSync | None,
) -> AsyncIterator[bootstrap.Installation]:
    """A whole installation on the test database, seeded with the demo catalogue."""
    settings = Settings(
        database_url=database_url,
        state_dir=tmp_path / "state",
        secret_key=generate_key(),
        api_token=API_TOKEN,
        stripe_webhook_secret="whsec_test_secret",
        poll_interval=0.05,
        lease_seconds=5,
        reconcile_after=0,
        dns_listen_port=0,
        **{**payments.settings(), **settings_overrides},
    )
    apps = {
        **payments.apps(),
        "solusvm.test": solusvm2.create_app(sim),
        "virtualizor.test": virtualizor.create_app(virtualizor_sim),
        "pterodactyl.test": pterodactyl.create_app(pterodactyl_sim),
        "whm.test": whm.create_app(whm_sim),
    }
    inst = bootstrap.build(
        settings,
        mailer=mailer,
        dcim=dcim_sync,
        # the simulators in-process; any other URL (a real peer on loopback) over the network
        transport_for=lambda url: (
            httpx.ASGITransport(app=apps[host]) if (host := httpx.URL(url).host) in apps else None
        ),
        resolver=StaticResolver(dict.fromkeys(apps, "127.0.0.1")),
        switch_ports=switch_ports,
    )
    if backend == "postgresql":
        await dbsupport.truncate_all(inst.db)
    await inst.load_builtin_plugins()
    await inst.start_dns()  # the internal rDNS backend's records, answered over DNS
    async with inst.db.begin() as conn:
        await seed_catalogue(
            conn,
            inst.vault,
            solusvm_url="http://solusvm.test/api/v1",
            solusvm_token="it-token",
            image_dir=tmp_path / "images",
            hosts=3,
            host_ram_mb=8192,
            cidr="192.0.2.0/28",
            poll_interval=0.01,
            allowed_networks=SIMULATOR_NETWORKS,
        )
    yield inst
    await inst.close()


@pytest.fixture
async def client(installation: bootstrap.Installation) -> AsyncIterator[httpx.AsyncClient]:
    """The installation's operator API, in-process, sending no credentials of its own."""
    async with asgi_client(create_app(installation), "http://api.test") as c:
        yield c


@pytest.fixture
async def api(installation: bootstrap.Installation) -> AsyncIterator[httpx.AsyncClient]:
    """The installation's operator API, in-process, sending the API token on every request."""
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with asgi_client(create_app(installation), "http://api.test", headers=headers) as c:
        yield c
